"""Keeping Python's full garbage collections short while the studio streams.

A full collection walks every object the collector tracks; with torch, VTK, Qt and
MediaPipe loaded that is about 400,000 of them and takes 100-200 ms, and it runs on
whichever thread happens to allocate, often the UI thread: a visible stall in live
capture. Objects that exist once the studio and its model are loaded live as long as
they do, so they are frozen out of later collections, which then only look at what
streaming creates."""
from __future__ import annotations

import gc


def settle() -> None:
    """Collect the garbage there is now and exempt everything left from later
    collections. Call after a slow setup step (a model load), on the UI thread: garbage
    can hold Qt objects, which must not be deleted on another thread. It takes one full
    collection (a fifth of a second) and thaws what an earlier call froze first, so that
    what the step replaced (an old model) can still be collected."""
    gc.unfreeze()
    gc.collect()
    gc.freeze()
