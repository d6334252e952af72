"""The PoseAug panel and its Qt-free half (studio.pipeline.poseaug_samples): the person's
16 joints read off the body, placed in the photo camera, seeded samples per stage,
scores, fitted bodies and exports; in the window, samples are drawn for the built-in
sample photo, a click picks one and shows its stages in 3D."""
from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from PySide6.QtCore import QPointF, Qt

from studio.body.registry import load_body_model
from studio.nets import poseaug
from studio.pipeline import poseaug_samples as ps
from studio.pipeline.crops import ImageCamera
from studio.pipeline.results import MeshIteration
from window_fixtures import studio_window

RESULT_TIMEOUT_MS = 120_000
IMAGE_SIZE = (640, 480)


def fresh_training_file(path) -> None:
    """An official training-state file of freshly made (seeded) modules: the layout the
    panel's weights come in, whatever was trained."""
    torch.manual_seed(0)
    modules = {"model_G": poseaug.PoseAugmentor(), "model_d3d": poseaug.PoseDiscriminator3D(),
               "model_d2d": poseaug.PoseDiscriminator2D()}
    poseaug.save_official(path, {"epoch": 1, **{k: m.state_dict() for k, m in modules.items()}})


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    path = tmp_path_factory.mktemp("poseaug") / "gan.pth.tar"
    fresh_training_file(path)
    return path


@pytest.fixture(scope="module")
def body():
    return load_body_model("mannequin")


def bent(body):
    """The mannequin with a lowered left arm and a bent right knee, turned to the
    camera's axes (y down)."""
    pose = torch.zeros(1, 69)
    pose[0, 3 * 15 + 2] = -0.9  # left shoulder (joint 16) down
    pose[0, 3 * 3] = 0.8  # right knee (joint 4) bent
    return body(global_orient=torch.tensor([[np.pi, 0.0, 0.0]]), body_pose=pose)


@pytest.fixture(scope="module")
def iteration(body) -> MeshIteration:
    """The bent mannequin as a mesh iteration 12 m in front of a 4000-px camera."""
    out = bent(body)
    camera = ImageCamera(focal=4000.0, centre=(300.0, 250.0), translation=(0.1, 0.2, 12.0))
    return MeshIteration(vertices=out.vertices[0].numpy(), joints=out.joints[0].numpy(),
                         cam=np.zeros(3), image_camera=camera, betas=np.zeros(10),
                         pose=np.zeros(72), keypoints_2d=np.zeros((49, 2)),
                         sample_points=None, pyramid_map=None)


@pytest.fixture(scope="module")
def pose(iteration, body) -> np.ndarray:
    return ps.place_for_photo(ps.skeleton_of(iteration, body), iteration, IMAGE_SIZE)


def bone_lengths(p: np.ndarray) -> np.ndarray:
    return np.array([np.linalg.norm(p[..., a, :] - p[..., b, :], axis=-1) for a, b in poseaug.BONES])


def test_skeleton_is_the_body_models_poseaug16(iteration, body):
    expected = bent(body).keypoints("poseaug16")[0].numpy()
    assert np.allclose(ps.skeleton_of(iteration, body), expected, atol=1e-5)


def test_placed_in_the_photo_camera_where_the_image_camera_shows_it(iteration, body, pose):
    skeleton = ps.skeleton_of(iteration, body)
    on_photo = iteration.image_camera.project(skeleton[0])
    camera = torch.as_tensor(ps.photo_camera(IMAGE_SIZE))[None]
    projected = poseaug.screen_to_pixels(poseaug.project_to_2d(torch.as_tensor(pose)[None], camera),
                                         *IMAGE_SIZE)[0].numpy()
    assert np.allclose(projected[0], on_photo, atol=1e-3)
    assert np.allclose(pose - pose[0], skeleton - skeleton[0], atol=1e-6)  # same shape
    # depth scaled so the person keeps their size: 12 m at 4000 px -> 1.92 m at 640 px
    assert pose[0, 2] == pytest.approx((12.0 + skeleton[0, 2]) * 640 / 4000, rel=1e-5)


