"""``studio fit KEYPOINTS``: body parameters from keypoints (SMPLR, :mod:`studio.pipeline.
keypoint_fit`).

Input: an npz or JSON file with ``keypoints`` [N,J,3] (metres) or [N,J,2] (pixels), and
optionally ``confidence`` [N,J] (0: missing; NaN coordinates are missing too), and for
2D ``image_size`` [2] (width, height) and ``focal_length`` (pixels). ``--export`` writes
AMASS-style npz (``poses`` [N,72], ``betas`` [N,10], ``trans`` [N,3], ``gender``), one
OBJ/PLY per sample (``out.obj``, ``out_1.obj``, ...) or one GLB scene (y up). Bad input:
one line, exit 2, nothing written.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from studio.commands.smplr import LAYOUT_NAMES as LAYOUTS
from studio.errors import StudioError
from studio.io.output import check_output_file

EXPORT_TYPES = (".npz", ".obj", ".ply", ".glb")
KEYS = ("keypoints", "confidence", "image_size", "focal_length")


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "fit", description="Fit a posed, shaped body to each sample of keypoints (SMPLR: "
                           "denoise and lift, then pose and shape regressors); milliseconds "
                           "per sample.")
    p.add_argument("keypoints", type=Path, metavar="KEYPOINTS.{npz,json}",
                   help="keypoints [N,J,3] metres or [N,J,2] pixels, optional confidence "
                        "[N,J], image_size [2], focal_length")
    p.add_argument("--layout", required=True, metavar="NAME",
                   help=f"keypoint layout: {', '.join(LAYOUTS)}")
    p.add_argument("--from", dest="dims", required=True, choices=("3d", "2d"),
                   help="3D keypoints (metres, any frame and translation) or 2D (pixels)")
    p.add_argument("--model", default=None, metavar="BODY",
                   help="body model of the result (default: the one the weights were "
                        "trained on, the mannequin)")
    p.add_argument("--weights", default=None, metavar="FILE",
                   help="keypoint-fit weights file (default: models/smplr/smplr-{3d,2d}.pt)")
    p.add_argument("--export", type=Path, default=None, metavar="OUT.{npz,obj,ply,glb}",
                   help="npz: AMASS-style parameters of all samples; obj/ply: one mesh per "
                        "sample (out.obj, out_1.obj, ...); glb: one scene, y up")
    p.add_argument("--refine-steps", type=int, default=None, metavar="N",
                   help="Gauss-Newton steps fitting the body to the points after the nets "
                        "(0: the nets alone, fastest; default: 2 from 3D, 3 from 2D)")
    p.add_argument("--json", action="store_true",
                   help="print every sample's parameters, joints and fit error as JSON")
    p.set_defaults(func=_fit)


def read_keypoint_file(path: Path) -> dict[str, np.ndarray]:
    """The arrays of an npz or JSON keypoint file; StudioError (exit 2) if unusable."""
    if not path.is_file():
        raise StudioError(f"{path}: no such file")
    suffix = path.suffix.lower()
    if suffix not in (".npz", ".json"):
        raise StudioError(f"{path}: unsupported type (use .npz or .json)")
    if path.stat().st_size == 0:
        raise StudioError(f"{path}: the file is empty")
    try:
        if suffix == ".json":
            raw = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(raw, dict):
                raise ValueError("expected an object with a 'keypoints' key")
            data = {k: np.asarray(raw[k], dtype=np.float64) for k in KEYS if k in raw}
        else:
            with np.load(path, allow_pickle=False) as npz:
                data = {k: np.asarray(npz[k], dtype=np.float64) for k in KEYS if k in npz}
    except (ValueError, TypeError, OSError, UnicodeDecodeError) as err:
        raise StudioError(f"{path}: not a readable keypoint file ({err})") from None
    if "keypoints" not in data:
        raise StudioError(f"{path}: no 'keypoints' array")
    return data


def export_paths(path: Path, count: int) -> list[Path]:
    """Files ``--export`` writes for ``count`` samples."""
    if path.suffix.lower() in (".npz", ".glb"):
        return [path]
    return [path if k == 0 else path.with_name(f"{path.stem}_{k}{path.suffix}")
            for k in range(count)]


def export_payloads(fit, path: Path) -> list[tuple[Path, bytes]]:
    from studio.io.axes import Y_UP
    from studio.io.meshes import mesh_bytes
    from studio.io.smpl_params import NOMINAL_FRAMERATE, smpl_npz_bytes

    suffix = path.suffix.lower()
    if suffix == ".npz":
        return [(path, smpl_npz_bytes(fit.poses, fit.betas, fit.trans, NOMINAL_FRAMERATE,
                                      fit.body_name, fit.gender, frame=np.array(fit.frame),
                                      joints=fit.joints, keypoints=fit.keypoints))]
    if suffix == ".glb":
        import trimesh

        scene = trimesh.Scene()
        for k, verts in enumerate(fit.vertices):
            upright = verts * Y_UP if fit.frame == "camera" else verts
            scene.add_geometry(trimesh.Trimesh(upright.astype(np.float64), fit.faces,
                                               process=False), geom_name=f"sample_{k}")
        return [(path, scene.export(file_type="glb"))]
    return [(p, mesh_bytes(v, fit.faces, suffix))
            for p, v in zip(export_paths(path, len(fit.vertices)), fit.vertices)]


def _fit(args: argparse.Namespace) -> int:
    from studio.io.output import write_outputs
    from studio.pipeline.keypoint_fit import check_keypoints, fit_keypoints, load_smplr

    dims = int(args.dims[0])
    if args.layout not in LAYOUTS:
        raise StudioError(f"unknown layout {args.layout!r} (use {', '.join(LAYOUTS)})")
    if args.refine_steps is not None and args.refine_steps < 0:
        raise StudioError("--refine-steps must be 0 or more")
    if args.export is not None:
        check_output_file(args.export, EXPORT_TYPES, "--export")
    data = read_keypoint_file(args.keypoints)
    points, seen = check_keypoints(data["keypoints"], args.layout, dims, data.get("confidence"))
    if args.export is not None:
        for target in export_paths(args.export, len(points))[1:]:
            check_output_file(target, EXPORT_TYPES, "--export")
    started = time.perf_counter()
    model = load_smplr(args.layout, dims, path=args.weights, body=args.model)
    loaded = time.perf_counter()
    fit = fit_keypoints(np.where(seen[..., None], points, np.nan), args.layout, dims,
                        image_size=data.get("image_size"),
                        focal_length=data.get("focal_length"), model=model,
                        refine_steps=args.refine_steps)
    done = time.perf_counter()
    written = write_outputs(export_payloads(fit, args.export)) if args.export else []
    error = _fit_error(fit, points, seen, dims)
    summary = {"samples": len(points), "layout": args.layout, "dims": dims,
               "body": fit.body_name, "frame": fit.frame, "weights": str(model.source),
               "seconds": {"load": round(loaded - started, 3), "fit": round(done - loaded, 3)},
               "mean_error": round(float(error.mean()), 2),
               "error_unit": "mm" if dims == 3 else "px",
               "written": [str(p) for p in written]}
    if args.json:
        summary["fits"] = [
            {"poses": fit.poses[k].round(5).tolist(), "betas": fit.betas[k].round(5).tolist(),
             "trans": fit.trans[k].round(5).tolist(), "joints": fit.joints[k].round(5).tolist(),
             "error": round(float(error[k]), 2)} for k in range(len(points))]
        print(json.dumps(summary))
        return 0
    print(f"{len(points)} samples fitted in {done - loaded:.2f} s (load {loaded - started:.2f} s"
          f"), mean keypoint error {summary['mean_error']} {summary['error_unit']}")
    for p in written:
        print(f"wrote {p}")
    return 0


def _fit_error(fit, points: np.ndarray, seen: np.ndarray, dims: int) -> np.ndarray:
    """Per sample: mean distance of the body's keypoints to the seen input points (mm for
    3D, reprojection pixels for 2D)."""
    body = fit.keypoints
    if dims == 2:
        f, c = fit.intrinsics[:, None, :1], fit.intrinsics[:, None, 1:]
        body = f * body[..., :2] / body[..., 2:] + c
    dist = np.linalg.norm(np.nan_to_num(points) - body, axis=-1) * (1000 if dims == 3 else 1)
    return (dist * seen).sum(1) / seen.sum(1)
