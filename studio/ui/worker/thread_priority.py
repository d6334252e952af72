"""Background threads yield the CPU to the UI thread.

On a machine with few cores, MediaPipe, the net and the capture decoder keep every core
busy while frames stream. At equal priority the UI thread, and the software-GL threads
it waits on during a 3D render, queue behind them and the window stutters: on two
cores the event loop went more than 20 ms without a turn 70-84 times in 1,000 live
frames, and 25 times with the background at nice +10 (``studio bench live``), at the
same frame rate. The background still gets every cycle the UI leaves.

Linux only: there each thread has a nice value of its own, inherited by the threads it
starts (MediaPipe's graph threads); elsewhere ``setpriority`` would lower the whole
process.
"""
from __future__ import annotations

import os
import sys
import threading

BACKGROUND_NICENESS = 10  # CFS gives such a thread about a tenth of the UI's share


def lower_this_thread(niceness: int = BACKGROUND_NICENESS) -> bool:
    """Run the calling thread ``niceness`` nice levels below the process's main thread
    (Linux; a thread already lower stays as it is). True if the thread now runs lower."""
    if sys.platform != "linux" or niceness <= 0:
        return False
    tid = threading.get_native_id()
    try:
        target = min(os.getpriority(os.PRIO_PROCESS, os.getpid()) + niceness, 19)
        if os.getpriority(os.PRIO_PROCESS, tid) < target:
            os.setpriority(os.PRIO_PROCESS, tid, target)
        return os.getpriority(os.PRIO_PROCESS, tid) > os.getpriority(os.PRIO_PROCESS, os.getpid())
    except OSError:
        return False
