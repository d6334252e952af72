"""``studio gui``: the studio window on a photo or a built-in sample; scripted runs reach
a given state, save the window to a PNG and quit (for figures and tests)."""
from __future__ import annotations

import argparse
from pathlib import Path

from studio.commands.run import add_fit_camera_option
from studio.pipeline.samples import DEFAULT_SAMPLE, SAMPLES


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "gui", help="open the studio window",
        description="Open the studio on IMAGE (default: a built-in sample photo). With "
                    "--screenshot the window, 3D view included, is saved once the result "
                    "is shown, in the state the other options ask for; the window stays "
                    "open unless --quit is given too.")
    parser.add_argument("image", nargs="?", type=Path, metavar="IMAGE", help="photo to open")
    parser.add_argument("--sample", choices=list(SAMPLES), default=None,
                        help=f"built-in sample photo to open instead (default {DEFAULT_SAMPLE})")
    parser.add_argument("--model", metavar="NAME", default=None,
                        help="mesh regressor: a registered name or a .pt file (default: the "
                             "last one used, else builtin-pymaf-proxy)")
    parser.add_argument("--iteration", type=int, metavar="K", default=None,
                        help="show feedback iteration K (0: the initial estimate; default last)")
    parser.add_argument("--person", type=int, metavar="N", default=0,
                        help="show person N (0: the largest)")
    parser.add_argument("--look-through", action="store_true",
                        help="align the 3D view with the photo's camera")
    parser.add_argument("--movement", action="store_true",
                        help="colour the mesh by how far it moved since the previous iteration")
    add_fit_camera_option(parser)
    parser.add_argument("--screenshot", metavar="OUT.png", type=Path, default=None,
                        help="save a picture of the window once the result is shown")
    parser.add_argument("--quit", action="store_true",
                        help="exit once the result is shown (and the screenshot saved)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from studio.ui.app import Script, StudioState, run_studio  # Qt only when wanted

    if args.image is not None and not args.image.is_file():
        from studio.errors import StudioError

        raise StudioError(f"{args.image}: no such file")
    return run_studio(image=args.image, sample=args.sample, model=args.model,
                      state=StudioState(iteration=args.iteration, person=args.person,
                                        look_through=args.look_through,
                                        movement=args.movement),
                      script=Script(screenshot=args.screenshot, quit_after=args.quit),
                      fit_camera=args.fit_camera)
