"""``studio bench BENCHMARK``: speed measurements, JSON with ``--json``, else a table.

Each benchmark is one sub-subcommand listed in :data:`BENCHMARKS` (``pymaf``, ``synth``,
``render``, ``run``, ``gui``, ``live``, ``smplr``, ``people`` and ``pointhmr``) with the
function that adds its parser, called only when that benchmark is chosen (torch loads
then, not for ``studio bench --help``).
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from studio.commands.lazy import LazySubcommands
from studio.commands.run import add_fit_camera_option
from studio.errors import StudioError

if TYPE_CHECKING:
    import torch

PYMAF_BATCHES = "1,16"
PYMAF_REPEATS = 5
RUN_REPEATS = 5


def _int_list(text: str) -> list[int]:
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: expected comma-separated integers") from None
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: expected positive integers")
    return values


def _json_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")


def _common_options(parser: argparse.ArgumentParser) -> None:
    """--device, --threads and --json as every benchmark takes them."""
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"),
                        help="where the benchmark runs (default cpu)")
    parser.add_argument("--threads", type=int, default=0, metavar="N",
                        help="CPU threads for torch (default 0: chosen from the usable cores and "
                             "the other processes' load, shown in --json)")
    _json_option(parser)


def _apply_common(args: argparse.Namespace) -> torch.device:
    """Check --threads, set torch's thread count and return the --device to use."""
    from studio.nets.model_registry import resolve_device
    from studio.pipeline.threads import apply_threads

    if args.threads < 0:
        raise StudioError("--threads must be at least 0")
    device = resolve_device(args.device)
    args.thread_choice = apply_threads(args.threads)
    return device


def _add_pymaf(sub: argparse._SubParsersAction) -> None:
    from studio.bench.pymaf_speed import VARIANTS

    parser = sub.add_parser(
        "pymaf",
        description="Time PyMAF variants (random weights) per crop at each batch size, next "
                    "to a straightforward reference forward of the same net and the traced "
                    "graph the studio's worker runs, and check that all three give the same "
                    "outputs (exit status 1 if they do not).")
    _common_options(parser)
    parser.add_argument("--variants", default=",".join(VARIANTS), metavar="A,B",
                        help=f"which of {', '.join(VARIANTS)} (default: all)")
    parser.add_argument("--batch-sizes", type=_int_list, default=_int_list(PYMAF_BATCHES),
                        metavar="1,16", help=f"default {PYMAF_BATCHES}")
    parser.add_argument("--input-sizes", type=_int_list, default=None, metavar="128,224",
                        help="only these of each variant's input sizes (default: all of them)")
    parser.add_argument("--repeats", type=int, default=PYMAF_REPEATS, metavar="N",
                        help=f"timed runs per configuration after one warm-up "
                             f"(default {PYMAF_REPEATS})")
    parser.set_defaults(func=_pymaf)


def _add_synth(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "synth",
        description="Time whole synthetic training batches (pose, camera, render, proxy "
                    "noise, dense targets) for proxy and RGB inputs at several sizes.")
    _common_options(parser)
    parser.add_argument("--sizes", type=_int_list, default=[64, 128, 224], metavar="64,128")
    parser.add_argument("--inputs", default="proxy,rgb", metavar="proxy,rgb")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--batches", type=int, default=3, help="timed batches per case")
    parser.set_defaults(func=_synth)


def _add_render(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "render",
        description="Time rasterizing, part labels, IUV, 33 heatmaps, shading and "
                    "backgrounds for randomly posed mannequins: a table, or JSON with --json.")
    _common_options(parser)
    parser.add_argument("--sizes", type=_int_list, default=[128, 224], metavar="128,224")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    parser.set_defaults(func=_render)


def _render(args: argparse.Namespace) -> int:
    from studio.bench.render_speed import render_speed
    from studio.nets.model_registry import resolve_device

    resolve_device(args.device)
    doc = render_speed(args.batch, tuple(args.sizes), args.device, args.repeats,
                       args.threads or None)
    print(json.dumps(doc, indent=2) if args.json else render_table(doc))
    return 0


