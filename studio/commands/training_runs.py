"""What the `studio train` commands of the step-based trainers (smplr, pointhmr, scenepose)
share around their loops: the resume options, and checking the run folder and the weights
file before hours of training rather than after."""
from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from typing import Any


def add_run_options(p: argparse.ArgumentParser) -> None:
    """--stop-after and --no-progress."""
    p.add_argument("--stop-after", type=int, default=None, metavar="N",
                   help="stop (with a checkpoint) after N steps of this call")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def run_training(train: Callable[..., Any], config: object, args: argparse.Namespace,
                 label: str = "validation") -> int:
    """Check ``args.run_dir`` and ``args.out`` (a .pt file), run ``train`` (resuming from
    the run folder's checkpoint) and print the last validation figures."""
    from studio.io.output import check_output_file, check_output_folder

    check_output_folder(args.run_dir, "--run-dir")
    if args.out is not None:
        check_output_file(args.out, (".pt",), "--out", make_folders=True)
    state = train(config, args.run_dir, args.out, progress=not args.no_progress,
                  stop_after=args.stop_after)
    if state.history:
        print(f"step {state.step}: {label} {json.dumps(state.history[-1]['val'])}")
    return 0
