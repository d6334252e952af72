"""``studio fit``: body model -> keypoints -> fit -> body model round trips with the shipped
weights, missing points, every layout, exports, and bad input rejected with nothing
written."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from studio.body.registry import load_body_model
from studio.cli import main
from studio.nets.smplr import LAYOUTS
from studio.synth.key_poses import UP_TO_CAMERA, sample_broad_poses
from studio.train.metrics import procrustes_align

FOCAL, SIZE = 1000.0, (1280, 720)
# Round-trip bounds (PA-MPJPE, mm) on this seed: from 3D the target (25 mm);
# from 2D a bound the shipped weights hold with margin, the target (50 mm) is not met yet
# (about 60 mm on prior samples, see models/smplr/MODEL_CARD.md; test_smplr.py keeps it
# as xfail).
ROUND_TRIP_3D, ROUND_TRIP_2D = 25.0, 100.0


@pytest.fixture(scope="module")
def body():
    return load_body_model("mannequin")


@pytest.fixture(scope="module")
def truth(body):
    """40 posed bodies 2.5-4 m in front of a camera (camera frame: y down)."""
    gen = torch.Generator().manual_seed(3)
    root, pose = sample_broad_poses(gen, 40)
    root = UP_TO_CAMERA @ root
    betas = torch.randn(40, 10, generator=gen).clamp(-2, 2)
    trans = torch.stack([torch.rand(40, generator=gen) - 0.5, torch.zeros(40),
                         2.5 + 1.5 * torch.rand(40, generator=gen)], -1)
    with torch.no_grad():
        out = body(global_orient=root[:, None], body_pose=pose, betas=betas, transl=trans)
    return out


def _pa_mpjpe(pred: np.ndarray, true: np.ndarray) -> float:
    p, t = torch.as_tensor(pred), torch.as_tensor(true)
    p, t = p - p[:, :1], t - t[:, :1]
    return float(1000 * (procrustes_align(p, t) - t).norm(dim=-1).mean())


def _run(args: list[str], capsys) -> tuple[int, dict | None]:
    rc = main(args)
    out = capsys.readouterr().out
    return rc, (json.loads(out) if rc == 0 and "--json" in args else None)


def _project(points: np.ndarray) -> np.ndarray:
    return FOCAL * points[..., :2] / points[..., 2:] + np.array(SIZE) / 2


def test_3d_round_trip_meets_the_target_and_the_npz_reloads(tmp_path: Path, body, truth,
                                                          capsys) -> None:
    rng = np.random.default_rng(0)
    keypoints = truth.keypoints("smpl24").numpy()
    noisy = keypoints + rng.normal(0, 0.015, keypoints.shape)
    np.savez(tmp_path / "k.npz", keypoints=noisy)
    rc, doc = _run(["fit", str(tmp_path / "k.npz"), "--layout", "smpl24", "--from", "3d",
                    "--export", str(tmp_path / "out.npz"), "--json"], capsys)
    assert rc == 0 and doc["samples"] == 40
    joints = np.array([f["joints"] for f in doc["fits"]])
    h36m = truth.keypoints("h36m17").numpy()
    saved = np.load(tmp_path / "out.npz")
    assert saved["poses"].shape == (40, 72) and saved["betas"].shape == (40, 10)
    assert saved["trans"].shape == (40, 3) and str(saved["gender"]) == "neutral"
    t = lambda k: torch.as_tensor(saved[k])  # noqa: E731
    with torch.no_grad():
        again = body(global_orient=t("poses")[:, :3], body_pose=t("poses")[:, 3:],
                     betas=t("betas"), transl=t("trans"))
    assert np.abs(again.joints.numpy() - joints).max() < 1e-3  # the reported joints
    assert _pa_mpjpe(again.keypoints("h36m17").numpy(), h36m) <= ROUND_TRIP_3D
    # the body sits where the keypoints are (any translation)
    assert np.abs(again.joints[:, 0].numpy() - keypoints[:, 0]).mean() < 0.05


def test_2d_round_trip_projects_onto_the_points(tmp_path: Path, body, truth, capsys) -> None:
    rng = np.random.default_rng(1)
    pixels = _project(truth.keypoints("coco17").numpy())
    noisy = pixels + rng.normal(0, 3.0, pixels.shape)
    noisy[rng.random(noisy.shape[:2]) < 0.1] = np.nan
    (tmp_path / "k.json").write_text(json.dumps({
        "keypoints": np.nan_to_num(noisy, nan=0).tolist(),
        "confidence": np.isfinite(noisy[..., 0]).astype(float).tolist(),
        "image_size": list(SIZE), "focal_length": FOCAL}))
    rc, doc = _run(["fit", str(tmp_path / "k.json"), "--layout", "coco17", "--from", "2d",
                    "--json"], capsys)
    assert rc == 0 and doc["frame"] == "camera"
    assert doc["mean_error"] < 25.0  # pixels between the body's projection and the points
    trans = torch.tensor([f["trans"] for f in doc["fits"]])
    poses = torch.tensor([f["poses"] for f in doc["fits"]])
    betas = torch.tensor([f["betas"] for f in doc["fits"]])
    with torch.no_grad():
        fitted = body(global_orient=poses[:, :3], body_pose=poses[:, 3:], betas=betas,
                      transl=trans)
    assert _pa_mpjpe(fitted.keypoints("h36m17").numpy(),
                     truth.keypoints("h36m17").numpy()) <= ROUND_TRIP_2D


def test_missing_points_nan_or_zero_confidence(tmp_path: Path, truth, capsys) -> None:
    keypoints = truth.keypoints("mediapipe33").numpy()[:5].copy()
    keypoints[:, 25:] = np.nan  # legs unseen
    conf = np.ones(keypoints.shape[:2])
    conf[:, :11] = 0  # face unseen
    np.savez(tmp_path / "k.npz", keypoints=keypoints, confidence=conf)
    rc, doc = _run(["fit", str(tmp_path / "k.npz"), "--layout", "mediapipe33", "--from", "3d",
                    "--json"], capsys)
    assert rc == 0 and np.isfinite(np.array([f["poses"] for f in doc["fits"]])).all()


@pytest.mark.parametrize("dims", ["3d", "2d"])
@pytest.mark.parametrize("layout", LAYOUTS)
def test_every_layout_is_accepted(tmp_path: Path, truth, capsys, layout: str,
                                  dims: str) -> None:
    points = truth.keypoints(layout).numpy()[:3]
    if dims == "2d":
        points = _project(points)
    np.savez(tmp_path / "k.npz", keypoints=points, image_size=np.array(SIZE))
    rc, doc = _run(["fit", str(tmp_path / "k.npz"), "--layout", layout, "--from", dims,
                    "--json"], capsys)
    assert rc == 0 and doc["samples"] == 3 and len(doc["fits"][0]["betas"]) == 10


def test_mesh_exports_one_file_per_sample_and_one_glb_scene(tmp_path: Path, truth,
                                                            capsys) -> None:
    import trimesh

    np.savez(tmp_path / "k.npz", keypoints=truth.keypoints("smpl24").numpy()[:3])
    args = ["fit", str(tmp_path / "k.npz"), "--layout", "smpl24", "--from", "3d", "--export"]
    assert main(args + [str(tmp_path / "m.obj")]) == 0
    assert sorted(p.name for p in tmp_path.glob("m*.obj")) == ["m.obj", "m_1.obj", "m_2.obj"]
    assert main(args + [str(tmp_path / "m.glb")]) == 0
    scene = trimesh.load(tmp_path / "m.glb")
    assert len(scene.geometry) == 3
    capsys.readouterr()


BAD = {
    "wrong shape": ({"keypoints": np.zeros((2, 24))}, "smpl24", "3d", "shape"),
    "2d given as 3d": ({"keypoints": np.zeros((2, 24, 2))}, "smpl24", "3d", "expected"),
    "unknown layout": ({"keypoints": np.zeros((2, 24, 3))}, "body25", "3d", "unknown layout"),
    "joint count": ({"keypoints": np.zeros((2, 18, 2))}, "coco17", "2d", "has 17"),
    "all missing": ({"keypoints": np.full((2, 17, 3), np.nan)}, "coco17", "3d", "missing"),
    "no samples": ({"keypoints": np.zeros((0, 17, 3))}, "coco17", "3d", "no samples"),
    "no keypoints": ({"points": np.zeros((2, 17, 3))}, "coco17", "3d", "no 'keypoints'"),
    "bad confidence": ({"keypoints": np.zeros((2, 17, 3)), "confidence": np.ones((2, 3))},
                       "coco17", "3d", "confidence"),
}


@pytest.mark.parametrize("case", BAD)
def test_bad_input_is_one_line_exit_2_and_nothing_written(tmp_path: Path, capsys,
                                                          case: str) -> None:
    arrays, layout, dims, message = BAD[case]
    np.savez(tmp_path / "k.npz", **arrays)
    out = tmp_path / "out.npz"
    rc = main(["fit", str(tmp_path / "k.npz"), "--layout", layout, "--from", dims,
               "--export", str(out)])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and message in err and len(err.splitlines()) == 1
    assert not out.exists()


def test_unreadable_files_and_outputs_are_rejected(tmp_path: Path, capsys) -> None:
    empty = tmp_path / "empty.npz"
    empty.write_bytes(b"")
    text = tmp_path / "k.json"
    text.write_text("{not json")
    good = tmp_path / "good.npz"
    np.savez(good, keypoints=np.zeros((1, 17, 3)))
    cases = [([str(empty)], "empty"), ([str(text)], "not a readable"),
             ([str(tmp_path / "none.npz")], "no such file"),
             ([str(good), "--export", "/proc/out.npz"], "cannot write"),
             ([str(good), "--export", str(tmp_path / "out.txt")], "unsupported type")]
    for extra, message in cases:
        rc = main(["fit", *extra[:1], "--layout", "coco17", "--from", "3d", *extra[1:]])
        err = capsys.readouterr().err
        assert rc == 2 and message in err, (extra, err)
    assert not (tmp_path / "out.txt").exists()
