"""A captured motion leaving the studio: one track of a recorded session as an AMASS-style
npz, a BVH, a skinned animated GLB or a folder of OBJ frames, the format picked by the
destination's name. ``studio capture --export`` and ``studio capture --session DIR
--export`` write through :func:`export_track` and :func:`export_session`, and so can the
window: neither touches Qt, and both report progress through a callback.

Destinations (:func:`motion_format`):

- ``take.npz``: AMASS keys (:func:`studio.io.frames.motion_npz_bytes`) plus
  ``frame_betas`` [N,10] (each frame's own shape), ``frame_index`` [N] (the source's frame
  numbers) and ``timestamps`` [N] seconds; camera axes, as the pipeline's parameters.
- ``take.bvh``: :mod:`studio.io.bvh`; ``take.glb``: :mod:`studio.io.animation_glb`, with
  the capture's fixed image camera when the session says what it was (its ``focal`` and
  ``image_size``).
- A folder of OBJ frames (:func:`studio.io.frames.obj_frames`, ``frame_000000.obj`` ...):
  a destination ending in a path separator (``take/``), naming an existing folder, or
  without a suffix (``take``). The folder must be new or empty; frames are written into a
  hidden folder beside it that takes its name only once every frame is written.

BVH, GLB and OBJ frames are y up (:mod:`studio.io.axes`). Every format holds the track's
frames, one per recorded frame the person was seen in, at the session's rate
(:func:`session_rate`); a frame where the person was not found is left out, not filled in.
A failed or cancelled export (the progress callback may raise) leaves nothing behind.
"""
from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Callable
from pathlib import Path

import numpy as np

from studio.body.model import BodyData
from studio.body.registry import find_body_model
from studio.errors import ModelFileError, StudioError
from studio.io.animation_glb import animation_glb_bytes
from studio.io.bvh import bvh_bytes
from studio.io.frames import obj_frames
from studio.io.motion import Motion
from studio.io.output import check_creatable, check_output_file, write_output
from studio.io.session import SessionReader, TrackArrays
from studio.io.smpl_params import smpl_npz_bytes
from studio.pipeline.crops import ImageCamera
from studio.pipeline.people import NoPersonFound

MOTION_TYPES = (".npz", ".bvh", ".glb")
OBJ_FOLDER = "obj"  # motion_format's answer for a folder of OBJ frames
FORMS = "OUT.npz, OUT.bvh, OUT.glb or a folder DIR/ for OBJ frames"

Progress = Callable[[int, int], None]  # (frames done, frames in all)


def motion_format(path: str | Path) -> str:
    """``".npz"``, ``".bvh"``, ``".glb"`` or :data:`OBJ_FOLDER`, as the module's list of
    destinations says; a StudioError for any other suffix."""
    text = os.fspath(path)
    path = Path(text)
    if text.endswith(("/", os.sep)) or path.is_dir() or not path.suffix:
        return OBJ_FOLDER
    if path.suffix.lower() not in MOTION_TYPES:
        raise StudioError(f"{path}: unsupported type (use {FORMS})")
    return path.suffix.lower()


def check_motion_destination(path: str | Path, what: str = "") -> str:
    """Raise a StudioError, before any work, unless a motion could be exported to
    ``path``; ``what`` (a command-line flag) starts the message. Returns the format."""
    fmt = motion_format(path)
    path = Path(path)
    name = f"{what} {path}" if what else str(path)
    if fmt != OBJ_FOLDER:
        check_output_file(path, MOTION_TYPES, what)
    elif path.exists() and not path.is_dir():
        raise StudioError(f"{name}: a file has that name; OBJ frames need a folder")
    elif path.is_dir() and any(path.iterdir()):
        raise StudioError(f"{name}: the folder is not empty; choose a new or empty folder "
                          "for the OBJ frames")
    else:
        check_creatable(path.parent, f"{name}: cannot create the folder")
    return fmt


def session_rate(reader: SessionReader) -> float:
    """Frames per second the session was recorded at: its timestamps' rate (a webcam's
    real rate is the processing rate), or the source's rate for a single frame."""
    if len(reader) < 2:
        return reader.fps
    span = reader.frame(-1).timestamp - reader.frame(0).timestamp
    return (len(reader) - 1) / span if span > 0 else reader.fps


