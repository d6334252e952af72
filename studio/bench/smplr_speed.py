"""How fast the keypoint fit (SMPLR) runs, per sample: the three nets alone, and the whole
:func:`~studio.pipeline.keypoint_fit.fit_keypoints` (input checks, nets, refinement, body
model, translation, numpy out), also without the refinement. Weights: the shipped ones
when present, else random ones of the same architecture (the time does not depend on the
values)."""
from __future__ import annotations

import platform
import statistics
import time

import numpy as np
import torch

from studio.errors import ModelFileError
from studio.nets.smplr import encode


def _model(layout: str, dims: int, device: torch.device):
    from studio.pipeline.keypoint_fit import SMPLRModel, load_smplr

    try:
        return load_smplr(layout, dims, device=str(device)), True
    except ModelFileError:
        from studio.train.smplr_train import SMPLRConfig, build

        from studio.nets.smplr import fold_batchnorm

        net, partial = build(SMPLRConfig(dims=dims, layouts=layout))
        return SMPLRModel(fold_batchnorm(net).to(device), partial.to(device),
                          _mannequin().to(device), dims, (layout,), "random"), False


def _mannequin():
    from studio.body.registry import load_body_model

    return load_body_model("mannequin")


def _times_ms(call, repeats: int, device: torch.device) -> list[float]:
    call()  # warm-up
    times = []
    for _ in range(repeats):
        if device.type == "cuda":
            torch.cuda.synchronize()
        t = time.perf_counter()
        call()
        if device.type == "cuda":
            torch.cuda.synchronize()
        times.append((time.perf_counter() - t) * 1000)
    return times


def bench_smplr(layout: str, dims: int, batch_sizes: list[int], repeats: int,
                device: torch.device) -> dict:
    from studio.pipeline.keypoint_fit import fit_keypoints
    from studio.synth.smplr_data import make_batch

    model, shipped = _model(layout, dims, device)
    gen = torch.Generator().manual_seed(0)
    rows = []
    for size in batch_sizes:
        batch = make_batch(model.partial.cpu(), gen, size, layout, dims)
        model.partial.to(device)
        keypoints = batch.keypoints.numpy()
        intr = None if batch.intrinsics is None else batch.intrinsics.to(device)
        sizes = None if batch.image_size is None else batch.image_size.numpy()
        focal = None if batch.intrinsics is None else batch.intrinsics[:, 0].numpy()
        p, s = batch.keypoints.to(device), batch.seen.to(device)

        def nets() -> None:
            with torch.no_grad():
                model.nets(encode(p, s, intr), layout)

        def fit(steps: int | None = None) -> None:
            fit_keypoints(keypoints, layout, dims, image_size=sizes, focal_length=focal,
                          model=model, refine_steps=steps)

        net_ms = statistics.median(_times_ms(nets, repeats, device))
        fit_times = _times_ms(fit, max(3, repeats // 4), device)
        fit_ms = statistics.median(fit_times)
        unrefined_ms = statistics.median(_times_ms(lambda: fit(0), max(3, repeats // 4), device))
        rows.append({"batch": size, "nets_ms": round(net_ms, 3),
                     "nets_ms_per_sample": round(net_ms / size, 4),
                     "fit_ms": round(fit_ms, 3), "fit_ms_per_sample": round(fit_ms / size, 4),
                     # the fastest call: on a shared machine the median carries the others' load
                     "fit_ms_per_sample_fastest": round(min(fit_times) / size, 4),
                     "fit_ms_per_sample_no_refine": round(unrefined_ms / size, 4)})
    from studio.pipeline.keypoint_refine import STEPS

    return {"benchmark": "smplr", "layout": layout, "dims": dims, "device": str(device),
            "refine_steps": STEPS[dims],
            "weights": str(model.source) if shipped else "random", "threads":
            torch.get_num_threads(), "cpu": platform.processor() or platform.machine(),
            "vertices": int(np.asarray(model.body.v_template.shape[0])), "rows": rows}
