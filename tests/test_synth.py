"""Synthetic data: pose prior limits, crop cameras, proxy noise, batch determinism."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.spatial.transform import Rotation

from studio.body.model import BodyModel
from studio.body.registry import find_body_model
from studio.synth import pose_prior, proxy
from studio.synth.dataset import SyntheticPeople


@pytest.fixture(scope="module")
def people() -> SyntheticPeople:
    return SyntheticPeople(BodyModel(find_body_model("mannequin")), "proxy", 64, 16)


def test_euler_matches_intrinsic_xyz() -> None:
    angles = torch.tensor([[0.3, -0.7, 1.1], [-2.0, 0.4, 0.05]])
    expected = Rotation.from_euler("XYZ", angles.numpy()).as_matrix()
    np.testing.assert_allclose(pose_prior.euler_to_rotmat(angles).numpy(), expected, atol=1e-6)


def test_base_poses_are_inside_the_limits() -> None:
    lo, hi = pose_prior.JOINT_LIMITS[..., 0], pose_prior.JOINT_LIMITS[..., 1]
    assert ((pose_prior.BASE_TABLE >= lo - 1e-6) & (pose_prior.BASE_TABLE <= hi + 1e-6)).all()


def test_samples_respect_joint_limits_and_are_rotations() -> None:
    sample = pose_prior.sample_poses(torch.Generator().manual_seed(3), 2000)
    lo, hi = pose_prior.JOINT_LIMITS[..., 0], pose_prior.JOINT_LIMITS[..., 1]
    assert ((sample.euler >= lo - 1e-6) & (sample.euler <= hi + 1e-6)).all()
    torch.testing.assert_close(sample.body_pose, pose_prior.euler_to_rotmat(sample.euler))
    eye = torch.eye(3).expand(2000, 3, 3)
    torch.testing.assert_close(sample.global_orient @ sample.global_orient.transpose(1, 2), eye,
                               atol=1e-5, rtol=0)
    # Every base pose is drawn, some samples are uniform, and many are far from rest.
    assert set(sample.base.unique().tolist()) == set(range(-1, len(pose_prior.BASE_POSES)))
    assert (sample.euler.abs().amax((1, 2)) > 60 * pose_prior.DEG).float().mean() > 0.5


def test_limits_are_mirror_symmetric() -> None:
    lims = pose_prior.JOINT_LIMITS
    mirrored = pose_prior.mirror_euler(lims.permute(2, 0, 1)).permute(1, 2, 0)
    # Mirroring negates y and z, which swaps their lower and upper bounds.
    mirrored[:, 1:] = mirrored[:, 1:].flip(-1)
    torch.testing.assert_close(mirrored, lims)


def test_most_people_are_upright_and_facing_any_way() -> None:
    sample = pose_prior.sample_poses(torch.Generator().manual_seed(0), 4000)
    up = sample.global_orient[:, :, 1]  # the body's +y axis in the camera frame
    upright = up[:, 1] < -0.8  # camera y points down
    assert 0.8 < upright.float().mean() < 0.99
    facing = sample.global_orient[:, 2, 2]  # body +z along camera z: facing away
    assert (facing > 0.5).float().mean() > 0.1 and (facing < -0.5).float().mean() > 0.4


def test_batches_are_deterministic_and_splits_differ(people: SyntheticPeople) -> None:
    a = people.batch("train", 5, 7, 4)
    b = people.batch("train", 5, 7, 4)
    for name, value in vars(a).items():
        torch.testing.assert_close(value, getattr(b, name), msg=name)
    c = people.batch("test", 5, 7, 4)
    assert not torch.allclose(a.rotmat, c.rotmat)


def test_crops_frame_the_person(people: SyntheticPeople) -> None:
    batch = people.batch("val", 0, 0, 64)
    inside = batch.keypoints_2d_valid.mean(1)
    assert (inside == 1).float().mean() > 0.7  # truncated crops are the exception
    assert (batch.cam[:, 0] > 0).all()
    mask = batch.inputs[:, 0]
    assert ((mask > 0.5).float().mean((1, 2)) > 0.02).float().mean() > 0.95


def test_dense_targets_agree_with_each_other(people: SyntheticPeople) -> None:
    batch = people.batch("val", 0, 1, 8)
    fg = batch.part > 0
    assert torch.equal(fg, batch.coarse > 0)
    assert (batch.uv[~fg] == 0).all()
    assert batch.part.max() <= 24 and batch.coarse.max() <= 14


def test_proxy_heatmaps_peak_at_the_landmarks() -> None:
    gen = torch.Generator().manual_seed(1)
    points = torch.rand(2, 33, 2, generator=gen) * 1.6 - 0.8
    vis = torch.rand(2, 33, generator=gen)
    maps = proxy.proxy_maps(torch.zeros(2, 64, 64), points, vis)
    assert maps.shape == (2, 34, 64, 64)
    peak = maps[:, 1:].flatten(2).amax(-1)
    # A point between pixel centres peaks a little below its score: at most half a
    # pixel off in x and y with sigma 1 px gives exp(-1/4) = 0.78 of it.
    assert ((peak <= vis + 1e-6) & (peak >= 0.77 * vis)).all()
    flat = maps[:, 1:].flatten(2).argmax(-1)
    rows, cols = flat // 64, flat % 64
    expected = ((points + 1) * 63 / 2).round().long()
    assert (cols == expected[..., 0]).float().mean() > 0.95
    assert (rows == expected[..., 1]).float().mean() > 0.95


def test_hidden_and_outside_keypoints_lose_visibility() -> None:
    gen = torch.Generator().manual_seed(2)
    points = torch.zeros(400, 33, 2)
    points[:, 0] = torch.tensor([1.5, 0.0])  # the nose leaves the crop
    depth_map = torch.full((400, 32, 32), 3.0)
    depth = torch.full((400, 33), 3.05)
    depth[:, 11:13] = 3.5  # both shoulders 0.5 m behind the visible surface
    noisy, vis = proxy.observe_keypoints(gen, points, depth, depth_map, torch.ones(400))
    assert (vis[:, 0] == 0).all()
    assert vis[:, 13:].mean() > 0.7 and vis[:, 11:13].mean() < 0.5
    assert (noisy[:, 1:] - points[:, 1:]).abs().median() < 0.03
