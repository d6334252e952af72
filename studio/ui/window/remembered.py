"""What the studio window remembers between runs, and what it does when that is gone.

The model is remembered only once it has loaded (a model that failed to load never
becomes the default); a remembered model that is gone, or fails to load, gives way to
the default model with a notice in the window, never an exit. Recent files that are
gone are dropped when the menu opens, a file that could not be read is dropped when it
fails, and "Clear recent" empties the list.
"""
from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QMainWindow

from studio.nets.model_names import is_registered

DEFAULT_MODEL = "builtin-pymaf-proxy"


def model_is_there(name: str) -> bool:
    """A registered name, or a model file that exists (whether it loads is seen later)."""
    return is_registered(name) or Path(name).expanduser().is_file()


class ModelMemory:
    """The studio window's remembered model: which one to start with, when to remember a
    choice, and the fall back to the default when the remembered one fails."""

    def __init__(self, win: QMainWindow) -> None:
        self.win = win
        self.trying: str | None = None  # the remembered model, until it has loaded

    def starting_model(self, asked: str | None) -> str:
        """``asked`` (the command line's), else the remembered model if it is still
        there, else :data:`DEFAULT_MODEL`."""
        if asked:
            return asked
        settings = self.win.settings
        remembered = settings.model
        if remembered and not model_is_there(remembered):
            settings.model = None
            self.win.notify("Model not found", f"The model used last time, {remembered}, "
                            f"is no longer there; using {DEFAULT_MODEL}.")
            remembered = None
        if remembered and remembered != DEFAULT_MODEL:
            self.trying = remembered
        return remembered or DEFAULT_MODEL

    def loaded(self) -> None:
        """The window's model has loaded: remember it (unless it came with a checkpoint,
        which is not remembered)."""
        win = self.win
        if win.model_name == self.trying:
            self.trying = None
        checkpoint = win._choice().checkpoint  # noqa: SLF001 (the window's helper)
        if checkpoint is None:
            win.settings.model = win.model_name

    def failed(self, message: str) -> bool:
        """The window's model failed to load with ``message``: it is forgotten; if it
        was the remembered one the window goes on with the default (True)."""
        win = self.win
        name = win.model_name
        if win.settings.model == name:
            win.settings.model = None
        if name != self.trying:
            return False
        self.trying = None
        win.notify("Model could not be loaded", f"The model used last time, {name}, could "
                   f"not be loaded ({message}); using {DEFAULT_MODEL}.")
        win.set_model(DEFAULT_MODEL)
        return True


def fill_recent_menu(win: QMainWindow) -> None:
    """The Open recent menu: files that are still there, then Clear recent."""
    menu, settings = win.recent_menu, win.settings
    menu.clear()
    for entry in settings.recent_files:
        if Path(entry).is_file():
            menu.addAction(entry, lambda p=entry: open_recent(win, p))
        else:
            settings.remove_recent(entry)
    if menu.isEmpty():
        menu.addAction("(none)").setEnabled(False)
    else:
        menu.addSeparator()
        menu.addAction("&Clear recent", settings.clear_recent)


def open_recent(win: QMainWindow, entry: str) -> None:
    if not Path(entry).is_file():
        win.settings.remove_recent(entry)
        win.report_error("Open recent", f"{entry} is no longer there.")
        return
    win.open_file(Path(entry))
