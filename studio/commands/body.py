"""``studio body``: inspect, export, build and snapshot body models."""
from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from studio.commands.lazy import LazySubcommands
from studio.errors import ModelFileError, StudioError
from studio.io.meshes import MESH_TYPES
from studio.io.output import check_output_file, write_output

if TYPE_CHECKING:
    from studio.body.model import BodyData

# Torch and the body models load when a subcommand runs, not for help or usage errors.
NUM_BETAS = 10  # studio.body.model.NUM_BETAS (tests/test_cli_first_hour.py keeps them equal)
MODEL_HELP = ("body model: mannequin, smpl, smpl-male, smpl-female, or a path to a .pkl, "
              ".npz or PyMAF checkpoint (default: SMPL if installed, else the mannequin)")
SUBCOMMANDS = {
    "info": "describe a body model",
    "export": "write a posed, shaped mesh (.obj, .ply, .glb)",
    "build": "generate the built-in mannequin model",
    "snapshot": "render a grid of views of a body model to PNG",
    "view": "open the body model explorer window (shape sliders, pose presets)",
}


def register(subparsers: argparse._SubParsersAction) -> None:
    body = subparsers.add_parser("body")
    body.set_defaults(func=lambda _args: body.print_help() or 2)
    sub = body.add_subparsers(dest="body_command", metavar="SUBCOMMAND", action=LazySubcommands)
    for name, add in (("info", _add_info), ("export", _add_export), ("build", _add_build),
                      ("snapshot", _add_snapshot), ("view", _add_view)):
        sub.add_lazy(name, SUBCOMMANDS[name], add)


def _add_info(sub: argparse._SubParsersAction) -> None:
    info = sub.add_parser("info")
    info.add_argument("--model", metavar="SPEC", help=MODEL_HELP)
    info.add_argument("--json", action="store_true", help="print JSON")
    info.set_defaults(func=_info)


def _add_export(sub: argparse._SubParsersAction) -> None:
    from studio.body import poses

    export = sub.add_parser("export")
    export.add_argument("out", metavar="OUT", type=Path,
                        help=f"output file ({', '.join(MESH_TYPES)}); its folder must exist")
    export.add_argument("--model", metavar="SPEC", help=MODEL_HELP)
    export.add_argument("--betas", metavar="B0,B1,...", help=f"up to {NUM_BETAS} shape values")
    export.add_argument("--pose", default="rest", metavar="POSE",
                        help=f"preset ({', '.join(poses.PRESETS)}) or a .npy/.npz with 72 "
                             "axis-angle values (default: rest)")
    export.set_defaults(func=_export)


def _add_build(sub: argparse._SubParsersAction) -> None:
    build = sub.add_parser("build")
    build.add_argument("--out", metavar="PATH",
                       help="default: the shipped models/mannequin/mannequin.npz")
    build.add_argument("--check", action="store_true",
                       help="regenerate and compare with the existing file instead of writing: "
                            "byte identity, else which arrays differ and by how much (exit 1)")
    build.add_argument("--json", action="store_true", help="with --check: the report as JSON")
    build.set_defaults(func=_build)


def _add_snapshot(sub: argparse._SubParsersAction) -> None:
    snap = sub.add_parser("snapshot")
    snap.add_argument("out", metavar="OUT.png", help="the PNG to write")
    snap.add_argument("--model", metavar="SPEC", help=MODEL_HELP)
    snap.set_defaults(func=_snapshot)


def _add_view(sub: argparse._SubParsersAction) -> None:
    view = sub.add_parser("view")
    view.add_argument("--model", metavar="SPEC", help=MODEL_HELP)
    view.add_argument("--screenshot", metavar="OUT.png", type=Path, default=None,
                      help="save a picture of the window after the first render")
    view.add_argument("--quit", action="store_true", help="exit after the first render")
    view.set_defaults(func=_view)


def check_screenshot(path: Path | None) -> None:
    """``--screenshot``'s destination, checked before any window opens (missing folders
    are made when it is saved)."""
    if path is not None:
        check_output_file(path, (".png",), "--screenshot", make_folders=True)


def describe(data: BodyData) -> dict[str, object]:
    """What ``studio body info`` reports about a model."""
    from studio.body.joint_sets import SMPL24_NAMES

    return {
        "name": data.name, "source": data.source, "gender": data.gender,
        "vertices": data.num_vertices, "faces": int(data.faces.shape[0]),
        "joints": list(SMPL24_NAMES), "shape_components": int(data.shapedirs.shape[2]),
        "landmarks": len(data.landmarks),
        "downsampling": [data.num_vertices] + [int(d.shape[0]) for d in data.downsampling],
        "pose_correctives": data.posedirs is not None,
    }


