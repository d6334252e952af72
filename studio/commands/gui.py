"""``studio gui``: the studio window on a photo or a built-in sample; scripted runs reach
a given state, save the window to a PNG and quit (for figures and tests)."""
from __future__ import annotations

import argparse
from pathlib import Path

from studio.commands.body import check_screenshot
from studio.commands.run import MAX_PEOPLE, add_fit_camera_option
from studio.errors import StudioError
from studio.nets.model_names import model_names
from studio.pipeline.samples import DEFAULT_SAMPLE, SAMPLES


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "gui",
        description="Open the studio on IMAGE (default: a built-in sample photo). With "
                    "--screenshot the window, 3D view included, is saved once the result "
                    "is shown, in the state the other options ask for; the window stays "
                    "open unless --quit is given too. The screenshot's destination is "
                    "checked before the window opens.")
    parser.add_argument("image", nargs="?", type=Path, metavar="IMAGE", help="photo to open")
    parser.add_argument("--sample", choices=list(SAMPLES), default=None,
                        help=f"built-in sample photo to open instead (default {DEFAULT_SAMPLE})")
    parser.add_argument("--model", metavar="NAME", default=None,
                        help=f"mesh regressor: {model_names()} or a .pt file (default: the "
                             "last one used, else builtin-pymaf-proxy)")
    parser.add_argument("--checkpoint", type=Path, metavar="PATH", default=None,
                        help="weights file for the named --model (e.g. the official PyMAF "
                             "checkpoint kept outside the search folders); not remembered")
    parser.add_argument("--max-people", type=int, default=MAX_PEOPLE, metavar="N",
                        help=f"find at most N people in a photo (default {MAX_PEOPLE})")
    parser.add_argument("--threads", type=int, default=0, metavar="N",
                        help="CPU threads for torch (default 0: the window's own choice)")
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


def check_arguments(args: argparse.Namespace) -> None:
    """Everything that can be wrong on the command line, before the window opens."""
    if args.image is not None and not args.image.is_file():
        raise StudioError(f"{args.image}: no such file")
    if args.checkpoint is not None:
        if args.model is None:
            raise StudioError("--checkpoint goes with a model name given by --model")
        if not args.checkpoint.is_file():
            raise StudioError(f"--checkpoint {args.checkpoint}: no such file")
    if args.max_people < 1:
        raise StudioError("--max-people must be at least 1")
    if args.threads < 0:
        raise StudioError("--threads must be at least 0")
    check_screenshot(args.screenshot)


def run(args: argparse.Namespace) -> int:
    check_arguments(args)
    from studio.ui.app import Script, StudioState, run_studio  # Qt only when wanted

    return run_studio(image=args.image, sample=args.sample, model=args.model,
                      state=StudioState(iteration=args.iteration, person=args.person,
                                        look_through=args.look_through,
                                        movement=args.movement),
                      script=Script(screenshot=args.screenshot, quit_after=args.quit),
                      fit_camera=args.fit_camera, checkpoint=args.checkpoint,
                      max_people=args.max_people, threads=args.threads or None)
