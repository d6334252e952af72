"""PoseAug's commands: ``studio train poseaug``, ``studio eval poseaug`` and
``studio poseaug augment``. Parsers are added only when chosen; torch loads in the
functions."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from studio.commands.training_runs import add_config_options, config_from_args
from studio.errors import StudioError

DEFAULT_OUT = Path(__file__).resolve().parents[2] / "models" / "poseaug"


# What each PoseAugConfig field does, for ``studio train poseaug --help`` (the official
# option names are kept where PoseAug has one, so its papers and issues still apply).
TRAIN_HELP = {
    "train_samples": "source (training) pose pairs drawn once into the run folder",
    "width": "the estimator's hidden width (official SimpleBaseline: 1024)",
    "stages": "the estimator's residual stages",
    "dropout": "the estimator's dropout",
    "batch_size": "pairs per step for every net",
    "pretrain_epochs": "source-only epochs shared by the three variants before they part",
    "epochs": "each variant's epochs after the pretrain",
    "warmup": "PoseAug: the augmentor's epochs before its pairs train the estimator and "
              "the estimator's error feeds back",
    "real_passes": "passes over the source pairs per epoch of the random and PoseAug "
                   "variants (source-only always makes 2)",
    "random_recipe": "the random baseline's augmentation: uniform (bone angles, lengths "
                     "and views drawn at random) or views (turned and laid down people)",
    "random_rotate": "views recipe: share of poses turned by any rotation",
    "lr_p": "the estimator's learning rate (linear decay to 0 over its epochs)",
    "lr_g": "the augmentor's learning rate",
    "lr_d": "both discriminators' learning rate",
    "df": "the discriminators step once every N augmentor steps",
    "hardratio_ba_s": "feedback target for bone-angle samples at the start (their error "
                      "over the original's)",
    "hardratio_ba": "... and at the end (it grows linearly)",
    "hardratio_std_ba": "... the tolerance around it",
    "hardratio_rt_s": "feedback target for rotated and moved samples at the start",
    "hardratio_rt": "... and at the end",
    "hardratio_std_rt": "... the tolerance around it",
    "ba_range_m": "bone-angle change's range loss: centre",
    "ba_range_w": "... and half width",
    "blr_limit": "bone-length ratios beyond this are penalised",
    "gloss_factord2d": "weight of the 2D discriminator's loss for the augmentor",
    "gloss_factord3d": "weight of the 3D discriminator's loss for the augmentor",
    "gloss_factordiff": "weight of the range losses",
    "gloss_factorfeedback_ba": "weight of the bone-angle feedback",
    "gloss_factorfeedback_rt": "weight of the rotation/translation feedback",
    "gloss_factorframe": "ours: weight of the loss that keeps augmented people in the "
                         "picture",
    "gloss_factorms": "ours: mode-seeking weight on the rotation (0: off)",
    "gloss_factorms_trans": "ours: mode-seeking weight on the translation (0: off)",
    "rotation_start": "ours: initial weight scale of the augmentor's rotation output",
    "d2d_mirror": "ours: share of the 2D discriminator's real poses seen from behind",
    "d2d_scale": "ours: ... scaled nearer or farther by up to this factor",
    "d2d_turn": "ours: share of them turned to any yaw",
    "d2d_tilt": "ours: ... and tilted by up to this many radians",
    "d2d_rotate": "ours: share of them seen after any rotation",
    "pool_size": "fake pools the discriminators train on (official: 4096)",
    "poseaug_epochs": "ours: the PoseAug variant's estimator epochs (0: --epochs)",
    "fake_memory": "ours: the estimator's augmented pass draws from the last N epochs' "
                   "augmented pairs",
    "gan_warmup": "ours: augmentor/discriminator epochs before the estimator's first (the "
                  "estimator frozen); --warmup and the feedback targets count them",
    "mix_fakes": "ours: augmented and real pairs share the estimator's batches (one "
                 "shuffled epoch of both) instead of an augmented pass, then the real ones",
    "feedback_eval": "ours: the augmentor's error feedback scores the estimator in eval mode "
                     "(running statistics, no dropout: as the test runs it) instead of "
                     "training mode (official)",
    "val_samples": "held-out source pairs scored after every epoch (0: none)",
    "pick": "keep each variant's last epoch or its best on those pairs",
    "average_last": "ours: each estimator is the mean of its last N epochs' weights, "
                    "batch-norm statistics recomputed on the source pairs; the last "
                    "epoch's go to OUT/last-epoch too (0: off)",
    "cooldown": "ours: the PoseAug estimator's last N epochs make only the real passes (no "
                "augmentor epoch, no augmented pairs), so it ends on the source (0: off)",
    "cooldown_rehearse": "ours: in those epochs the estimator also rehearses the pairs "
                         "its last augmented epochs remembered that the source never "
                         "shows (seen from behind or not upright), before the real "
                         "passes",
    "pose_loss": "every estimator's loss on its pairs: mse (official), mpjpe (ours: the "
                 "mean joint distance the test scores, so the hardest augmented pairs pull "
                 "no harder than the rest) or huber (ours: each joint's distance squared "
                 "below 0.1 m and linear above, between the two)",
    "fake_keep": "ours: share of each augmentor batch's valid pairs the estimator learns "
                 "from, those whose least plausible part the 3D discriminator scores most "
                 "real (1: all, as the official)",
    "seed": "seed of the data and of every draw (a run repeats exactly)",
    "threads": "CPU threads (0: torch's default)",
    "device": "where training runs: cpu, cuda or cuda:N (random draws differ from cpu's)",
}
CHOICES = {"pick": ("last", "source-val")}  # with the recipes' and losses' names (below)


def add_train_poseaug(sub: argparse._SubParsersAction) -> None:
    from studio.train.poseaug_train import PHASES, POSE_LOSSES, RANDOM_RECIPES, RECIPES, \
        PoseAugConfig

    p = sub.add_parser(
        "poseaug",
        description="PoseAug's cross-distribution experiment on synthetic poses: train "
                    "SimpleBaseline on the source distribution alone, with random "
                    "augmentation, and with PoseAug (augmentor and both discriminators "
                    "trained jointly). The run folder keeps a checkpoint after every "
                    "epoch (re-running the same command resumes) and log.jsonl; --out "
                    "gets the weights in the official file layouts.")
    p.add_argument("--run-dir", type=Path, required=True,
                   help="folder for data, checkpoint and log (resumed when it has one)")
    p.add_argument("--out", type=Path, default=None,
                   help="folder for the weights files when training ends (default: none)")
    p.add_argument("--until", choices=PHASES, default=PHASES[-1],
                   help="stop after this phase; the same command with a later one goes on "
                        "(default: %(default)s)")
    p.add_argument("--half", action="store_true",
                   help="write the weights files in float16 (half the size; loaders upcast)")
    p.add_argument("--recipe", choices=tuple(RECIPES), default=None,
                   help="named settings: shipped = those of the weights in models/poseaug "
                        "(add --half --seed 0 to remake them); options given beside it win")
    add_config_options(p, PoseAugConfig, TRAIN_HELP, {
        **CHOICES, "random_recipe": tuple(RANDOM_RECIPES), "pose_loss": tuple(POSE_LOSSES)})
    p.set_defaults(func=_train)


def _train(args: argparse.Namespace) -> int:
    from studio.io.output import check_output_folder
    from studio.nets.model_registry import resolve_device
    from studio.train.poseaug_train import RECIPES, PoseAugConfig, train

    config = config_from_args(PoseAugConfig, args, RECIPES.get(args.recipe))
    resolve_device(config.device)
    check_output_folder(args.run_dir, "--run-dir")
    if args.out is not None:
        check_output_folder(args.out, "--out")
    try:
        train(config, args.run_dir, args.out, until=args.until, half=args.half)
    except ValueError as err:  # a run folder made with other settings
        raise StudioError(str(err)) from err
    return 0


def add_eval_poseaug(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "poseaug", help="MPJPE/PA-MPJPE (mm) with and without PoseAug on source and target",
        description="Evaluate the SimpleBaseline estimators trained on the source "
                    "distribution alone, with random augmentation and with PoseAug, on "
                    "held-out source and target samples (root-relative, 16 joints, mm).")
    p.add_argument("--weights", type=Path, default=DEFAULT_OUT,
                   help="folder with the weights files (default: the shipped ones)")
    p.add_argument("--samples", type=int, default=5000, metavar="N",
                   help="test samples per distribution (default: %(default)s)")
    p.add_argument("--seed", type=int, default=0, metavar="S",
                   help="seed of the test samples (default: %(default)s)")
    p.add_argument("--cache", type=Path, default=None,
                   help="folder to keep the test samples in (default: a temporary one)")
    p.add_argument("--source-shapes", choices=("training", "held-out"), default="training",
                   help="the source test's five body shapes: the training set's (the "
                        "usual test) or five others, as Human3.6M tests on subjects it "
                        "never trained on (default: %(default)s)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=_eval)


def _eval(args: argparse.Namespace) -> int:
    import tempfile

    from studio.synth.poseaug_data import HELD_OUT_SHAPE_SEED, SOURCE_SHAPE_SEED
    from studio.train.poseaug_eval import evaluate

    if args.samples < 1:
        raise StudioError("--samples must be at least 1")
    if not args.weights.is_dir():
        raise StudioError(f"--weights {args.weights}: not a folder")
    shapes = SOURCE_SHAPE_SEED if args.source_shapes == "training" else HELD_OUT_SHAPE_SEED
    try:
        if args.cache is None:
            with tempfile.TemporaryDirectory() as tmp:
                result = evaluate(args.weights, args.samples, args.seed, Path(tmp), shapes)
        else:
            result = evaluate(args.weights, args.samples, args.seed, args.cache, shapes)
    except FileNotFoundError as err:
        raise StudioError(f"--weights {err}") from err
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print(f"{'variant':<12} {'source MPJPE':>12} {'PA':>6} {'target MPJPE':>13} {'PA':>6}  (mm)")
    for name, v in result["variants"].items():
        print(f"{name:<12} {v['source']['mpjpe']:12.1f} {v['source']['pa_mpjpe']:6.1f} "
              f"{v['target']['mpjpe']:13.1f} {v['target']['pa_mpjpe']:6.1f}")
    for variant, label in (("random", "random augmentation"), ("poseaug", "PoseAug")):
        for key, value in result.get(f"{variant}_change_percent", {}).items():
            print(f"{label} MPJPE change, {key.replace('_', ' ')}: {value:+.1f}%")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("poseaug")
    sub = parser.add_subparsers(dest="what", metavar="ACTION", required=True)
    p = sub.add_parser(
        "augment", help="augment your own 16-joint 3D poses with PoseAug's augmentor",
        description="Draw --count augmentations of every pose in IN.npz (array 'poses' "
                    "[P,16,3] or [16,3], PoseAug's 16 joints in metres, camera frame: x "
                    "right, y down, z forward; optional 'cameras' [P,9]) and write the "
                    "2D-3D pairs of every stage, the cameras, the per-stage parameters, "
                    "the noise, the discriminators' scores and the seed to OUT.npz. Poses "
                    "not in front of the camera (e.g. root-relative ones) are first moved "
                    "to 4.5 m depth. The same seed gives the same samples.")
    p.add_argument("input", type=Path, metavar="IN.npz", help="the 3D poses to augment")
    p.add_argument("--count", type=int, required=True, metavar="N",
                   help="augmentations per input pose")
    p.add_argument("--seed", type=int, default=0, metavar="S",
                   help="seed of the augmentor's noise: the same seed, the same samples "
                        "(default: %(default)s)")
    p.add_argument("--stages", default="ba,bl,rt", metavar="A,B",
                   help="stages to apply, of ba (bone angles), bl (bone lengths), rt "
                        "(rotation, translation) (default: %(default)s)")
    p.add_argument("--strength", default="1", metavar="S|ST=S,...",
                   help="how strong each stage is, 0-2 (1: as learned; 0: off): one number "
                        "for all or e.g. ba=0.5,rt=1 (default: %(default)s)")
    p.add_argument("--model", type=Path, default=None, metavar="FILE",
                   help="official PoseAug file holding the augmentor (model_G) and, for "
                        "scores, the discriminators (default: the shipped one)")
    p.add_argument("--out", type=Path, required=True, metavar="OUT.npz",
                   help="where the pairs go (written whole or not at all)")
    p.set_defaults(func=_augment)


def parse_strength(text: str) -> dict[str, float]:
    """'0.5' -> every stage 0.5; 'ba=0.5,rt=1' -> those stages (others 1)."""
    from studio.nets.poseaug_augmentor import STAGES

    try:
        if "=" not in text:
            return {s: float(text) for s in STAGES}
        pairs = [item.split("=") for item in text.split(",") if item]
        return {k.strip(): float(v) for k, v in pairs}
    except ValueError:
        raise StudioError(f"--strength {text!r}: use a number or stage=number pairs "
                          "(e.g. ba=0.5,rt=1)") from None


def read_poses(path: Path) -> tuple["object", "object"]:
    """(poses [P,16,3], cameras [P,9] or None) from a user's .npz, checked."""
    import numpy as np

    if not path.is_file():
        raise StudioError(f"{path}: no such file")
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except Exception as err:  # noqa: BLE001 - any reading failure is the user's file
        raise StudioError(f"{path}: not a readable .npz file ({err})") from None
    if "poses" not in arrays and len(arrays) != 1:
        raise StudioError(f"{path}: needs an array 'poses' [P,16,3] (it has "
                          f"{', '.join(arrays) or 'none'})")
    poses = arrays.get("poses", next(iter(arrays.values())) if len(arrays) == 1 else None)
    poses = np.asarray(poses)
    if poses.ndim == 2:
        poses = poses[None]
    if poses.ndim != 3 or poses.shape[1:] != (16, 3) or len(poses) == 0:
        raise StudioError(f"{path}: poses must be [P,16,3] (PoseAug's 16 joints), got "
                          f"{list(np.shape(arrays.get('poses', poses)))}")
    if not np.issubdtype(poses.dtype, np.number) or not np.isfinite(poses).all():
        raise StudioError(f"{path}: poses must be finite numbers")
    extent = np.abs(poses - poses[:, :1]).max()
    if extent > 5.0:
        raise StudioError(f"{path}: joints lie {extent:.0f} units from the root; poses must "
                          "be in metres (millimetres? divide by 1000)")
    cameras = arrays.get("cameras")
    if cameras is not None:
        cameras = np.asarray(cameras, dtype=np.float32).reshape(-1, 9) \
            if np.size(cameras) % 9 == 0 else None
        if cameras is None or len(cameras) not in (1, len(poses)):
            raise StudioError(f"{path}: 'cameras' must be [9] or [P,9] "
                              "(fx, fy, cx, cy, k1, k2, k3, p1, p2)")
        cameras = np.broadcast_to(cameras, (len(poses), 9)).copy()
    return poses.astype(np.float32), cameras


