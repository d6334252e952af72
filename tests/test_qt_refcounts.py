"""The installed Qt binding keeps Python's reference counts: PySide6 6.12.0 dropped a
reference to None on every call returning nothing (``QTimer.start``, ``processEvents``,
...), so a long live capture on Python 3.11 ended in "deallocating None". This guards
the pin in pyproject.toml against a binding that does it again."""
from __future__ import annotations

import sys

from PySide6.QtCore import QCoreApplication, QTimer

CALLS = 500


def test_void_qt_calls_keep_nones_reference_count(qapp) -> None:
    timer = QTimer()
    before = sys.getrefcount(None)
    for _ in range(CALLS):
        timer.setInterval(0)
        timer.start()
        timer.stop()
        QCoreApplication.processEvents()
    # Other code may take or drop a few references meanwhile; a leak loses 4 per round.
    assert abs(sys.getrefcount(None) - before) < CALLS // 10