def render_table(doc: dict) -> str:
    """The readable form of ``bench render``'s JSON document (wall-clock times)."""
    sizes = [k for k in doc if k.isdigit()]
    stages = list(doc[sizes[0]]["wall"]["ms_per_batch"]) if sizes else []
    lines = [f"rasterizer: batch {doc['batch']}, {doc['device']}, {doc['threads']} threads, "
             "best of the repeats, ms per batch (wall clock)",
             f"{'size':>5}{'samples/s':>11}" + "".join(f"{s:>12}" for s in stages)]
    for size in sizes:
        wall = doc[size]["wall"]
        lines.append(f"{size:>5}{wall['samples_per_s']:>11.1f}"
                     + "".join(f"{wall['ms_per_batch'][s]:>12.2f}" for s in stages))
    return "\n".join(lines)


def _synth(args: argparse.Namespace) -> int:
    from studio.bench.synth_speed import synth_speed

    kinds = [k.strip() for k in args.inputs.split(",") if k.strip()]
    if not kinds or any(k not in ("proxy", "rgb") for k in kinds):
        raise StudioError(f"--inputs: expected proxy and/or rgb, not {args.inputs!r}")
    if args.batch < 1 or args.batches < 1:
        raise StudioError("--batch and --batches must be at least 1")
    _apply_common(args)
    doc = synth_speed([(k, s) for k in kinds for s in args.sizes], args.batch, args.batches,
                      args.device)
    if args.json:
        print(json.dumps(doc, indent=2))
    else:
        print(f"synthetic data: torch {doc['torch']}, {doc['device']}, {doc['threads']} threads")
        for r in doc["results"]:
            print(f"{r['input']:>6} {r['size']:>4} px  {r['samples_per_s']:>8.1f} samples/s")
    return 0


def _add_run(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "run",
        description="Time each stage of `studio run` (decode, detect, crop, net, body model, "
                    "camera fit, overlay) on a 1280x720 JPEG of a real photo; medians after "
                    "one warm-up.")
    _common_options(parser)
    parser.add_argument("--model", metavar="NAME", default="builtin-pymaf-proxy",
                        help="registered name or .pt file (default builtin-pymaf-proxy)")
    parser.add_argument("--repeats", type=int, default=RUN_REPEATS, metavar="N",
                        help=f"timed runs after one warm-up (default {RUN_REPEATS})")
    add_fit_camera_option(parser, " (no camera fit stage)")
    parser.set_defaults(func=_run_stages)


def _run_stages(args: argparse.Namespace) -> int:
    from studio.bench.run_speed import run_speed
    from studio.nets.model_registry import load_model

    if args.repeats < 1:
        raise StudioError("--repeats must be at least 1")
    doc = run_speed(load_model(args.model, _apply_common(args)), args.repeats, args.fit_camera)
    doc["thread_choice"] = args.thread_choice.as_dict()
    if args.json:
        print(json.dumps(doc, indent=2))
    else:
        print(f"studio run on {doc['image']['width']}x{doc['image']['height']}: model "
              f"{doc['model']}, torch {doc['torch']}, {doc['device']}, {doc['threads']} "
              f"threads, median of {doc['repeats']} runs")
        for stage, ms in doc["stages_ms"].items():
            print(f"{stage.replace('_', ' '):>12} {ms:>8.1f} ms")
            if stage == "detect":
                for part, part_ms in doc.get("detect_parts_ms", {}).items():
                    print(f"{'- ' + part:>12} {part_ms:>8.1f} ms")
        print(f"{'total':>12} {doc['total_ms']:>8.1f} ms")
    return 0


def _add_gui(sub: argparse._SubParsersAction) -> None:
    from studio.pipeline.samples import DEFAULT_SAMPLE, SAMPLES

    parser = sub.add_parser(
        "gui",
        description="Open a photo in the real studio window twice (cold, then warm) and time "
                    "it until the result is drawn; then scrub the iterations and time each "
                    "step until both views have drawn it (anti-aliasing off). Needs a "
                    "display: run under xvfb-run on a headless machine. A summary, or JSON "
                    "with --json.")
    parser.add_argument("image", nargs="?", type=Path, default=None, metavar="IMAGE")
    parser.add_argument("--sample", choices=list(SAMPLES), default=DEFAULT_SAMPLE)
    parser.add_argument("--model", metavar="NAME", default="builtin-pymaf-proxy")
    parser.add_argument("--rounds", type=int, default=10, metavar="N",
                        help="times to scrub over all iterations (default 10)")
    _json_option(parser)
    parser.set_defaults(func=_gui)


def _gui(args: argparse.Namespace) -> int:
    from studio.bench.gui_speed import gui_speed

    if args.rounds < 1:
        raise StudioError("--rounds must be at least 1")
    if args.image is not None and not args.image.is_file():
        raise StudioError(f"{args.image}: no such file")
    doc = gui_speed(args.image, args.sample, args.model, args.rounds)
    print(json.dumps(doc, indent=2) if args.json else gui_table(doc))
    return 0


