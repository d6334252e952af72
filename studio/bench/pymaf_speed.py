"""How fast PyMAF variants run, per crop, next to a straightforward forward of the same net.

Each configuration (variant, input size, batch) builds the net with random weights
(batch-norm statistics set from one random batch, so activations have realistic scale),
checks that our forward and :class:`~studio.bench.pymaf_reference.ReferencePyMAF` give
the same outputs, then times both alternately and keeps the medians. The traced graph the
studio's worker runs (:class:`~studio.nets.traced.TracedPyMAF`) is checked and timed
alongside.
"""
from __future__ import annotations

import platform
import statistics
import sys
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import torch
from torch import nn

from studio.bench.pymaf_reference import ReferencePyMAF, max_difference
from studio.body.model import BodyData
from studio.body.registry import find_body_model
from studio.nets.pymaf import PYRAMID_CHANNELS, PyMAF
from studio.nets.traced import TracedPyMAF

SMPL_VERTICES = 6890
TOLERANCE = 1e-4  # outputs count as equal below this absolute difference
BUSY_REPEATS = 5  # calls next to a spinning thread (an eager one can take seconds)


@dataclass(frozen=True)
class Variant:
    """A net to time: PyMAF keyword arguments, input sizes and body model."""

    arch: dict
    input_sizes: tuple[int, ...]
    official_body: bool = False  # SMPL if installed (else the mannequin), not the mannequin


VARIANTS = {
    "official-r50": Variant({"backbone": "resnet50"}, (224,), official_body=True),
    "small-32": Variant({"backbone": "small", "pyramid_channels": 32}, (128, 224)),
    "small-64": Variant({"backbone": "small", "pyramid_channels": 64}, (128, 224)),
    "resnet18-64": Variant({"backbone": "resnet18", "pyramid_channels": 64}, (224,)),
    # The architectures the built-in weights use (studio train pymaf defaults).
    "builtin-proxy": Variant({"backbone": "small", "in_channels": 34, "pyramid_channels": 32,
                              "hidden": 512, "keypoint_readout": 33, "regressor_relu": True,
                              "smpl_batch_size": 1}, (64,)),
    "builtin-rgb": Variant({"backbone": "small", "pyramid_channels": 32, "hidden": 512,
                            "smpl_batch_size": 1}, (128,)),
}


@dataclass(frozen=True)
class Config:
    variant: str
    input_size: int
    batch: int


def configs(variants: Iterable[str], batch_sizes: Iterable[int],
            input_sizes: Iterable[int] | None = None) -> list[Config]:
    """Every (variant, input size, batch) to measure, in a stable order; ``input_sizes``
    keeps only those of each variant's sizes."""
    keep = None if input_sizes is None else set(input_sizes)
    return [Config(v, size, b) for v in variants for size in VARIANTS[v].input_sizes
            if keep is None or size in keep for b in batch_sizes]


def _calibrate_batchnorm(net: PyMAF, input_size: int, generator: torch.Generator) -> None:
    """Running statistics from one random batch, so random weights do not blow up."""
    for m in net.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.reset_running_stats()
            m.momentum = None  # cumulative average: exactly this batch's statistics
    net.train()
    device = next(net.parameters()).device
    channels = net.feature_extractor.conv1.in_channels
    crops = torch.randn(2, channels, input_size, input_size, generator=generator).to(device)
    with torch.no_grad():
        net(crops)
    net.eval()


def build_net(variant: str, body: BodyData, input_size: int, device: torch.device) -> PyMAF:
    """The variant with seeded random weights, in eval mode."""
    generator = torch.Generator().manual_seed(0)
    torch.manual_seed(0)
    net = PyMAF(body, **VARIANTS[variant].arch).to(device)
    _calibrate_batchnorm(net, input_size, generator)
    return net


def _timed_ms(fn: Callable[[], object], device: torch.device) -> float:
    start = time.perf_counter()
    fn()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return (time.perf_counter() - start) * 1000.0


def _next_to_busy_thread_ms(fn: Callable[[], object], device: torch.device) -> float:
    """One call's time while another Python thread spins, as the studio's UI thread does
    next to its worker: an eager forward waits for the interpreter lock at each of its
    many small torch calls, the traced graph runs without it."""
    stop = threading.Event()

    def spin() -> None:
        while not stop.is_set():
            pass

    busy = threading.Thread(target=spin)
    switch = sys.getswitchinterval()
    sys.setswitchinterval(0.005)  # Python's default, whatever the caller set
    busy.start()
    try:
        return _timed_ms(fn, device)
    finally:
        stop.set()
        busy.join()
        sys.setswitchinterval(switch)


