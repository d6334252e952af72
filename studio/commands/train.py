"""``studio train pymaf``: train a built-in PyMAF variant on synthetic mannequin data."""
from __future__ import annotations

import argparse
from dataclasses import fields
from pathlib import Path

from studio.errors import StudioError
from studio.train.pymaf_train import TrainConfig


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("train", help="train built-in models")
    sub = parser.add_subparsers(dest="what", metavar="MODEL", required=True)
    pymaf = sub.add_parser(
        "pymaf", help="train a PyMAF variant on synthetic people",
        description="Train PyMAF on mannequin people rendered on the fly. The run folder "
                    "keeps a checkpoint (re-running the same command resumes it) and "
                    "CSV/JSON logs; --out receives the built-in weights file at the end. "
                    "Under torchrun every process trains on its own batches (DDP).")
    defaults = TrainConfig()
    pymaf.add_argument("--input", choices=("proxy", "rgb"), default=defaults.input)
    pymaf.add_argument("--backbone", choices=("small", "resnet18", "resnet50"),
                       default=defaults.backbone)
    pymaf.add_argument("--feedback", choices=("maf", "ief"), default=defaults.feedback,
                       help="maf: mesh-aligned features (PyMAF); ief: the global-feature "
                            "baseline (iterative error feedback)")
    for f in fields(TrainConfig):
        if f.name in ("input", "backbone", "feedback"):
            continue
        flag = f"--{f.name.replace('_', '-')}"
        if isinstance(f.default, bool):
            pymaf.add_argument(flag, action=argparse.BooleanOptionalAction, default=f.default)
        else:
            pymaf.add_argument(flag, type=type(f.default), default=f.default,
                               metavar=f.name.upper())
    pymaf.add_argument("--run-dir", type=Path, required=True,
                       help="folder for the checkpoint and logs (resumed when it has one)")
    pymaf.add_argument("--out", type=Path, default=None,
                       help="write the built-in weights file here when training ends")
    pymaf.add_argument("--stop-after", type=int, default=None, metavar="N",
                       help="stop (with a checkpoint) after N steps of this call")
    pymaf.add_argument("--no-progress", action="store_true", help="no progress bar")
    pymaf.set_defaults(func=_train_pymaf)


def _train_pymaf(args: argparse.Namespace) -> int:
    from studio.nets.model_registry import resolve_device
    from studio.train.pymaf_train import train

    resolve_device(args.device)
    try:
        config = TrainConfig(**{f.name: getattr(args, f.name) for f in fields(TrainConfig)})
    except ValueError as err:  # options that do not go together
        raise StudioError(str(err)) from err
    state = train(config, args.run_dir, args.out, progress=not args.no_progress,
                  stop_after=args.stop_after)
    if state.history:
        final = state.history[-1]["val"]["final"]
        print("step {}: validation MPJPE {:.1f} mm, PA-MPJPE {:.1f} mm, PVE {:.1f} mm".format(
            state.step, final["mpjpe"], final["pa_mpjpe"], final["pve"]))
    return 0
