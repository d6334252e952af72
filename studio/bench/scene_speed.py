"""Speed of the synthetic scene generator (``studio bench scenes``): per scene, wall-clock
and this process's CPU time (the CPU figure holds on a busy machine, where wall-clock
time also counts other processes' turns)."""
from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable

import torch

from studio.errors import StudioError


def scene_speed(count: int, size: tuple[int, int], seed: int) -> dict:
    """Time ``count`` scenes after one warm-up (which loads the body model)."""
    from studio.synth.scenes import make_scene_sample

    make_scene_sample(seed, size)
    wall, cpu = [], []
    for s in range(seed + 1, seed + 1 + count):
        w0, c0 = time.perf_counter(), time.process_time()
        make_scene_sample(s, size)
        wall.append(time.perf_counter() - w0)
        cpu.append(time.process_time() - c0)
    return {"size": list(size), "count": count, "threads": torch.get_num_threads(),
            "wall_ms_mean": round(1000 * sum(wall) / count, 1),
            "cpu_ms_mean": round(1000 * sum(cpu) / count, 1),
            "cpu_ms_median": round(1000 * sorted(cpu)[count // 2], 1),
            "scenes_per_s_cpu": round(count / sum(cpu), 1)}


def add_bench_scenes(sub: argparse._SubParsersAction, json_option: Callable) -> None:
    parser = sub.add_parser(
        "scenes",
        description="Time the synthetic scene generator (scene, person, both renders, "
                    "labels) per sample on one thread: wall clock and CPU time.")
    json_option(parser)
    parser.add_argument("--count", type=int, default=30, help="timed scenes (default 30)")
    parser.add_argument("--size", type=int, default=256, help="square size (default 256)")
    parser.add_argument("--seed", type=int, default=0)
    parser.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    if args.count < 1 or not 32 <= args.size <= 2048 or args.seed < 0:
        raise StudioError("--count must be at least 1, --size 32..2048, --seed at least 0")
    torch.set_num_threads(1)
    doc = scene_speed(args.count, (args.size, args.size), args.seed)
    if args.json:
        print(json.dumps(doc, indent=2))
    else:
        print(f"scenes {args.size}x{args.size}, 1 thread, {doc['count']} scenes: "
              f"{doc['cpu_ms_mean']} ms CPU ({doc['cpu_ms_median']} median), "
              f"{doc['wall_ms_mean']} ms wall per scene")
    return 0
