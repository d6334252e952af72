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
from typing import TYPE_CHECKING

import numpy as np

from studio.errors import StudioError
from studio.io.meshes import MESH_TYPES
from studio.io.output import check_output_file, check_output_folder, write_outputs
from studio.nets.model_names import OFFICIAL, model_names

if TYPE_CHECKING:
    from studio.nets.model_registry import LoadedModel
    from studio.pipeline.results import FrameResult, MeshIteration, PersonResult

# Torch, OpenCV and MediaPipe load when the command runs, not for its help or usage errors.
# The values of studio.pipeline.people.MAX_PEOPLE, studio.io.export.EXPORT_TYPES and
# studio.io.images.IMAGE_TYPES (tests/test_cli_first_hour.py keeps them equal):
MAX_PEOPLE = 5
EXPORT_TYPES = (*MESH_TYPES, ".npz")
IMAGE_TYPES = (".png", ".jpg", ".jpeg")
OVERLAY_MAX_SIDE = 2048  # overlays are written at most this long unless --overlay-full-size
DECIMALS = 6  # JSON numbers: float32 values rounded to what they actually carry
PIXEL_DECIMALS = 2
# Timed, in pipeline order; crop ... overlay are summed over people (each person's own
# times are in its entry).
STAGES = ("decode", "load_model", "load_detector", "detect", "crop", "net",
          "fit", "refine", "overlay", "export")


def default_model() -> str:
    """Official weights when present, else the built-in net made for real photos."""
    from studio.nets import model_registry

    found = model_registry.find_official_checkpoint()
    return OFFICIAL if found else model_registry.default_model_name("proxy")


def add_fit_camera_option(parser: argparse.ArgumentParser, note: str = "") -> None:
    """``--no-fit-camera`` (``args.fit_camera``), as every command running the model has it."""
    parser.add_argument("--no-fit-camera", dest="fit_camera", action="store_false",
                        help="place the meshes with the net's own cameras instead of cameras "
                             f"refitted to MediaPipe's landmarks{note}")


def add_refine_option(parser: argparse.ArgumentParser, default: bool) -> None:
    """``--no-refine`` (photos: on by default) or ``--refine`` (live: off by default) as
    ``args.refine``."""
    what = ("a few dozen steps that fit each mesh's pose, shape and camera to MediaPipe's "
            "keypoints and person mask (the 'refined' step after the net's iterations)")
    if default:
        parser.add_argument("--no-refine", dest="refine", action="store_false",
                            help=f"leave out the refinement: {what}")
    else:
        parser.add_argument("--refine", action="store_true",
                            help=f"add the refinement to every frame: {what}; off by default "
                                 "(it costs about 0.3 s per person on a CPU)")


def add_device_option(parser: argparse.ArgumentParser) -> None:
    """``--device`` as every command running a model has it."""
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"),
                        help="where the mesh regressor runs (default cpu; cuda needs a GPU "
                             "build of torch)")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "run",
        description="Find the people in a photo (MediaPipe Pose), crop each, run a mesh "
                    "regressor and export the final meshes and, optionally, every feedback "
                    "iteration, an overlay and a silhouette label mask. OBJ and PLY meshes are "
                    "in the camera's axes (x right, y down, z away from the camera) without "
                    "the camera translation; the npz holds the translation as 'trans'; a GLB "
                    "is y up (glTF's axes) and holds the photo's camera with the body in "
                    "front of it. With "
                    "several people (largest first) person k>0 gets file names with the "
                    "suffix _k (out.glb, out_1.glb, ...). Every output path is checked "
                    "before the work starts, and the files are written together: all or "
                    "none. Photos of more than 50 megapixels are read downscaled (the JSON "
                    "gives both sizes; its pixel coordinates are the downscaled photo's). "
                    "Exit status 4: no person found (nothing is written).")
    parser.add_argument("image", type=Path, metavar="IMAGE", help="image file (JPEG, PNG, ...)")
    parser.add_argument("--model", metavar="NAME",
                        help=f"{model_names()}, or a path to a .pt model file (default: "
                             "official-pymaf if its checkpoint is found, else "
                             "builtin-pymaf-proxy)")
    parser.add_argument("--checkpoint", type=Path, metavar="PATH",
                        help="weights file to use for the named model (e.g. the official "
                             "PyMAF checkpoint kept outside the search folders)")
    add_device_option(parser)
    parser.add_argument("--export", type=Path, metavar="OUT",
                        help=f"final result per person: {', '.join(MESH_TYPES)} mesh, or .npz "
                             "with SMPL parameters (poses 1x72, betas, trans 1x3, gender) plus "
                             "vertices and faces")
    parser.add_argument("--iterations-dir", type=Path, metavar="DIR",
                        help="also write iter0.obj (mean-parameter start) ... iter3.obj here, "
                             "and refined.obj (the refined step) unless --no-refine")
    parser.add_argument("--overlay", type=Path, metavar="OUT.png",
                        help="the photo with the final meshes drawn over it (.png or .jpg), "
                             f"at most {OVERLAY_MAX_SIDE} px along its longer side")
    parser.add_argument("--overlay-full-size", action="store_true",
                        help="write the overlay at the photo's own size")
    parser.add_argument("--mask", type=Path, metavar="OUT.png",
                        help="8-bit PNG at the photo's size: 0 background, k+1 where person "
                             "k's final mesh is")
    parser.add_argument("--threads", type=int, default=0, metavar="N",
                        help="CPU threads for torch (default 0: chosen from the usable cores and "
                             "the other processes' load, shown in --json)")
    parser.add_argument("--max-people", type=int, default=MAX_PEOPLE, metavar="N",
                        help=f"find at most N people (default {MAX_PEOPLE})")
    add_fit_camera_option(parser, " (the JSON lists both)")
    add_refine_option(parser, default=True)
    parser.add_argument("--json", action="store_true",
                        help="print people, parameters per iteration and timings as JSON "
                             "(image coordinates in pixels, pixel i covering [i, i+1))")
    parser.set_defaults(func=_run)