def gui_table(doc: dict) -> str:
    """The readable form of ``bench gui``'s JSON document."""
    first, scrub = doc["first_result_ms"], doc["scrub"]
    return "\n".join([
        f"studio window {doc['window'][0]}x{doc['window'][1]} on {doc['image']} "
        f"({doc['image_size'][0]}x{doc['image_size'][1]}), model {doc['model']}, "
        f"{doc['torch_threads']} torch threads",
        f"first result: cold {first['cold']:.0f} ms, warm {first['warm']:.0f} ms",
        f"scrubbing {doc['iterations']} iterations: {scrub['fps']:.1f} fps (median "
        f"{scrub['median_ms']:.1f} ms, p95 {scrub['p95_ms']:.1f} ms per step)"])


def _add_live(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "live",
        description="Stream a source through the real studio window (a video loops) and, "
                    "after the first result, measure processed frames per second, latency "
                    "p50/p95 from reading a frame to its result on screen, dropped frames, "
                    "the longest UI event-loop stall and memory growth. Needs a display: "
                    "run under xvfb-run on a headless machine.")
    parser.add_argument("--source", metavar="SPEC",
                        help="video:PATH (looped), webcam:N or folder:PATH (default: a "
                             "640x480, 30 fps clip of the astronaut sample swaying, made "
                             "in a temporary folder)")
    parser.add_argument("--frames", type=int, default=60, metavar="N",
                        help="processed frames to measure (default 60)")
    parser.add_argument("--model", metavar="NAME[,NAME]", default="builtin-pymaf-proxy",
                        help="model, or comma-separated models measured one after the other "
                             "in this run, e.g. builtin-pymaf-proxy,keypoint-fit (default "
                             "%(default)s)")
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"),
                        help="where the models run (default cpu)")
    parser.add_argument("--in-flight", type=int, choices=(1, 2), metavar="N",
                        help="frames in the worker at once: 2 overlaps person detection "
                             "with the model (default: 2 with 4 or more cores, else 1)")
    parser.add_argument("--no-draw", dest="draw", action="store_false",
                        help="leave results undrawn after the first, so the UI stall figures "
                             "measure the pipeline's own cost to the UI thread")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a summary")
    parser.set_defaults(func=_live)


def _live(args: argparse.Namespace) -> int:
    from studio.bench.live_speed import compare_live_speed, compare_table, live_speed, live_table
    from studio.nets.model_registry import resolve_device

    if args.frames < 1:
        raise StudioError("--frames must be at least 1")
    resolve_device(args.device)
    with tempfile.TemporaryDirectory(prefix="studio-bench-live-") as scratch:
        source = args.source
        if source is None:
            from studio.pipeline.samples import write_sample_clip

            source = f"video:{write_sample_clip(Path(scratch) / 'astronaut-640x480.avi')}"
        models = [m for m in args.model.split(",") if m]
        options = {"in_flight": args.in_flight, "device": args.device, "draw": args.draw}
        if len(models) > 1:
            doc = compare_live_speed(source, args.frames, models, **options)
            print(json.dumps(doc, indent=2) if args.json else compare_table(doc))
            return 0
        doc = live_speed(source, args.frames, args.model, **options)
    print(json.dumps(doc, indent=2) if args.json else live_table(doc))
    return 0


def _add_smplr(sub: argparse._SubParsersAction) -> None:
    from studio.commands.smplr import add_bench_smplr

    add_bench_smplr(sub, _common_options, _apply_common, _int_list)


def _add_people(sub: argparse._SubParsersAction) -> None:
    from studio.bench.people_speed import add_bench_people

    add_bench_people(sub, _common_options, _apply_common, _int_list)


def _add_refine(sub: argparse._SubParsersAction) -> None:
    from studio.bench.refine_eval import add_bench_refine

    add_bench_refine(sub, _common_options, _apply_common)


def _add_landmarks(sub: argparse._SubParsersAction) -> None:
    from studio.bench.landmark_offsets import add_bench_landmarks

    add_bench_landmarks(sub, _common_options, _apply_common)


def _add_pointhmr(sub: argparse._SubParsersAction) -> None:
    from studio.bench.pointhmr_speed import add_bench_pointhmr

    add_bench_pointhmr(sub, _common_options, _apply_common, _int_list)


