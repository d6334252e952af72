"""Frame sources: videos (plain, looping, damaged, cut short), image folders with bad
files, a webcam stood in for by a fake capture object (CI has no camera), and source
specs. Videos are made here with OpenCV's own MJPG writer, which needs no codec library.
"""
from __future__ import annotations

import cv2
import numpy as np
import pytest
from PIL import Image

from studio.errors import StudioError
from studio.pipeline.sources import (LOST_AFTER, FolderSource, SourceLost, VideoSource,
                                     WebcamSource, parse_source)

SIZE = (96, 64)  # width, height
FPS = 25.0


def write_video(path, frames: int, fps: float = FPS) -> None:
    """An orange disc moving right across a dark picture, one step per frame."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, SIZE)
    assert writer.isOpened()
    for i in range(frames):
        picture = np.full((SIZE[1], SIZE[0], 3), 30, np.uint8)
        cv2.circle(picture, (10 + 3 * i, 32), 8, (0, 160, 255), -1)  # BGR orange
        writer.write(picture)
    writer.release()


def disc_x(image: np.ndarray) -> float:
    """Column of the orange disc's centre, found by its red channel."""
    return float(np.nonzero(image[..., 0] > 128)[1].mean())


@pytest.fixture
def video(tmp_path):
    path = tmp_path / "disc.avi"
    write_video(path, 20)
    return path


def test_video_frames_fps_size_timestamps_and_colours(video) -> None:
    with VideoSource(video) as source:
        assert source.fps == FPS and source.size == SIZE and source.frame_count == 20
        frames = list(source)
        assert source.read() is None  # stays at the end
    assert [f.index for f in frames] == list(range(20))
    assert [f.timestamp for f in frames] == pytest.approx(np.arange(20) / FPS)
    first = frames[0].image
    assert first.shape == (SIZE[1], SIZE[0], 3) and first.dtype == np.uint8
    red, blue = first[32, 10, 0], first[32, 10, 2]
    assert red > 200 and blue < 60  # RGB order, not OpenCV's BGR
    xs = [disc_x(f.image) for f in frames]
    assert np.allclose(np.diff(xs), 3, atol=0.5)
    assert source.skipped == 0


def test_looping_video_continues_index_and_time(video) -> None:
    with VideoSource(video, loop=True) as source:
        assert source.frame_count is None  # a loop never ends
        frames = [source.read() for _ in range(50)]
    assert [f.index for f in frames] == list(range(50))
    assert frames[49].timestamp == pytest.approx(49 / FPS)
    assert np.array_equal(frames[20].image, frames[0].image)
    assert np.array_equal(frames[45].image, frames[5].image)


