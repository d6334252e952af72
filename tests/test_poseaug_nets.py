"""PoseAug modules: official-layout files load strictly through every layout, the
augmentor's stages keep their invariants, seeds repeat, projection follows the contract."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from scipy.spatial.transform import Rotation

from poseaug_fixtures import manifest_state
from reference_files import reference_file
from studio.nets import poseaug
from studio.nets.poseaug_augmentor import angle_axis_to_matrix, apply_length_ratios
from studio.nets.poseaug_skeleton import BONE_GROUPS, bone_lengths, bone_vectors, unit_bones

MANIFEST_NAMES = {"augmentor": "augmentor", "discriminator_3d": "d3d",
                  "discriminator_2d": "d2d", "videopose": "videopose", "mlp": "mlp",
                  "gcn": "gcn", "stgcn": "stgcn"}
ESTIMATORS = ("mlp", "videopose", "gcn", "stgcn")


@pytest.fixture(scope="module")
def manifest() -> dict:
    return json.loads(reference_file("poseaug_state_dict.json").read_text())["modules"]


@pytest.fixture(scope="module")
def states(manifest) -> dict[str, dict]:
    return {MANIFEST_NAMES[name]: manifest_state(spec, i, scale=0.05)
            for i, (name, spec) in enumerate(manifest.items())}


def run(module: torch.nn.Module) -> torch.Tensor | dict:
    gen = torch.Generator().manual_seed(0)
    if module.kind in ("augmentor", "d3d"):
        pose = torch.randn(4, 16, 3, generator=gen) * 0.3 + torch.tensor([0.0, 0.0, 5.0])
        return module(pose)
    return module(torch.randn(4, 16, 2, generator=gen) * 0.3)


@pytest.mark.parametrize("kind", ESTIMATORS)
def test_estimator_layouts_load_strictly_and_run(tmp_path, states, kind):
    sd = states[kind]
    files = {"pretrain.pth.tar": ({"state_dict": sd, "epoch": 3}, True),
             "poseaug.pth.tar": ({"epoch": 3, "model_pos": sd}, False),
             "bare.pth": (sd, True)}
    outputs = []
    for name, (payload, legacy) in files.items():
        torch.save(payload, tmp_path / name, _use_new_zipfile_serialization=not legacy)
        est = poseaug.load_official(tmp_path / name)
        assert est.kind == kind and not est.training
        out = run(est)
        assert out.shape == (4, 16, 3) and out.dtype == torch.float32
        if kind in ("mlp", "videopose"):
            assert torch.all(out[:, 0] == 0)
        outputs.append(out)
    for out in outputs[1:]:
        torch.testing.assert_close(out, outputs[0], rtol=0, atol=0)


def test_training_state_file_holds_four_parts(tmp_path, states):
    path = tmp_path / "state.pth.tar"
    torch.save({"epoch": 5, "model_pos": states["gcn"], "model_G": states["augmentor"],
                "model_d3d": states["d3d"], "model_d2d": states["d2d"]}, path)
    shapes = {"pose": (4, 16, 3), "d3d": (4, 5), "d2d": (4, 1)}
    for part, kind in (("pose", "gcn"), ("augmentor", "augmentor"), ("d3d", "d3d"),
                       ("d2d", "d2d")):
        module = poseaug.load_official(path, part=part)
        assert module.kind == kind
        out = run(module)
        if part == "augmentor":
            assert out["pose_rt"].shape == (4, 16, 3) and out["blr"].shape == (4, 9)
        else:
            assert out.shape == shapes[part]
    with pytest.raises(ValueError, match="pose, augmentor, d3d, d2d"):
        poseaug.load_official(path)


@pytest.mark.parametrize("kind", ("augmentor", "d3d", "d2d"))
def test_bare_gan_state_dicts_load(tmp_path, states, kind):
    torch.save(states[kind], tmp_path / "bare.pt")
    assert poseaug.load_official(tmp_path / "bare.pt").kind == kind
    assert poseaug.load_official(tmp_path / "bare.pt", part=kind).kind == kind


def test_sizes_come_from_the_shapes(tmp_path):
    torch.save({"state_dict": poseaug.SimpleBaseline(96, 3).state_dict(), "epoch": 1},
               tmp_path / "small.pth.tar")
    est = poseaug.load_official(tmp_path / "small.pth.tar")
    assert est.width == 96 and est.stages == 3
    torch.save(poseaug.VideoPose1f(64, 2).state_dict(), tmp_path / "vp.pt")
    vp = poseaug.load_official(tmp_path / "vp.pt")
    assert vp.channels == 64 and vp.stages == 2
    torch.save(poseaug.SemGCN(32, 2).state_dict(), tmp_path / "gcn.pt")
    gcn = poseaug.load_official(tmp_path / "gcn.pt")
    assert gcn.width == 32 and gcn.stages == 2


def test_mismatched_files_give_clear_errors(tmp_path, states):
    sd = dict(states["mlp"])
    del sd["w2.bias"]
    sd["extra.weight"] = torch.zeros(2)
    sd["batch_norm1.weight"] = torch.zeros(5)
    torch.save({"state_dict": sd, "epoch": 1}, tmp_path / "bad.pth.tar")
    with pytest.raises(poseaug.PoseAugFileError) as err:
        poseaug.load_official(tmp_path / "bad.pth.tar")
    text = str(err.value)
    assert "missing keys: w2.bias" in text and "unexpected keys: extra.weight" in text
    assert "batch_norm1.weight (5,)" in text
    torch.save({"epoch": 1, "model_pos": states["mlp"]}, tmp_path / "pos.pth.tar")
    with pytest.raises(ValueError, match="has no 'augmentor' module .*holds: pose"):
        poseaug.load_official(tmp_path / "pos.pth.tar", part="augmentor")
    torch.save({"epoch": 1, "model_pos": states["d2d"]}, tmp_path / "wrong.pth.tar")
    with pytest.raises(ValueError, match="'pose' entry holds a d2d"):
        poseaug.load_official(tmp_path / "wrong.pth.tar")
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="not a readable torch checkpoint"):
        poseaug.load_official(tmp_path / "junk.pt")
    torch.save({"epoch": 1}, tmp_path / "empty.pt")
    with pytest.raises(ValueError, match="holds no PoseAug module"):
        poseaug.load_official(tmp_path / "empty.pt")


@pytest.fixture(scope="module")
def augmentor(states) -> poseaug.PoseAugmentor:
    g = poseaug.PoseAugmentor()
    sd = dict(states["augmentor"])
    sd = {k: v * 20 if k.endswith(".weight") and "w2" in k else v for k, v in sd.items()}
    g.load_state_dict(sd)
    return g.eval()


@pytest.fixture(scope="module")
def poses() -> torch.Tensor:
    gen = torch.Generator().manual_seed(3)
    base = torch.tensor([[0, 0, 0], [-.13, 0, 0], [-.13, .45, 0], [-.13, .9, 0], [.13, 0, 0],
                         [.13, .45, 0], [.13, .9, 0], [0, -.25, 0], [0, -.5, 0], [0, -.7, 0],
                         [.18, -.48, 0], [.45, -.48, 0], [.7, -.48, 0], [-.18, -.48, 0],
                         [-.45, -.48, 0], [-.7, -.48, 0]])
    return base + torch.randn(8, 16, 3, generator=gen) * 0.03 + torch.tensor([0.2, 0.1, 4.0])


def test_bone_angle_stage_keeps_lengths_root_and_fixed_bones(augmentor, poses):
    out = augmentor(poses)
    torch.testing.assert_close(bone_lengths(out["pose_ba"]), bone_lengths(poses), atol=1e-5,
                               rtol=1e-5)
    torch.testing.assert_close(out["pose_ba"][:, 0], poses[:, 0])
    before, after = unit_bones(poses), unit_bones(out["pose_ba"])
    torch.testing.assert_close(after[:, [6, 7]], before[:, [6, 7]], atol=1e-6, rtol=0)
    torch.testing.assert_close(out["ba_diff"], 1 - (before * after).sum(-1), atol=1e-5, rtol=0)
    assert out["ba_diff"][:, [0, 1, 9, 10]].abs().max() > 1e-3  # other bones do turn


def test_bone_length_stage_ratios_are_bounded_and_group_shared(augmentor, poses):
    out = augmentor(poses)
    blr = out["blr"]
    assert blr.abs().max() < 0.2 and torch.all(blr[:, 4] == 0)
    ratio = (bone_lengths(out["pose_bl"]) / bone_lengths(out["pose_ba"]))[..., 0] - 1
    for g, bones in enumerate(BONE_GROUPS):
        for b in bones:
            torch.testing.assert_close(ratio[:, b], blr[:, g], atol=1e-5, rtol=0)
    torch.testing.assert_close(unit_bones(out["pose_bl"]), unit_bones(out["pose_ba"]),
                               atol=1e-5, rtol=0)
    torch.testing.assert_close(out["pose_bl"][:, 0], poses[:, 0])


def test_rotation_translation_stage(augmentor, poses):
    out = augmentor(poses)
    assert torch.all(out["trans"][:, 2] >= 0) and out["rot"].abs().max() < 3.1415
    torch.testing.assert_close(out["pose_rt"][:, 0], out["trans"], atol=1e-6, rtol=0)
    rel_bl = out["pose_bl"] - out["pose_bl"][:, :1]
    rel_rt = out["pose_rt"] - out["pose_rt"][:, :1]
    rot = torch.from_numpy(Rotation.from_rotvec(out["rot"].detach().double().numpy()).as_matrix())
    torch.testing.assert_close(rel_rt, (rel_bl.double() @ rot.transpose(1, 2)).float(),
                               atol=1e-5, rtol=0)


def test_angle_axis_matches_rodrigues_and_small_angle_form():
    r = torch.tensor([[0.3, -2.0, 1.0], [3.0, 0.1, 0.0], [1e-4, 2e-4, 0.0]])
    m = angle_axis_to_matrix(r)
    ref = torch.from_numpy(Rotation.from_rotvec(r.double().numpy()).as_matrix()).float()
    torch.testing.assert_close(m[:2], ref[:2], atol=1e-5, rtol=0)
    torch.testing.assert_close(m[2], torch.eye(3) + torch.tensor(
        [[0, 0, 2e-4], [0, 0, -1e-4], [-2e-4, 1e-4, 0]]), atol=1e-7, rtol=0)


def test_3d_discriminator_sees_only_bone_directions(states, poses):
    d3d = poseaug.PoseDiscriminator3D()
    d3d.load_state_dict(states["d3d"])
    d3d.eval()
    blr = (torch.rand(len(poses), 9, generator=torch.Generator().manual_seed(1)) - 0.5) * 0.6
    stretched = apply_length_ratios(poses, blr) + torch.tensor([1.0, -2.0, 3.0])
    torch.testing.assert_close(d3d(stretched), d3d(poses), atol=1e-5, rtol=1e-5)
    assert d3d(poses).shape == (8, 5)
    bent = poses.clone()
    bent[:, 12] = bent[:, 11] + torch.tensor([0.0, 0.25, 0.0])  # left wrist bones change
    change = (d3d(bent) - d3d(poses)).abs().mean(0)
    assert change[0] > 0 and change[1] == 0 and change[2] == 0  # only the left-arm column


def test_same_seed_same_samples(augmentor, poses):
    a = poseaug.augment_poses(augmentor, poses[:2], 5, seed=11)
    b = poseaug.augment_poses(augmentor, poses[:2], 5, seed=11)
    c = poseaug.augment_poses(augmentor, poses[:2], 5, seed=12)
    torch.testing.assert_close(a.poses["rt"], b.poses["rt"], rtol=0, atol=0)
    assert not torch.allclose(a.poses["rt"], c.poses["rt"])
    torch.manual_seed(4)
    drawn = augmentor(poses)
    torch.manual_seed(4)
    noise = {f"noise_{n}": torch.randn(len(poses), 48) for n in ("ba", "bl", "rot", "trans")}
    torch.testing.assert_close(augmentor(poses, **noise)["pose_rt"], drawn["pose_rt"],
                               rtol=0, atol=0)


def test_full_strength_all_stages_is_the_augmentor(augmentor, poses):
    got = poseaug.augment_poses(augmentor, poses, 1, seed=2)
    direct = augmentor(poses, **{k: v for k, v in got.noise.items()})
    for stage, key in (("ba", "pose_ba"), ("bl", "pose_bl"), ("rt", "pose_rt")):
        torch.testing.assert_close(got.poses[stage], direct[key], atol=1e-5, rtol=1e-5)
    off = poseaug.augment_poses(augmentor, poses, 1, seed=2, stages=("bl",))
    torch.testing.assert_close(bone_vectors(off.poses["rt"]) / bone_lengths(off.poses["rt"]),
                               unit_bones(poses), atol=1e-5, rtol=0)
    torch.testing.assert_close(off.poses["rt"][:, 0], poses[:, 0])
    zero = poseaug.augment_poses(augmentor, poses, 1, seed=2, strength={"ba": 0, "bl": 0,
                                                                        "rt": 0})
    torch.testing.assert_close(zero.poses["rt"], poses, atol=1e-5, rtol=0)
    with pytest.raises(ValueError, match="stages must be"):
        poseaug.augment_poses(augmentor, poses, 1, seed=2, stages=("xx",))


def test_projection_follows_the_contract():
    gen = torch.Generator().manual_seed(5)
    pts = torch.randn(3, 16, 3, generator=gen) * 0.4 + torch.tensor([0.0, 0.0, 4.0])
    cam = torch.tensor([[2.2, 2.3, 0.01, -0.02, 0.1, -0.05, 0.01, 0.002, -0.001]]).expand(3, 9)
    got = poseaug.project_to_2d(pts, cam).numpy()
    p, c = pts.double().numpy(), cam.double().numpy()[:, None]
    a = np.clip(p[..., :2] / p[..., 2:], -1, 1)
    r2 = (a ** 2).sum(-1, keepdims=True)
    s = 1 + c[..., 4:5] * r2 + c[..., 5:6] * r2 ** 2 + c[..., 6:7] * r2 ** 3 + \
        (c[..., 7:9] * a).sum(-1, keepdims=True)
    want = c[..., :2] * (a * s + c[..., 7:9] * r2) + c[..., 2:4]
    np.testing.assert_allclose(got, want, atol=1e-5)


def test_normalisation_from_the_image_size_alone():
    w, h, f = 1280.0, 720.0, 1000.0
    px = torch.tensor([[100.0, 50.0], [640.0, 360.0]])
    uv = poseaug.normalize_screen(px, w, h)
    torch.testing.assert_close(uv, torch.tensor([[2 * 100 / w - 1, 2 * 50 / w - h / w],
                                                 [0.0, 0.0]]))
    torch.testing.assert_close(poseaug.screen_to_pixels(uv, w, h), px)
    cam = poseaug.camera_from_pixels(f, w, h)
    point = torch.tensor([[[0.3, -0.2, 4.0]]])
    pixels = torch.tensor([f * 0.3 / 4 + w / 2, f * -0.2 / 4 + h / 2])
    torch.testing.assert_close(poseaug.project_to_2d(point, cam[None])[0, 0],
                               poseaug.normalize_screen(pixels, w, h), atol=1e-6, rtol=0)
    assert math.isclose(float(cam[0]), 2 * f / w, rel_tol=1e-6)