def _info(args: argparse.Namespace) -> int:
    from studio.body import registry

    info = describe(registry.find_body_model(args.model))
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    for key, value in info.items():
        shown = ", ".join(map(str, value)) if isinstance(value, list) else value
        print(f"{key.replace('_', ' ')}: {shown}")
    return 0


def _parse_betas(text: str | None) -> np.ndarray:
    betas = np.zeros(NUM_BETAS, np.float32)
    if not text:
        return betas
    try:
        values = [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise StudioError(f"--betas {text!r}: expected comma-separated numbers") from None
    if len(values) > NUM_BETAS:
        raise StudioError(f"--betas: at most {NUM_BETAS} values, got {len(values)}")
    betas[:len(values)] = values
    return betas


def _parse_pose(spec: str) -> np.ndarray:
    from studio.body import poses

    if spec in poses.PRESETS:
        return poses.preset_pose(spec)
    path = Path(spec)
    if path.suffix.lower() not in (".npy", ".npz"):
        raise StudioError(f"--pose {spec!r}: not a preset ({', '.join(poses.PRESETS)}) "
                          "nor a .npy/.npz file")
    try:
        with open(path, "rb") as fh:
            loaded = np.load(fh, allow_pickle=False)
            if isinstance(loaded, np.lib.npyio.NpzFile):
                key = "pose" if "pose" in loaded.files else loaded.files[0]
                loaded = loaded[key]
            pose = np.asarray(loaded, np.float32).reshape(-1)
    except (OSError, ValueError, IndexError) as err:
        raise StudioError(f"--pose {spec}: cannot read the pose ({err})") from err
    if pose.size != 72:
        raise StudioError(f"--pose {spec}: expected 72 axis-angle values, found {pose.size}")
    return pose


def posed_vertices(data: BodyData, pose: np.ndarray, betas: np.ndarray) -> np.ndarray:
    """Vertices [V,3] of the model in an axis-angle pose [72] with shape ``betas``."""
    import torch

    from studio.body.model import BodyModel

    with torch.no_grad():
        out = BodyModel(data)(global_orient=torch.as_tensor(pose[None, :3]),
                              body_pose=torch.as_tensor(pose[None, 3:]),
                              betas=torch.as_tensor(betas[None]))
    return out.vertices[0].numpy()


def _export(args: argparse.Namespace) -> int:
    out = args.out
    check_output_file(out, MESH_TYPES)
    from studio.body import registry
    from studio.io.meshes import mesh_bytes

    betas, pose = _parse_betas(args.betas), _parse_pose(args.pose)
    data = registry.find_body_model(args.model)
    write_output(out, mesh_bytes(posed_vertices(data, pose, betas), data.faces, out.suffix))
    print(f"wrote {out} ({data.num_vertices} vertices, pose {args.pose}, model {data.name})")
    return 0


def _build(args: argparse.Namespace) -> int:
    from studio.body import build_check, mannequin, registry, storage

    out = Path(args.out) if args.out else registry.MANNEQUIN_PATH
    if args.check and not out.is_file():
        raise ModelFileError(f"{out}: nothing to check against; run `studio body build`")
    payload = storage.encode_body_npz(mannequin.build_mannequin())
    if args.check:
        try:
            report = build_check.check_rebuild(payload, out.read_bytes())
        except (OSError, ValueError, KeyError) as err:
            raise ModelFileError(f"{out}: the existing file is unreadable ({err})") from err
        if args.json:
            print(json.dumps(report, indent=2))
        else:
            print("\n".join(build_check.describe(report)))
        return 0 if report["identical"] else 1
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise StudioError(f"{out}: cannot write the file ({err.strerror or err})") from err
    write_output(out, payload)
    print(f"wrote {out} ({len(payload)} bytes)")
    return 0


def _snapshot(args: argparse.Namespace) -> int:
    check_output_file(Path(args.out), (".png",), make_folders=True)
    from studio.body import registry

    try:
        from studio.ui.body.snapshot import render_body_grid
    except ImportError as err:
        raise StudioError(f"snapshots need the studio's 3D view, which failed to load: {err}") \
            from err
    data = registry.find_body_model(args.model)
    try:
        render_body_grid(data, args.out, size=(1600, 1200))
    except OSError as err:
        raise StudioError(f"{args.out}: cannot write the file ({err.strerror or err})") from err
    print(f"wrote {args.out}")
    return 0


def _view(args: argparse.Namespace) -> int:
    check_screenshot(args.screenshot)
    from studio.ui.app import Script, run_body_viewer  # Qt only when the window is wanted

    return run_body_viewer(args.model, Script(screenshot=args.screenshot, quit_after=args.quit))
