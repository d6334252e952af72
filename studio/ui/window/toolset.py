"""The window's side of the tool contract (:mod:`studio.ui.tools.contract`): it makes the
registered tools, puts their panels in docks, their menus in the menu bar and their
exports in the File menu, passes the window's events on to them, and routes each tool's
worker jobs back to it.
"""
from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator

from PySide6.QtCore import QObject
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QDockWidget, QMainWindow, QMenu

from studio.ui.tools.contract import T, Tool, ToolJob
from studio.ui.window.building import add_dock


class ToolSet(QObject):
    """The tools of one window (the studio window), in the order they were added."""

    def __init__(self, window: QMainWindow, export_menu: QMenu,
                 export_before: QAction) -> None:
        super().__init__(window)
        self._window = window
        self._export_menu = export_menu
        self._export_before = export_before  # File menu entries go before this action
        self._tools: list[Tool] = []
        self.docks: list[QDockWidget] = []  # the tools' docks, in order
        self._jobs: dict[int, tuple[Tool, ToolJob]] = {}
        self._ids = itertools.count(1)  # jobs answer by signals of their own
        window.worker.job_finished.connect(self._on_job_finished)
        window.worker.job_failed.connect(self._on_job_failed)

    def __iter__(self) -> Iterator[Tool]:
        return iter(self._tools)

    def add(self, make: Callable[[QMainWindow], T]) -> T:
        """Make a tool for the window and place what it contributes."""
        win = self._window
        tool = make(win)
        panel = tool.panel()
        if panel is not None:
            dock = add_dock(win, tool.title, f"{tool.name}_dock", panel)
            if self.docks:  # one tab each: stacked, five tools outgrew a laptop's screen
                win.tabifyDockWidget(self.docks[0], dock)
            self.docks.append(dock)
            setattr(win, f"{tool.name}_panel", panel)
        menu = tool.menu()
        if menu is not None:
            win.menuBar().insertMenu(win.model_menu.menuAction(), menu)
        for export in tool.exports():
            action = QAction(export.label, win)
            action.triggered.connect(lambda _=False, e=export: win.export_dialog_for(e))
            self._export_menu.insertAction(self._export_before, action)
        self._tools.append(tool)
        return tool

    def show_panel(self, tool: Tool) -> None:
        """Bring ``tool``'s dock to the front of the tools' tabs."""
        dock = self._window.findChild(QDockWidget, f"{tool.name}_dock")
        if dock is not None:
            dock.show()
            dock.raise_()

    def get(self, kind: type[T]) -> T | None:
        """The window's tool of class ``kind``, if it has one."""
        return next((t for t in self._tools if isinstance(t, kind)), None)

    def tell(self, hook: str, *args: object) -> None:
        """Call ``hook`` (one of :class:`Tool`'s event methods) on every tool."""
        for tool in self._tools:
            getattr(tool, hook)(*args)

    def run_job(self, tool: Tool, job: ToolJob) -> int:
        """Queue ``tool``'s ``job`` on the worker (the window's device); its id."""
        request = next(self._ids)
        self._jobs[request] = (tool, job)
        self._window.worker.submit_job(request, job, self._window.settings.device)
        return request

    def _on_job_finished(self, request: int, result: object) -> None:
        if request in self._jobs:
            tool, job = self._jobs.pop(request)
            tool.job_finished(job, result)

    def _on_job_failed(self, request: int, message: str) -> None:
        if request in self._jobs:
            tool, job = self._jobs.pop(request)
            tool.job_failed(job, message)
