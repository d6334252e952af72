"""Output files: checked before any work starts, written atomically, several at once
all or none, with messages the user can act on.

Commands call :func:`check_output_file` (and :func:`check_output_folder` for folders they
create) for every output while parsing their arguments, so a destination that cannot be
written fails at once instead of after the slow work; then :func:`write_outputs` writes
the files together. Nothing here imports torch or OpenCV (the command line stays quick).
"""
from __future__ import annotations

import errno
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

from studio.errors import StudioError


def write_output(path: Path, payload: bytes) -> None:
    """Replace ``path`` with ``payload`` atomically; an OS error becomes a StudioError
    (exit code 2) naming the file, and nothing half-written is left behind."""
    from studio.body.storage import atomic_write_bytes

    try:
        atomic_write_bytes(path, payload)
    except OSError as err:
        raise StudioError(f"{path}: cannot write the file ({err.strerror or err})") from err


def _label(path: Path, what: str) -> str:
    return f"{what} {path}" if what else str(path)


def _probe(folder: Path, name: str) -> None:
    """Raise StudioError(``name: cannot write into folder (reason)``) unless a new file
    can be made in the existing ``folder`` (tried: a permission bit or ``os.access`` says
    nothing about /proc, read-only mounts or a full quota)."""
    try:
        fd, probe = tempfile.mkstemp(dir=folder, prefix=".studio-probe-")
    except OSError as err:
        reason = ("it takes no new files" if err.errno == errno.ENOENT  # /proc, /sys
                  else err.strerror or str(err))
        raise StudioError(f"{name}: cannot write into {folder} ({reason})") from None
    os.close(fd)
    Path(probe).unlink(missing_ok=True)


def _nearest_existing(path: Path) -> Path:
    existing = path
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    return existing


def check_output_file(path: Path, types: Sequence[str] | None = None, what: str = "",
                      make_folders: bool = False) -> None:
    """Raise a StudioError (exit 2), before any work, unless a file of one of ``types``
    (suffixes such as ``".png"``; None: any) could be written at ``path``; ``what``
    (e.g. a command-line flag) starts the message. Its folder must exist, unless
    ``make_folders`` (the writer creates missing folders): then the nearest existing
    one must take new files."""
    path = Path(path)
    name = _label(path, what)
    if types is not None and path.suffix.lower() not in types:
        raise StudioError(f"{name}: unsupported type (use {', '.join(types)})")
    folder = path.parent
    if make_folders and not folder.exists():
        folder = _nearest_existing(folder)
    if not folder.exists():
        raise StudioError(f"{name}: the folder {folder} does not exist")
    if not folder.is_dir():
        raise StudioError(f"{name}: {folder} is not a folder")
    if path.is_dir():
        raise StudioError(f"{name}: cannot write the file (a folder has that name)")
    _probe(folder, name)


def check_output_folder(folder: Path, what: str = "") -> None:
    """Raise a StudioError, before any work, unless ``folder`` is a folder that takes new
    files or could be created (its nearest existing ancestor is a folder that does)."""
    folder = Path(folder)
    name = _label(folder, what)
    existing = _nearest_existing(folder)
    if not existing.is_dir():
        raise StudioError(f"{name}: cannot create the folder ({existing} is not a folder)")
    _probe(existing, name)


def check_creatable(folder: Path, failure: str) -> None:
    """Raise ``StudioError(f"{failure} ({ancestor} is not a writable folder)")`` unless
    ``folder`` exists or could be made: its nearest existing ancestor is a folder that
    takes new files. Checked before any work, so a long run does not fail at its last
    step."""
    try:
        check_output_folder(folder)
    except StudioError:
        existing = _nearest_existing(Path(folder))
        raise StudioError(f"{failure} ({existing} is not a writable folder)") from None


def write_outputs(files: Sequence[tuple[Path, bytes]]) -> list[Path]:
    """Write every ``(path, payload)`` or none: each goes to a temporary file beside its
    destination first, and only when all of them are complete do they replace their
    destinations. Returns the paths; a failure is a StudioError naming the file, and
    says which files (if any) had already been replaced."""
    from studio.body.storage import atomic_write_bytes

    staged: list[tuple[Path, Path]] = []
    try:
        for path, payload in files:
            path = Path(path)
            part = path.with_name(f".{path.name}.studio-part")
            try:
                atomic_write_bytes(part, payload)
            except OSError as err:
                raise StudioError(f"{path}: cannot write the file ({err.strerror or err}); "
                                  "no output was written") from err
            staged.append((part, path))
        done: list[Path] = []
        for part, path in staged:
            try:
                os.replace(part, path)
            except OSError as err:
                written = ", ".join(map(str, done)) or "none"
                raise StudioError(f"{path}: cannot write the file ({err.strerror or err}); "
                                  f"written before the failure: {written}") from err
            done.append(path)
        return done
    finally:
        for part, _ in staged:
            part.unlink(missing_ok=True)
