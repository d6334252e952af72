"""Freezing what the studio loaded out of Python's full collections (studio.ui.heap)."""
from __future__ import annotations

import gc
import weakref

from studio.ui import heap


class _Node:
    """An object in a reference cycle: only the cyclic collector frees it."""

    def __init__(self) -> None:
        self.me = self


def test_settle_freezes_survivors_and_the_next_settle_collects_their_garbage():
    try:
        kept = _Node()
        kept_ref = weakref.ref(kept)
        heap.settle()
        assert gc.get_freeze_count() > 0
        later = _Node()  # made after the freeze: collected as usual
        later_ref = weakref.ref(later)
        del kept, later
        gc.collect()
        assert later_ref() is None
        assert kept_ref() is not None  # frozen: full collections skip it
        heap.settle()  # e.g. the next model load: what the last one froze is looked at again
        assert kept_ref() is None
    finally:
        gc.unfreeze()
