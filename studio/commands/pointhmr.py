"""The built-in PointHMR's parts of ``studio train`` and ``studio eval``: ``train pointhmr``
and ``eval pointhmr``. Their parsers are added by those commands' modules; torch loads in
the functions."""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from studio.commands.training_runs import add_config_options, add_run_options, \
    config_from_args, run_training
from studio.errors import StudioError

PHOTOS_DIR = Path("/work/shared/data/scenes/photos")  # the shared real photos, where present

TRAIN_HELP = {"steps": "optimizer steps in all", "batch_size": "synthetic people per step",
              "lr": "AdamW peak learning rate", "weight_decay": "AdamW weight decay",
              "seed": "seed of the synthetic data and the initial weights",
              "val_every": "validate every N steps",
              "val_samples": "synthetic people per validation",
              "checkpoint_every": "save the run's checkpoint every N steps",
              "threads": "CPU threads for torch (0: torch's own choice)",
              "backbone": "pymaf-small (the PyMAF proxy model's encoder) or hrnet (a small "
                          "HRNet, the first shipped file's)",
              "init_from": "PyMAF proxy weights that start a fresh pymaf-small run's encoder "
                           "('' for random weights)",
              "freeze_backbone_steps": "keep the started encoder fixed for the first N steps"}


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
    add_config_options(p, PointHMRTrainConfig, TRAIN_HELP)
    add_run_options(p)
    p.set_defaults(func=_train)


def _train(args: argparse.Namespace) -> int:
    from studio.train.pointhmr_train import PointHMRTrainConfig, train

    config = config_from_args(PointHMRTrainConfig, args)
    if config.steps < 1 or config.batch_size < 1 or config.val_every < 1 or \
            config.checkpoint_every < 1:
        raise StudioError("--steps, --batch-size, --val-every and --checkpoint-every must be "
                          "at least 1")
    from studio.nets.pointhmr_builtin import BACKBONES

    if config.backbone not in BACKBONES:
        raise StudioError(f"--backbone must be one of {', '.join(BACKBONES)}, not "
                          f"{config.backbone!r}")
    if config.init_from and not Path(config.init_from).is_file():
        raise StudioError(f"--init-from {config.init_from}: no such file")
    return run_training(train, config, args)


def add_eval_pointhmr(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "pointhmr", help="the built-in PointHMR against PyMAF: synthetic and real photos",
        description="MPJPE, PA-MPJPE and PVE (mm; H36M-17 joints regressed from each "
                    "mesh) of the built-in PointHMR and, on the same test people as "
                    "`studio eval pymaf`, of --against; then mask IoU and keypoint error "
                    "(px) of both on the built-in sample photos and --photos.")
    p.add_argument("--model", type=Path, default=None, metavar="FILE",
                   help="PointHMR weights file (default: the shipped one)")
    p.add_argument("--against", default="builtin-pymaf-proxy", metavar="NAME",
                   help="PyMAF model to compare with, or 'none' (default: %(default)s)")
    p.add_argument("--samples", type=int, default=1000, metavar="N",
                   help="synthetic test people (default: %(default)s)")
    p.add_argument("--seed", type=int, default=0, metavar="S",
                   help="seed of the test people (default: %(default)s)")
    p.add_argument("--batch-size", type=int, default=50, metavar="N",
                   help="people per forward pass, as in `studio eval pymaf` (default: "
                        "%(default)s)")
    p.add_argument("--photos", type=Path, default=PHOTOS_DIR, metavar="DIR",
                   help="folder of real photos besides the built-in samples (default: "
                        "%(default)s, skipped when absent)")
    p.add_argument("--no-photos", action="store_true", help="synthetic people only")
    p.add_argument("--device", default="cpu", help="cpu or cuda (default: %(default)s)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=_eval)


def _eval(args: argparse.Namespace) -> int:
    from studio.train import pointhmr_compare

    if args.samples < 1 or args.batch_size < 1:
        raise StudioError("--samples and --batch-size must be at least 1")
    if args.model is not None and not args.model.is_file():
        raise StudioError(f"{args.model}: no such file")
    against = None if args.against == "none" else args.against
    started = time.perf_counter()
    models = pointhmr_compare.load_models(args.model, against, args.device)
    result = {"synthetic": pointhmr_compare.synthetic(models, args.samples, args.seed,
                                                      args.batch_size)}
    if not args.no_photos:
        folder = args.photos if args.photos.is_dir() else None
        result["photos"] = pointhmr_compare.photos(models, pointhmr_compare.photo_set(folder))
    result["seconds"] = round(time.perf_counter() - started, 1)
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    syn = result["synthetic"]
    print(f"{syn['samples']} synthetic test people (seed {syn['seed']}), mm")
    print(f"{'model':<22}{'MPJPE':>8}{'PA-MPJPE':>10}{'PVE':>8}")
    for name, e in syn["models"].items():
        print(f"{name:<22}{e['mpjpe']:8.1f}{e['pa_mpjpe']:10.1f}{e['pve']:8.1f}")
    if "photos" in result:
        print("real photos (means): mask IoU and keypoint error, fitted camera / net's")
        for name, m in result["photos"]["means"].items():
            print(f"{name:<22} found {m['found']}/{m['photos']}  IoU {m['iou_fitted']} / "
                  f"{m['iou_net_camera']}  keypoints {m['kp_px_fitted']} / "
                  f"{m['kp_px_net_camera']} px")
    return 0
