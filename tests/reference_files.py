"""The official checkpoints' key manifests, from the project's shared reference folder.

They live beside the repository (``../shared/reference``, as CI lays it out) or in the
workplace's ``/work/shared``; a clone without either skips the tests that need them.
"""
from __future__ import annotations

from pathlib import Path

import pytest

PLACES = (Path(__file__).resolve().parents[2] / "shared" / "reference",
          Path("/work/shared/reference"))


def reference_file(name: str) -> Path:
    """The reference file ``name``, or a skip naming where it was looked for."""
    for folder in PLACES:
        if (folder / name).is_file():
            return folder / name
    pytest.skip(f"{name} not found in {' or '.join(map(str, PLACES))}")
