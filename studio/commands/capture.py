"""``studio capture``: live capture without a window, from a webcam, a video or a folder.

Each frame goes through the single-image pipeline (MediaPipe people, the mesh regressor),
people are followed across frames by track ids, optionally smoothed, and streamed into a
session folder (:mod:`studio.io.session`), so an hour-long capture keeps memory flat. One
track is exported at the end, read back from the session, as an AMASS-style npz, a BVH, a
skinned animated GLB or a folder of OBJ frames (:mod:`studio.io.motion_export`).
``--session DIR`` exports a recorded session (``--record``'s, or the window's Record)
the same way without capturing.

Frames with nobody in them and damaged frames are counted, never fatal. Ctrl-C ends the
capture like the end of the source (the session is closed and the export written); a lost
source does too, and then exits with status 5.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from tqdm import tqdm

from studio.commands.run import add_fit_camera_option, add_refine_option, default_model
from studio.errors import StudioError
from studio.io.motion_export import (FORMS, check_motion_destination, export_session,
                                     export_track)
from studio.io.session import SessionReader, SessionWriter, check_new_session
from studio.nets import model_registry
from studio.pipeline.people import MAX_PEOPLE, NoPersonFound, TrackingPersonFinder, shared_finder
from studio.pipeline.people_tracking import PeopleTracker
from studio.pipeline.single_image import PeopleFinder, run_image, timed
from studio.pipeline.smoothing import SmoothingSettings
from studio.pipeline.sources import SOURCE_FORMS, FrameSource, SourceLost, parse_source
from studio.pipeline.tracking import default_focal

DEFAULTS = SmoothingSettings()


def _resolution(text: str) -> tuple[int, int]:
    width, _, height = text.lower().partition("x")
    if not (width.isdigit() and height.isdigit()) or not (int(width) and int(height)):
        raise argparse.ArgumentTypeError(f"{text!r}: expected WIDTHxHEIGHT, e.g. 640x480")
    return int(width), int(height)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "capture", help="recover meshes frame by frame from a webcam, video or image folder",
        description="Read frames from a source, find the people in each (MediaPipe Pose), "
                    "run a mesh regressor, follow each person across frames by a track id, "
                    "optionally smooth the parameters (One-Euro filter), record every frame "
                    "to a session folder and export one track (an AMASS-style npz, a BVH, a "
                    "skinned animated GLB or a folder of OBJ frames; BVH, GLB and OBJ y up). "
                    "With --session DIR instead of --source, export a recorded session "
                    "without capturing. Frames "
                    "with nobody in them are counted and recorded empty. Ctrl-C stops the "
                    "capture and still writes the session and the export. Exit status 5: "
                    "the source was lost (camera unplugged, file cut short) after what was "
                    "captured so far was written.")
    parser.add_argument("--source", metavar="SPEC",
                        help=f"{SOURCE_FORMS} (e.g. webcam:0, video:walk.mp4, folder:frames/)")
    parser.add_argument("--session", type=Path, metavar="DIR",
                        help="instead of capturing, export a recorded session folder (from "
                             "--record or the window's Live > Record) with --export")
    parser.add_argument("--frames", type=int, default=0, metavar="N",
                        help="stop after N frames (default 0: at the end of the source, or "
                             "on Ctrl-C for a webcam)")
    parser.add_argument("--loop", action="store_true",
                        help="start a video over at its end (a stand-in for a webcam)")
    parser.add_argument("--resolution", type=_resolution, default=(640, 480),
                        metavar="WxH", help="resolution asked of a webcam (default 640x480)")
    parser.add_argument("--model", metavar="NAME",
                        help="model name or .pt file, as for `studio run` (default: "
                             "official-pymaf if its checkpoint is found, else "
                             "builtin-pymaf-proxy)")
    parser.add_argument("--checkpoint", type=Path, metavar="PATH",
                        help="weights file to use for the named model")
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    parser.add_argument("--max-people", type=int, default=1, metavar="N",
                        help="1 (the default): MediaPipe's video mode follows one person, "
                             "fast; more: search every frame for up to N people (at most "
                             f"{MAX_PEOPLE} are useful), several times slower")
    add_fit_camera_option(parser)
    add_refine_option(parser, default=False)
    parser.add_argument("--record", type=Path, metavar="DIR",
                        help="record every frame's people to this new session folder "
                             "(chunked npz files and manifest.json)")
    parser.add_argument("--export", metavar="OUT",
                        help="write one track, its N frames at the recorded rate, as the name "
                             "says: OUT.npz (AMASS-style: poses Nx72, betas (the track's "
                             "mean), frame_betas Nx10, trans Nx3 in one fixed camera, "
                             "mocap_framerate, gender, frame_index, timestamps), OUT.bvh "
                             "(SMPL skeleton, centimetres), OUT.glb (skinned, animated, with "
                             "the camera), or a folder, new or empty, of OBJ frames: a name "
                             "ending in / or without a suffix (frames/ -> "
                             "frames/frame_000000.obj, ...)")
    parser.add_argument("--track", type=int, metavar="ID",
                        help="track to export (default: the one seen in most frames, the "
                             "earliest on ties)")
    parser.add_argument("--smooth", action="store_true",
                        help="smooth pose, shape, camera and translation over time")
    parser.add_argument("--min-cutoff", type=float, default=DEFAULTS.min_cutoff, metavar="HZ",
                        help=f"smoothing at rest: lower is steadier, laggier "
                             f"(default {DEFAULTS.min_cutoff})")
    parser.add_argument("--beta", type=float, default=DEFAULTS.beta,
                        help=f"how much fast motion lowers the smoothing (default "
                             f"{DEFAULTS.beta})")
    parser.add_argument("--d-cutoff", type=float, default=DEFAULTS.d_cutoff, metavar="HZ",
                        help=f"smoothing of the speed estimate (default {DEFAULTS.d_cutoff})")
    parser.add_argument("--threads", type=int, default=0, metavar="N",
                        help="CPU threads for torch (default 0: chosen from the usable cores and "
                             "the other processes' load, shown in --json)")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    parser.set_defaults(func=_run)


@dataclass
class CaptureStats:
    """What happened to the frames, for the summary."""

    read: int = 0
    processed: int = 0  # frames with at least one person
    no_person: int = 0
    people: int = 0  # person detections over all frames
    tracks: Counter = field(default_factory=Counter)  # track id -> frames seen
    stage_ms: Counter = field(default_factory=Counter)  # stage -> summed milliseconds
    stage_runs: Counter = field(default_factory=Counter)  # stage -> frames it ran in
    stopped: str = "end of source"
    elapsed_s: float = 0.0


def capture(source: FrameSource, model: model_registry.LoadedModel, finder: PeopleFinder,
            people_tracker: PeopleTracker, writer: SessionWriter | None, limit: int,
            max_people: int, bar: tqdm, fit_camera: bool = True, refine: bool = False
            ) -> tuple[CaptureStats, SourceLost | None]:
    """Run frames from the opened ``source`` until it ends, ``limit`` frames (0: no
    limit) or Ctrl-C; returns the counts and, if the source was lost, why.
    ``fit_camera`` and ``refine`` as for :func:`studio.pipeline.single_image.run_person`
    (the refined step, when on, is what is tracked and recorded)."""
    stats = CaptureStats()
    lost = None
    start = time.perf_counter()
    try:
        while not limit or stats.read < limit:
            timings: dict[str, float] = {}
            with timed(timings, "read"):
                frame = source.read()
            if frame is None:
                break
            stats.read += 1
            try:
                with timed(timings, "process"):
                    result = run_image(model, frame.image, finder, max_people, overlay=False,
                                       fit_camera=fit_camera, refine=refine)
                people = result.people
                timings.update(result.timings_ms)
                stats.processed += 1
            except NoPersonFound:
                people = []
                stats.no_person += 1
            tracked = people_tracker.update(people, frame)
            if writer is not None:
                writer.append(frame.index, frame.timestamp, tracked, timings)
            stats.people += len(tracked)
            stats.tracks.update(p.track_id for p in tracked)
            stats.stage_ms.update(timings)
            stats.stage_runs.update(timings.keys())
            bar.update(1)
            bar.set_postfix(people=len(tracked), tracks=len(people_tracker.tracker.tracks),
                            refresh=False)
        else:
            stats.stopped = "frame limit"
    except SourceLost as err:
        stats.stopped, lost = "source lost", err
    except KeyboardInterrupt:
        stats.stopped = "interrupted"
    stats.elapsed_s = time.perf_counter() - start
    return stats, lost


def _check_arguments(args: argparse.Namespace) -> None:
    """Everything that can be checked before the slow model load."""
    if args.session is not None:
        if args.source is not None or args.record is not None:
            raise StudioError("--session exports a recorded session; --source and --record "
                              "are for capturing")
        if args.export is None:
            raise StudioError(f"--session needs --export ({FORMS})")
    elif args.source is None:
        raise StudioError("give --source SPEC to capture, or --session DIR with --export "
                          "to export a recorded session")
    if args.frames < 0:
        raise StudioError("--frames must be 0 (no limit) or more")
    if args.threads < 0:
        raise StudioError("--threads must be at least 0")
    if args.max_people < 1:
        raise StudioError("--max-people must be at least 1")
    if min(args.min_cutoff, args.d_cutoff) <= 0 or args.beta < 0:
        raise StudioError("--min-cutoff and --d-cutoff must be above 0, --beta 0 or more")
    if args.export is not None:
        check_motion_destination(args.export, "--export")
    if args.record is not None:
        check_new_session(args.record)


def _summary(info: dict) -> str:
    frames, source = info["frames"], info["source"]
    lines = [f"source {source['description']}: {source['width']}x{source['height']} at "
             f"{source['fps']:.1f} fps; model {info['model']['name']}",
             f"frames: {frames['read']} read, {frames['processed']} with people, "
             f"{frames['no_person']} with nobody, {frames['skipped']} damaged and skipped "
             f"({info['stopped']})",
             f"{info['people']} people in {len(info['tracks'])} tracks; "
             f"{info['fps']:.2f} frames per second over {info['elapsed_s']:.1f} s"]
    if info["record"]:
        lines.append(f"recorded {info['record']}")
    if info["export"]:
        lines.append(_export_line(info["export"]))
    lines.append("mean per frame: " + ", ".join(f"{k.replace('_', ' ')} {v:.0f} ms"
                                                for k, v in info["timings_ms"].items()))
    return "\n".join(lines)


def _export_line(export: dict) -> str:
    return (f"wrote {export['path']} ({export['format']}, track {export['track']}, "
            f"{export['frames']} frames at {export['fps']:.2f} fps)")


def _export(export: Callable[..., dict], *args: object, **options: object) -> dict:
    """``export(*args, **options, progress=...)`` with a progress bar on stderr, shown
    from the export's first frame (a refusal before it prints only its message)."""
    bars: list[tqdm] = []

    def progress(done: int, total: int) -> None:
        if not bars:
            bars.append(tqdm(total=total, unit="frame", desc="export", file=sys.stderr,
                             dynamic_ncols=True))
        bars[0].update(done - bars[0].n)

    try:
        return export(*args, **options, progress=progress)
    finally:
        for bar in bars:
            bar.close()


