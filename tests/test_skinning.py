"""The studio's skinning gives smplx's vertices and joints, with and without pose
correctives, while skipping the mannequin's absent ones and batching the kinematic chain."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import smplx
import torch

from studio.body.model import BodyModel
from studio.body.registry import MANNEQUIN_PATH
from studio.body.skinning import kinematic_levels
from studio.body.storage import load_body_npz


@pytest.fixture(scope="module")
def data():
    return load_body_npz(MANNEQUIN_PATH)


def _smplx_reference(model: BodyModel, betas, rotmats, transl):
    """smplx's own forward on the same module (its lbs, its chain, its posedirs)."""
    out = smplx.SMPL.forward(model, betas=betas, global_orient=rotmats[:, :1],
                             body_pose=rotmats[:, 1:], transl=transl, pose2rot=False)
    return out.vertices, out.joints[:, :24]


def _inputs(batch: int, seed: int):
    g = torch.Generator().manual_seed(seed)
    aa = torch.randn(batch * 24, 3, generator=g) * 0.5
    rotmats = smplx.lbs.batch_rodrigues(aa).reshape(batch, 24, 3, 3)
    return torch.randn(batch, 10, generator=g), rotmats, torch.randn(batch, 3, generator=g)


def test_kinematic_levels_cover_every_joint_after_its_parent(data):
    parents = torch.as_tensor(data.parents)
    levels = kinematic_levels(parents)
    done = {0}
    for joints, level_parents in levels:
        assert set(level_parents.tolist()) <= done
        assert torch.equal(parents[joints], level_parents)
        done |= set(joints.tolist())
    assert done == set(range(24))
    assert len(levels) < 23  # batched: fewer products than one per joint


@pytest.mark.parametrize("correctives", [False, True])
def test_matches_smplx_forward(data, correctives):
    if correctives:  # an official-like body: non-zero pose blend shapes
        rng = np.random.default_rng(0)
        posedirs = (rng.standard_normal((len(data.v_template), 3, 207)) * 0.01).astype(np.float32)
        data = dataclasses.replace(data, posedirs=posedirs)
    model = BodyModel(data).eval()
    betas, rotmats, transl = _inputs(3, seed=1)
    with torch.no_grad():
        ours = model(global_orient=rotmats[:, :1], body_pose=rotmats[:, 1:], betas=betas,
                     transl=transl)
        verts, joints = _smplx_reference(model, betas, rotmats, transl)
    torch.testing.assert_close(ours.vertices, verts, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(ours.joints, joints, atol=1e-5, rtol=1e-5)
    if correctives:  # the correctives were applied, not skipped
        model._pose_correctives = False
        with torch.no_grad():
            skipped = model(global_orient=rotmats[:, :1], body_pose=rotmats[:, 1:],
                            betas=betas, transl=transl)
        assert (skipped.vertices - verts).abs().max() > 1e-3


def test_one_shape_broadcasts_over_a_batch_of_poses(data):
    model = BodyModel(data).eval()
    betas, rotmats, _ = _inputs(4, seed=2)
    with torch.no_grad():
        one = model(global_orient=rotmats[:, :1], body_pose=rotmats[:, 1:], betas=betas[:1])
        each = model(global_orient=rotmats[:, :1], body_pose=rotmats[:, 1:],
                     betas=betas[:1].expand(4, -1))
    assert one.vertices.shape == (4, len(data.v_template), 3)
    torch.testing.assert_close(one.vertices, each.vertices)
