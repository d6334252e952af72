"""Session recording: streamed chunks with flat memory, reading back by frame and by
track, a lost or damaged manifest, a crash before closing and a full disk."""
from __future__ import annotations

import errno
import json
import tracemalloc

import numpy as np
import pytest

from studio.body.storage import atomic_write_bytes
from studio.errors import StudioError
from studio.io.session import MANIFEST, SessionReader, SessionWriter
from studio.pipeline.tracking import TrackedPerson

FPS = 30.0


def synthetic(frame: int, track_id: int) -> TrackedPerson:
    """A person whose every number says which frame and track it belongs to."""
    value = frame + track_id / 10.0
    return TrackedPerson(
        track_id=track_id, box=np.array([value, 0, value + 50, 100], np.float32),
        pose=np.full(72, value, np.float32), betas=np.full(10, -value, np.float32),
        cam=np.array([0.9, track_id, frame], np.float32),
        translation=np.array([frame, track_id, 3.0], np.float32),
        keypoints=np.full((33, 2), value, np.float32),
        landmarks=np.full((33, 2), value + 1, np.float32),
        visibility=np.full(33, 0.5, np.float32),
        timings_ms={"net": float(frame), "crop": 1.0})


def people_of(frame: int) -> list[TrackedPerson]:
    """Track 0 in every frame but each 7th (nobody found); track 1 in frames 100-499."""
    people = [] if frame % 7 == 3 else [synthetic(frame, 0)]
    if 100 <= frame < 500:
        people.append(synthetic(frame, 1))
    return people


def record(folder, frames: int, chunk_frames: int = 100, **options) -> SessionWriter:
    writer = SessionWriter(folder, FPS, {"source": "synthetic"}, chunk_frames=chunk_frames,
                           **options)
    for i in range(frames):
        writer.append(1000 + i, i / FPS, people_of(i), {"detect": 2.0 * i})
    return writer


def assert_same(got: TrackedPerson, expected: TrackedPerson) -> None:
    assert got.track_id == expected.track_id
    for key in ("box", "pose", "betas", "cam", "translation", "keypoints", "landmarks",
                "visibility"):
        assert np.array_equal(getattr(got, key), getattr(expected, key)), key
    assert got.timings_ms == expected.timings_ms


def test_memory_stays_flat_with_length(tmp_path) -> None:
    """The writer's peak memory is a few chunks' worth (the buffered people, then the
    chunk's arrays and file bytes), however long the recording."""
    peaks = {}
    for frames in (200, 1000):
        tracemalloc.start()
        record(tmp_path / f"s{frames}", frames, chunk_frames=25).close()
        peaks[frames] = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    data = sum(f.stat().st_size for f in (tmp_path / "s1000").glob("chunk-*.npz"))
    print(f"\npeak traced memory: {peaks[200] / 1e3:.0f} kB for 200 frames, "
          f"{peaks[1000] / 1e3:.0f} kB for 1000 frames ({data / 1e6:.2f} MB recorded)")
    assert peaks[1000] < 1.3 * peaks[200]
    assert peaks[1000] < data / 4


def test_reopened_session_matches_what_was_written(tmp_path) -> None:
    with record(tmp_path / "s", 1000) as writer:
        assert writer.frames == writer.written == 1000  # the 10th chunk just filled up
    files = sorted(p.name for p in (tmp_path / "s").iterdir())
    assert files == [*(f"chunk-{k:06d}.npz" for k in range(10)), MANIFEST]
    reader = SessionReader(tmp_path / "s")
    assert len(reader) == 1000 and reader.fps == FPS and reader.complete
    assert reader.meta == {"source": "synthetic"} and not reader.recovered
    for i in (0, 3, 99, 100, 101, 250, 499, 500, 998, -1):
        frame = reader.frame(i)
        position = i % 1000
        assert frame.index == 1000 + position
        assert frame.timestamp == pytest.approx(position / FPS)
        assert frame.timings_ms == {"detect": 2.0 * position}
        expected = people_of(position)
        assert len(frame.people) == len(expected)
        for got, want in zip(frame.people, expected):
            assert_same(got, want)
    with pytest.raises(IndexError):
        reader.frame(1000)
    assert reader.track_ids() == {0: 1000 - 143, 1: 400}
    track = reader.track(1)
    assert len(track) == 400 and track.pose.shape == (400, 72)
    assert track.betas.shape == (400, 10) and track.keypoints.shape == (400, 33, 2)
    assert np.array_equal(track.frames, np.arange(100, 500))
    assert np.array_equal(track.index, 1000 + np.arange(100, 500))
    assert track.pose[:, 0] == pytest.approx(np.arange(100, 500) + 0.1)
    track0 = reader.track(0)
    assert 3 not in track0.frames and len(track0) == 857
    assert len(reader.track(7)) == 0


