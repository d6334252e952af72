"""The poseaug-lifter model: MediaPipe's landmarks become PoseAug's 16 joints normalized
in a square framing the person, an estimator lifts them and the keypoint fit makes the body;
registered as a model (studio run --model poseaug-lifter, the window's Model menu)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from studio.body import joint_sets
from studio.body.registry import load_body_model
from studio.errors import ModelFileError
from studio.nets import poseaug
from studio.nets.model_registry import load_model
from studio.pipeline import poseaug_lift as pl
from studio.synth.pose_prior import sample_poses


@pytest.fixture(scope="module")
def posed():
    """The mannequin in 32 prior poses, turned to the camera's axes (y down)."""
    body = load_body_model("mannequin")
    s = sample_poses(torch.Generator().manual_seed(3), 32)
    turn = torch.tensor([[np.pi, 0.0, 0.0]]).expand(32, 3)
    with torch.no_grad():
        return body(global_orient=turn, body_pose=s.body_pose)


@pytest.fixture
def estimator_file(tmp_path):
    torch.manual_seed(0)
    path = tmp_path / "mlp.pth.tar"
    poseaug.save_official(path, {"epoch": 3, "model_pos": poseaug.SimpleBaseline().state_dict()})
    return path


def test_landmarks_make_poseaug_joints_within_6_cm(posed):
    made = np.einsum("jk,nkd->njd", pl.LANDMARKS_TO_POSEAUG,
                     posed.keypoints("mediapipe33").numpy())
    error = np.linalg.norm(made - posed.keypoints("poseaug16").numpy(), axis=-1)
    assert error.mean(0).max() < 0.06 and np.median(error[:, 9]) < 0.005  # the head is fitted
    exact = [joint_sets.POSEAUG16.names.index(n) for n in ("RKnee", "LWrist", "RFoot")]
    assert error[:, exact].max() < 1e-5  # the joints both layouts have are taken as they are


def test_framing_ignores_where_and_how_large_the_person_is():
    """The lifter's input frames the person as the training source's people are: centred,
    the joint box's longer side SOURCE_EXTENT wide, wherever and however large they are
    in the photo (a close-up's guessed legs far below it included)."""
    landmarks = np.random.default_rng(0).uniform(100, 300, (33, 2))
    screen = pl.framed_screen(landmarks)
    assert np.allclose(pl.framed_screen(landmarks * 4.0 + [-500.0, 2000.0]), screen, atol=1e-5)
    low, high = screen.min(0), screen.max(0)
    assert (high - low).max() == pytest.approx(pl.SOURCE_EXTENT, abs=1e-5)
    assert np.allclose((low + high) / 2, 0.0, atol=1e-5)


@pytest.mark.parametrize("make", [poseaug.SimpleBaseline, poseaug.VideoPose1f, poseaug.SemGCN,
                                  poseaug.STGCN])
def test_every_estimator_lifts_root_relative(make):
    torch.manual_seed(1)
    net = make().eval()
    screen = np.random.default_rng(0).normal(0, 0.3, (16, 2)).astype(np.float32)
    lifted = pl.lift(net, screen)
    raw = net(torch.as_tensor(screen)[None])[0].detach().numpy()
    assert lifted.shape == (16, 3) and np.allclose(lifted[0], 0)
    assert np.allclose(lifted, raw - raw[:1], atol=1e-6)


def test_missing_or_wrong_files_say_so(tmp_path, monkeypatch, estimator_file):
    monkeypatch.setattr(poseaug, "BUILTIN_ESTIMATOR", tmp_path / "none.pth.tar")
    with pytest.raises(ModelFileError, match="none.pth.tar not found.*--checkpoint"):
        pl.load()
    gan = tmp_path / "gan.pth.tar"
    poseaug.save_official(gan, {"model_G": poseaug.PoseAugmentor().state_dict()})
    with pytest.raises(ModelFileError, match="has no 'pose' module"):
        pl.load(checkpoint=gan)


def test_registered_model_runs_on_a_photo(estimator_file):
    from result_fixtures import astronaut_image
    from studio.pipeline.people import shared_finder
    from studio.pipeline.single_image import run_image

    model = load_model("poseaug-lifter", "cpu", estimator_file)
    assert model.name == "poseaug-lifter" and model.meta["estimator"] == "mlp"
    result = run_image(model, astronaut_image(), shared_finder())
    person = result.people[0]
    assert result.model_name == "poseaug-lifter" and len(person.iterations) == 1
    it = person.iterations[0]
    assert it.vertices.shape == (model.body.data.num_vertices, 3)
    assert np.isfinite(person.keypoints).all() and person.keypoint_error_px is not None


@pytest.fixture(scope="module")
def shipped_lifts(posed):
    """lifts(distance, framed) -> (median Procrustes error, median size ratio) of the
    shipped estimator on the mannequin's landmarks ``distance`` m in front of a 1000-px
    camera with a 1000-px photo; ``framed`` False normalizes by the whole photo."""
    est = poseaug.load_builtin("pose")
    truth = posed.keypoints("poseaug16").numpy()

    def lifts(distance: float, framed: bool) -> tuple[float, float]:
        landmarks = posed.keypoints("mediapipe33").numpy() - truth[:, :1] + [0.0, 0.0, distance]
        pixels = 1000 * landmarks[..., :2] / landmarks[..., 2:] + 500
        errors, sizes = [], []
        for i in range(len(truth)):
            if framed:
                screen = pl.framed_screen(pixels[i])
            else:
                joints = torch.as_tensor(pl.LANDMARKS_TO_POSEAUG @ pixels[i].astype(np.float32))
                screen = poseaug.normalize_screen(joints, 1000, 1000).numpy()
            lifted = pl.lift(est, screen)
            errors.append(procrustes_error(lifted, truth[i] - truth[i, :1]))
            sizes.append(spread(lifted) / spread(truth[i]))
        return float(np.median(errors)), float(np.median(sizes))
    return lifts


@pytest.mark.skipif(not poseaug.BUILTIN_ESTIMATOR.is_file(),
                    reason="the shipped PoseAug estimator is not built (studio train poseaug)")
def test_shipped_lifter_recovers_a_seen_pose(shipped_lifts):
    """4 m away, whole in the photo: within 90 mm per joint after Procrustes alignment, at
    its own size within 10%."""
    error, size = shipped_lifts(4.0, framed=True)
    assert error < 0.09 and 0.9 < size < 1.1


@pytest.mark.skipif(not poseaug.BUILTIN_ESTIMATOR.is_file(),
                    reason="the shipped PoseAug estimator is not built (studio train poseaug)")
def test_framing_keeps_a_close_up_in_range(shipped_lifts):
    """1.2 m away (the legs far outside the photo): normalized by the photo the lift is more
    than twice the person's size; framed it keeps the size within 10% and errs less."""
    error, size = shipped_lifts(1.2, framed=True)
    photo_error, photo_size = shipped_lifts(1.2, framed=False)
    assert photo_size > 2.0 and 0.9 < size < 1.1 and error < photo_error


def spread(points: np.ndarray) -> float:
    return float(np.linalg.norm(points - points.mean(0), axis=1).mean())


def procrustes_error(pred: np.ndarray, truth: np.ndarray) -> float:
    """Mean joint distance after the best similarity transform of ``pred`` onto ``truth``."""
    from scipy.linalg import orthogonal_procrustes

    a, b = pred - pred.mean(0), truth - truth.mean(0)
    rot, scale = orthogonal_procrustes(a, b)
    aligned = a @ rot * (scale / (a ** 2).sum())
    return float(np.linalg.norm(aligned - b, axis=1).mean())
