"""Writing an output file atomically, with a message the user can act on when it fails."""
from __future__ import annotations

from pathlib import Path

from studio.body.storage import atomic_write_bytes
from studio.errors import StudioError


def write_output(path: Path, payload: bytes) -> None:
    """Replace ``path`` with ``payload`` atomically; an OS error becomes a StudioError
    (exit code 2) naming the file, and nothing half-written is left behind."""
    try:
        atomic_write_bytes(path, payload)
    except OSError as err:
        raise StudioError(f"{path}: cannot write the file ({err.strerror or err})") from err
