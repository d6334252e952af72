"""Scene-aware pose generation: ``studio scene generate``, and the generator's parts of
``studio train`` and ``studio eval`` (``train scenepose``, ``eval scenepose``), whose
parsers those commands add only when chosen; torch loads in the functions."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from studio.commands.training_runs import add_config_options, add_run_options, \
    config_from_args, run_training
from studio.errors import StudioError

EXPORT_TYPES = (".json", ".npz")
OVERLAY_TYPES = (".png", ".jpg", ".jpeg")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("scene")
    sub = parser.add_subparsers(dest="what", metavar="ACTION", required=True)
    p = sub.add_parser(
        "generate", help="poses that fit a spot of a scene photo, ranked",
        description="Generate the poses a person could take in a placement box (or around "
                    "a point) of a scene photo, best first, as 16 MPII keypoints in image "
                    "pixels. A box fixes where and how big the person is; a point lets "
                    "the model choose the size.")
    p.add_argument("image", type=Path, help="scene photo")
    where = p.add_mutually_exclusive_group(required=True)
    where.add_argument("--box", metavar="X0,Y0,X1,Y1", help="placement box in pixels")
    where.add_argument("--point", metavar="X,Y", help="spot in pixels (the paper's setting)")
    p.add_argument("--top-k", type=int, default=5, metavar="K",
                   help="how many poses (default: %(default)s)")
    p.add_argument("--class", dest="pose_class", default=None, metavar="NAME",
                   help="only poses of this class: standing, walking, sitting, lying, "
                        "crouching or leaning (what the template's training people did)")
    p.add_argument("--model", type=Path, default=None, metavar="FILE",
                   help="weights file (default: models/scenepose/scenepose.pt)")
    p.add_argument("--json", action="store_true",
                   help='print {"poses": [{"score", "template", "keypoints"}, ...]}')
    p.add_argument("--export", type=Path, default=None, metavar="OUT",
                   help="write the poses to OUT.json or OUT.npz")
    p.add_argument("--overlay", type=Path, default=None, metavar="OUT",
                   help="write the photo with the skeletons drawn (.png/.jpg)")
    p.set_defaults(func=_generate)


def _numbers(text: str, count: int, flag: str) -> list[float]:
    try:
        values = [float(v) for v in text.split(",")]
    except ValueError:
        values = []
    if len(values) != count:
        names = "X0,Y0,X1,Y1" if count == 4 else "X,Y"
        raise StudioError(f"{flag} {text!r}: expected {count} comma-separated numbers {names}")
    return values


def _generate(args: argparse.Namespace) -> int:
    from studio.io.output import check_output_file

    box = _numbers(args.box, 4, "--box") if args.box is not None else None
    point = _numbers(args.point, 2, "--point") if args.point is not None else None
    if args.top_k < 1:
        raise StudioError("--top-k must be at least 1")
    if args.export is not None:
        check_output_file(args.export, EXPORT_TYPES, "--export")
    if args.overlay is not None:
        check_output_file(args.overlay, OVERLAY_TYPES, "--overlay")
    from studio.pipeline.images import read_image
    from studio.pipeline.scenepose import (check_box, check_point, draw_poses, load_scenepose,
                                           poses_bytes)

    image = read_image(args.image)
    size = (image.shape[1], image.shape[0])
    if box is not None:
        check_box(box, size)  # before loading the model
    else:
        check_point(point, size)
    model = load_scenepose(args.model)
    poses = model.generate(image, box=box, point=point, top_k=args.top_k,
                           pose_class=args.pose_class)
    doc = {"poses": [p.to_dict() for p in poses]}
    files = []
    if args.export is not None:
        where = {"box": box} if box is not None else {"point": point}
        files.append((args.export, poses_bytes(poses, args.export.suffix, size, where,
                                               {"image": str(args.image)})))
    if args.overlay is not None:
        from studio.io.images import image_bytes

        files.append((args.overlay, image_bytes(draw_poses(image, poses, box, point),
                                                args.overlay.suffix)))
    if files:
        from studio.io.output import write_outputs

        write_outputs(files)
    if args.json:
        print(json.dumps(doc))
        return 0
    for rank, p in enumerate(poses, 1):
        print(f"{rank}. {p.label()}  score {p.score:.3f}")
    for path, _ in files:
        print(f"wrote {path}", file=sys.stderr)
    return 0


# What each ScenePoseTrainConfig field means, for --help.
TRAIN_HELP = {
    "data": "synth (scenes rendered into the run folder) or sitcom:LIST (a Sitcom list file)",
    "samples": "scenes to render (synth)",
    "render_size": "rendered scene side in pixels",
    "templates": "pose templates K (k-means centres)",
    "input_size": "side of the net's three inputs (224: the paper's)",
    "steps": "optimizer steps in all",
    "batch_size": "scenes per step",
    "lr": "AdamW peak learning rate",
    "weight_decay": "AdamW weight decay",
    "self_train_from": "fraction of the steps after which self-training starts",
    "self_train_threshold": "compatibility above which a template becomes a positive",
    "distill_weight": "weight of the distance to the teacher's offsets",
    "fill_probability": "share of scenes whose person spot is painted over smoothly",
    "fill_style": "how: paint (like the real photos' person removal) or ellipse (a blurred "
                  "ellipse, as the first weights)",
    "degrade": "share of scenes blurred, noised and JPEG-compressed like camera photos",
    "reframe": "share of scenes re-cropped to a photo-like aspect (0.6-1.7) around the "
               "person",
    "val_samples": "scenes held out for validation",
    "val_every": "validate every N steps",
    "checkpoint_every": "checkpoint every N steps",
    "seed": "seed of the scenes, templates and initial weights",
    "scene_seed": "first rendered scene's seed, when not --seed (-1: --seed): another "
                  "run on the same scenes",
    "threads": "CPU threads for torch (0: torch's choice)",
}


def add_train_scenepose(sub: argparse._SubParsersAction) -> None:
    from studio.train.scenepose_train import ScenePoseTrainConfig

    p = sub.add_parser(
        "scenepose",
        description="Train the scene-aware pose generator on rendered scenes (the person "
                    "removed, their keypoints the label) or a Sitcom list. The run folder "
                    "keeps the rendered scenes, the templates, a checkpoint (re-running "
                    "the same command resumes) and log.jsonl; --out gets the weights file.")
    p.add_argument("--run-dir", type=Path, required=True,
                   help="folder for scenes, checkpoint and log (resumed when it has them)")
    p.add_argument("--out", type=Path, default=None,
                   help="write the weights file here when training ends (default: none)")
    add_config_options(p, ScenePoseTrainConfig, TRAIN_HELP)
    add_run_options(p)
    p.set_defaults(func=_train)


def _train(args: argparse.Namespace) -> int:
    from studio.train.scenepose_train import ScenePoseTrainConfig, train

    return run_training(train, config_from_args(ScenePoseTrainConfig, args), args,
                        "validation PCK@0.2")


def add_eval_scenepose(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "scenepose", help="PCK@0.2, PCKh@0.5 and MSE of generated poses, with baselines",
        description="Generate poses for scenes whose person is known and compare: top-1 "
                    "and best-of-k PCK@0.2 (torso: left hip to right shoulder), PCKh@0.5 "
                    "and MSE (image-height units and pixels), missing joints masked; "
                    "baselines: the mean template at the mean scale, and box-only (the "
                    "templates whose aspect best matches the box).")
    p.add_argument("--data", default="synth", metavar="SOURCE",
                   help="synth (fresh rendered scenes from --seed), real:FOLDER (person-"
                        "removed photos with labels.json, e.g. data/scenes) or sitcom:LIST "
                        "(default: %(default)s)")
    p.add_argument("--samples", type=int, default=300, metavar="N",
                   help="rendered test scenes (synth; default: %(default)s)")
    p.add_argument("--seed", type=int, default=1_000_000, metavar="S",
                   help="first seed of the test scenes (training uses 0..; default: %(default)s)")
    p.add_argument("--render-size", type=int, default=192, metavar="N",
                   help="rendered test scene side in pixels (synth; default: %(default)s, as "
                        "the shipped weights were trained)")
    p.add_argument("--cache", type=Path, default=None, metavar="DIR",
                   help="keep the rendered test scenes here (reused when there)")
    p.add_argument("--paint-out", action="store_true",
                   help="paint each rendered scene's person box out as the real photos' "
                        "person was (synth; seeded by --seed)")
    p.add_argument("--reframe", action="store_true",
                   help="re-crop each rendered scene to a photo-like aspect around its "
                        "person, after --paint-out (synth; seeded by --seed)")
    p.add_argument("--mode", choices=("box", "point", "both"), default="both",
                   help="ask with the person's box, its centre, or both (default: %(default)s)")
    p.add_argument("--top-k", type=int, default=5, metavar="K",
                   help="best-of-k (default: %(default)s)")
    p.add_argument("--model", type=Path, default=None, metavar="FILE",
                   help="weights file (default: the shipped one)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=_eval)


def _eval_data(args: argparse.Namespace):
    from studio.train.scenepose_eval import ALL_JOINTS, load_real_scenes

    if args.paint_out and args.data != "synth":
        raise StudioError("--paint-out is for rendered scenes (--data synth); the real "
                          "photos have their person painted out already")
    if args.reframe and args.data != "synth":
        raise StudioError("--reframe is for rendered scenes (--data synth)")
    if args.data.startswith("real:"):
        folder = Path(args.data[len("real:"):])
        if not (folder / "labels.json").is_file():
            raise StudioError(f"--data {args.data}: no labels.json in {folder}")
        data, names, joints = load_real_scenes(folder)
        return data, names, joints
    if args.data.startswith("sitcom:"):
        from studio.io.sitcom import load_sitcom

        return load_sitcom(Path(args.data[len("sitcom:"):])), None, ALL_JOINTS
    if args.data != "synth":
        raise StudioError(f"--data {args.data!r}: use synth, real:FOLDER or sitcom:LIST")
    if args.samples < 1:
        raise StudioError("--samples must be at least 1")
    data = _rendered(args)
    if args.paint_out:
        data = data.painted_out(args.seed)
    return (data.reframed(args.seed) if args.reframe else data), None, ALL_JOINTS


def _rendered(args: argparse.Namespace):
    """The rendered test scenes (kept in --cache when given)."""
    import tempfile

    from studio.synth.scenepose_data import load_cache, render_cache

    if args.cache is not None:
        render_cache(args.cache, args.samples, args.seed, args.render_size)
        return load_cache(args.cache)
    with tempfile.TemporaryDirectory() as tmp:
        render_cache(Path(tmp), args.samples, args.seed, args.render_size)
        return load_cache(Path(tmp))


def _eval(args: argparse.Namespace) -> int:
    if args.top_k < 1:
        raise StudioError("--top-k must be at least 1")
    from studio.pipeline.scenepose import load_scenepose
    from studio.train.scenepose_eval import evaluate, per_sample

    model = load_scenepose(args.model)
    data, names, joints = _eval_data(args)
    modes = ("box", "point") if args.mode == "both" else (args.mode,)
    result = {"model": model.source, "data": args.data, "tables": [
        evaluate(model, data, mode, args.top_k, joints) for mode in modes]}
    if names is not None:
        result["photos"] = per_sample(model, data, names, args.top_k, joints)
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print(f"{model.source}: {len(data)} scenes from {args.data}, best of {args.top_k}")
    print(f"{'mode':>5}  {'method':>13}  {'PCK@0.2 top1':>12}  {'best-of-k':>9}  "
          f"{'PCKh@0.5 top1':>13}  {'MSE (H^2) top1':>14}  {'best of all':>11}")
    for table in result["tables"]:
        for name, row in table["rows"].items():
            t, b = row["top1"], row["best_of_k"]
            pckh = "-" if t["pckh@0.5"] is None else f"{t['pckh@0.5']:.3f}"
            every = f"{row['best_of_all']['pck@0.2']:.3f}" if "best_of_all" in row else "-"
            print(f"{table['mode']:>5}  {name:>13}  {t['pck@0.2']:12.3f}  "
                  f"{b['pck@0.2']:9.3f}  {pckh:>13}  {t['mse_norm']:14.4f}  {every:>11}")
    return 0