def chosen_track(reader: SessionReader, track_id: int | None, path: Path) -> int:
    """``track_id``, checked, or by default the track seen in most frames (the earliest
    on ties); NoPersonFound (exit 4) when nobody was recorded."""
    counts = reader.track_ids()
    if not counts:
        raise NoPersonFound(f"nobody was found in {len(reader)} frames; {path} not written")
    if track_id is None:
        return max(counts, key=lambda k: (counts[k], -k))
    if track_id not in counts:
        raise StudioError(f"track {track_id}: no such track (tracks: "
                          f"{', '.join(map(str, counts))}); {path} not written")
    return track_id


def session_body(name: str) -> BodyData:
    """The body model a session was recorded with, by its name (``mannequin``,
    ``smpl-neutral``, ...); an SMPL body comes from its SMPL file or, failing that, the
    official PyMAF checkpoint that embeds it."""
    try:
        return find_body_model(name or "mannequin")
    except ModelFileError:
        from studio.body.smpl_files import load_pymaf_checkpoint_body
        from studio.nets.model_registry import find_official_checkpoint

        checkpoint = find_official_checkpoint()
        if name != "smpl-neutral" or checkpoint is None:
            raise
        return load_pymaf_checkpoint_body(checkpoint)


def export_track(reader: SessionReader, out: str | Path, track_id: int | None = None,
                 progress: Progress | None = None, body: BodyData | None = None) -> dict:
    """Write one track of the session ``reader`` reads to ``out`` (format by its name, as
    :func:`motion_format`); ``body`` (default: the session's, by name) poses BVH, GLB and
    OBJ frames. Returns what was written: ``path``, ``format`` (npz, bvh, glb, obj),
    ``track``, ``frames``, ``fps``."""
    fmt = check_motion_destination(out)
    path = Path(out)
    track_id = chosen_track(reader, track_id, path)
    track = reader.track(track_id)
    fps, frames = session_rate(reader), len(track)
    report = progress or (lambda done, total: None)
    report(0, frames)
    if fmt == ".npz":
        write_output(path, smpl_npz_bytes(
            track.pose, track.betas.mean(axis=0), track.translation, fps,
            reader.meta.get("body", ""), frame_betas=track.betas.astype(np.float32),
            frame_index=track.index.astype(np.int64), timestamps=track.timestamp))
    else:
        motion = track_motion(track, fps, body or session_body(reader.meta.get("body", "")))
        if fmt == OBJ_FOLDER:
            _write_obj_folder(motion, path, report)
        else:
            write_output(path, _motion_file_bytes(motion, fmt, reader.meta))
    if fmt != OBJ_FOLDER:
        report(frames, frames)
    return {"path": os.fspath(out), "format": fmt.lstrip("."), "track": track_id,
            "frames": frames, "fps": fps}


def export_session(session: str | Path, out: str | Path, track_id: int | None = None,
                   progress: Progress | None = None, body: BodyData | None = None) -> dict:
    """Export one track of the recorded session folder ``session`` (what ``studio capture
    --record`` and the window's Record write) to ``out``: see :func:`export_track`, whose
    answer this returns. ``out`` is checked before the session is read."""
    check_motion_destination(out)
    return export_track(SessionReader(session), out, track_id, progress, body)


def track_motion(track: TrackArrays, fps: float, body: BodyData) -> Motion:
    """The track's frames as a motion (one shape: the mean of the frames')."""
    return Motion(track.pose, track.betas.mean(axis=0), track.translation, fps, body)


def _motion_file_bytes(motion: Motion, fmt: str, meta: dict) -> bytes:
    """BVH, or GLB with the session's camera when its meta says what it was."""
    if fmt == ".bvh":
        return bvh_bytes(motion)
    size, focal = meta.get("image_size"), meta.get("focal")
    if not (size and focal):
        return animation_glb_bytes(motion)
    width, height = size
    camera = ImageCamera(float(focal), (width / 2, height / 2), (0.0, 0.0, 0.0))
    return animation_glb_bytes(motion, camera, (width, height))


def _write_obj_folder(motion: Motion, folder: Path, report: Progress) -> None:
    """OBJ frames into a hidden folder beside ``folder``, renamed to it when complete."""
    staging = folder.parent / f".{folder.name}.{uuid.uuid4().hex[:8]}.studio-part"
    try:
        staging.mkdir(parents=True)
        for k, (name, payload) in enumerate(obj_frames(motion)):
            (staging / name).write_bytes(payload)
            report(k + 1, motion.num_frames)
        os.replace(staging, folder)  # onto a missing or empty folder
    except OSError as err:
        raise StudioError(f"{folder}: cannot write the OBJ frames ({err.strerror or err}); "
                          "none was written") from err
    finally:
        shutil.rmtree(staging, ignore_errors=True)
