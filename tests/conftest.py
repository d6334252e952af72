"""Test-wide Qt settings."""
from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def qapp_cls():
    """pytest-qt's application, but closing a test's last window posts no Quit: a later
    test's nested event loop (qtbot.wait, waitSignal) would take it and return at once,
    starving timers and signals."""
    from PySide6.QtWidgets import QApplication

    class TestApplication(QApplication):
        def __init__(self, *args: object) -> None:
            super().__init__(*args)
            self.setQuitOnLastWindowClosed(False)

    return TestApplication
