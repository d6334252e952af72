"""``studio capture`` end to end on short videos made from the project's mannequin photo
(a full-body person MediaPipe finds), moved and scaled a little per frame, with the
shipped built-in proxy model: summary numbers, the recorded session, the exported npz,
frames without people, a video cut short, and bad arguments."""
from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from studio import cli
from studio.commands import capture
from studio.errors import StudioError
from studio.io import motion_export
from studio.io.session import SessionReader, SessionWriter
from studio.pipeline.people import NoPersonFound
from studio.pipeline.samples import mannequin
from studio.pipeline.people_tracking import PeopleTracker
from studio.pipeline.sources import Frame, FrameSource
from test_session import synthetic
from torch_threads import one_torch_thread  # noqa: F401 (autouse fixture)

SIZE = (240, 320)  # width, height
FPS = 10.0
MODEL = "builtin-pymaf-proxy"
BLANK_FRAME = 3


@pytest.fixture
def run(capsys, monkeypatch):
    """``studio capture ARGS`` -> (exit code, stdout, stderr)."""
    monkeypatch.setattr(cli, "COMMAND_MODULES", ("capture",))

    def call(*argv: object) -> tuple[int, str, str]:
        code = cli.main(["capture", *map(str, argv)])
        out, err = capsys.readouterr()
        return code, out, err

    return call


