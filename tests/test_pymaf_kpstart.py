"""The keypoint-fit start for PyMAF's feedback loop (studio.pipeline.pymaf_kpstart): the
start is the fitted body, the net runs from it, and the variant runs as a model method
and under ``studio eval pymaf --start keypoint-fit``."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from studio.nets.geometry import project_to_crop
from studio.nets.model_registry import load_model
from studio.pipeline.keypoint_fit import load_smplr
from studio.pipeline.pymaf_kpstart import keypoint_start, synthetic_start
from studio.synth.dataset import SyntheticPeople
from studio.train.metrics import errors_mm
from torch_threads import one_torch_thread  # noqa: F401 (autouse fixture)


@pytest.fixture(scope="module")
def proxy():
    return load_model("builtin-pymaf-proxy")


def test_the_mean_start_written_as_a_start_gives_the_nets_own_answer(proxy) -> None:
    data = SyntheticPeople(proxy.body, "proxy", proxy.input_size,
                           proxy.net.dense_size(proxy.input_size))
    batch = data.batch("test", 0, 0, 2)
    with torch.no_grad():
        plain = proxy.net(batch.inputs)
        started = proxy.net(batch.inputs, start=proxy.net.regressor[0].initial(2))
    torch.testing.assert_close(started.final.vertices, plain.final.vertices)


def test_the_start_is_the_fitted_body_placed_on_its_points(proxy) -> None:
    data = SyntheticPeople(proxy.body, "proxy", proxy.input_size,
                           proxy.net.dense_size(proxy.input_size))
    batch = data.batch("test", 0, 0, 4)
    with torch.no_grad():
        out = proxy.net(batch.inputs, start=synthetic_start(proxy.net, 0.0)(batch))
    start = out.iterations[0]
    # exact points: the fitted body is near the truth and the camera puts it on them
    errors = errors_mm(proxy.body, start.rotmat, start.betas, batch.rotmat, batch.betas)
    assert float(errors["mpjpe"].mean()) < 80.0
    true = proxy.body(global_orient=batch.rotmat[:, :1], body_pose=batch.rotmat[:, 1:],
                      betas=batch.betas)
    target = project_to_crop(true.keypoints("mediapipe33"), batch.cam)
    placed = project_to_crop(start.body.keypoints("mediapipe33"), start.cam)
    with torch.no_grad():
        mean = proxy.net(batch.inputs).iterations[0]
    mean_placed = project_to_crop(mean.body.keypoints("mediapipe33"), mean.cam)
    error = float((placed - target).norm(dim=-1).mean())  # crop units
    assert error < 0.1 and error < 0.5 * float((mean_placed - target).norm(dim=-1).mean())
    # a camera that cannot be fitted (no weights) falls back to the mean camera
    smplr = load_smplr("mediapipe33", 3)
    points = true.keypoints("mediapipe33")[:1].numpy()
    _, _, cam = keypoint_start(proxy.body, smplr, points, np.ones((1, 33)),
                               np.zeros((1, 33, 2)), np.zeros((1, 33)))
    np.testing.assert_allclose(cam[0].numpy(), [0.9, 0.0, 0.0])


def test_eval_pymaf_from_the_keypoint_fit(capsys) -> None:
    from studio import cli

    assert cli.main(["eval", "pymaf", "--samples", "4", "--batch-size", "4", "--start",
                     "keypoint-fit", "--keypoint-noise", "10", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["start"] == "keypoint-fit" and doc["keypoint_noise_mm"] == 10.0
    assert len(doc["iterations"]) == 4 and doc["samples"] == 4
    # the fitted start is far better than the mean parameters' (about 300 mm)
    assert doc["iterations"][0]["mpjpe"] < 100.0
    assert cli.main(["eval", "pymaf", "--start", "keypoint-fit", "--keypoint-noise", "-1"]) == 2
    assert "--keypoint-noise" in capsys.readouterr().err


def test_the_variant_runs_on_a_photo_from_the_fitted_start() -> None:
    from studio.pipeline.people import PersonFinder
    from studio.pipeline.pymaf_kpstart import load
    from studio.pipeline.samples import mannequin
    from studio.pipeline.single_image import run_person

    method = load()
    photo = mannequin()
    with PersonFinder() as finder:
        person = finder.find(photo, max_people=1)[0]
    result = run_person(method, photo, person)
    assert len(result.iterations) == 4 and result.mask_iou > 0.5
    # iteration 0 is the keypoint fit's body, not the mean start's rest pose (zeros)
    assert np.abs(result.iterations[0].pose[3:]).max() > 0.05
