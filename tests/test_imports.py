"""The package's import structure, read from the source with ``ast`` (nothing is
imported): no import circles anywhere in ``studio/``, and Qt only in ``studio/ui/`` (and
the benchmarks that drive the window). Every import counts: at module level, inside
functions, under ``if TYPE_CHECKING:`` and in ``try`` blocks.
"""
from __future__ import annotations

import ast
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parents[1] / "studio"
QT_PACKAGES = ("PySide6", "PySide2", "PyQt5", "PyQt6", "shiboken6", "pyqtgraph", "pyvistaqt",
               "vtkmodules.qt")
# Outside studio/ui only these may import Qt: benchmarks that drive the real window.
QT_ALLOWED_OUTSIDE_UI = ("studio.bench.window_harness", "studio.bench.live_speed")


def package_modules(package_dir: Path) -> dict[str, Path]:
    """Every module of the package in ``package_dir``, by dotted name."""
    root = package_dir.parent
    modules = {}
    for path in sorted(package_dir.rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = path
    return modules


def imported_names(name: str, path: Path) -> set[str]:
    """Dotted names module ``name`` imports anywhere in its body; ``from X import y``
    gives ``X.y`` as well as ``X`` (``y`` may be a module)."""
    is_package = path.name == "__init__.py"
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = name.split(".")
                anchor = anchor[:len(anchor) - node.level + (1 if is_package else 0)]
                base = ".".join([*anchor, *([base] if base else [])])
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def import_graph(package_dir: Path) -> dict[str, set[str]]:
    """Module -> the package's modules it makes Python import: what it names, and the
    packages above those (their ``__init__`` runs first) that are not above itself."""
    modules = package_modules(package_dir)
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        own_parents = {".".join(name.split(".")[:k]) for k in range(1, name.count(".") + 1)}
        targets = set()
        for imported in imported_names(name, path):
            parts = imported.split(".")
            for k in range(1, len(parts) + 1):
                candidate = ".".join(parts[:k])
                if candidate in modules and candidate not in own_parents:
                    targets.add(candidate)
        graph[name] = targets - {name}
    return graph


def import_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The graph's circles: each strongly connected set of two or more modules, sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles = []

    def visit(node: str) -> None:  # Tarjan's algorithm
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(cycles)


def qt_imports_outside_ui(package_dir: Path, allowed: tuple[str, ...] = ()) -> list[str]:
    """``module: qt.name`` for each Qt import outside the package's ``ui`` subpackage,
    except in the ``allowed`` modules."""
    modules = package_modules(package_dir)
    ui = f"{package_dir.name}.ui"
    found = []
    for name, path in modules.items():
        if name == ui or name.startswith(ui + ".") or name in allowed:
            continue
        qt = {imported for imported in imported_names(name, path)
              if any(imported == q or imported.startswith(q + ".") for q in QT_PACKAGES)}
        # one entry per module imported from: ``X`` stands for ``X.y`` too
        found.extend(f"{name}: {imported}" for imported in sorted(qt)
                     if not any(imported.startswith(other + ".") for other in qt))
    return found


# ------------------------------------------------------------------------ the package
def test_studio_has_no_import_circles() -> None:
    graph = import_graph(PACKAGE_DIR)
    assert len(graph) > 100 and "studio.ui.window.studio_window" in graph
    assert import_cycles(graph) == []


def test_qt_is_imported_only_in_ui_and_the_window_benchmarks() -> None:
    assert qt_imports_outside_ui(PACKAGE_DIR, QT_ALLOWED_OUTSIDE_UI) == []
    # the allowed list names only modules that do need Qt
    users = {found.split(":")[0] for found in qt_imports_outside_ui(PACKAGE_DIR)}
    assert users == set(QT_ALLOWED_OUTSIDE_UI)


def test_the_window_and_live_capture_do_not_import_each_other() -> None:
    graph = import_graph(PACKAGE_DIR)
    assert "studio.ui.window.studio_window" not in graph["studio.ui.live.view"]
    assert "studio.ui.worker.worker" not in graph["studio.ui.worker.detect_stage"]


# ------------------------------------------------------------------------ the checker
def _write(root: Path, files: dict[str, str]) -> Path:
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root / "pkg"


def test_checker_fails_on_a_circle_and_on_qt_below_ui(tmp_path) -> None:
    """A synthetic package with a deliberate circle (one side imports inside a function,
    the other under TYPE_CHECKING, through a relative import) and a Qt import in a
    Qt-free layer (inside a function)."""
    package = _write(tmp_path, {
        "pkg/__init__.py": "",
        "pkg/core/__init__.py": "",
        "pkg/core/model.py": "def show():\n    from PySide6.QtWidgets import QLabel\n",
        "pkg/core/a.py": "def f():\n    from pkg.core import b\n",
        "pkg/core/b.py": ("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
                          "    from .a import f\n"),
        "pkg/core/c.py": "import pkg.core.a\n",
        "pkg/ui/__init__.py": "",
        "pkg/ui/view.py": "import pyqtgraph as pg\nfrom pkg.core import c\n",
        "pkg/bench/__init__.py": "",
        "pkg/bench/drive.py": "from PySide6.QtCore import QTimer\n",
    })
    graph = import_graph(package)
    assert graph["pkg.core.b"] == {"pkg.core.a"}  # relative, under TYPE_CHECKING
    assert import_cycles(graph) == [["pkg.core.a", "pkg.core.b"]]
    assert qt_imports_outside_ui(package, ("pkg.bench.drive",)) == [
        "pkg.core.model: PySide6.QtWidgets"]
    assert qt_imports_outside_ui(package) == ["pkg.bench.drive: PySide6.QtCore",
                                              "pkg.core.model: PySide6.QtWidgets"]

    # Mending both leaves nothing to report.
    (package / "core" / "b.py").write_text("X = 1\n", encoding="utf-8")
    (package / "core" / "model.py").write_text("def show():\n    pass\n", encoding="utf-8")
    assert import_cycles(import_graph(package)) == []
    assert qt_imports_outside_ui(package, ("pkg.bench.drive",)) == []


def test_checker_counts_a_package_init_that_imports_back(tmp_path) -> None:
    """Importing ``pkg.sub.x`` runs ``pkg/sub/__init__.py`` first: an ``__init__`` that
    imports a module which imports a sibling package's module back is a circle."""
    package = _write(tmp_path, {
        "pkg/__init__.py": "",
        "pkg/sub/__init__.py": "from pkg.other import y\n",
        "pkg/sub/x.py": "",
        "pkg/other/__init__.py": "",
        "pkg/other/y.py": "from pkg.sub.x import *\n",
    })
    assert import_cycles(import_graph(package)) == [["pkg.other.y", "pkg.sub"]]