def test_samples_repeat_with_the_seed_and_follow_the_stages(weights, pose):
    modules = ps.load_modules(weights)
    settings = ps.SampleSettings(count=4, seed=11)
    a = ps.draw_samples(modules, pose, IMAGE_SIZE, settings)
    b = ps.draw_samples(modules, pose, IMAGE_SIZE, settings)
    c = ps.draw_samples(modules, pose, IMAGE_SIZE, ps.SampleSettings(count=4, seed=12))
    assert a.poses.shape == (4, 4, 16, 3) and a.pixels.shape == (4, 4, 16, 2)
    assert a.d3d.shape == (4, 4, 5) and a.d2d.shape == (4, 4)
    assert np.array_equal(a.poses, b.poses) and np.array_equal(a.d3d, b.d3d)
    assert not np.allclose(a.poses[:, 1], c.poses[:, 1])
    assert np.allclose(a.poses[:, 0], pose)  # the original is every sample's first stage
    # BA keeps bone lengths, BL changes them by at most 20% per bone
    assert np.allclose(bone_lengths(a.poses[:, 1]), bone_lengths(a.poses[:, 0]), atol=1e-5)
    ratio = bone_lengths(a.poses[:, 2]) / bone_lengths(a.poses[:, 1])
    assert np.all(np.abs(ratio - 1) < 0.2 + 1e-5) and not np.allclose(ratio, 1)
    # the scores are the discriminators' on each stage's pose and projection
    d3d = modules.d3d(torch.as_tensor(a.poses[:, 3])).detach().numpy()
    assert np.allclose(a.d3d[:, 3], d3d, atol=1e-5)
    no_bl = ps.draw_samples(modules, pose, IMAGE_SIZE,
                            ps.SampleSettings(count=4, seed=11, stages=("ba", "rt")))
    assert np.allclose(no_bl.poses[:, 2], no_bl.poses[:, 1]) and np.allclose(no_bl.params["blr"], 0)
    assert np.allclose(no_bl.poses[:, 1], a.poses[:, 1])  # the same draws for the other stages
    weak = ps.draw_samples(modules, pose, IMAGE_SIZE, ps.SampleSettings(
        count=4, seed=11, strength={"ba": 1.0, "bl": 0.5, "rt": 1.0}))
    assert np.allclose(weak.params["blr"], 0.5 * a.params["blr"], atol=1e-6)
    nothing = ps.draw_samples(modules, pose, IMAGE_SIZE, ps.SampleSettings(count=2, stages=()))
    assert np.allclose(nothing.poses, pose, atol=1e-5)
    with pytest.raises(ValueError, match="strength of rt"):
        ps.draw_samples(modules, pose, IMAGE_SIZE, ps.SampleSettings(strength={"rt": 3.0}))


def test_missing_weights_say_which_file(tmp_path, monkeypatch):
    from studio.errors import ModelFileError

    monkeypatch.setattr(poseaug, "BUILTIN_GAN", tmp_path / "none.pth.tar")
    ps._load_modules.cache_clear()
    with pytest.raises(ModelFileError, match="none.pth.tar not found"):
        ps.load_modules()
    ps._load_modules.cache_clear()


def test_exports_hold_the_pairs_and_one_mesh_per_sample_and_stage(weights, pose, tmp_path):
    samples = ps.fit_bodies(ps.draw_samples(ps.load_modules(weights), pose, IMAGE_SIZE,
                                            ps.SampleSettings(count=2, seed=5)))
    assert samples.vertices.shape[:2] == (2, 4) and samples.faces.shape[1] == 3
    with np.load(io.BytesIO(ps.npz_bytes(samples))) as z:  # as `studio poseaug augment`
        assert int(z["seed"]) == 5 and int(z["count"]) == 2 and str(z["stages"]) == "ba,bl,rt"
        for k, stage in enumerate(ps.STAGE_KEYS):
            assert np.array_equal(z[f"poses_{stage}"], samples.poses[:, k])
            assert np.array_equal(z[f"pose_2d_{stage}"], samples.screen[:, k])
        assert z["cameras"].shape == (2, 9) and np.allclose(z["cameras"][0], samples.camera)
        assert np.allclose(z["strength"], 1.0) and np.allclose(z["input_poses"][0], pose)
        assert np.array_equal(z["d3d_scores"], samples.d3d[:, 3])
        for key in ("ba_diff", "blr", "rot", "trans", "noise_ba", "noise_bl", "noise_rot",
                    "noise_trans", "d2d_scores"):
            assert key in z.files
    payloads = ps.mesh_payloads(samples, tmp_path / "s.obj")
    assert [p.name for p, _ in payloads][:4] == ["s_00_input.obj", "s_00_ba.obj", "s_00_bl.obj",
                                                 "s_00_rt.obj"]
    assert len(payloads) == 8 and payloads[0][1].count(b"\nv ") == samples.vertices.shape[2]
    with pytest.raises(ValueError, match="mesh files end in"):
        ps.mesh_payloads(samples, tmp_path / "s.txt")


