"""Captured motion leaving the studio: `studio capture --export` and `studio capture
--session DIR --export` write one track as npz, BVH, skinned animated GLB or a folder of
OBJ frames, and ``export_session`` (what the window's Live menu calls) does the same with
progress. Read back from the files: frame counts and rate match the recording, and BVH,
GLB and OBJ stand y up (head above feet). Bad destinations and sources fail before any
capture."""
from __future__ import annotations

import json

import numpy as np
import pygltflib
import pytest
import trimesh
from scipy.spatial.transform import Rotation

from studio.body.joint_sets import SMPL24_NAMES
from studio.body.registry import find_body_model
from studio.errors import StudioError
from studio.io.bvh import read_bvh
from studio.io.motion_export import OBJ_FOLDER, export_session, motion_format
from studio.io.session import SessionReader, SessionWriter
from studio.pipeline.people import NoPersonFound
from studio.pipeline.tracking import TrackedPerson
from test_capture_command import FPS, MODEL, clips, run  # noqa: F401 (fixtures)
from test_io_animation import _accessor, _skinned, bvh_joint_positions
from torch_threads import one_torch_thread  # noqa: F401 (autouse fixture)

HEAD = SMPL24_NAMES.index("head")
FEET = [SMPL24_NAMES.index("left_foot"), SMPL24_NAMES.index("right_foot")]
RATE = 8.0  # frames per second of the synthetic session's timestamps


@pytest.fixture(scope="module")
def body():
    return find_body_model("mannequin")


def _assert_upright(joints: np.ndarray, metres: float = 1.0) -> None:
    """SMPL-24 joints [24,3] (or [N,24,3]) with the head well above the feet in y."""
    joints = np.asarray(joints).reshape(-1, 24, 3)
    assert (joints[:, HEAD, 1] > joints[:, FEET, 1].max(axis=1) + 0.8 * metres).all()


def _bvh_joints(bvh) -> np.ndarray:
    """Forward kinematics from the file alone: [N,24,3] in SMPL's joint order, file units."""
    return bvh_joint_positions(bvh)[:, [bvh.names.index(name) for name in SMPL24_NAMES]]


def check_bvh(path, frames: int, fps: float) -> None:
    bvh = read_bvh(path.read_text())
    assert len(bvh.frames) == frames and bvh.frame_time == pytest.approx(1 / fps, rel=1e-6)
    _assert_upright(_bvh_joints(bvh), metres=100.0)  # centimetres


def check_glb(path, frames: int, fps: float, body, camera: bool) -> None:
    gltf = pygltflib.GLTF2().load(str(path))
    [animation] = gltf.animations
    times = _accessor(gltf, animation.samplers[0].input)
    np.testing.assert_allclose(times, np.arange(frames) / fps, rtol=1e-5, atol=1e-6)
    regressor = np.asarray(body.J_regressor, np.float64)
    cameras = [n for n in gltf.nodes if n.camera is not None]
    assert len(cameras) == (1 if camera else 0)
    for frame in (0, frames - 1):
        joints = regressor @ _skinned(gltf, frame)
        _assert_upright(joints)
        assert joints[0, 2] < 0  # in front of the camera, which looks down -z


def check_obj_folder(folder, frames: int, body) -> None:
    names = sorted(p.name for p in folder.iterdir())
    assert names == [f"frame_{k:06d}.obj" for k in range(frames)]
    regressor = np.asarray(body.J_regressor, np.float64)
    for name in (names[0], names[-1]):
        mesh = trimesh.load(folder / name, process=False)
        assert mesh.vertices.shape == (body.num_vertices, 3)
        _assert_upright(regressor @ mesh.vertices)
    assert not [p for p in folder.parent.iterdir() if p.name.endswith(".studio-part")]


def check_npz(path, frames: int, fps: float) -> None:
    with np.load(path) as npz:
        assert npz["poses"].shape == (frames, 72) and npz["trans"].shape == (frames, 3)
        assert float(npz["mocap_framerate"]) == pytest.approx(fps)
        assert len(npz["frame_index"]) == len(npz["timestamps"]) == frames


# ---------------------------------------------------------------- the command

