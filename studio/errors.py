"""Errors the studio reports to users as one clear message (no traceback)."""
from __future__ import annotations


class StudioError(Exception):
    """A problem the user can act on; the CLI prints it and exits with ``exit_code``."""

    exit_code = 2


class ModelFileError(StudioError):
    """A model file is missing, unreadable or does not match what was expected."""

    exit_code = 3
