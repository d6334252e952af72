"""Throughput of the synthetic data engine: whole training batches per second.

This is what decides whether training is data-bound: posing, framing, rendering, proxy
noise and dense targets together, as ``SyntheticPeople.batch`` makes them.
"""
from __future__ import annotations

import time

import torch

from studio.body.model import BodyModel
from studio.body.registry import find_body_model
from studio.synth.dataset import SyntheticPeople


def synth_speed(cases: list[tuple[str, int]], batch: int = 32, batches: int = 3,
                device: str = "cpu") -> dict:
    """Samples per second for each (input kind, size) case, best of ``batches`` batches
    after one warm-up; the dense targets are at a quarter of the input size."""
    body = BodyModel(find_body_model("mannequin"))
    results = []
    for kind, size in cases:
        data = SyntheticPeople(body, kind, size, size // 4, device)
        data.batch("train", 0, 0, batch)
        seconds = []
        for index in range(1, batches + 1):
            start = time.perf_counter()
            data.batch("train", 0, index, batch)
            if data.device.type == "cuda":
                torch.cuda.synchronize(data.device)
            seconds.append(time.perf_counter() - start)
        results.append({"input": kind, "size": size, "batch": batch,
                        "samples_per_s": round(batch / min(seconds), 1)})
    return {"torch": torch.__version__, "device": device, "threads": torch.get_num_threads(),
            "results": results}