def test_capture_exports_every_format(run, clips, tmp_path, body) -> None:  # noqa: F811
    """One capture (7 of 8 frames with the person, 10 fps) recorded and exported as BVH;
    the recorded session then exported as GLB, OBJ frames and npz without capturing."""
    session, take = tmp_path / "session", tmp_path / "take.bvh"
    code, stdout, stderr = run("--source", f"video:{clips / 'walk.avi'}", "--model", MODEL,
                               "--record", session, "--export", take, "--threads", 1,
                               "--json")
    assert code == 0, stderr
    info = json.loads(stdout)
    assert info["export"] == {"path": str(take), "format": "bvh", "track": 0, "frames": 7,
                              "fps": pytest.approx(FPS)}
    assert "export" in stderr  # its progress bar
    check_bvh(take, 7, FPS)
    assert SessionReader(session).meta["image_size"]  # the GLB's camera comes from here

    outputs = {"glb": tmp_path / "take.glb", "obj": tmp_path / "frames",
               "npz": tmp_path / "take.npz"}
    for fmt, out in outputs.items():
        text = f"{out}/" if fmt == "obj" else out
        code, stdout, stderr = run("--session", session, "--export", text)
        assert code == 0, stderr
        assert stdout.strip() == (f"wrote {text} ({fmt}, track 0, 7 frames at "
                                  f"{FPS:.2f} fps)")
    check_glb(outputs["glb"], 7, FPS, body, camera=True)
    check_obj_folder(outputs["obj"], 7, body)
    check_npz(outputs["npz"], 7, FPS)

    code, stdout, _ = run("--session", session, "--export", tmp_path / "t1.bvh", "--json")
    assert code == 0 and json.loads(stdout)["export"]["frames"] == 7


@pytest.mark.parametrize("args, message", [
    (["--source", "webcam:0", "--export", "/proc/t.npz"], "cannot write into /proc"),
    (["--source", "webcam:0", "--export", "/proc/take.bvh"], "cannot write into /proc"),
    (["--source", "webcam:0", "--export", "take.fbx"], "unsupported type (use OUT.npz"),
    (["--source", "webcam:0", "--export", "{full}"], "the folder is not empty"),
    (["--source", "webcam:0", "--export", "{file}/"], "a file has that name"),
    (["--source", "video:{text}"], "not a video (it holds text)"),
    (["--export", "x.bvh"], "give --source SPEC to capture, or --session DIR"),
    (["--session", "{full}"], "--session needs --export"),
    (["--session", "{full}", "--source", "webcam:0", "--export", "x.bvh"], "--session exports"),
    (["--session", "{full}", "--export", "{out}"], "not a recorded session"),
    (["--session", "{missing}", "--export", "{out}"], "no such session folder"),
])
def test_bad_exports_and_sources_fail_before_any_work(run, tmp_path, args,  # noqa: F811
                                                      message) -> None:
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "frame_000000.obj").write_text("")
    (tmp_path / "file").write_text("")
    (tmp_path / "notes.txt").write_text("a text file, which FFmpeg would show as a video\n" * 9)
    args = [a.format(full=tmp_path / "full", file=tmp_path / "file", out=tmp_path / "o.bvh",
                     text=tmp_path / "notes.txt", missing=tmp_path / "missing") for a in args]
    code, stdout, stderr = run(*args)
    assert code == 2 and message in stderr, stderr
    assert stderr.count("\n") == 1 and stdout == ""  # one line, no traceback
    assert not (tmp_path / "o.bvh").exists()


# ---------------------------------------------------------------- the function

def _upright_person(frame: int, track_id: int) -> TrackedPerson:
    """Filmed upright (global orientation half a turn about x), walking right and away."""
    pose = np.zeros(72, np.float32)
    pose[:3] = (Rotation.from_rotvec([np.pi, 0, 0])
                * Rotation.from_rotvec([0, 0.1 * frame, 0])).as_rotvec()
    pose[3 * 16 + 2] = -0.3 * np.sin(frame)  # the left shoulder waves
    return TrackedPerson(
        track_id=track_id, box=np.array([10, 0, 60, 100], np.float32), pose=pose,
        betas=np.full(10, 0.1 * track_id, np.float32), cam=np.array([0.9, 0, 0], np.float32),
        translation=np.array([0.1 * frame + track_id, 0.2, 4.0 + 0.1 * frame], np.float32),
        keypoints=np.zeros((33, 2), np.float32), landmarks=np.zeros((33, 2), np.float32),
        visibility=np.ones(33, np.float32), timings_ms={})


