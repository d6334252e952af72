"""Subcommands whose parsers are made only when one is chosen.

``studio --help`` lists every command from one-line summaries; a command's module (and
the torch, OpenCV or Qt it imports) loads only when that command is on the command line,
so help and usage errors come back at once.
"""
from __future__ import annotations

import argparse
from collections.abc import Callable


class LazySubcommands(argparse._SubParsersAction):
    """``add_subparsers(action=LazySubcommands)``; then :meth:`add_lazy` per command."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self._pending: dict[str, Callable[[argparse._SubParsersAction], None]] = {}

    def add_lazy(self, name: str, summary: str,
                 register: Callable[[argparse._SubParsersAction], None]) -> None:
        """List ``name`` with ``summary``; ``register(self)`` adds its real parser (through
        ``self.add_parser(name, ...)``) when the command line chooses it."""
        self.add_parser(name, help=summary, add_help=False)
        self._pending[name] = register

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: list[str], option_string: str | None = None) -> None:
        register = self._pending.pop(values[0], None)
        if register is not None:
            del self._name_parser_map[values[0]]
            listed = len(self._choices_actions)
            register(self)
            del self._choices_actions[listed:]  # the summary already lists it
        super().__call__(parser, namespace, values, option_string)
