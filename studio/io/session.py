"""Recording a capture session to disk as it runs, and reading it back.

A recording may last an hour, so nothing grows in memory with its length: frames are
buffered until a chunk is full, the chunk is written as one npz file, then the manifest
is rewritten; both atomically, so a crash or a full disk loses at most the frames of the
chunk being filled and never leaves a damaged file behind.

Layout of a session folder::

    manifest.json        {"format": "studio-session-1", "fps", "meta", "chunk_frames",
                          "frames", "complete", "stopped", "chunks": [{"file", "first",
                          "frames", "people"}, ...]}
    chunk-000000.npz     frames 0 .. chunk_frames-1
    chunk-000001.npz     ...

Each chunk holds, for its F frames and the R people seen in them (people in frame order):
``header`` (the manifest's format, fps and meta as JSON bytes, so chunks alone can be
read if the manifest is lost), ``frame_index`` [F] (the source's frame numbers),
``timestamp`` [F] seconds, ``people`` [F] people per frame, ``frame_timings`` [F,S] ms
named by ``frame_timing_names`` [S] (NaN: stage not run), and per person ``track_id``
[R], ``box`` [R,4], ``pose`` [R,72], ``betas`` [R,10], ``cam`` [R,3], ``translation``
[R,3], ``keypoints`` [R,33,2], ``landmarks`` [R,33,2], ``visibility`` [R,33] (see
:class:`studio.pipeline.tracking.TrackedPerson`) and ``person_timings`` [R,S'] named by
``person_timing_names``.
"""
from __future__ import annotations

import bisect
import io
import json
import zipfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from studio.body.storage import atomic_write_bytes
from studio.errors import StudioError
from studio.io.output import check_creatable
from studio.pipeline.tracking import TrackedPerson

FORMAT = "studio-session-1"
MANIFEST = "manifest.json"
CHUNK_FRAMES = 100
CHUNK_PATTERN = "chunk-*.npz"
PERSON_FIELDS = {"box": (4,), "pose": (72,), "betas": (10,), "cam": (3,),
                 "translation": (3,), "keypoints": (33, 2), "landmarks": (33, 2),
                 "visibility": (33,)}

WriteBytes = Callable[[Path, bytes], None]


def _chunk_name(k: int) -> str:
    return f"chunk-{k:06d}.npz"


def check_new_session(folder: str | Path) -> None:
    """Raise a StudioError, before any slow work, if a new session could not be recorded
    into ``folder``: it holds one already (never overwritten), or cannot be created."""
    folder = Path(folder)
    if (folder / MANIFEST).exists() or any(folder.glob(CHUNK_PATTERN)):
        raise StudioError(f"{folder}: already holds a recorded session; choose a new folder")
    check_creatable(folder, f"{folder}: cannot record a session there")


@dataclass
class SessionFrame:
    """One recorded frame."""

    index: int  # the source's frame number
    timestamp: float  # seconds
    people: list[TrackedPerson]
    timings_ms: dict[str, float]


@dataclass
class TrackArrays:
    """Every recorded frame of one track, stacked: N frames, in recording order."""

    track_id: int
    frames: np.ndarray  # [N] positions in the session (what SessionReader.frame takes)
    index: np.ndarray  # [N] the source's frame numbers
    timestamp: np.ndarray  # [N] seconds
    box: np.ndarray  # [N,4]
    pose: np.ndarray  # [N,72]
    betas: np.ndarray  # [N,10]
    cam: np.ndarray  # [N,3]
    translation: np.ndarray  # [N,3]
    keypoints: np.ndarray  # [N,33,2]
    landmarks: np.ndarray  # [N,33,2]
    visibility: np.ndarray  # [N,33]

    def __len__(self) -> int:
        return len(self.frames)