def write_clip(path, frames: int, blank: tuple[int, ...] = (), photo=None) -> None:
    """The mannequin walking right and towards the camera (2% larger each frame); frames
    in ``blank`` show only the wall."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), FPS, SIZE)
    for i in range(frames):
        scale = 0.9 + 0.02 * i
        shift = np.float32([[scale, 0, (1 - scale) * SIZE[0] / 2 + 3 * i],
                            [0, scale, (1 - scale) * SIZE[1] / 2]])
        if photo is None or i in blank:
            picture = np.full((SIZE[1], SIZE[0], 3), 100, np.uint8)
        else:
            picture = cv2.warpAffine(photo, shift, SIZE, borderMode=cv2.BORDER_REPLICATE)
        writer.write(cv2.cvtColor(picture, cv2.COLOR_RGB2BGR))
    writer.release()


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    folder = tmp_path_factory.mktemp("clips")
    photo = mannequin(*SIZE)
    write_clip(folder / "walk.avi", 8, blank=(BLANK_FRAME,), photo=photo)
    write_clip(folder / "empty.avi", 2)
    write_clip(folder / "long.avi", 16, photo=photo)
    data = (folder / "long.avi").read_bytes()
    (folder / "cut.avi").write_bytes(data[:len(data) * 3 // 16])  # about 3 frames left
    return folder


def test_capture_tracks_records_and_exports(run, clips, tmp_path) -> None:
    session, out = tmp_path / "session", tmp_path / "walk.npz"
    code, stdout, stderr = run("--source", f"video:{clips / 'walk.avi'}", "--model", MODEL,
                               "--record", session, "--export", out, "--smooth",
                               "--threads", "1", "--json")
    assert code == 0, stderr
    info = json.loads(stdout)
    print(f"\ncapture: {info['fps']:.2f} frames/s, per frame {info['timings_ms']}")
    assert info["frames"] == {"read": 8, "processed": 7, "no_person": 1, "skipped": 0}
    assert info["people"] == 7 and info["tracks"] == [{"id": 0, "frames": 7}]
    assert info["stopped"] == "end of source"
    assert info["source"] == {"spec": f"video:{clips / 'walk.avi'}",
                              "description": f"video {clips / 'walk.avi'}",
                              "width": SIZE[0], "height": SIZE[1], "fps": FPS}
    assert info["fps"] == pytest.approx(8 / info["elapsed_s"], rel=0.01)
    assert info["smoothing"]["enabled"] and info["model"]["name"] == MODEL
    assert info["export"] == {"path": str(out), "format": "npz", "track": 0, "frames": 7,
                              "fps": pytest.approx(FPS)}
    assert {"read", "process", "detect", "net"} <= set(info["timings_ms"])
    assert "capture" in stderr  # the progress bar

    with np.load(out) as npz:
        assert npz["poses"].shape == (7, 72) and npz["trans"].shape == (7, 3)
        assert npz["betas"].shape == (10,) and npz["frame_betas"].shape == (7, 10)
        assert float(npz["mocap_framerate"]) == pytest.approx(FPS)
        assert str(npz["gender"]) == "neutral" and str(npz["body_model"]) == "mannequin"
        assert npz["frame_index"].tolist() == [0, 1, 2, 4, 5, 6, 7]
        assert npz["timestamps"] == pytest.approx(npz["frame_index"] / FPS)
        trans = npz["trans"]
    assert np.isfinite(trans).all() and (trans[:, 2] > 0).all()
    assert trans[-1, 0] > trans[0, 0]  # walking right
    assert trans[-1, 2] < trans[0, 2]  # and nearer (larger on the picture)

    reader = SessionReader(session)
    assert len(reader) == 8 and reader.complete and reader.fps == FPS
    assert reader.frame(BLANK_FRAME).people == []
    assert reader.meta["smoothing"]["enabled"] and reader.meta["image_size"] == list(SIZE)
    track = reader.track(0)
    assert np.array_equal(track.pose, np.load(out)["poses"])
    assert track.keypoints.shape == (7, 33, 2) and track.box.shape == (7, 4)
    assert (np.diff(track.box[:, 0]) > -2).all()  # the box follows the walk


def test_frame_limit_and_text_summary(run, clips) -> None:
    code, stdout, stderr = run("--source", f"video:{clips / 'walk.avi'}", "--model", MODEL,
                               "--frames", 2, "--threads", 1)
    assert code == 0, stderr
    assert "frames: 2 read, 2 with people, 0 with nobody" in stdout
    assert "(frame limit)" in stdout and "1 tracks" in stdout


def test_nobody_found_exports_nothing(run, clips, tmp_path) -> None:
    out = tmp_path / "empty.npz"
    code, stdout, stderr = run("--source", f"video:{clips / 'empty.avi'}", "--model", MODEL,
                               "--export", out)
    assert code == 4 and "nobody was found in 2 frames" in stderr
    assert not out.exists() and stdout == ""


def test_lost_source_keeps_what_was_captured(run, clips, tmp_path) -> None:
    out = tmp_path / "cut.npz"
    code, stdout, stderr = run("--source", f"video:{clips / 'cut.avi'}", "--model", MODEL,
                               "--export", out, "--threads", 1, "--json")
    assert code == 5 and "cut short" in stderr
    info = json.loads(stdout)
    assert info["stopped"] == "source lost" and 1 <= info["frames"]["read"] <= 5
    with np.load(out) as npz:
        assert npz["poses"].shape == (info["frames"]["processed"], 72)


@pytest.mark.parametrize("args, message", [
    (["--source", "camera:0"], "unknown kind 'camera'"),
    (["--source", "video:missing.avi"], "no such video file"),
    (["--source", "webcam:0", "--frames", "-1"], "--frames must be 0"),
    (["--source", "webcam:0", "--export", "out.obj"], "unsupported type"),
    (["--source", "webcam:0", "--smooth", "--min-cutoff", "0"], "--min-cutoff"),
    (["--source", "webcam:0", "--record", "{session}"], "already holds a recorded session"),
    (["--source", "webcam:0", "--record", "{file}/session"], "not a writable folder"),
])
def test_bad_arguments_fail_before_any_work(run, tmp_path, args, message) -> None:
    (tmp_path / "session").mkdir()
    (tmp_path / "session" / "manifest.json").write_text("{}")
    (tmp_path / "file").write_text("")
    args = [a.format(session=tmp_path / "session", file=tmp_path / "file") for a in args]
    code, _, stderr = run(*args)
    assert code == 2 and message in stderr


def test_export_picks_the_longest_track_at_the_recorded_rate(tmp_path) -> None:
    """Tracks 0 (frames 0-2) and 1 (frames 1-5) recorded at an irregular, webcam-like
    8 frames per second although the camera said 30."""
    with SessionWriter(tmp_path / "s", 30.0, {"body": "mannequin"}) as writer:
        for i in range(6):
            people = [synthetic(i, k) for k, frames in enumerate((range(3), range(1, 6)))
                      if i in frames]
            writer.append(i, i / 8.0 + (0.01 if i == 2 else 0.0), people)
    reader = SessionReader(tmp_path / "s")
    assert motion_export.session_rate(reader) == pytest.approx(8.0)
    info = motion_export.export_track(reader, tmp_path / "a.npz", None)
    assert info == {"path": str(tmp_path / "a.npz"), "format": "npz", "track": 1,
                    "frames": 5, "fps": pytest.approx(8.0)}
    with np.load(tmp_path / "a.npz") as npz:
        assert npz["frame_index"].tolist() == [1, 2, 3, 4, 5]
        assert npz["betas"] == pytest.approx(-(np.arange(1, 6) + 0.1).mean())
        assert npz["trans"][:, 0].tolist() == [1, 2, 3, 4, 5]
    assert motion_export.export_track(reader, tmp_path / "b.npz", 0)["frames"] == 3
    with pytest.raises(StudioError, match="track 7: no such track"):
        motion_export.export_track(reader, tmp_path / "c.npz", 7)


class InterruptedSource(FrameSource):
    """Three grey frames, then Ctrl-C."""

    description = "interrupted"

    def open(self) -> None:
        self.size, self.reads = (64, 48), 0

    def grab(self) -> bool:
        self.reads += 1
        if self.reads > 3:
            raise KeyboardInterrupt
        return True

    def retrieve(self) -> Frame:
        return Frame(self.reads - 1, self.reads / 10.0, np.full((48, 64, 3), 90, np.uint8))

    def close(self) -> None:
        pass


def test_ctrl_c_ends_the_capture_like_the_end_of_the_source(tmp_path, monkeypatch) -> None:
    def nobody(*_: object, **__: object) -> None:
        raise NoPersonFound("no person found in the image")

    monkeypatch.setattr(capture, "run_image", nobody)
    writer = SessionWriter(tmp_path / "s", 10.0)
    with InterruptedSource() as source, capture.tqdm(disable=True) as bar:
        stats, lost = capture.capture(source, None, None, PeopleTracker(), writer, 0, 5, bar)
    writer.close()
    assert stats.stopped == "interrupted" and lost is None
    assert (stats.read, stats.no_person, stats.processed) == (3, 3, 0)
    assert len(SessionReader(tmp_path / "s")) == 3