def test_session_folder_is_never_overwritten(tmp_path) -> None:
    record(tmp_path / "s", 10).close()
    with pytest.raises(StudioError, match="already holds a recorded session"):
        SessionWriter(tmp_path / "s", FPS)


def test_crash_before_close_keeps_written_chunks(tmp_path) -> None:
    record(tmp_path / "s", 250)  # never closed: the last 50 frames were only buffered
    reader = SessionReader(tmp_path / "s")
    assert len(reader) == 200 and not reader.complete
    assert_same(reader.frame(198).people[0], synthetic(198, 0))


@pytest.mark.parametrize("damage", ["missing", "truncated", "foreign"])
def test_lost_manifest_is_rebuilt_from_chunks(tmp_path, damage) -> None:
    record(tmp_path / "s", 350).close()
    manifest = tmp_path / "s" / MANIFEST
    if damage == "missing":
        manifest.unlink()
    elif damage == "truncated":
        manifest.write_bytes(manifest.read_bytes()[:40])
    else:
        manifest.write_text(json.dumps({"format": "something-else"}))
    reader = SessionReader(tmp_path / "s")
    assert reader.recovered and reader.damaged == [] and not reader.complete
    assert len(reader) == 350 and reader.fps == FPS and reader.meta == {"source": "synthetic"}
    assert_same(reader.frame(349).people[0], synthetic(349, 0))
    assert reader.track_ids()[1] == 250


def test_damaged_chunks(tmp_path) -> None:
    record(tmp_path / "s", 300).close()
    chunk = tmp_path / "s" / "chunk-000001.npz"
    chunk.write_bytes(chunk.read_bytes()[:1000])
    reader = SessionReader(tmp_path / "s")  # the manifest still lists the chunk
    assert reader.frame(50).index == 1050
    with pytest.raises(StudioError, match="damaged session chunk"):
        reader.frame(150)
    (tmp_path / "s" / MANIFEST).unlink()
    recovered = SessionReader(tmp_path / "s")  # rebuilt around the damaged chunk
    assert recovered.damaged == ["chunk-000001.npz"] and len(recovered) == 200
    assert recovered.frame(150).index == 1250
    (tmp_path / "empty").mkdir()
    with pytest.raises(StudioError, match="not a recorded session"):
        SessionReader(tmp_path / "empty")
    with pytest.raises(StudioError, match="no such session folder"):
        SessionReader(tmp_path / "none")


def test_full_disk_stops_recording_and_keeps_what_was_written(tmp_path) -> None:
    """The disk fills while the third chunk is written: nothing more can be written, not
    even the manifest, so the one written after the second chunk stays in force."""
    full = False

    def write_bytes(path, payload: bytes) -> None:
        nonlocal full
        full = full or path.name == "chunk-000002.npz"
        if full:
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        atomic_write_bytes(path, payload)

    writer = SessionWriter(tmp_path / "s", FPS, chunk_frames=100, write_bytes=write_bytes)
    with pytest.raises(StudioError, match="No space left on device.*first 200 frames are "
                                          "kept, the last 100 were lost"):
        for i in range(1000):
            writer.append(i, i / FPS, people_of(i))
    assert i == 299  # stopped at the append that filled the third chunk
    with pytest.raises(StudioError, match="recording stopped"):
        writer.append(300, 10.0, [])
    writer.close()  # quiet: the error was reported when it happened
    assert sorted(p.name for p in (tmp_path / "s").iterdir()) == [
        "chunk-000000.npz", "chunk-000001.npz", MANIFEST]
    reader = SessionReader(tmp_path / "s")
    assert len(reader) == 200 and not reader.recovered and not reader.complete
    assert_same(reader.frame(198).people[0], synthetic(198, 0))


def test_chunks_written_after_the_last_manifest_are_read(tmp_path) -> None:
    """The third chunk is written, then the manifest cannot be updated any more."""
    def write_bytes(path, payload: bytes) -> None:
        if path.name == MANIFEST and (path.parent / "chunk-000002.npz").exists():
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        atomic_write_bytes(path, payload)

    with pytest.raises(StudioError, match=f"cannot update {MANIFEST}.*300 frames are kept"):
        record(tmp_path / "s", 400, write_bytes=write_bytes)
    reader = SessionReader(tmp_path / "s")
    assert reader.recovered and len(reader) == 300
    assert_same(reader.frame(299).people[0], synthetic(299, 0))


def test_stop_reason_is_kept_when_the_manifest_can_still_be_written(tmp_path) -> None:
    def write_bytes(path, payload: bytes) -> None:
        if path.name == "chunk-000001.npz":
            raise OSError(errno.EIO, "Input/output error", str(path))
        atomic_write_bytes(path, payload)

    with pytest.raises(StudioError, match="Input/output error"):
        record(tmp_path / "s", 300, write_bytes=write_bytes)
    reader = SessionReader(tmp_path / "s")
    assert len(reader) == 100 and "chunk-000001.npz" in reader.stopped
