"""How many threads the models get, chosen from the cores and from what else runs.

torch's default (one OpenMP thread per core, each spinning while it waits for work) is
fast on an idle machine and collapses on a busy one: on two cores with one other busy
process the net took 1,200 ms a photo instead of 45 ms with one thread, because spinning
threads take turns with the other process at every barrier. So, before torch is loaded,
waiting OpenMP threads are told to sleep (``OMP_WAIT_POLICY=PASSIVE``), and the thread
count leaves out the cores other processes keep busy (the 1-minute load average, taken
before our own work starts) and those our own other threads need (MediaPipe's graph, the
UI). ``--threads N`` still overrides the count.
"""
from __future__ import annotations

import os
from dataclasses import asdict, dataclass

WAIT_POLICY = "PASSIVE"


def prefer_sleeping_threads() -> None:
    """Make waiting OpenMP threads sleep instead of spin; call before torch is imported.

    A value the user set is kept.
    """
    os.environ.setdefault("OMP_WAIT_POLICY", WAIT_POLICY)


def usable_cores() -> int:
    """The cores this process may run on (its affinity, not the machine's count)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def other_load() -> float:
    """Runnable work besides ours, from the 1-minute load average (0 where unknown)."""
    try:
        return max(0.0, os.getloadavg()[0])
    except (AttributeError, OSError):
        return 0.0


@dataclass(frozen=True)
class ThreadChoice:
    """The thread count the models got, and what it was chosen from (shown in --json)."""

    threads: int
    cores: int
    other_load: float
    reserved: int
    requested: int
    wait_policy: str

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def choose_threads(requested: int = 0, reserved: int = 0, cores: int | None = None,
                   load: float | None = None) -> ThreadChoice:
    """``requested`` if given (> 0); else the cores left after ``reserved`` of ours and
    the others' load, at least one."""
    cores = usable_cores() if cores is None else cores
    load = other_load() if load is None else load
    if requested > 0:
        threads = requested
    else:
        free = int(cores - load + 0.5)
        threads = max(1, min(cores - reserved, free))
    return ThreadChoice(threads=threads, cores=cores, other_load=round(load, 2),
                        reserved=reserved, requested=requested,
                        wait_policy=os.environ.get("OMP_WAIT_POLICY", "default"))


def apply_threads(requested: int = 0, reserved: int = 0) -> ThreadChoice:
    """Choose the thread count and give it to torch and OpenCV."""
    import cv2
    import torch

    choice = choose_threads(requested, reserved)
    torch.set_num_threads(choice.threads)
    cv2.setNumThreads(choice.threads)
    return choice
