"""``studio synth scenes``: render synthetic scenes with a placed person, as a labelled
contact sheet to look at and an npz of images and labels to train or test on."""
from __future__ import annotations

import argparse
import json
import time
from collections import Counter
from pathlib import Path

from studio.errors import StudioError
from studio.io.output import check_output_folder, write_outputs

SHEET_LIMIT = 48  # samples shown on the contact sheet at most


def _size(text: str) -> tuple[int, int]:
    try:
        values = [int(v) for v in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: expected H or H,W in pixels") from None
    if len(values) not in (1, 2) or not all(32 <= v <= 2048 for v in values):
        raise argparse.ArgumentTypeError(f"{text!r}: expected H or H,W, each 32..2048 pixels")
    return (values[0], values[-1])


def register(subparsers: argparse._SubParsersAction) -> None:
    synth = subparsers.add_parser("synth", description="Synthetic data the studio trains on.")
    synth.set_defaults(func=lambda _args: synth.print_help() or 2)
    sub = synth.add_subparsers(dest="synth_command", metavar="KIND")
    parser = sub.add_parser(
        "scenes",
        description="Render procedural indoor and outdoor scenes, each with the mannequin "
                    "standing, walking, sitting, lying, leaning or crouching where it fits. "
                    "Writes OUT/scenes.npz (images without the person, renders with it, 16 "
                    "MPII keypoints in pixels, boxes, pose classes, seeds) and "
                    "OUT/contact_sheet.png (input beside labelled render).")
    parser.add_argument("--count", type=int, default=24, help="scenes (default %(default)s)")
    parser.add_argument("--seed", type=int, default=0,
                        help="first seed; scene i is seed + i (default %(default)s)")
    parser.add_argument("--size", type=_size, default=(256, 256), metavar="H[,W]",
                        help="image size in pixels (default 256)")
    parser.add_argument("--out", type=Path, required=True, metavar="DIR")
    parser.add_argument("--workers", type=int, default=1,
                        help="processes rendering in parallel (default %(default)s)")
    parser.add_argument("--columns", type=int, default=4, help="contact sheet columns")
    parser.add_argument("--json", action="store_true", help="print a JSON summary")
    parser.set_defaults(func=_scenes)


def _scenes(args: argparse.Namespace) -> int:
    if args.count < 1:
        raise StudioError("--count must be at least 1")
    if args.seed < 0:
        raise StudioError("--seed must be at least 0")
    if args.workers < 1 or args.columns < 1:
        raise StudioError("--workers and --columns must be at least 1")
    check_output_folder(args.out, "--out")
    from studio.synth.scene_sheet import contact_sheet, png_bytes, samples_npz
    from studio.synth.scenes import make_scene_batch

    seeds = list(range(args.seed, args.seed + args.count))
    start = time.perf_counter()
    samples = make_scene_batch(seeds, args.size, args.workers)
    seconds = time.perf_counter() - start
    args.out.mkdir(parents=True, exist_ok=True)
    npz, sheet = args.out / "scenes.npz", args.out / "contact_sheet.png"
    write_outputs([(npz, samples_npz(samples, seeds)),
                   (sheet, png_bytes(contact_sheet(samples[:SHEET_LIMIT], args.columns)))])
    classes = Counter(s.pose_class for s in samples)
    kinds = Counter(s.scene_kind for s in samples)
    doc = {"count": len(samples), "seconds": round(seconds, 2),
           "ms_per_scene": round(1000 * seconds / len(samples), 1), "workers": args.workers,
           "classes": dict(sorted(classes.items())), "scene_kinds": dict(sorted(kinds.items())),
           "npz": str(npz), "sheet": str(sheet)}
    if args.json:
        print(json.dumps(doc, indent=2))
    else:
        print(f"{len(samples)} scenes in {seconds:.1f} s ({doc['ms_per_scene']} ms each, "
              f"{args.workers} worker(s)): "
              + ", ".join(f"{k} {v}" for k, v in doc["classes"].items()))
        print(f"wrote {npz} and {sheet}")
    return 0
