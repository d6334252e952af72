"""``studio run IMAGE``: recover a mesh from one image and export it.

Writes the final mesh (OBJ/PLY/GLB, or SMPL parameters as an AMASS-style npz) and,
on request, every feedback iteration, each file atomically; ``--json`` prints the
parameters of each iteration and the time each stage took.
"""
from __future__ import annotations

import argparse
import io
import json
import os
from pathlib import Path

import numpy as np

from studio.body.storage import atomic_write_bytes
from studio.errors import StudioError
from studio.nets import model_registry
from studio.pipeline.single_image import (FrameResult, MeshIteration, read_image,
                                          require_rgb_input, run_image, timed)

MESH_TYPES = (".obj", ".ply", ".glb")
EXPORT_TYPES = (*MESH_TYPES, ".npz")
DECIMALS = 6  # JSON numbers: float32 values rounded to what they actually carry
STAGES = ("load_model", "decode", "crop", "net", "export")  # timed, in pipeline order


def register(subparsers: argparse._SubParsersAction) -> None:
    names = ", ".join([model_registry.OFFICIAL, *model_registry.BUILTIN_MODELS])
    parser = subparsers.add_parser(
        "run", help="recover a 3D mesh from one image",
        description="Run a mesh regressor on one image (for now on its centred square crop) "
                    "and export the final mesh and, optionally, every feedback iteration. "
                    "Meshes are in the camera's axes (x right, y down, z away from the "
                    "camera) without the camera translation; the npz holds the translation "
                    "as 'trans'.")
    parser.add_argument("image", type=Path, metavar="IMAGE", help="image file (JPEG, PNG, ...)")
    parser.add_argument("--model", metavar="NAME",
                        help=f"{names}, or a path to a .pt model file (default: official-pymaf "
                             "if its checkpoint is found, else builtin-pymaf-rgb)")
    parser.add_argument("--checkpoint", type=Path, metavar="PATH",
                        help="weights file to use for the named model (e.g. the official "
                             "PyMAF checkpoint kept outside the search folders)")
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    parser.add_argument("--export", type=Path, metavar="OUT",
                        help=f"final result: {', '.join(MESH_TYPES)} mesh, or .npz with SMPL "
                             "parameters (poses 1x72, betas, trans 1x3, gender) plus vertices "
                             "and faces")
    parser.add_argument("--iterations-dir", type=Path, metavar="DIR",
                        help="also write iter0.obj (mean-parameter start) ... iter3.obj here")
    parser.add_argument("--json", action="store_true",
                        help="print parameters per iteration and timings as JSON")
    parser.set_defaults(func=_run)


def _check_destination(path: Path, what: str) -> None:
    """Fail before any work when a file could not be written into ``path``'s folder."""
    folder = path.parent
    if not folder.is_dir() or not os.access(folder, os.W_OK):
        raise StudioError(f"{what} {path}: {folder} is not a writable folder")


def _write(path: Path, payload: bytes) -> None:
    try:
        atomic_write_bytes(path, payload)
    except OSError as err:
        raise StudioError(f"{path}: cannot write the file ({err.strerror or err})") from err


def mesh_bytes(vertices: np.ndarray, faces: np.ndarray, suffix: str) -> bytes:
    """The mesh encoded as ``suffix`` (.obj, .ply or .glb) says."""
    import trimesh  # loaded only when a mesh is written

    mesh = trimesh.Trimesh(np.asarray(vertices, np.float64), faces, process=False)
    payload = mesh.export(file_type=suffix[1:])
    return payload.encode() if isinstance(payload, str) else payload


def amass_npz_bytes(iteration: MeshIteration, faces: np.ndarray, body_name: str) -> bytes:
    """SMPL parameters in AMASS's layout (one frame), plus the mesh it gives.

    ``vertices + trans`` places the mesh in the camera frame; ``body_model`` says which
    body the parameters are for (the built-in nets use the mannequin, on SMPL's skeleton).
    """
    buf = io.BytesIO()
    np.savez(buf, poses=iteration.pose.reshape(1, 72).astype(np.float32),
             betas=iteration.betas.astype(np.float32),
             trans=iteration.translation().reshape(1, 3).astype(np.float32),
             gender=np.array("neutral"), body_model=np.array(body_name),
             vertices=iteration.vertices.astype(np.float32), faces=faces.astype(np.int32))
    return buf.getvalue()


