"""The built-in PointHMR's parts of ``studio train`` and ``studio eval``: ``train pointhmr``
and ``eval pointhmr``. Their parsers are added by those commands' modules; torch loads in
the functions."""
from __future__ import annotations

import argparse
import json
import time
from dataclasses import fields
from pathlib import Path

from studio.errors import StudioError

TRAIN_HELP = {"steps": "optimizer steps in all", "batch_size": "synthetic people per step",
              "lr": "AdamW peak learning rate", "weight_decay": "AdamW weight decay",
              "seed": "seed of the synthetic data and the initial weights",
              "val_every": "validate every N steps",
              "val_samples": "synthetic people per validation",
              "checkpoint_every": "save the run's checkpoint every N steps",
              "threads": "CPU threads for torch (0: torch's own choice)"}


def add_train_pointhmr(sub: argparse._SubParsersAction) -> None:
    from studio.train.pointhmr_train import PointHMRTrainConfig

    p = sub.add_parser(
        "pointhmr",
        description="Train the built-in PointHMR (vertex heat-maps, k-hop masked "
                    "transformer; person mask + 33 keypoint maps at 64 px) on mannequin "
                    "people made on the fly, with the paper's losses. The run folder keeps "
                    "a checkpoint (re-running the same command resumes it) and log.jsonl; "
                    "--out gets the float16 weights file when the run ends.")
    p.add_argument("--run-dir", type=Path, required=True,
                   help="folder for the checkpoint and log (resumed when it has one)")
    p.add_argument("--out", type=Path, default=None,
                   help="write the weights file here when training ends (default: none)")
    for f in fields(PointHMRTrainConfig):
        p.add_argument(f"--{f.name.replace('_', '-')}", type=type(f.default), default=f.default,
                       metavar="N", help=f"{TRAIN_HELP[f.name]} (default: %(default)s)")
    p.add_argument("--stop-after", type=int, default=None, metavar="N",
                   help="stop (with a checkpoint) after N steps of this call")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=_train)


def _train(args: argparse.Namespace) -> int:
    from studio.io.output import check_output_file, check_output_folder
    from studio.train.pointhmr_train import PointHMRTrainConfig, train

    config = PointHMRTrainConfig(**{f.name: getattr(args, f.name)
                                    for f in fields(PointHMRTrainConfig)})
    if config.steps < 1 or config.batch_size < 1 or config.val_every < 1 or \
            config.checkpoint_every < 1:
        raise StudioError("--steps, --batch-size, --val-every and --checkpoint-every must be "
                          "at least 1")
    check_output_folder(args.run_dir, "--run-dir")
    if args.out is not None:
        check_output_file(args.out, (".pt",), "--out", make_folders=True)
    state = train(config, args.run_dir, args.out, progress=not args.no_progress,
                  stop_after=args.stop_after)
    if state.history:
        print(f"step {state.step}: validation {json.dumps(state.history[-1]['val'])}")
    return 0
