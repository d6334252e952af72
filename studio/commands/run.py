"""``studio run IMAGE``: find the people in a photo and recover a mesh for each.

Writes each person's final mesh (OBJ/PLY/GLB, or SMPL parameters as an AMASS-style npz),
on request every feedback iteration, an overlay of the meshes on the photo and a label
mask of their silhouettes, each file atomically and only once every person has run;
``--json`` prints per person the box, keypoints, cameras (the net's ``cam`` and
``fitted_cam``, the one refitted to MediaPipe's landmarks that places the mesh, null
when not fitted) and parameters of each iteration, and the time each stage took.

With several people, person 0 (the largest) gets the names as given and person k the
stem suffixed ``_k``: ``out.glb``, ``out_1.glb``, ...; ``iter0.obj``, ``iter0_1.obj``, ...
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

from studio.errors import StudioError
from studio.io.export import EXPORT_TYPES, check_destination, numbered
from studio.io.images import IMAGE_TYPES, image_bytes
from studio.io.meshes import MESH_TYPES, mesh_bytes
from studio.io.output import check_creatable, write_output
from studio.io.smpl_params import amass_npz_bytes
from studio.nets import model_registry
from studio.pipeline.images import read_image
from studio.pipeline.overlay import draw_overlay, label_mask
from studio.pipeline.people import MAX_PEOPLE, NoPersonFound, shared_finder
from studio.pipeline.results import FrameResult, PersonResult
from studio.pipeline.single_image import run_image, timed

DECIMALS = 6  # JSON numbers: float32 values rounded to what they actually carry
PIXEL_DECIMALS = 2
# Timed, in pipeline order; crop ... overlay are summed over people (each person's own
# times are in its entry).
STAGES = ("decode", "load_model", "load_detector", "detect", "crop", "net",
          "fit", "overlay", "export")


def default_model() -> str:
    """Official weights when present, else the built-in net made for real photos."""
    found = model_registry.find_official_checkpoint()
    return model_registry.OFFICIAL if found else model_registry.default_model_name("proxy")


def add_fit_camera_option(parser: argparse.ArgumentParser, note: str = "") -> None:
    """``--no-fit-camera`` (``args.fit_camera``), as every command running the model has it."""
    parser.add_argument("--no-fit-camera", dest="fit_camera", action="store_false",
                        help="place the meshes with the net's own cameras instead of cameras "
                             f"refitted to MediaPipe's landmarks{note}")


def register(subparsers: argparse._SubParsersAction) -> None:
    names = ", ".join([model_registry.OFFICIAL, *model_registry.BUILTIN_MODELS])
    parser = subparsers.add_parser(
        "run", help="find the people in a photo and recover a 3D mesh for each",
        description="Find the people in a photo (MediaPipe Pose), crop each, run a mesh "
                    "regressor and export the final meshes and, optionally, every feedback "
                    "iteration, an overlay and a silhouette label mask. Meshes are in the "
                    "camera's axes (x right, y down, z away from the camera) without the "
                    "camera translation; the npz holds the translation as 'trans'. With "
                    "several people (largest first) person k>0 gets file names with the "
                    "suffix _k (out.glb, out_1.glb, ...). Exit status 4: no person found "
                    "(nothing is written).")
    parser.add_argument("image", type=Path, metavar="IMAGE", help="image file (JPEG, PNG, ...)")
    parser.add_argument("--model", metavar="NAME",
                        help=f"{names}, or a path to a .pt model file (default: official-pymaf "
                             "if its checkpoint is found, else builtin-pymaf-proxy)")
    parser.add_argument("--checkpoint", type=Path, metavar="PATH",
                        help="weights file to use for the named model (e.g. the official "
                             "PyMAF checkpoint kept outside the search folders)")
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    parser.add_argument("--export", type=Path, metavar="OUT",
                        help=f"final result per person: {', '.join(MESH_TYPES)} mesh, or .npz "
                             "with SMPL parameters (poses 1x72, betas, trans 1x3, gender) plus "
                             "vertices and faces")
    parser.add_argument("--iterations-dir", type=Path, metavar="DIR",
                        help="also write iter0.obj (mean-parameter start) ... iter3.obj here")
    parser.add_argument("--overlay", type=Path, metavar="OUT.png",
                        help="the photo with the final meshes drawn over it (.png or .jpg)")
    parser.add_argument("--mask", type=Path, metavar="OUT.png",
                        help="8-bit PNG at the photo's size: 0 background, k+1 where person "
                             "k's final mesh is")
    parser.add_argument("--threads", type=int, default=0, metavar="N",
                        help="CPU threads for torch (default 0: torch's own choice; 1 is "
                             "steadier on a small machine that is busy with other work)")
    parser.add_argument("--max-people", type=int, default=MAX_PEOPLE, metavar="N",
                        help=f"find at most N people (default {MAX_PEOPLE})")
    add_fit_camera_option(parser, " (the JSON lists both)")
    parser.add_argument("--json", action="store_true",
                        help="print people, parameters per iteration and timings as JSON "
                             "(image coordinates in pixels, pixel i covering [i, i+1))")
    parser.set_defaults(func=_run)


def write_outputs(result: FrameResult, image: np.ndarray, args: argparse.Namespace
                  ) -> list[Path]:
    """Write the requested files, each atomically; returns their paths."""
    written = []

    def write(path: Path, payload: bytes) -> None:
        write_output(path, payload)
        written.append(path)

    if args.iterations_dir is not None:
        _make_folder(args.iterations_dir)
    for k, person in enumerate(result.people):
        if args.iterations_dir is not None:
            for i, it in enumerate(person.iterations):
                write(numbered(args.iterations_dir / f"iter{i}.obj", k),
                      mesh_bytes(it.vertices, result.faces, ".obj"))
        if args.export is not None:
            suffix = args.export.suffix.lower()
            write(numbered(args.export, k),
                  amass_npz_bytes(person.final, result.faces, result.body_name)
                  if suffix == ".npz" else mesh_bytes(person.final.vertices, result.faces, suffix))
    renders = [person.render for person in result.people]
    if args.overlay is not None:
        write(args.overlay, image_bytes(draw_overlay(image, renders), args.overlay.suffix))
    if args.mask is not None:
        write(args.mask, image_bytes(label_mask(result.image_size, renders), ".png"))
    return written


def _rounded(values: np.ndarray, decimals: int = DECIMALS) -> list[float]:
    return [round(float(v), decimals) for v in np.asarray(values).reshape(-1)]


def _points(values: np.ndarray) -> list[list[float]]:
    return [_rounded(row, PIXEL_DECIMALS) for row in np.asarray(values)]


def _person_report(k: int, person: PersonResult) -> dict:
    found, box = person.person, person.crop.box
    error = person.keypoint_error_px
    return {
        "index": k,
        "box": _rounded(found.extent, PIXEL_DECIMALS),  # x0, y0, x1, y1
        "crop": {"x": round(box.x, PIXEL_DECIMALS), "y": round(box.y, PIXEL_DECIMALS),
                 "size": round(box.size, PIXEL_DECIMALS), "input_size": person.crop.size,
                 "align_corners": person.crop.align_corners},
        "keypoints": {"layout": "mediapipe33",
                      "image": _points(found.landmarks),
                      "visibility": _rounded(found.visibility, 4),
                      "world": _points(found.world_landmarks),
                      "model": _points(person.keypoints)},
        "keypoint_error_px": None if error is None else round(error, PIXEL_DECIMALS),
        "mask_iou": round(person.mask_iou, 4),
        "iterations": [{"index": i, "cam": _rounded(it.cam),
                        "fitted_cam": None if it.fitted_cam is None else _rounded(it.fitted_cam),
                        "image_camera": {"focal": round(it.image_camera.focal, 3),
                                         "centre": _rounded(it.image_camera.centre, 3),
                                         "translation": _rounded(it.image_camera.translation)},
                        "betas": _rounded(it.betas), "pose": _rounded(it.pose),
                        "sample_points": 0 if it.sample_points is None
                        else int(it.sample_points.shape[0])}
                       for i, it in enumerate(person.iterations)],
        "timings_ms": {k: round(v, 2) for k, v in person.timings_ms.items()},
    }


def report(result: FrameResult, image: Path, model: model_registry.LoadedModel,
           written: list[Path], timings: dict[str, float]) -> dict:
    """What ``--json`` prints."""
    return {
        "model": {"name": model.name, "source": str(model.source),
                  "input_kind": model.input_kind, "input_size": model.input_size,
                  "body": model.body_name},
        "image": {"path": str(image), "width": result.image_size[0],
                  "height": result.image_size[1]},
        "people": [_person_report(k, p) for k, p in enumerate(result.people)],
        "outputs": [str(p) for p in written],
        "timings_ms": {k: round(v, 2) for k, v in timings.items()},
    }


def _people_count(n: int) -> str:
    return "1 person" if n == 1 else f"{n} people"


def _summary(info: dict) -> str:
    model, image = info["model"], info["image"]
    lines = [
        f"model {model['name']} ({model['input_kind']} {model['input_size']} px, body "
        f"{model['body']}) from {model['source']}",
        f"image {image['path']}: {image['width']}x{image['height']}, "
        f"{_people_count(len(info['people']))} found",
    ]
    for person in info["people"]:
        x0, y0, x1, y1 = person["box"]
        final = person["iterations"][-1]
        s, tx, ty = final["fitted_cam"] or final["cam"]
        error = person["keypoint_error_px"]
        lines.append(
            f"person {person['index']}: box ({x0:.0f}, {y0:.0f})-({x1:.0f}, {y1:.0f}), crop "
            f"{person['crop']['size']:.0f} px, final camera "
            f"{'(fitted) ' if final['fitted_cam'] else ''}s={s:.3f} tx={tx:.3f} "
            f"ty={ty:.3f}, mask IoU {person['mask_iou']:.2f}, keypoint error "
            + ("n/a" if error is None else f"{error:.1f} px"))
    lines += [f"wrote {p}" for p in info["outputs"]]
    lines.append("timings: " + ", ".join(f"{k.replace('_', ' ')} {v:.0f} ms"
                                         for k, v in info["timings_ms"].items()))
    return "\n".join(lines)


def _check_folder(folder: Path, what: str) -> None:
    """Fail before any work when ``folder`` could not be created or written into."""
    check_creatable(folder, f"{what} {folder}: cannot create the folder")


def _make_folder(folder: Path) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise StudioError(f"{folder}: cannot create the folder ({err.strerror or err})") from err


def _check_arguments(args: argparse.Namespace) -> None:
    """Every output type and destination, checked before the slow work starts."""
    for flag, path, types in (("--export", args.export, EXPORT_TYPES),
                              ("--overlay", args.overlay, IMAGE_TYPES),
                              ("--mask", args.mask, (".png",))):
        if path is not None:
            check_destination(path, types, flag)
    if args.iterations_dir is not None:
        _check_folder(args.iterations_dir, "--iterations-dir")
    if args.max_people < 1:
        raise StudioError("--max-people must be at least 1")
    if args.threads < 0:
        raise StudioError("--threads must be at least 0")


def _run(args: argparse.Namespace) -> int:
    _check_arguments(args)
    if args.threads:
        torch.set_num_threads(args.threads)
    name = args.model or (str(args.checkpoint) if args.checkpoint else default_model())
    checkpoint = args.checkpoint if args.model else None
    timings: dict[str, float] = {}
    with timed(timings, "decode"):  # first, so a bad image fails before a slow model load
        image = read_image(args.image)
    with timed(timings, "load_model"):
        model = model_registry.load_model(name, args.device, checkpoint)
    with timed(timings, "load_detector"):
        finder = shared_finder()
    try:
        result = run_image(model, image, finder, args.max_people, fit_camera=args.fit_camera)
    except NoPersonFound as err:
        raise NoPersonFound(f"{args.image}: {err} (nothing written)") from None
    with timed(timings, "export"):
        written = write_outputs(result, image, args)
    merged = {**timings, **result.timings_ms}
    info = report(result, args.image, model, written,
                  {s: merged[s] for s in STAGES if s in merged})
    print(json.dumps(info, indent=2) if args.json else _summary(info))
    return 0
