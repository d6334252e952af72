"""``studio bench BENCHMARK``: speed measurements, JSON with ``--json``, else a table.

Each benchmark is one sub-subcommand added by a function in :data:`BENCHMARKS`
(``pymaf`` now; ``run``, ``gui`` and ``live`` fit the same way).
"""
from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable

from studio.errors import StudioError

PYMAF_BATCHES = "1,16"
PYMAF_REPEATS = 5


def _int_list(text: str) -> list[int]:
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: expected comma-separated integers") from None
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: expected positive integers")
    return values


def _add_pymaf(sub: argparse._SubParsersAction) -> None:
    from studio.bench.pymaf_speed import VARIANTS

    parser = sub.add_parser(
        "pymaf", help="PyMAF forward speed per crop, ours next to a straightforward forward",
        description="Time PyMAF variants (random weights) per crop at each batch size, next "
                    "to a straightforward reference forward of the same net, and check that "
                    "both give the same outputs (exit status 1 if they do not).")
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    parser.add_argument("--variants", default=",".join(VARIANTS), metavar="A,B",
                        help=f"which of {', '.join(VARIANTS)} (default: all)")
    parser.add_argument("--batch-sizes", type=_int_list, default=_int_list(PYMAF_BATCHES),
                        metavar="1,16", help=f"default {PYMAF_BATCHES}")
    parser.add_argument("--input-sizes", type=_int_list, default=None, metavar="128,224",
                        help="only these of each variant's input sizes (default: all of them)")
    parser.add_argument("--repeats", type=int, default=PYMAF_REPEATS, metavar="N",
                        help=f"timed runs per configuration after one warm-up "
                             f"(default {PYMAF_REPEATS})")
    parser.add_argument("--threads", type=int, default=0, metavar="N",
                        help="CPU threads for torch (default 0: torch's own choice)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.set_defaults(func=_pymaf)


def _add_synth(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "synth", help="synthetic training data: samples per second",
        description="Time whole synthetic training batches (pose, camera, render, proxy "
                    "noise, dense targets) for proxy and RGB inputs at several sizes.")
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    parser.add_argument("--sizes", type=_int_list, default=[64, 128, 224], metavar="64,128")
    parser.add_argument("--inputs", default="proxy,rgb", metavar="proxy,rgb")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--batches", type=int, default=3, help="timed batches per case")
    parser.add_argument("--threads", type=int, default=0, metavar="N")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.set_defaults(func=_synth)


def _synth(args: argparse.Namespace) -> int:
    import torch

    from studio.bench.synth_speed import synth_speed
    from studio.nets.model_registry import resolve_device

    kinds = [k.strip() for k in args.inputs.split(",") if k.strip()]
    if not kinds or any(k not in ("proxy", "rgb") for k in kinds):
        raise StudioError(f"--inputs: expected proxy and/or rgb, not {args.inputs!r}")
    if args.batch < 1 or args.batches < 1 or args.threads < 0:
        raise StudioError("--batch and --batches must be at least 1, --threads at least 0")
    resolve_device(args.device)
    if args.threads:
        torch.set_num_threads(args.threads)
    doc = synth_speed([(k, s) for k in kinds for s in args.sizes], args.batch, args.batches,
                      args.device)
    if args.json:
        print(json.dumps(doc, indent=2))
    else:
        print(f"synthetic data: torch {doc['torch']}, {doc['device']}, {doc['threads']} threads")
        for r in doc["results"]:
            print(f"{r['input']:>6} {r['size']:>4} px  {r['samples_per_s']:>8.1f} samples/s")
    return 0


BENCHMARKS: tuple[Callable[[argparse._SubParsersAction], None], ...] = (_add_pymaf, _add_synth)


def register(subparsers: argparse._SubParsersAction) -> None:
    bench = subparsers.add_parser("bench", help="measure speed (JSON with --json)")
    bench.set_defaults(func=lambda _args: bench.print_help() or 2)
    sub = bench.add_subparsers(dest="bench_command", metavar="BENCHMARK")
    for add in BENCHMARKS:
        add(sub)


def pymaf_table(doc: dict) -> str:
    """The readable form of the benchmark's JSON document."""
    lines = [f"PyMAF speed: torch {doc['torch']}, {doc['device']} ({doc['device_name']}), "
             f"{doc['threads']} threads, median of {doc['repeats']} runs",
             f"{'variant':<13}{'size':>5}{'batch':>6}{'ms/crop':>10}{'reference':>11}"
             f"{'ratio':>7}{'max|diff|':>11}  equal"]
    for r in doc["results"]:
        lines.append(f"{r['variant']:<13}{r['input_size']:>5}{r['batch']:>6}"
                     f"{r['ms_per_crop']:>10.1f}{r['reference_ms_per_crop']:>11.1f}"
                     f"{r['ratio']:>7.2f}{r['max_abs_diff']:>11.1e}  "
                     f"{'yes' if r['outputs_equal'] else 'NO'}")
    lines += [f"note: {n}" for n in doc["notes"]]
    return "\n".join(lines)


def _pymaf(args: argparse.Namespace) -> int:
    import torch
    from tqdm import tqdm

    from studio.bench.pymaf_speed import VARIANTS, configs, run
    from studio.nets.model_registry import resolve_device

    variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    unknown = [v for v in variants if v not in VARIANTS]
    if unknown or not variants:
        raise StudioError(f"--variants: unknown {', '.join(unknown) or '(none given)'}; "
                          f"choose from {', '.join(VARIANTS)}")
    if args.repeats < 1 or args.threads < 0:
        raise StudioError("--repeats must be at least 1 and --threads at least 0")
    todo = configs(variants, args.batch_sizes, args.input_sizes)
    if not todo:
        raise StudioError(f"--input-sizes: none of {args.input_sizes} is an input size of "
                          f"{', '.join(variants)}")
    device = resolve_device(args.device)
    if args.threads:
        torch.set_num_threads(args.threads)

    def progress(items: list) -> tqdm:
        return tqdm(items, desc="bench pymaf", unit="config", file=sys.stderr)

    doc = run(todo, args.repeats, device, progress=progress)
    print(json.dumps(doc, indent=2) if args.json else pymaf_table(doc))
    return 0 if all(r["outputs_equal"] for r in doc["results"]) else 1
