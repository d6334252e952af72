"""requirements.lock pins what `make` installs, and agrees with pyproject.toml's ranges."""
from __future__ import annotations

import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
LOCK = ROOT / "requirements.lock"
PYPROJECT = ROOT / "pyproject.toml"
# torch comes from the Makefile's TORCH_SPEC (CPU or CUDA builds), so the lock leaves it free.
UNPINNED = {"torch"}


def parse_lock(text: str) -> dict[str, str]:
    """{canonical name: version} of a pip-compile lock; any line not `name==version` fails."""
    pins = {}
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        m = re.fullmatch(r"([A-Za-z0-9._-]+)==([^\s;]+)", line)
        assert m, f"not an exact pin: {line!r}"
        pins[canonicalize_name(m.group(1))] = m.group(2)
    return pins


def declared_requirements(pyproject: dict) -> list[Requirement]:
    """Runtime, every extra and the build system's requirements."""
    project = pyproject["project"]
    texts = list(project["dependencies"])
    for extra in project.get("optional-dependencies", {}).values():
        texts += extra
    texts += pyproject["build-system"]["requires"]
    return [Requirement(t) for t in texts]


def disagreements(pyproject: dict, pins: dict[str, str]) -> list[str]:
    problems = []
    for req in declared_requirements(pyproject):
        name = canonicalize_name(req.name)
        if name in UNPINNED:
            if name in pins:
                problems.append(f"{name} is pinned, but TORCH_SPEC must stay free")
            continue
        if name not in pins:
            problems.append(f"{req} is not in the lock")
        elif not req.specifier.contains(pins[name], prereleases=True):
            problems.append(f"{req} does not allow the locked {name}=={pins[name]}")
    return problems


def test_lock_pins_every_declared_package_within_its_range():
    pyproject = tomllib.loads(PYPROJECT.read_text())
    assert disagreements(pyproject, parse_lock(LOCK.read_text())) == []


def test_a_range_the_lock_does_not_satisfy_is_reported():
    pyproject = tomllib.loads(PYPROJECT.read_text())
    pins = parse_lock(LOCK.read_text())
    pins["numpy"] = "2.1.0"  # pyproject says numpy<2
    del pins["scipy"]
    problems = disagreements(pyproject, pins)
    assert any("numpy" in p for p in problems) and any("scipy" in p for p in problems)
    pins["torch"] = "2.13.0"
    assert any("TORCH_SPEC" in p for p in disagreements(pyproject, pins))


def test_makefile_installs_everything_through_the_lock():
    make = (ROOT / "Makefile").read_text()
    installs = [ln.strip() for ln in make.splitlines() if re.search(r"\$\(PIP\) install", ln)]
    assert installs and all("-c $(LOCK)" in ln for ln in installs), installs
    assert "LOCK := requirements.lock" in make
