"""``studio eval pymaf``: per-iteration errors of a model on fresh synthetic test people."""
from __future__ import annotations

import argparse
import json
import time

from studio.commands.run import add_device_option
from studio.nets.model_names import model_names


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("eval")
    sub = parser.add_subparsers(dest="what", metavar="MODEL", required=True)
    pymaf = sub.add_parser(
        "pymaf", help="MPJPE, PA-MPJPE and PVE (mm) for every feedback iteration",
        description="Generate test people from --seed (the test split never overlaps "
                    "training or validation) and report errors per iteration.")
    pymaf.add_argument("--model", default="builtin-pymaf-proxy", metavar="NAME",
                       help=f"{model_names()} or a built-in weights file "
                            "(default: %(default)s)")
    pymaf.add_argument("--samples", type=int, default=1000, metavar="N",
                       help="synthetic test people to evaluate on (default: %(default)s)")
    pymaf.add_argument("--seed", type=int, default=0, metavar="S",
                       help="seed of the test people; the same seed gives the same people "
                            "(default: %(default)s)")
    pymaf.add_argument("--batch-size", type=int, default=50, metavar="N",
                       help="people per forward pass (default: %(default)s)")
    pymaf.add_argument("--start", choices=("mean", "keypoint-fit"), default="mean",
                       help="where the feedback loop starts: the mean parameters, or the "
                            "keypoint fit of each person's mediapipe33 points with "
                            "--keypoint-noise (as builtin-pymaf-proxy-kpstart does on "
                            "photos; that name implies it)")
    pymaf.add_argument("--keypoint-noise", type=float, default=20.0, metavar="MM",
                       help="--start keypoint-fit: Gaussian noise per coordinate of the "
                            "fitted points, mm (default: %(default)s)")
    add_device_option(pymaf)
    pymaf.add_argument("--json", action="store_true", help="print JSON")
    pymaf.set_defaults(func=_eval_pymaf)
    from studio.commands.smplr import add_eval_smplr  # no torch: that loads when it runs

    add_eval_smplr(sub)
    from studio.commands.poseaug import add_eval_poseaug

    add_eval_poseaug(sub)
    from studio.commands.pointhmr import add_eval_pointhmr

    add_eval_pointhmr(sub)
    from studio.commands.scene import add_eval_scenepose

    add_eval_scenepose(sub)


def _eval_pymaf(args: argparse.Namespace) -> int:
    from studio.errors import StudioError
    from studio.nets.model_registry import load_model

    if args.samples < 1 or args.batch_size < 1:
        raise StudioError("--samples and --batch-size must be at least 1")
    if args.keypoint_noise < 0:
        raise StudioError("--keypoint-noise must be at least 0")
    from studio.synth.dataset import SyntheticPeople
    from studio.train.evaluate import evaluate

    from studio.pipeline import pymaf_kpstart

    if args.model == pymaf_kpstart.NAME:  # a model method: its net from the fitted start
        args.model, args.start = pymaf_kpstart.NET, "keypoint-fit"
    loaded = load_model(args.model, args.device)
    if loaded.body_name != "mannequin":
        raise StudioError(f"{args.model}: synthetic evaluation needs a model of the mannequin "
                          f"body, not {loaded.body_name!r}")
    size = loaded.input_size
    net = loaded.net
    data = SyntheticPeople(net.body, loaded.input_kind, size, net.dense_size(size),
                           net.points_grid.device)
    start = None
    if args.start == "keypoint-fit":
        start = pymaf_kpstart.synthetic_start(net, args.keypoint_noise, args.seed)
    started = time.perf_counter()
    result = evaluate(net, data, "test", args.seed, args.samples, args.batch_size, start)
    result = {"model": loaded.name, "source": str(loaded.source), "seed": args.seed,
              "start": args.start, "keypoint_noise_mm": args.keypoint_noise
              if args.start == "keypoint-fit" else None,
              "input": loaded.input_kind, "size": size,
              "seconds": round(time.perf_counter() - started, 1), **result}
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print(f"{loaded.name}: {result['samples']} test people (seed {args.seed}), start: "
          + (args.start if start is None else
             f"keypoint fit, {args.keypoint_noise:g} mm noise"))
    print(f"{'iteration':>9}  {'MPJPE':>7}  {'PA-MPJPE':>8}  {'PVE':>7}   (mm)")
    for i, it in enumerate(result["iterations"]):
        print(f"{i:>9}  {it['mpjpe']:7.1f}  {it['pa_mpjpe']:8.1f}  {it['pve']:7.1f}")
    return 0