def _augment(args: argparse.Namespace) -> int:
    from studio.io.output import check_output_file

    if args.count < 1:
        raise StudioError("--count must be at least 1")
    stages = tuple(s.strip() for s in args.stages.split(",") if s.strip())
    strength = parse_strength(args.strength)
    from studio.nets.poseaug_sampling import check_stages, check_strength

    try:
        check_stages(stages)
        check_strength(strength)
    except ValueError as err:
        raise StudioError(f"--stages/--strength: {err}") from None
    check_output_file(args.out, (".npz",), "--out")
    poses, cameras = read_poses(args.input)
    payload = augment_file(poses, cameras, args.count, args.seed, stages, strength, args.model)
    from studio.io.output import write_output

    write_output(args.out, payload)
    print(f"{args.out}: {len(poses) * args.count} augmented samples of {len(poses)} poses "
          f"(stages {','.join(stages)}, seed {args.seed})")
    return 0


def augment_file(poses, cameras, count: int, seed: int, stages: tuple[str, ...],
                 strength: dict[str, float], model: Path | None) -> bytes:
    """The output .npz of ``studio poseaug augment`` as bytes."""
    import torch

    from studio.nets import poseaug
    from studio.nets.poseaug_files import file_parts, read_file

    path = poseaug.BUILTIN_GAN if model is None else model
    held = file_parts(read_file(path))
    aug = poseaug.load_official(path, part="augmentor")
    placed, moved = poseaug.place_in_front(torch.from_numpy(poses))
    cams = None if cameras is None else torch.from_numpy(cameras)
    out = poseaug.augment_poses(aug, placed, count, seed, stages, strength, cams)
    scores = None
    if "d3d" in held and "d2d" in held:
        scores = poseaug.discriminator_scores(poseaug.load_official(path, part="d3d"),
                                              poseaug.load_official(path, part="d2d"),
                                              out.poses["rt"], out.pose_2d["rt"])
    return poseaug.augmented_npz_bytes(out, placed, moved, seed, count, stages, strength,
                                       scores)