def _export_session(args: argparse.Namespace) -> int:
    info = _export(export_session, args.session, args.export, args.track)
    print(json.dumps({"session": str(args.session), "export": info}, indent=2) if args.json
          else _export_line(info))
    return 0


def _run(args: argparse.Namespace) -> int:
    _check_arguments(args)
    if args.session is not None:
        return _export_session(args)
    from studio.pipeline.threads import apply_threads

    # MediaPipe's graph threads run beside the model on every frame
    threads = apply_threads(args.threads, reserved=1)
    settings = SmoothingSettings(args.smooth, args.min_cutoff, args.beta, args.d_cutoff)
    source = parse_source(args.source, loop=args.loop, resolution=args.resolution)
    with source, tempfile.TemporaryDirectory(prefix="studio-capture-") as scratch:
        setup: dict[str, float] = {}
        name = args.model or (str(args.checkpoint) if args.checkpoint else default_model())
        with timed(setup, "load_model"):
            model = model_registry.load_model(name, args.device,
                                              args.checkpoint if args.model else None)
            model.traced = True  # every frame runs the same crop size
        with timed(setup, "load_detector"):
            following = args.max_people == 1  # a finder of its own, closed at the end
            finder = TrackingPersonFinder() if following else shared_finder()
        folder = args.record or (Path(scratch) / "session" if args.export else None)
        meta = {"source": source.description, "model": model.name, "body": model.body_name,
                "image_size": list(source.size), "focal": default_focal(source.size),
                "smoothing": asdict(settings)}
        writer = None if folder is None else SessionWriter(folder, source.fps, meta)
        bar = tqdm(total=args.frames or source.frame_count, unit="frame", desc="capture",
                   file=sys.stderr, dynamic_ncols=True)
        try:
            people_tracker = PeopleTracker(settings, focal=default_focal(source.size))
            stats, lost = capture(source, model, finder, people_tracker, writer,
                                  args.frames, args.max_people, bar, args.fit_camera,
                                  args.refine)
        finally:
            bar.close()
            if following:
                finder.close()
            if writer is not None:
                writer.close()
        exported = None
        if args.export is not None:
            exported = _export(export_track, SessionReader(folder), args.export, args.track,
                               body=model.body.data)
        info = {
            "source": {"spec": args.source, "description": source.description,
                       "width": source.size[0], "height": source.size[1],
                       "fps": round(source.fps, 3)},
            "model": {"name": model.name, "input_kind": model.input_kind,
                      "body": model.body_name},
            "frames": {"read": stats.read, "processed": stats.processed,
                       "no_person": stats.no_person, "skipped": source.skipped},
            "people": stats.people,
            "tracks": [{"id": k, "frames": n} for k, n in sorted(stats.tracks.items())],
            "stopped": stats.stopped,
            "elapsed_s": round(stats.elapsed_s, 3),
            "fps": round(stats.read / stats.elapsed_s, 3) if stats.elapsed_s > 0 else 0.0,
            "smoothing": asdict(settings),
            "record": None if args.record is None else str(args.record),
            "export": exported,
            "setup_ms": {k: round(v, 1) for k, v in setup.items()},
            "threads": threads.as_dict(),
            "timings_ms": {k: round(stats.stage_ms[k] / n, 2)
                           for k, n in stats.stage_runs.items()},
        }
    print(json.dumps(info, indent=2) if args.json else _summary(info))
    if lost is not None:
        raise lost
    return 0