def write_outputs(result: FrameResult, export: Path | None,
                  iterations_dir: Path | None) -> list[Path]:
    """Write the requested files, each atomically; returns their paths."""
    written = []
    if iterations_dir is not None:
        for i, it in enumerate(result.iterations):
            path = iterations_dir / f"iter{i}.obj"
            _write(path, mesh_bytes(it.vertices, result.faces, ".obj"))
            written.append(path)
    if export is not None:
        suffix = export.suffix.lower()
        payload = (amass_npz_bytes(result.final, result.faces, result.body_name)
                   if suffix == ".npz" else mesh_bytes(result.final.vertices, result.faces, suffix))
        _write(export, payload)
        written.append(export)
    return written


def _rounded(values: np.ndarray) -> list[float]:
    return [round(float(v), DECIMALS) for v in np.asarray(values).reshape(-1)]


def report(result: FrameResult, image: Path, model: model_registry.LoadedModel,
           written: list[Path]) -> dict:
    """What ``--json`` prints."""
    crop = result.crop
    return {
        "model": {"name": model.name, "source": str(model.source),
                  "input_kind": model.input_kind, "input_size": model.input_size,
                  "body": model.body_name},
        "image": {"path": str(image), "width": result.image_size[0],
                  "height": result.image_size[1]},
        "crop": {"x": crop.x, "y": crop.y, "size": crop.size, "method": "centre-square"},
        "iterations": [{"index": i, "cam": _rounded(it.cam), "betas": _rounded(it.betas),
                        "pose": _rounded(it.pose),
                        "sample_points": 0 if it.sample_points is None
                        else int(it.sample_points.shape[0])}
                       for i, it in enumerate(result.iterations)],
        "outputs": [str(p) for p in written],
        "timings_ms": {k: round(v, 2) for k, v in result.timings_ms.items()},
    }


def _summary(info: dict) -> str:
    model, image, crop = info["model"], info["image"], info["crop"]
    s, tx, ty = info["iterations"][-1]["cam"]
    lines = [
        f"model {model['name']} ({model['input_kind']} {model['input_size']} px, body "
        f"{model['body']}) from {model['source']}",
        f"image {image['path']}: {image['width']}x{image['height']}, centred square crop "
        f"{crop['size']} px at ({crop['x']}, {crop['y']})",
        f"final camera s={s:.3f} tx={tx:.3f} ty={ty:.3f} after "
        f"{len(info['iterations']) - 1} feedback iterations",
        *(f"wrote {p}" for p in info["outputs"]),
        "timings: " + ", ".join(f"{k.replace('_', ' ')} {v:.0f} ms"
                                for k, v in info["timings_ms"].items()),
    ]
    return "\n".join(lines)


def _run(args: argparse.Namespace) -> int:
    if args.export is not None:
        if args.export.suffix.lower() not in EXPORT_TYPES:
            raise StudioError(f"--export {args.export}: unsupported type (use "
                              f"{', '.join(EXPORT_TYPES)})")
        _check_destination(args.export, "--export")
    if args.iterations_dir is not None:
        try:
            args.iterations_dir.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise StudioError(f"--iterations-dir {args.iterations_dir}: cannot create the "
                              f"folder ({err.strerror or err})") from err
        _check_destination(args.iterations_dir / "iter0.obj", "--iterations-dir")
    name = args.model or (str(args.checkpoint) if args.checkpoint
                          else model_registry.default_model_name("rgb"))
    checkpoint = args.checkpoint if args.model else None
    require_rgb_input(name, model_registry.registered_input_kind(name))
    timings: dict[str, float] = {}
    with timed(timings, "decode"):  # first, so a bad image fails before a slow model load
        image = read_image(args.image)
    with timed(timings, "load_model"):
        model = model_registry.load_model(name, args.device, checkpoint)
    result = run_image(model, image)
    with timed(timings, "export"):
        written = write_outputs(result, args.export, args.iterations_dir)
    merged = {**timings, **result.timings_ms}
    result.timings_ms = {stage: merged[stage] for stage in STAGES}
    info = report(result, args.image, model, written)
    print(json.dumps(info, indent=2) if args.json else _summary(info))
    return 0
