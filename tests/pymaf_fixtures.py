"""A synthetic checkpoint in the official PyMAF layout, shared by the PyMAF tests.

The real checkpoint is a licensed download; this one has exactly its keys, shapes and
dtypes (from the reference manifest) with random but well-behaved values, and embeds a
6890-vertex ellipsoid in SMPL's layout, so loading and running it exercise the same code.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import torch

from studio.body.joint_sets import SMPL24_PARENTS
from reference_files import reference_file
from studio.nets.pymaf import make_points_grid, mean_params

NUM_VERTS = 6890


def sphere_mesh(rings: int = 82, segments: int = 84) -> tuple[np.ndarray, np.ndarray]:
    """A closed UV sphere with SMPL's counts: 82*84 + 2 = 6890 vertices, 13776 faces."""
    theta = np.linspace(0, np.pi, rings + 2)[1:-1]
    phi = np.linspace(0, 2 * np.pi, segments, endpoint=False)
    t, p = np.meshgrid(theta, phi, indexing="ij")
    ring = np.stack([np.sin(t) * np.cos(p), np.cos(t), np.sin(t) * np.sin(p)], -1)
    verts = np.concatenate([[[0, 1, 0]], ring.reshape(-1, 3), [[0, -1, 0]]])
    last = len(verts) - 1

    def at(r: int, s: int) -> int:
        return 1 + r * segments + s % segments

    faces = [(0, at(0, s + 1), at(0, s)) for s in range(segments)]
    for r in range(rings - 1):
        for s in range(segments):
            a, b, c, d = at(r, s), at(r, s + 1), at(r + 1, s), at(r + 1, s + 1)
            faces += [(a, b, d), (a, d, c)]
    faces += [(last, at(rings - 1, s), at(rings - 1, s + 1)) for s in range(segments)]
    return verts * [0.3, 0.85, 0.15] + [0.0, 0.9, 0.0], np.asarray(faces, np.int64)


def smpl_arrays(rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Valid SMPL-like arrays (smplx layout) on the 6890-vertex ellipsoid."""
    verts, faces = sphere_mesh()
    joints = verts[rng.choice(NUM_VERTS, 24, replace=False)] * 0.8 + [0.0, 0.18, 0.0]
    dist = np.linalg.norm(verts[:, None] - joints[None], axis=2)
    weights = np.exp(-(dist / 0.05) ** 2 + (dist.min(1, keepdims=True) / 0.05) ** 2)
    weights /= weights.sum(1, keepdims=True)

    def rows_summing_to_one(n: int) -> np.ndarray:
        m = np.zeros((n, NUM_VERTS))
        for row in m:
            row[rng.choice(NUM_VERTS, 8, replace=False)] = 1 / 8
        return m

    dmap = np.zeros((431, NUM_VERTS))
    dmap[np.arange(431), rng.choice(NUM_VERTS, 431, replace=False)] = 1.0
    return {
        "v_template": verts, "shapedirs": rng.normal(0, 0.01, (NUM_VERTS, 3, 10)),
        "posedirs": rng.normal(0, 0.001, (207, NUM_VERTS * 3)),
        "J_regressor": rows_summing_to_one(24), "lbs_weights": weights,
        "J_regressor_extra": rows_summing_to_one(9), "faces_tensor": faces,
        "parents": np.asarray(SMPL24_PARENTS), "Dmap": dmap,
        "vertex_joint_selector.extra_joints_idxs": rng.choice(NUM_VERTS, 21, replace=False),
        "betas": np.zeros((64, 10)), "global_orient": np.zeros((64, 3)),
        "body_pose": np.zeros((64, 69)),
    }


def random_value(key: str, shape: list[int], rng: np.random.Generator,
                 smpl: dict[str, np.ndarray]) -> np.ndarray:
    """A plausible value for one manifest entry (positive variances, small heads)."""
    last = key.rsplit(".", 1)[-1]
    init_pose, init_shape, init_cam = mean_params()
    fixed = {"points_grid": make_points_grid().numpy(), "init_pose": init_pose.numpy(),
             "init_shape": init_shape.numpy(), "init_cam": init_cam.numpy()}
    if ".smpl." in key:
        return smpl[key.split(".smpl.", 1)[1]]
    if last in fixed:
        return fixed[last]
    if last == "Dmap":
        return smpl["Dmap"]
    if last == "num_batches_tracked":
        return np.asarray(1000)
    if last == "running_var":
        return rng.uniform(0.5, 1.5, shape)
    if last == "running_mean":
        return rng.normal(0, 0.1, shape)
    is_norm = len(shape) == 1 and ("bn" in key or "downsample.1" in key or "deconv" in key)
    if is_norm and last == "weight":
        return rng.uniform(0.2, 0.5, shape)
    if last == "bias":
        return rng.normal(0, 0.01, shape)
    gain = 0.01 if ".dec" in key else 1.0
    return rng.normal(0, gain / math.sqrt(np.prod(shape[1:])), shape)


def load_manifest() -> dict[str, dict]:
    """Key -> {"shape", "dtype"} of the official state dict, in its order."""
    return json.loads(reference_file("pymaf_state_dict.json").read_text())


def official_state_dict(manifest: dict[str, dict], seed: int = 0) -> dict[str, torch.Tensor]:
    """A state dict with exactly the manifest's keys, shapes and dtypes."""
    rng = np.random.default_rng(seed)
    smpl = smpl_arrays(rng)
    state = {}
    for key, spec in manifest.items():
        value = np.asarray(random_value(key, spec["shape"], rng, smpl))
        state[key] = torch.as_tensor(value.astype(spec["dtype"])).reshape(spec["shape"])
    return state


def save_official(state: dict[str, torch.Tensor], path: Path) -> Path:
    """Write ``state`` the way the official training code saves its checkpoint."""
    torch.save({"model": state, "optimizer": {}, "epoch": 0, "batch_idx": 0, "batch_size": 64,
                "total_step_count": 0}, path)
    return path