def _timing_table(timings: Sequence[Mapping[str, float]]) -> tuple[np.ndarray, np.ndarray]:
    """Dicts of stage -> ms as ([N,S] float32 with NaN for missing stages, [S] names)."""
    names = sorted({name for t in timings for name in t})
    table = np.full((len(timings), len(names)), np.nan, np.float32)
    for row, t in enumerate(timings):
        for col, name in enumerate(names):
            table[row, col] = t.get(name, np.nan)
    return table, np.array(names, dtype=str)


def _timings_of(row: np.ndarray, names: np.ndarray) -> dict[str, float]:
    return {str(n): float(v) for n, v in zip(names, row) if not np.isnan(v)}


class SessionWriter:
    """Streams frames into a new session folder; ``close`` (or leaving ``with``) writes
    the last chunk and marks the session complete.

    When a write fails (a full disk), recording stops: the chunks already written stay
    readable, and this ``append`` and every later one raise a StudioError saying so.
    ``write_bytes`` writes one file atomically; tests replace it to simulate a full disk.
    """

    def __init__(self, folder: str | Path, fps: float, meta: Mapping | None = None,
                 chunk_frames: int = CHUNK_FRAMES,
                 write_bytes: WriteBytes = atomic_write_bytes) -> None:
        self.folder = Path(folder)
        self.fps = float(fps)
        self.meta = dict(meta or {})
        self.chunk_frames = chunk_frames
        self._write = write_bytes
        self._frames: list[tuple[int, float, list[TrackedPerson], dict[str, float]]] = []
        self._chunks: list[dict] = []
        self.written = 0  # frames safely on disk
        self._stopped: str | None = None
        self._closed = False
        check_new_session(self.folder)
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            self._write_manifest()
        except OSError as err:
            raise StudioError(f"{self.folder}: cannot start the session "
                              f"({err.strerror or err})") from err

    @property
    def frames(self) -> int:
        """Frames appended so far (written or buffered)."""
        return self.written + len(self._frames)

    def __enter__(self) -> SessionWriter:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def append(self, frame_index: int, timestamp: float, people: Iterable[TrackedPerson],
               timings_ms: Mapping[str, float] | None = None) -> None:
        """Add one frame (people may be empty: nobody was found); writes a chunk when
        one is full."""
        if self._stopped is not None:
            raise StudioError(self._stopped)
        if self._closed:
            raise StudioError(f"{self.folder}: the session is closed")
        self._frames.append((int(frame_index), float(timestamp), list(people),
                             dict(timings_ms or {})))
        if len(self._frames) >= self.chunk_frames:
            self.flush()

    def flush(self) -> None:
        """Write the buffered frames as a chunk now, and the manifest after it."""
        if not self._frames or self._stopped is not None:
            return
        name = _chunk_name(len(self._chunks))
        try:
            self._write(self.folder / name, self._chunk_bytes())
        except OSError as err:
            lost = len(self._frames)
            self._frames = []
            self._stopped = (f"{self.folder}: recording stopped, cannot write {name} "
                             f"({err.strerror or err}); the first {self.written} frames are "
                             f"kept, the last {lost} were lost")
            try:
                self._write_manifest()
            except OSError:
                pass  # the previous manifest stays valid: it lists every chunk written
            raise StudioError(self._stopped) from err
        people = sum(len(p) for _, _, p, _ in self._frames)
        self._chunks.append({"file": name, "first": self.written,
                             "frames": len(self._frames), "people": people})
        self.written += len(self._frames)
        self._frames = []
        try:
            self._write_manifest()
        except OSError as err:  # the chunk is on disk; a reader can rebuild the index
            self._stopped = (f"{self.folder}: recording stopped, cannot update {MANIFEST} "
                             f"({err.strerror or err}); {self.written} frames are kept")
            raise StudioError(self._stopped) from err

    def close(self) -> None:
        """Write what is buffered and mark the session complete; does nothing more after
        a failed write (the error was raised then) or a second time."""
        if self._closed or self._stopped is not None:
            self._closed = True
            return
        self.flush()
        self._closed = True
        self._write_manifest()

    def _header(self) -> dict:
        return {"format": FORMAT, "fps": self.fps, "meta": self.meta}

    def _write_manifest(self) -> None:
        manifest = {**self._header(), "chunk_frames": self.chunk_frames,
                    "frames": self.written, "complete": self._closed,
                    "stopped": self._stopped, "chunks": self._chunks}
        self._write(self.folder / MANIFEST, json.dumps(manifest, indent=1).encode())

    def _chunk_bytes(self) -> bytes:
        frames = self._frames
        people = [p for _, _, group, _ in frames for p in group]
        frame_timings, frame_names = _timing_table([t for _, _, _, t in frames])
        person_timings, person_names = _timing_table([p.timings_ms for p in people])
        arrays = {
            "header": np.frombuffer(json.dumps(self._header()).encode(), np.uint8),
            "frame_index": np.array([f[0] for f in frames], np.int64),
            "timestamp": np.array([f[1] for f in frames], np.float64),
            "people": np.array([len(f[2]) for f in frames], np.int32),
            "frame_timings": frame_timings, "frame_timing_names": frame_names,
            "track_id": np.array([p.track_id for p in people], np.int64),
            "person_timings": person_timings, "person_timing_names": person_names,
        }
        for key, shape in PERSON_FIELDS.items():
            arrays[key] = np.array([getattr(p, key) for p in people],
                                   np.float32).reshape(len(people), *shape)
        buf = io.BytesIO()
        np.savez(buf, **arrays)
        return buf.getvalue()