# --- in the window -----------------------------------------------------------------------

@pytest.fixture
def window(qtbot, tmp_path, weights, monkeypatch):
    monkeypatch.setattr(poseaug, "BUILTIN_GAN", weights)
    ps._load_modules.cache_clear()
    win = studio_window(qtbot, tmp_path, (1500, 950))
    yield win
    win.close()
    ps._load_modules.cache_clear()


@pytest.mark.gui
def test_panel_draws_samples_and_a_click_shows_one_in_3d(qtbot, window, tmp_path):
    from studio.ui.tools.poseaug.tool import PoseAugTool

    tool = window.tool(PoseAugTool)
    panel = window.poseaug_panel
    with qtbot.waitSignal(window.result_shown, timeout=RESULT_TIMEOUT_MS):
        window.open_sample("astronaut")
    qtbot.wait(400)  # longer than the panel's settling: nothing is drawn unasked
    assert panel.samples is None
    panel.count_box.blockSignals(True)
    panel.count_box.setValue(3)
    panel.count_box.blockSignals(False)
    qtbot.mouseClick(panel.draw_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: panel.samples is not None, timeout=RESULT_TIMEOUT_MS)
    first = panel.samples
    assert first.count == 3 and panel.table.rowCount() == 3 and panel.picked == 0
    assert panel.table.item(0, 0).text() == f"{first.d3d[0, 3, 0]:.2f}"
    actors = window.mesh_view.actors
    assert all(f"tool:poseaug:{s}:{kind}" in actors for s in ps.STAGE_KEYS
               for kind in ("body", "bones"))
    shown_before = np.asarray(window.mesh_view._tool_meshes["poseaug:rt:bones"][0].points)
    assert "poseaug" in window.image_view.marks
    lines = window.image_view.mark_bones["poseaug"]  # the picked sample's skeleton
    assert len(lines.getData()[0]) == 2 * len(poseaug.BONES)

    picked = []
    panel.sample_picked.connect(lambda index, by_user: picked.append((index, by_user)))
    frame = panel._frame
    centre = panel._cell(2, 1) + QPointF(frame.width() / 2, frame.height() / 2)
    widget_pos = panel.graphics.mapFromScene(panel.view.mapViewToScene(centre))
    qtbot.mouseClick(panel.graphics.viewport(), Qt.MouseButton.LeftButton, pos=widget_pos)
    assert picked == [(2, True)] and panel.picked == 2
    assert panel.table.verticalHeaderItem(2).text().endswith("#2")
    assert panel.table.verticalHeaderItem(2).text() != "#2"  # marked as picked
    shown_after = np.asarray(window.mesh_view._tool_meshes["poseaug:rt:bones"][0].points)
    assert not np.allclose(shown_before, shown_after)
    rt = first.poses[2, 3]
    assert np.allclose(shown_after - shown_after[0], rt - rt[0], atol=1e-5)  # its final pose

    rect = panel.table.visualItemRect(panel.table.item(1, 3))
    qtbot.mouseClick(panel.table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert picked[-1] == (1, True) and panel.picked == 1  # a click on the table picks too

    panel.seed_box.setValue(7)  # a new seed: new samples, once the controls settle
    qtbot.waitUntil(lambda: panel.samples is not first, timeout=RESULT_TIMEOUT_MS)
    assert panel.samples.settings.seed == 7
    assert not np.allclose(panel.samples.poses[:, 3], first.poses[:, 3])

    drawn = panel.samples  # once asked, the samples follow the shown iteration
    window.scrubber.set_value(0)
    qtbot.waitUntil(lambda: panel.samples is not drawn, timeout=RESULT_TIMEOUT_MS)
    assert not np.allclose(panel.samples.poses[0, 0], drawn.poses[0, 0])

    written = tool.write_npz(tmp_path / "pairs.npz")
    with np.load(written[0]) as z:
        assert int(z["seed"]) == 7 and z["poses_rt"].shape == (3, 16, 3)
    meshes = tool.write_meshes(tmp_path / "body.ply")
    assert len(meshes) == 12 and all(p.is_file() for p in meshes)
