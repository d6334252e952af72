"""Writing an output file atomically, with a message the user can act on when it fails."""
from __future__ import annotations

import os
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


def check_creatable(folder: Path, failure: str) -> None:
    """Raise ``StudioError(f"{failure} ({ancestor} is not a writable folder)")`` unless
    ``folder`` exists or could be made: its nearest existing ancestor is a writable folder.
    Checked before any work, so a long run does not fail at its last step."""
    existing = Path(folder)
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir() or not os.access(existing, os.W_OK):
        raise StudioError(f"{failure} ({existing} is not a writable folder)")