def output_files(result: FrameResult, image: np.ndarray, args: argparse.Namespace
                 ) -> list[tuple[Path, bytes]]:
    """The requested files, encoded: (path, payload) pairs."""
    from studio.io.export import encode_iterations, numbered, step_stem
    from studio.io.images import image_bytes
    from studio.io.meshes import mesh_bytes
    from studio.pipeline.images import downscaled
    from studio.pipeline.overlay import draw_overlay, label_mask

    files = []
    for k, person in enumerate(result.people):
        if args.iterations_dir is not None:
            files += [(numbered(args.iterations_dir / f"{step_stem(person, i)}.obj", k),
                       mesh_bytes(it.vertices, result.faces, ".obj"))
                      for i, it in enumerate(person.steps())]
        if args.export is not None:
            files.append((numbered(args.export, k),
                          encode_iterations(result, [person.final],
                                            args.export.suffix.lower())))
    renders = [person.render for person in result.people]
    if args.overlay is not None:
        overlay = draw_overlay(image, renders)
        if not args.overlay_full_size:
            overlay = downscaled(overlay, OVERLAY_MAX_SIDE)
        files.append((args.overlay, image_bytes(overlay, args.overlay.suffix)))
    if args.mask is not None:
        files.append((args.mask, image_bytes(label_mask(result.image_size, renders), ".png")))
    return files


def write_all(result: FrameResult, image: np.ndarray, args: argparse.Namespace) -> list[Path]:
    """Write the requested files, all or none (:func:`studio.io.output.write_outputs`);
    returns their paths. ``--iterations-dir`` is made when missing (and removed again
    if nothing could be written into it)."""
    files = output_files(result, image, args)
    folder = args.iterations_dir
    made = folder is not None and not folder.exists()
    if folder is not None:
        _make_folder(folder)
    try:
        return write_outputs(files)
    except StudioError:
        if made and not any(folder.iterdir()):
            folder.rmdir()
        raise


def _rounded(values: np.ndarray, decimals: int = DECIMALS) -> list[float]:
    return [round(float(v), decimals) for v in np.asarray(values).reshape(-1)]


def _points(values: np.ndarray) -> list[list[float]]:
    return [_rounded(row, PIXEL_DECIMALS) for row in np.asarray(values)]


def _iteration_report(i: int, it: MeshIteration) -> dict:
    return {"index": i, "cam": _rounded(it.cam),
            "fitted_cam": None if it.fitted_cam is None else _rounded(it.fitted_cam),
            "image_camera": {"focal": round(it.image_camera.focal, 3),
                             "centre": _rounded(it.image_camera.centre, 3),
                             "translation": _rounded(it.image_camera.translation)},
            "betas": _rounded(it.betas), "pose": _rounded(it.pose),
            "sample_points": 0 if it.sample_points is None
            else int(it.sample_points.shape[0])}


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
        "iterations": [_iteration_report(i, it) for i, it in enumerate(person.iterations)],
        # the refined step (its index follows the iterations') and what refinement did
        "refined": None if person.refined is None
        else _iteration_report(len(person.iterations), person.refined),
        "refine": None if person.refine is None else person.refine.as_dict(),
        "timings_ms": {k: round(v, 2) for k, v in person.timings_ms.items()},
    }


