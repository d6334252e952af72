"""The ``studio`` command. Each subcommand lives in a module of ``studio.commands``,
imported only when that subcommand runs (see :mod:`studio.commands.lazy`), so
``studio --help`` and usage errors need neither torch nor Qt.

Exit codes: 0 success, 2 bad input or usage, 3 model file missing or mismatched,
4 no person found in an image (``studio run``), 5 the frame source was lost mid-stream
(``studio capture``; what was captured is kept), 1 unexpected internal error (with a
traceback, since that is a bug).
"""
from __future__ import annotations

import argparse
import importlib
import sys

from studio.commands.lazy import LazySubcommands
from studio.errors import StudioError
from studio.pipeline.threads import prefer_sleeping_threads

# Modules under studio.commands, each with ``register(subparsers)``, and the line
# ``studio --help`` shows for each.
COMMAND_MODULES = ("body", "gui", "train", "evaluate", "run", "fit", "bench", "capture",
                   "scene", "poseaug", "synth")
SUMMARIES = {
    "body": "inspect, export and build body models",
    "gui": "open the studio window",
    "train": "train built-in models",
    "evaluate": "evaluate models on synthetic test data",
    "run": "find the people in a photo and recover a 3D mesh for each",
    "fit": "fit body parameters to 2D or 3D keypoints (SMPLR)",
    "bench": "measure speed (JSON with --json)",
    "capture": "recover meshes frame by frame from a webcam, video or image folder",
    "scene": "generate poses that fit a spot of a scene photo",
    "synth": "render synthetic training data (scenes with a placed person) to look at",
    "poseaug": "augment 16-joint 3D poses with PoseAug's learned augmentor",
}
COMMAND_NAMES = {"evaluate": "eval"}  # module -> command, where they differ


def version() -> str:
    """The installed package's version (the source tree's when not installed)."""
    from importlib import metadata

    try:
        return metadata.version("human-mesh-studio")
    except metadata.PackageNotFoundError:
        return "unknown (not installed)"


def _register(module: str) -> object:
    return lambda sub: importlib.import_module(f"studio.commands.{module}").register(sub)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="studio", description="Human Mesh Studio: 3D human pose and shape research studio.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", action=LazySubcommands)
    for module in COMMAND_MODULES:
        sub.add_lazy(COMMAND_NAMES.get(module, module), SUMMARIES[module], _register(module))
    return parser


def main(argv: list[str] | None = None) -> int:
    prefer_sleeping_threads()  # before any command loads torch
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
