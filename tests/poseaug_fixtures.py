"""Weights for PoseAug tests drawn from a seed in the official key order (the manifest's)."""
from __future__ import annotations

import torch


def manifest_state(spec: dict, seed: int, scale: float = 0.1) -> dict[str, torch.Tensor]:
    """A state dict with ``spec``'s keys and shapes: N(0, scale) weights, BN variances in
    [0.5, 1.5), zero batch counters; the same seed gives the same tensors."""
    gen = torch.Generator().manual_seed(seed)
    out = {}
    for key, entry in spec["state_dict"].items():
        if entry["dtype"] == "int64":
            out[key] = torch.tensor(0, dtype=torch.int64)
        elif key.endswith("running_var"):
            out[key] = torch.rand(entry["shape"], generator=gen) + 0.5
        else:
            out[key] = torch.randn(entry["shape"], generator=gen) * scale
    return out