def report(result: FrameResult, image: Path, model: LoadedModel,
           written: list[Path], timings: dict[str, float],
           size_on_disk: tuple[int, int] | None = None) -> dict:
    """What ``--json`` prints; ``size_on_disk``: the photo's own size when it was read
    downscaled (the JSON's pixels are the downscaled picture's)."""
    width, height = result.image_size
    on_disk = size_on_disk or (width, height)
    return {
        "model": {"name": model.name, "source": str(model.source),
                  "input_kind": model.input_kind, "input_size": model.input_size,
                  "body": model.body_name},
        "image": {"path": str(image), "width": width, "height": height,
                  "width_on_disk": on_disk[0], "height_on_disk": on_disk[1],
                  "scale": round(width / on_disk[0], DECIMALS)},
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
        f"image {image['path']}: {image['width']}x{image['height']}"
        + (f" (read downscaled from {image['width_on_disk']}x{image['height_on_disk']})"
           if image["scale"] != 1 else "")
        + f", {_people_count(len(info['people']))} found",
    ]
    for person in info["people"]:
        x0, y0, x1, y1 = person["box"]
        final = person["refined"] or person["iterations"][-1]
        s, tx, ty = final["fitted_cam"] or final["cam"]
        error = person["keypoint_error_px"]
        refine = person["refine"]
        lines.append(
            f"person {person['index']}: box ({x0:.0f}, {y0:.0f})-({x1:.0f}, {y1:.0f}), crop "
            f"{person['crop']['size']:.0f} px, final camera "
            f"{'(fitted) ' if final['fitted_cam'] else ''}s={s:.3f} tx={tx:.3f} "
            f"ty={ty:.3f}, mask IoU {person['mask_iou']:.2f}, keypoint error "
            + ("n/a" if error is None else f"{error:.1f} px")
            + ("" if refine is None else
               f" (refined{'' if refine['kept'] else ': the start was better, kept'}; "
               f"before: IoU {refine['iou_before']:.2f}, keypoint error "
               + ("n/a" if refine["kp_error_before"] is None
                  else f"{refine['kp_error_before']:.1f} px") + ")"))
    lines += [f"wrote {p}" for p in info["outputs"]]
    lines.append("timings: " + ", ".join(f"{k.replace('_', ' ')} {v:.0f} ms"
                                         for k, v in info["timings_ms"].items()))
    return "\n".join(lines)


def _make_folder(folder: Path) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise StudioError(f"{folder}: cannot create the folder ({err.strerror or err})") from err


def _check_arguments(args: argparse.Namespace) -> None:
    """Every option and output destination, checked before the slow work starts."""
    if args.max_people < 1:
        raise StudioError("--max-people must be at least 1")
    if args.threads < 0:
        raise StudioError("--threads must be at least 0")
    for flag, path, types in (("--export", args.export, EXPORT_TYPES),
                              ("--overlay", args.overlay, IMAGE_TYPES),
                              ("--mask", args.mask, (".png",))):
        if path is not None:
            check_output_file(path, types, flag)
    if args.iterations_dir is not None:
        check_output_folder(args.iterations_dir, "--iterations-dir")
    if not args.image.is_file():
        raise StudioError(f"{args.image}: cannot read the image ("
                          + ("a folder" if args.image.is_dir() else "no such file") + ")")


def _run(args: argparse.Namespace) -> int:
    _check_arguments(args)
    from studio.nets import model_registry
    from studio.pipeline.images import read_image_sized
    from studio.pipeline.people import NoPersonFound, shared_finder
    from studio.pipeline.single_image import run_image, timed
    from studio.pipeline.threads import apply_threads

    threads = apply_threads(args.threads)
    name = args.model or (str(args.checkpoint) if args.checkpoint else default_model())
    checkpoint = args.checkpoint if args.model else None
    timings: dict[str, float] = {}
    with timed(timings, "decode"):  # first, so a bad image fails before a slow model load
        image, size_on_disk = read_image_sized(args.image)
    with timed(timings, "load_model"):
        model = model_registry.load_model(name, args.device, checkpoint)
    with timed(timings, "load_detector"):
        finder = shared_finder()
    try:
        result = run_image(model, image, finder, args.max_people, fit_camera=args.fit_camera,
                           refine=args.refine)
    except NoPersonFound as err:
        raise NoPersonFound(f"{args.image}: {err} (nothing written)") from None
    with timed(timings, "export"):
        written = write_all(result, image, args)
    merged = {**timings, **result.timings_ms}
    info = report(result, args.image, model, written,
                  {s: merged[s] for s in STAGES if s in merged}, size_on_disk)
    info["threads"] = threads.as_dict()
    print(json.dumps(info, indent=2) if args.json else _summary(info))
    return 0