def test_damaged_video_frame_is_skipped_and_counted(video) -> None:
    data = bytearray(video.read_bytes())
    start = data.find(b"\xff\xd8", len(data) // 2)  # a JPEG frame in the middle
    data[start:start + 400] = bytes(400)
    video.write_bytes(bytes(data))
    with VideoSource(video) as source:
        frames = list(source)
    assert len(frames) == 19 and source.skipped == 1
    gap = [i for i in range(20) if i not in {f.index for f in frames}]
    assert len(gap) == 1 and 0 < gap[0] < 19  # the damaged frame leaves a gap in the index


def test_video_cut_short_is_lost_not_ended(tmp_path) -> None:
    path = tmp_path / "long.avi"
    write_video(path, 60)
    data = path.read_bytes()
    path.write_bytes(data[:len(data) // 3])  # the header still promises 60 frames
    delivered = 0
    with VideoSource(path) as source, pytest.raises(SourceLost, match="cut short"):
        while source.read() is not None:
            delivered += 1
    assert 5 < delivered < 30
    assert SourceLost.exit_code != StudioError.exit_code


def test_a_few_frames_short_of_the_count_is_an_end(video) -> None:
    """Fewer than LOST_AFTER frames missing before the promised count: the stream's end,
    as with containers whose frame count is an estimate."""
    data = video.read_bytes()
    video.write_bytes(data[:int(len(data) * 0.85)])
    with VideoSource(video) as source:
        frames = list(source)
    assert 20 - LOST_AFTER < len(frames) < 20 and source.skipped == 0


def test_missing_and_undecodable_video(tmp_path) -> None:
    with pytest.raises(StudioError, match="no such video"):
        VideoSource(tmp_path / "none.avi").open()
    (tmp_path / "text.avi").write_text("not a video")
    with pytest.raises(StudioError, match="not a video"):
        VideoSource(tmp_path / "text.avi").open()


def test_folder_in_natural_order_skipping_a_damaged_file(tmp_path) -> None:
    for i in (1, 2, 10):
        picture = np.full((40, 30, 3), 20 * i, np.uint8)
        Image.fromarray(picture).save(tmp_path / f"frame{i}.png")
    good = (tmp_path / "frame1.png").read_bytes()
    (tmp_path / "frame3.png").write_bytes(good[:len(good) // 2])  # cut short
    (tmp_path / "notes.txt").write_text("not a frame")
    with FolderSource(tmp_path, fps=10.0) as source:
        assert source.size == (30, 40) and source.frame_count == 4
        frames = list(source)
    assert [f.image[0, 0, 0] for f in frames] == [20, 40, 200]  # 1, 2, 10: not 1, 10, 2
    assert [f.index for f in frames] == [0, 1, 3]  # frame3.png (position 2) was skipped
    assert frames[2].timestamp == pytest.approx(0.3)
    assert source.skipped == 1


def test_folder_without_readable_images(tmp_path) -> None:
    with pytest.raises(StudioError, match="no image files"):
        FolderSource(tmp_path).open()
    (tmp_path / "a.jpg").write_bytes(b"\xff\xd8 damaged")
    with pytest.raises(StudioError, match="none of its 1 image files"):
        FolderSource(tmp_path).open()
    with pytest.raises(StudioError, match="no such folder"):
        FolderSource(tmp_path / "missing").open()


class FakeCapture:
    """cv2.VideoCapture's interface over a script of frames: a BGR picture, None (a grab
    that fails) or "damaged" (a grab that succeeds and a retrieve that gives an unusable
    array). Counts the frames retrieved (decoded)."""

    def __init__(self, script: list, opened: bool = True) -> None:
        self.script, self.opened, self.released = list(script), opened, False
        self.props = {cv2.CAP_PROP_FPS: 0.0}
        self.grabbed: np.ndarray | str | None = None
        self.retrieved = 0

    def __call__(self, index: int) -> FakeCapture:
        self.index = index
        return self

    def isOpened(self) -> bool:  # noqa: N802 (OpenCV's name)
        return self.opened

    def set(self, prop: int, value: float) -> bool:
        self.props[prop] = value
        return True

    def get(self, prop: int) -> float:
        return self.props.get(prop, 0.0)

    def grab(self) -> bool:
        self.grabbed = self.script.pop(0) if self.script else None
        return self.grabbed is not None

    def retrieve(self) -> tuple[bool, np.ndarray | None]:
        self.retrieved += 1
        if isinstance(self.grabbed, str):
            return True, np.zeros((4, 4, 7), np.uint8)
        return True, self.grabbed

    def release(self) -> None:
        self.released = True


def bgr(value: int) -> np.ndarray:
    picture = np.zeros((48, 64, 3), np.uint8)
    picture[..., 0] = value  # blue in OpenCV's order
    return picture


def test_webcam_frames_glitches_and_loss() -> None:
    fake = FakeCapture([bgr(10), None, bgr(20), "damaged", bgr(30)])
    source = WebcamSource(2, resolution=(64, 48), capture=fake)
    with source:
        assert fake.index == 2 and source.size == (64, 48) and source.fps == 30.0
        frames = [source.read() for _ in range(3)]
        assert [f.image[0, 0, 2] for f in frames] == [10, 20, 30]  # blue, now last
        assert [f.index for f in frames] == [0, 2, 4]
        assert source.skipped == 2  # one failed read and one damaged picture: glitches
        assert all(b.timestamp >= a.timestamp for a, b in zip(frames, frames[1:]))
        with pytest.raises(SourceLost, match="webcam 2: the camera stopped"):
            source.read()  # the script is over: every read fails from now on
        assert source.skipped == 2 + LOST_AFTER
    assert fake.released


def test_only_retrieved_frames_are_decoded() -> None:
    fake = FakeCapture([bgr(10), bgr(20), "damaged", bgr(40)])
    with WebcamSource(0, capture=fake) as source:
        assert source.grab() and source.grab() and source.grab()  # 10 and 20 dropped
        assert source.retrieve() is None and source.skipped == 1  # the damaged one
        assert source.grab()
        frame = source.retrieve()
    assert frame.index == 3 and frame.image[0, 0, 2] == 40 and fake.retrieved == 2


def test_a_video_frame_grabbed_late_is_that_frame(video) -> None:
    with VideoSource(video) as source:
        first = source.read()
        for _ in range(5):
            assert source.grab()
        frame = source.retrieve()
    assert frame.index == 5 and frame.timestamp == pytest.approx(5 / FPS)
    assert np.abs(frame.image.astype(int) - first.image).max() > 100  # the disc moved


def test_folder_files_passed_over_are_not_read(tmp_path) -> None:
    for i in (1, 3):
        Image.fromarray(np.full((40, 30, 3), 20 * i, np.uint8)).save(tmp_path / f"frame{i}.png")
    (tmp_path / "frame2.png").write_bytes(b"damaged")
    with FolderSource(tmp_path) as source:
        assert source.grab() and source.grab() and source.grab()
        frame = source.retrieve()
        assert frame.index == 2 and frame.image[0, 0, 0] == 60
        assert source.skipped == 0  # the damaged file was passed over, never decoded
        assert not source.grab()


def test_webcam_that_cannot_be_opened() -> None:
    fake = FakeCapture([], opened=False)
    with pytest.raises(StudioError, match="webcam 0: cannot open the camera"):
        WebcamSource(0, capture=fake).open()
    assert fake.released


def test_parse_source(tmp_path) -> None:
    webcam = parse_source("webcam:1", resolution=(320, 240))
    assert isinstance(webcam, WebcamSource) and webcam.index == 1
    assert webcam.resolution == (320, 240)
    video = parse_source("video:C:/clips/a:b.avi", loop=True)  # only the first colon splits
    assert isinstance(video, VideoSource) and str(video.path) == "C:/clips/a:b.avi"
    assert video.loop
    assert isinstance(parse_source(f"folder:{tmp_path}"), FolderSource)
    for bad, message in (("webcam:x", "webcam number"), ("webcam:-1", "webcam number"),
                         ("camera:0", "unknown kind"), ("video:", "expected"),
                         ("walk.mp4", "expected")):
        with pytest.raises(StudioError, match=message):
            parse_source(bad)


def test_sample_clip_is_a_swaying_photo_video_of_the_asked_size(tmp_path) -> None:
    from studio.pipeline.samples import write_sample_clip

    path = write_sample_clip(tmp_path / "clip.avi", size=(160, 120), frames=8, fps=30.0)
    source = parse_source(f"video:{path}")
    with source:
        frames = [source.read() for _ in range(8)]
        assert source.read() is None
    assert source.size == (160, 120) and source.fps == 30.0
    assert all(f.image.shape == (120, 160, 3) for f in frames)
    assert not np.array_equal(frames[0].image, frames[2].image)  # it sways
