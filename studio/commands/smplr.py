"""The keypoint fit's (SMPLR's) parts of ``studio train``, ``studio eval`` and
``studio bench``: ``train smplr``, ``eval smplr`` and ``bench smplr``. Their parsers are
added by those commands' modules only when chosen; torch loads in the functions."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from studio.commands.training_runs import add_run_options, run_training
from studio.errors import StudioError

LAYOUT_NAMES = ("smpl24", "openpose25", "coco17", "h36m17", "mpii16", "poseaug16",
                "mediapipe33")


def _dims(text: str) -> int:
    if text not in ("3d", "2d"):
        raise argparse.ArgumentTypeError(f"{text!r}: use 3d or 2d")
    return int(text[0])


def _from_option(parser: argparse.ArgumentParser, required: bool = False) -> None:
    parser.add_argument("--from", dest="dims", type=_dims, default=None if required else 3,
                        required=required, metavar="{3d,2d}",
                        help="3D keypoints in metres or 2D keypoints in pixels"
                        + ("" if required else " (default: 3d)"))


def _refine_steps(text: str) -> int:
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"{text!r}: use a whole number, 0 or more")
    return int(text)


def _refine_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--refine-steps", type=_refine_steps, default=None, metavar="N",
                        help="Gauss-Newton steps fitting the body to the points after the "
                             "nets (0: the nets alone; default: 2 from 3D, 3 from 2D)")


def add_train_smplr(sub: argparse._SubParsersAction) -> None:
    from studio.train.smplr_train import SMPLRConfig

    d = SMPLRConfig()
    p = sub.add_parser(
        "smplr",
        description="Train the keypoint fit (SMPLR: denoising autoencoder, pose and shape "
                    "regressors) on keypoints of synthetic bodies (broad pose prior, "
                    "detector-like noise). The run folder keeps a checkpoint (re-running "
                    "the same command resumes) and log.jsonl; --out gets the weights file.")
    p.add_argument("--run-dir", type=Path, required=True,
                   help="folder for the checkpoint and log (resumed when it has one)")
    p.add_argument("--out", type=Path, default=None,
                   help="write the weights file here when training ends (default: none)")
    _from_option(p)
    p.add_argument("--layout", default=d.layouts, metavar="A,B",
                   help="keypoint layouts the model takes (default: all)")
    p.add_argument("--focus", default="", metavar="A,B",
                   help="layouts drawn three times as often (default: smpl24,mediapipe33 "
                        "for 3d, coco17 for 2d)")
    p.add_argument("--body", default=d.body, help="body model (default: %(default)s)")
    for name, kind, text in (("steps", int, "optimizer steps in all"),
                             ("batch_size", int, "samples per step"),
                             ("lr", float, "AdamW peak learning rate"),
                             ("hidden", int, "width of the hidden layers"),
                             ("dropout", float, "input dropout of the autoencoder"),
                             ("finetune_from", float, "fraction of the steps after which the "
                                                      "body-model loss joins"),
                             ("seed", int, "seed of the data and the initial weights"),
                             ("val_every", int, "validate every N steps"),
                             ("checkpoint_every", int, "checkpoint every N steps"),
                             ("threads", int, "CPU threads for torch (0: torch's choice)"),
                             ("free_fraction", float, "share of training poses uniform in "
                                                      "the joint limits, any orientation"),
                             ("turned_fraction", float, "share of the other training poses "
                                                        "turned to any orientation"),
                             ("mixed_fraction", float, "share of training poses made of "
                                                       "other draws' torso, arms and legs")):
        p.add_argument(f"--{name.replace('_', '-')}", type=kind, default=getattr(d, name),
                       metavar="N", help=f"{text} (default: %(default)s)")
    p.add_argument("--init", default="", metavar="WEIGHTS",
                   help="start a new run from this weights file (fine-tuning; same "
                        "architecture) instead of random weights")
    add_run_options(p)
    p.set_defaults(func=_train)


def _train(args: argparse.Namespace) -> int:
    from studio.train.smplr_train import SMPLRConfig, train

    try:
        config = SMPLRConfig(
            dims=args.dims, layouts=args.layout, focus=args.focus, body=args.body,
            steps=args.steps, batch_size=args.batch_size, lr=args.lr, hidden=args.hidden,
            dropout=args.dropout, finetune_from=args.finetune_from, seed=args.seed,
            val_every=args.val_every, checkpoint_every=args.checkpoint_every,
            threads=args.threads, init=args.init, free_fraction=args.free_fraction,
            turned_fraction=args.turned_fraction, mixed_fraction=args.mixed_fraction)
    except ValueError as err:
        raise StudioError(str(err)) from err
    return run_training(train, config, args)


def add_soup_smplr(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "smplr-soup",
        description="Average keypoint-fit weights files fine-tuned from one start (a "
                    "weight soup): every weight and batch-norm statistic is the mean of "
                    "the files'. The result runs at one net's cost.")
    p.add_argument("weights", nargs="+", type=Path, metavar="WEIGHTS",
                   help="two or more weights files of the same architecture")
    p.add_argument("--out", type=Path, required=True, help="the averaged weights file")
    p.set_defaults(func=_soup)


def _soup(args: argparse.Namespace) -> int:
    from studio.body.storage import atomic_torch_save
    from studio.io.output import check_output_file
    from studio.train.smplr_train import weight_soup

    check_output_file(args.out, what="--out")
    try:
        content = weight_soup(args.weights)
    except ValueError as err:
        raise StudioError(str(err)) from err
    atomic_torch_save(content, args.out)
    print(f"wrote {args.out} (the mean of {len(args.weights)} files)")
    return 0


def add_eval_smplr(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "smplr", help="MPJPE, PA-MPJPE and PA-PVE (mm) of the keypoint fit per noise level",
        description="Fit keypoints of synthetic bodies with detector-like noise and report "
                    "MPJPE, PA-MPJPE (H36M-17 joints, pelvis-centred) and PA-PVE in mm per "
                    "noise level, on broad pose-prior samples and on hand-made key poses.")
    _from_option(p, required=True)
    p.add_argument("--layout", required=True, metavar="NAME",
                   help=f"keypoint layout: {', '.join(LAYOUT_NAMES)}")
    p.add_argument("--model", default=None, metavar="FILE",
                   help="weights file (default: the shipped one for --from)")
    p.add_argument("--samples", type=int, default=1000, metavar="N",
                   help="test samples per noise level and pose set (default: %(default)s)")
    p.add_argument("--seed", type=int, default=0, metavar="S",
                   help="seed of the test samples (default: %(default)s)")
    _refine_option(p)
    p.add_argument("--validation", action="store_true",
                   help="the validation sets instead (the prior from another seed stream, "
                        "the training key poses, and held-out key poses that neither "
                        "training nor the evaluation holds): for choosing between trained "
                        "candidates without looking at the evaluation poses")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=_eval)


def _eval(args: argparse.Namespace) -> int:
    from studio.pipeline.keypoint_fit import load_smplr
    from studio.train.smplr_eval import evaluate

    if args.samples < 1:
        raise StudioError("--samples must be at least 1")
    if args.layout not in LAYOUT_NAMES:
        raise StudioError(f"unknown layout {args.layout!r} (use {', '.join(LAYOUT_NAMES)})")
    fit = load_smplr(args.layout, args.dims, path=args.model)
    result = evaluate(fit, args.layout, args.samples, args.seed, args.refine_steps,
                      args.validation)
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print(f"{result['model']}: {args.layout} {args.dims}D, {args.samples} samples per row "
          f"(seed {args.seed}), {result['refine_steps']} refinement steps")
    print(f"{'poses':>15}  {'noise':>18}  {'MPJPE':>7}  {'PA-MPJPE':>8}  {'PA-PVE':>7}   (mm)")
    for row in result["rows"]:
        print(f"{row['poses']:>15}  {row['noise']:>18}  {row['mpjpe']:7.1f}  "
              f"{row['pa_mpjpe']:8.1f}  {row['pa_pve']:7.1f}")
    return 0


def add_bench_smplr(sub: argparse._SubParsersAction, common, apply_common, int_list) -> None:
    """``bench smplr``'s parser; ``studio.commands.bench`` passes its --device/--threads/
    --json options, the function applying them and its integer-list type."""
    p = sub.add_parser(
        "smplr",
        description="Time the keypoint fit per sample at each batch size: the nets alone "
                    "and the whole fit (nets, refinement, body model, translation), also "
                    "without the refinement.")
    common(p)
    p.add_argument("--layout", default="smpl24", metavar="NAME",
                   help="keypoint layout (default: %(default)s)")
    _from_option(p)
    p.add_argument("--batch-sizes", type=int_list, default=int_list("1,256"), metavar="1,256",
                   help="comma-separated batch sizes (default: 1,256)")
    p.add_argument("--repeats", type=int, default=20, metavar="N",
                   help="timed calls per batch size (default: %(default)s)")
    p.set_defaults(func=lambda args: _bench(args, apply_common(args)))


def _bench(args: argparse.Namespace, device) -> int:
    from studio.bench.smplr_speed import bench_smplr

    if args.repeats < 1:
        raise StudioError("--repeats must be at least 1")
    doc = bench_smplr(args.layout, args.dims, args.batch_sizes, args.repeats, device)
    if args.json:
        print(json.dumps(doc, indent=2))
        return 0
    print(f"keypoint fit, {args.layout} {args.dims}D on {doc['device']}")
    for row in doc["rows"]:
        print(f"batch {row['batch']:>4}: nets {row['nets_ms_per_sample']:.3f} ms/sample, "
              f"whole fit {row['fit_ms_per_sample']:.3f} ms/sample median, "
              f"{row['fit_ms_per_sample_fastest']:.3f} fastest ("
              f"{row['fit_ms_per_sample_no_refine']:.3f} without refinement)")
    return 0