def measure(net: PyMAF, config: Config, repeats: int, device: torch.device) -> dict:
    """One configuration: equality checks (doubling as warm-up), then alternating timings
    of our forward, the reference and the traced graph."""
    reference = ReferencePyMAF(net)
    generator = torch.Generator().manual_seed(1)
    size, channels = config.input_size, net.feature_extractor.conv1.in_channels
    crops = torch.randn(config.batch, channels, size, size, generator=generator).to(device)
    traced = TracedPyMAF(net, crops)
    with torch.inference_mode():
        ours_out = net(crops)
        difference = max_difference(ours_out, reference(crops))
        traced_difference = max_difference(traced(crops), _as_reference(ours_out))
        times: dict[str, list[float]] = {"ours": [], "reference": [], "traced": []}
        for _ in range(repeats):
            times["ours"].append(_timed_ms(lambda: net(crops), device))
            times["reference"].append(_timed_ms(lambda: reference(crops), device))
            times["traced"].append(_timed_ms(lambda: traced(crops), device))
        busy = {"ours": [], "traced": []}
        for _ in range(min(repeats, BUSY_REPEATS)):
            busy["ours"].append(_next_to_busy_thread_ms(lambda: net(crops), device))
            busy["traced"].append(_next_to_busy_thread_ms(lambda: traced(crops), device))
    ms, ref_ms, traced_ms = (statistics.median(times[k]) / config.batch
                             for k in ("ours", "reference", "traced"))
    return {"ms_per_crop": round(ms, 3), "reference_ms_per_crop": round(ref_ms, 3),
            "ratio": round(ms / ref_ms, 3), "max_abs_diff": difference,
            "outputs_equal": difference <= TOLERANCE,
            "traced_ms_per_crop": round(traced_ms, 3),
            "traced_ratio": round(traced_ms / ms, 3), "traced_max_abs_diff": traced_difference,
            "traced_outputs_equal": traced_difference <= TOLERANCE,
            "busy_thread_ms_per_crop": round(statistics.median(busy["ours"]) / config.batch, 3),
            "traced_busy_thread_ms_per_crop": round(
                statistics.median(busy["traced"]) / config.batch, 3)}


def _as_reference(out) -> tuple[list, dict | None]:
    """Our forward's output in the reference's shape, for :func:`max_difference`."""
    return out.iterations, None if out.final.dense is None else dict(out.final.dense)


def bodies(variants: Iterable[str]) -> tuple[dict[str, BodyData], list[str]]:
    """Body model per variant, and notes on stand-ins (the mannequin for missing SMPL)."""
    mannequin = find_body_model("mannequin")
    official = find_body_model(None)  # SMPL when installed, else the mannequin
    notes = []
    chosen = {}
    for name in variants:
        chosen[name] = official if VARIANTS[name].official_body else mannequin
        if VARIANTS[name].official_body and official.num_vertices != SMPL_VERTICES:
            notes.append(f"{name}: SMPL is not installed, so the {official.name} "
                         f"({official.num_vertices} vertices) stands in for SMPL's "
                         f"{SMPL_VERTICES}; the architecture is otherwise the official one")
    return chosen, notes


def device_name(device: torch.device) -> str:
    """The GPU's name, or the CPU architecture."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return platform.processor() or platform.machine()


def run(todo: list[Config], repeats: int, device: torch.device,
        progress: Callable[[Iterable[Config]], Iterable[Config]] = iter) -> dict:
    """The benchmark's JSON document; ``progress`` wraps the configuration loop (tqdm)."""
    chosen, notes = bodies(dict.fromkeys(c.variant for c in todo))
    results = []
    built, net = None, None
    for config in progress(todo):  # ordered so that each net is built once
        body, arch = chosen[config.variant], VARIANTS[config.variant].arch
        if built != (config.variant, config.input_size):
            built, net = (config.variant, config.input_size), None  # free the previous net
            net = build_net(config.variant, body, config.input_size, device)
        results.append({
            "variant": config.variant, "backbone": arch["backbone"],
            "pyramid_channels": arch.get("pyramid_channels", PYRAMID_CHANNELS),
            "input_size": config.input_size, "batch": config.batch, "body": body.name,
            "body_vertices": body.num_vertices,
            "sampled_vertices": int(net.maf_extractor[1].Dmap.shape[0]),
            "parameters_m": round(sum(p.numel() for p in net.parameters()) / 1e6, 2),
            **measure(net, config, repeats, device)})
    return {
        "benchmark": "pymaf", "torch": torch.__version__, "device": str(device),
        "device_name": device_name(device), "threads": torch.get_num_threads(),
        "repeats": repeats,
        "method": "ms per crop = median over repeats / batch, after one warm-up run that "
                  "also checks outputs; torch.inference_mode, eval mode; our forward, the "
                  "straightforward reference and the traced graph (what the studio's worker "
                  "runs) alternate; ratio = ours / reference, traced_ratio = traced / ours; "
                  f"busy_thread: ours and traced, median of up to {BUSY_REPEATS} calls, each "
                  "while another Python thread spins (the lock contention the studio's "
                  "worker meets)",
        "notes": notes, "results": results,
    }