def _load_chunk(path: Path) -> dict[str, np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as npz:
            return {key: npz[key] for key in npz.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as err:
        raise StudioError(f"{path}: damaged session chunk ({err})") from err


def _header_of(chunk: dict[str, np.ndarray], path: Path) -> dict:
    try:
        header = json.loads(bytes(chunk["header"]).decode())
    except (KeyError, ValueError) as err:
        raise StudioError(f"{path}: not a session chunk") from err
    if header.get("format") != FORMAT:
        raise StudioError(f"{path}: not a {FORMAT} chunk")
    return header


class SessionReader:
    """A recorded session, frame by frame or track by track, one chunk in memory at a time.

    The manifest is the index. Chunk files written after its last update (the recording
    stopped in between) are read too, and without a readable manifest (lost in a copy,
    damaged by hand) the session is rebuilt from its chunk files alone: ``recovered`` is
    then True, and ``damaged`` lists chunk files left out because they could not be read.
    """

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        if not self.folder.is_dir():
            raise StudioError(f"{self.folder}: no such session folder")
        self.damaged: list[str] = []
        self._cache: tuple[int, dict[str, np.ndarray]] | None = None
        manifest = self._read_manifest()
        self.recovered = manifest is None
        if manifest is None:
            chunks, header = self._scan(sorted(self.folder.glob(CHUNK_PATTERN)), 0)
            if header is None:
                raise StudioError(f"{self.folder}: not a recorded session (no readable "
                                  f"{MANIFEST} and no readable chunk files)")
            manifest = {**header, "chunks": chunks}
        else:
            unlisted = self._unlisted(manifest["chunks"])
            self.recovered = bool(unlisted)
            manifest["chunks"] += unlisted
        self.fps: float = float(manifest["fps"])
        self.meta: dict = manifest["meta"]
        self.complete: bool = bool(manifest.get("complete", False))
        self.stopped: str | None = manifest.get("stopped")
        self._chunks: list[dict] = manifest["chunks"]
        self._starts = [c["first"] for c in self._chunks]
        self._length = sum(c["frames"] for c in self._chunks)

    def _read_manifest(self) -> dict | None:
        try:
            manifest = json.loads((self.folder / MANIFEST).read_text())
        except (OSError, ValueError):
            return None
        if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
            return None
        return manifest

    def _unlisted(self, listed: list[dict]) -> list[dict]:
        """Index entries of the chunks written after the manifest's last update."""
        paths: list[Path] = []
        while (path := self.folder / _chunk_name(len(listed) + len(paths))).is_file():
            paths.append(path)
        return self._scan(paths, sum(c["frames"] for c in listed))[0]

    def _scan(self, paths: list[Path], first: int) -> tuple[list[dict], dict | None]:
        """Index entries for chunk files, numbered on from session frame ``first``, and
        their header (None if none is readable); unreadable files go to ``damaged``."""
        chunks, header = [], None
        for path in paths:
            try:
                chunk = _load_chunk(path)
                found = _header_of(chunk, path)
            except StudioError:
                self.damaged.append(path.name)
                continue
            header = header or found
            frames = len(chunk["frame_index"])
            chunks.append({"file": path.name, "first": first, "frames": frames,
                           "people": len(chunk["track_id"])})
            first += frames
        return chunks, header

    def __len__(self) -> int:
        return self._length

    def _chunk(self, k: int) -> dict[str, np.ndarray]:
        if self._cache is None or self._cache[0] != k:
            path = self.folder / self._chunks[k]["file"]
            if not path.is_file():
                raise StudioError(f"{path}: the session lists this chunk but it is missing")
            self._cache = (k, _load_chunk(path))
        return self._cache[1]

    def frame(self, i: int) -> SessionFrame:
        """The ``i``-th recorded frame (negative ``i`` counts from the end)."""
        if not -self._length <= i < self._length:
            raise IndexError(f"frame {i}: the session has {self._length} frames")
        i %= self._length
        k = bisect.bisect_right(self._starts, i) - 1
        chunk = self._chunk(k)
        row = i - self._starts[k]
        begin = int(chunk["people"][:row].sum())
        people = [self._person(chunk, r)
                  for r in range(begin, begin + int(chunk["people"][row]))]
        return SessionFrame(index=int(chunk["frame_index"][row]),
                            timestamp=float(chunk["timestamp"][row]), people=people,
                            timings_ms=_timings_of(chunk["frame_timings"][row],
                                                   chunk["frame_timing_names"]))

    @staticmethod
    def _person(chunk: dict[str, np.ndarray], r: int) -> TrackedPerson:
        return TrackedPerson(track_id=int(chunk["track_id"][r]),
                             **{key: chunk[key][r] for key in PERSON_FIELDS},
                             timings_ms=_timings_of(chunk["person_timings"][r],
                                                    chunk["person_timing_names"]))

    def track_ids(self) -> dict[int, int]:
        """Every track id, in order of first appearance, with its number of frames."""
        counts: dict[int, int] = {}
        for k in range(len(self._chunks)):
            for track_id in self._chunk(k)["track_id"].tolist():
                counts[track_id] = counts.get(track_id, 0) + 1
        return counts

    def track(self, track_id: int) -> TrackArrays:
        """One track's recorded frames as stacked arrays (empty when it never appears)."""
        if not self._chunks:
            return TrackArrays(track_id, np.zeros(0, np.int64), np.zeros(0, np.int64),
                               np.zeros(0), **{key: np.zeros((0, *shape), np.float32)
                                               for key, shape in PERSON_FIELDS.items()})
        parts: dict[str, list[np.ndarray]] = {key: [] for key in
                                              ("frames", "index", "timestamp", *PERSON_FIELDS)}
        for k, info in enumerate(self._chunks):
            chunk = self._chunk(k)
            rows = np.flatnonzero(chunk["track_id"] == track_id)
            frame_of_row = np.repeat(np.arange(len(chunk["people"])), chunk["people"])[rows]
            parts["frames"].append(frame_of_row + info["first"])
            parts["index"].append(chunk["frame_index"][frame_of_row])
            parts["timestamp"].append(chunk["timestamp"][frame_of_row])
            for key in PERSON_FIELDS:
                parts[key].append(chunk[key][rows])
        return TrackArrays(track_id, **{key: np.concatenate(v) for key, v in parts.items()})
