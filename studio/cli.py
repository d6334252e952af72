"""The ``studio`` command. Each subcommand lives in a module of ``studio.commands``.

Exit codes: 0 success, 2 bad input or usage, 3 model file missing or mismatched,
4 no person found in an image (``studio run``), 5 the frame source was lost mid-stream
(``studio capture``; what was captured is kept), 1 unexpected internal error (with a
traceback, since that is a bug).
"""
from __future__ import annotations

import argparse
import importlib
import sys

from studio.errors import StudioError

# Modules under studio.commands, each with ``register(subparsers)``.
COMMAND_MODULES = ("body", "gui", "train", "evaluate", "run", "bench", "capture")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="studio", description="Human Mesh Studio: 3D human pose and shape research studio.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(f"studio.commands.{name}").register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0 if args.command is None else 2
    try:
        return int(args.func(args) or 0)
    except StudioError as err:
        print(f"studio: error: {err}", file=sys.stderr)
        return err.exit_code
    except KeyboardInterrupt:
        print("studio: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
