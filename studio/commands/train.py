"""``studio train pymaf``: train a built-in PyMAF variant on synthetic mannequin data."""
from __future__ import annotations

import argparse
from pathlib import Path

from studio.commands.lazy import LazySubcommands
from studio.commands.training_runs import add_config_options, config_from_args
from studio.io.output import check_output_file, check_output_folder

# What each TrainConfig field means, for --help (the defaults are added from TrainConfig).
FIELD_HELP = {
    "input": "what the net sees: proxy (person mask + 33 keypoint maps, for real photos "
             "through MediaPipe) or rgb (synthetic RGB crops)",
    "backbone": "feature extractor",
    "feedback": "maf: mesh-aligned features (PyMAF); ief: the global-feature baseline "
                "(iterative error feedback)",
    "steps": "optimizer steps in all",
    "batch_size": "synthetic people per step",
    "lr": "AdamW learning rate (peak of the schedule)",
    "weight_decay": "AdamW weight decay",
    "size": "crop side in pixels",
    "pyramid_channels": "channels of the feature pyramid the feedback samples",
    "hidden": "width of the regressors' hidden layers",
    "dropout": "dropout in the regressors",
    "keypoint_readout": "proxy input: the regressors also get the keypoint maps' positions",
    "regressor_relu": "nonlinear regressors (HMR's; PyMAF's are linear)",
    "init_from": "built-in weights file to start a fresh run from",
    "seed": "seed of the synthetic data and the initial weights",
    "val_every": "validate every N steps",
    "val_samples": "synthetic people per validation",
    "checkpoint_every": "save the run's checkpoint every N steps",
    "device": "cpu or cuda",
    "threads": "CPU threads for torch (0: torch's own choice)",
    "data_workers": "processes making training batches ahead (0: the training loop makes "
                    "them)",
}
CHOICES = {"input": ("proxy", "rgb"), "backbone": ("small", "resnet18", "resnet50"),
           "feedback": ("maf", "ief")}


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("train")
    sub = parser.add_subparsers(dest="what", metavar="MODEL", required=True,
                                action=LazySubcommands)
    sub.add_lazy("pymaf", "train a PyMAF variant on synthetic people", _add_pymaf)
    sub.add_lazy("smplr", "train the keypoint fit (SMPLR) on synthetic keypoints", _add_smplr)
    sub.add_lazy("smplr-soup", "average keypoint-fit weights fine-tuned from one start",
                 _add_smplr_soup)
    sub.add_lazy("poseaug", "train PoseAug and its estimators on synthetic poses",
                 _add_poseaug)
    sub.add_lazy("scenepose", "train the scene-aware pose generator on rendered scenes",
                 _add_scenepose)
    sub.add_lazy("pointhmr", "train the built-in PointHMR on synthetic people", _add_pointhmr)


def _add_poseaug(sub: argparse._SubParsersAction) -> None:
    from studio.commands.poseaug import add_train_poseaug  # torch: only for `train poseaug`

    add_train_poseaug(sub)


def _add_pointhmr(sub: argparse._SubParsersAction) -> None:
    from studio.commands.pointhmr import add_train_pointhmr  # torch: only when chosen

    add_train_pointhmr(sub)


def _add_smplr(sub: argparse._SubParsersAction) -> None:
    from studio.commands.smplr import add_train_smplr  # torch: only for `train smplr`

    add_train_smplr(sub)


def _add_smplr_soup(sub: argparse._SubParsersAction) -> None:
    from studio.commands.smplr import add_soup_smplr

    add_soup_smplr(sub)


def _add_scenepose(sub: argparse._SubParsersAction) -> None:
    from studio.commands.scene import add_train_scenepose  # torch loads when it runs

    add_train_scenepose(sub)


def _add_pymaf(sub: argparse._SubParsersAction) -> None:
    from studio.train.pymaf_train import TrainConfig  # torch: only for `train pymaf`

    pymaf = sub.add_parser(
        "pymaf",
        description="Train PyMAF on mannequin people rendered on the fly. The run folder "
                    "keeps a checkpoint (re-running the same command resumes it) and "
                    "CSV/JSON logs; --out receives the built-in weights file at the end. "
                    "Under torchrun every process trains on its own batches (DDP).")
    add_config_options(pymaf, TrainConfig, FIELD_HELP, CHOICES)
    pymaf.add_argument("--run-dir", type=Path, required=True,
                       help="folder for the checkpoint and logs (resumed when it has one)")
    pymaf.add_argument("--out", type=Path, default=None,
                       help="write the built-in weights file here when training ends "
                            "(default: none)")
    pymaf.add_argument("--stop-after", type=int, default=None, metavar="N",
                       help="stop (with a checkpoint) after N steps of this call (default: "
                            "run to --steps)")
    pymaf.add_argument("--no-progress", action="store_true", help="no progress bar")
    pymaf.set_defaults(func=_train_pymaf)


def _train_pymaf(args: argparse.Namespace) -> int:
    from studio.nets.model_registry import resolve_device
    from studio.train.pymaf_train import TrainConfig, train

    config = config_from_args(TrainConfig, args)  # options that do not go together
    check_output_folder(args.run_dir, "--run-dir")  # before hours of training, not after
    if args.out is not None:
        check_output_file(args.out, None, "--out", make_folders=True)
    resolve_device(args.device)
    state = train(config, args.run_dir, args.out, progress=not args.no_progress,
                  stop_after=args.stop_after)
    if state.history:
        final = state.history[-1]["val"]["final"]
        print("step {}: validation MPJPE {:.1f} mm, PA-MPJPE {:.1f} mm, PVE {:.1f} mm".format(
            state.step, final["mpjpe"], final["pa_mpjpe"], final["pve"]))
    return 0