@pytest.fixture
def session(tmp_path):
    """12 frames at 8 fps (the source said 30): track 0 in all but frame 5 (11 frames),
    track 1 in frames 3-6; chunks of 5 frames, as the window's Record writes them."""
    folder = tmp_path / "session"
    meta = {"body": "mannequin", "image_size": [640, 480], "focal": 800.0}
    with SessionWriter(folder, 30.0, meta, chunk_frames=5) as writer:
        for i in range(12):
            people = [_upright_person(i, 0)] if i != 5 else []
            people += [_upright_person(i, 1)] if 3 <= i <= 6 else []
            writer.append(100 + i, i / RATE, people)
    return folder


def test_export_session_writes_every_format_with_progress(session, tmp_path, body) -> None:
    calls: list[tuple[int, int]] = []
    written = {}
    for name in ("take.npz", "take.bvh", "take.glb", "frames/"):
        calls.clear()
        info = export_session(session, tmp_path / name if name[-1] != "/" else
                              f"{tmp_path / name[:-1]}/", progress=lambda *c: calls.append(c))
        written[info["format"]] = info
        assert info["track"] == 0 and info["frames"] == 11
        assert info["fps"] == pytest.approx(RATE)
        assert calls[0] == (0, 11) and calls[-1] == (11, 11)
        assert all(a[0] <= b[0] for a, b in zip(calls, calls[1:]))
    assert set(written) == {"npz", "bvh", "glb", "obj"}
    assert len(calls) == 12  # OBJ frames report each frame
    check_npz(tmp_path / "take.npz", 11, RATE)
    with np.load(tmp_path / "take.npz") as npz:
        assert npz["frame_index"].tolist() == [100 + i for i in range(12) if i != 5]
    check_bvh(tmp_path / "take.bvh", 11, RATE)
    check_glb(tmp_path / "take.glb", 11, RATE, body, camera=True)
    check_obj_folder(tmp_path / "frames", 11, body)

    # Another track, a given body, no callback.
    info = export_session(session, tmp_path / "one.bvh", track_id=1, body=body)
    assert info["track"] == 1 and info["frames"] == 4
    check_bvh(tmp_path / "one.bvh", 4, RATE)
    with pytest.raises(StudioError, match="track 7: no such track"):
        export_session(session, tmp_path / "seven.bvh", track_id=7)
    assert not (tmp_path / "seven.bvh").exists()


def test_a_cancelled_or_failed_export_leaves_nothing(session, tmp_path) -> None:
    def cancel(done: int, total: int) -> None:
        """Cancel at the third OBJ frame; a single file's start."""
        if done == 3 or tmp_path.joinpath("take.glb") == target:
            raise KeyboardInterrupt

    for target in (tmp_path / "frames", tmp_path / "take.glb"):
        with pytest.raises(KeyboardInterrupt):
            export_session(session, target, progress=cancel)
    target = None
    (tmp_path / "empty").mkdir()
    with pytest.raises(KeyboardInterrupt):
        export_session(session, tmp_path / "empty", progress=cancel)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty", "session"]
    assert not any((tmp_path / "empty").iterdir())
    # An empty folder is a fine destination.
    assert export_session(session, tmp_path / "empty")["frames"] == 11


def test_destination_formats(tmp_path) -> None:
    (tmp_path / "old.v1").mkdir()
    assert motion_format(tmp_path / "t.BVH") == ".bvh"
    assert motion_format("t.glb") == ".glb" and motion_format("t.npz") == ".npz"
    for folder in ("frames", "frames/", "take.v2/", tmp_path / "old.v1"):
        assert motion_format(folder) == OBJ_FOLDER
    with pytest.raises(StudioError, match="unsupported type"):
        motion_format("t.fbx")


def test_nobody_recorded_exports_nothing(tmp_path) -> None:
    with SessionWriter(tmp_path / "s", 30.0, {"body": "mannequin"}) as writer:
        writer.append(0, 0.0, [])
    with pytest.raises(NoPersonFound, match="nobody was found in 1 frames"):
        export_session(tmp_path / "s", tmp_path / "t.glb")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s"]