def _add_scenes(sub: argparse._SubParsersAction) -> None:
    from studio.bench.scene_speed import add_bench_scenes

    add_bench_scenes(sub, _json_option)


# name -> (the line `studio bench --help` shows, the function adding its parser)
BENCHMARKS: dict[str, tuple[str, Callable[[argparse._SubParsersAction], None]]] = {
    "pymaf": ("PyMAF forward speed per crop, ours next to a straightforward forward "
              "and the traced graph the studio runs", _add_pymaf),
    "synth": ("synthetic training data: samples per second", _add_synth),
    "render": ("the rasterizer's stages: ms per batch and samples per second", _add_render),
    "run": ("studio run on a 1280x720 photo: milliseconds per stage", _add_run),
    "gui": ("the studio window: time to first result, scrubbing frames per second", _add_gui),
    "live": ("live capture in the studio window: fps, latency, drops, UI stalls", _add_live),
    "smplr": ("the keypoint fit (SMPLR): ms per sample at batch 1 and 256", _add_smplr),
    "people": ("finding everyone in group photos of 1-10 people: ms per photo", _add_people),
    "pointhmr": ("PointHMR (official architecture and light variant): ms per crop at "
                 "batch 1 and 16", _add_pointhmr),
    "refine": ("refinement: mask IoU and keypoint error before/after, ms per person, on "
               "the samples and photos", _add_refine),
    "landmarks": ("where MediaPipe puts each landmark against the body model's, on "
                  "rendered mannequins or refined photos", _add_landmarks),
    "scenes": ("synthetic scenes with a placed person: ms per scene (CPU and wall)",
               _add_scenes),
}


def register(subparsers: argparse._SubParsersAction) -> None:
    bench = subparsers.add_parser("bench")
    bench.set_defaults(func=lambda _args: bench.print_help() or 2)
    sub = bench.add_subparsers(dest="bench_command", metavar="BENCHMARK", action=LazySubcommands)
    for name, (summary, add) in BENCHMARKS.items():
        sub.add_lazy(name, summary, add)


def pymaf_table(doc: dict) -> str:
    """The readable form of the benchmark's JSON document."""
    lines = [f"PyMAF speed: torch {doc['torch']}, {doc['device']} ({doc['device_name']}), "
             f"{doc['threads']} threads, median of {doc['repeats']} runs; busy: next "
             f"to a spinning Python thread",
             f"{'variant':<13}{'size':>5}{'batch':>6}{'ms/crop':>10}{'reference':>11}"
             f"{'ratio':>7}{'max|diff|':>11}  equal{'traced':>9}{'equal':>7}"
             f"{'busy':>8}{'traced busy':>13}"]
    for r in doc["results"]:
        lines.append(f"{r['variant']:<13}{r['input_size']:>5}{r['batch']:>6}"
                     f"{r['ms_per_crop']:>10.1f}{r['reference_ms_per_crop']:>11.1f}"
                     f"{r['ratio']:>7.2f}{r['max_abs_diff']:>11.1e}  "
                     f"{'yes' if r['outputs_equal'] else 'NO':<5}"
                     f"{r['traced_ms_per_crop']:>9.1f}"
                     f"{'yes' if r['traced_outputs_equal'] else 'NO':>7}"
                     f"{r['busy_thread_ms_per_crop']:>8.1f}"
                     f"{r['traced_busy_thread_ms_per_crop']:>13.1f}")
    lines += [f"note: {n}" for n in doc["notes"]]
    return "\n".join(lines)


def _pymaf(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from studio.bench.pymaf_speed import VARIANTS, configs, run

    variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    unknown = [v for v in variants if v not in VARIANTS]
    if unknown or not variants:
        raise StudioError(f"--variants: unknown {', '.join(unknown) or '(none given)'}; "
                          f"choose from {', '.join(VARIANTS)}")
    if args.repeats < 1:
        raise StudioError("--repeats must be at least 1")
    todo = configs(variants, args.batch_sizes, args.input_sizes)
    if not todo:
        raise StudioError(f"--input-sizes: none of {args.input_sizes} is an input size of "
                          f"{', '.join(variants)}")
    device = _apply_common(args)

    def progress(items: list) -> tqdm:
        return tqdm(items, desc="bench pymaf", unit="config", file=sys.stderr)

    doc = run(todo, args.repeats, device, progress=progress)
    print(json.dumps(doc, indent=2) if args.json else pymaf_table(doc))
    return 0 if all(r["outputs_equal"] and r["traced_outputs_equal"]
                    for r in doc["results"]) else 1
