"""``studio gui``: open the studio window (optionally capture it to a PNG and quit)."""
from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "gui", help="open the studio window",
        description="Open the studio window showing the body model. With --screenshot the "
                    "window (3D view included) is saved to a PNG after its first render.")
    parser.add_argument("image", nargs="?", type=Path, metavar="IMAGE",
                        help="image to open (accepted; image processing comes later)")
    parser.add_argument("--model", metavar="SPEC", default=None,
                        help="body model name or file (default: the registry's default)")
    parser.add_argument("--screenshot", metavar="OUT.png", type=Path, default=None,
                        help="save a picture of the window after the first render")
    parser.add_argument("--quit", action="store_true",
                        help="exit right after the first render (and screenshot)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from studio.ui.app import run_gui  # Qt is imported only when the GUI is wanted

    return run_gui(model=args.model, image=args.image, screenshot=args.screenshot,
                   quit_after=args.quit)
