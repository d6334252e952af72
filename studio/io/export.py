"""Writing a person's meshes and images to files: the one entry point the GUI and
``studio run`` share.

Every destination is checked (supported type, an existing writable folder, the name not
taken by a folder) before anything is encoded or written, and each file is written
atomically, so a failure leaves every file either complete or untouched.

File names for :func:`export_person`:

- One iteration: ``path`` itself.
- Several iterations as OBJ, PLY or GLB: one file per iteration, ``{stem}_iter{k}{suffix}``
  with k the iteration's index (0 is the mean-parameter start), and ``{stem}_refined``
  for the refined step (:mod:`studio.pipeline.refine`); ``path`` itself is not written.
- Several iterations as npz: one file, ``path``, holding them as frames in the order given
  (see :mod:`studio.io.smpl_params`).
- With ``fmt`` given, ``path`` gets the format's suffix appended unless it already ends
  with it (``body`` -> ``body.glb``, ``body.v2`` -> ``body.v2.glb``).

OBJ and PLY hold camera-axes vertices without the translation (x right, y down, z away);
GLB holds the same vertices turned into glTF's y-up axes and placed in front of a camera
matching the photo's, which it holds too (:mod:`studio.io.camera_glb`); npz holds SMPL
parameters, the translation and the mesh.
"""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from studio.errors import StudioError
from studio.io.camera_glb import camera_glb_bytes
from studio.io.images import IMAGE_TYPES, image_bytes
from studio.io.meshes import MESH_TYPES, mesh_bytes
from studio.io.output import check_output_file, write_output
from studio.io.smpl_params import amass_npz_bytes
from studio.pipeline.results import FrameResult, MeshIteration, PersonResult

EXPORT_TYPES = (*MESH_TYPES, ".npz")


def numbered(path: Path, k: int) -> Path:
    """Person ``k``'s file for ``path``: the path itself for person 0, else stem + ``_k``."""
    return path if k == 0 else path.with_name(f"{path.stem}_{k}{path.suffix}")


def step_stem(person: PersonResult, index: int) -> str:
    """What files of step ``index`` of ``person.steps()`` are called: ``iter<k>`` for the
    net's iterations, ``refined`` for the refined step."""
    return "refined" if index == len(person.iterations) else f"iter{index}"


def export_person(result: FrameResult, person: int, path: Path, iterations: Sequence[int],
                  fmt: str | None = None) -> list[Path]:
    """Write person ``person``'s ``iterations`` (indices into its steps, the refined one
    last when there is one; negative ones count from the end) in format ``fmt`` (obj, ply, glb, npz; default: ``path``'s suffix);
    returns the files written, named as the module says."""
    path = Path(path)
    if fmt is not None:
        suffix = "." + fmt.lower().lstrip(".")
        if suffix not in EXPORT_TYPES:
            raise StudioError(f"unsupported export format {fmt!r} (use "
                              f"{', '.join(t[1:] for t in EXPORT_TYPES)})")
        if path.suffix.lower() != suffix:
            path = path.with_name(path.name + suffix)
    found = result.people[person]
    frames = found.steps()
    if not iterations:
        raise ValueError("no iterations to export")
    try:
        chosen = [range(len(frames))[i] for i in iterations]
    except IndexError:
        raise ValueError(f"iterations {list(iterations)}: the person has "
                         f"{len(frames)}") from None
    suffix = path.suffix.lower()
    if suffix == ".npz" or len(chosen) == 1:
        files = [(path, [frames[k] for k in chosen])]
    else:
        files = [(path.with_name(f"{path.stem}_{step_stem(found, k)}{path.suffix}"),
                  [frames[k]]) for k in chosen]
    for target, _ in files:
        check_output_file(target, EXPORT_TYPES)
    payloads = [(target, encode_iterations(result, chosen_frames, suffix))
                for target, chosen_frames in files]
    for target, payload in payloads:
        write_output(target, payload)
    return [target for target, _ in payloads]


def encode_iterations(result: FrameResult, frames: Sequence[MeshIteration],
                      suffix: str) -> bytes:
    """The content of one file of type ``suffix`` (obj, ply, glb, npz, with the dot):
    all ``frames`` for npz, the only one for a mesh; GLB with the image camera, y up."""
    if suffix == ".npz":
        return amass_npz_bytes(frames, result.faces, result.body_name)
    [it] = frames
    if suffix == ".glb":
        return camera_glb_bytes(it.vertices, result.faces, it.image_camera, result.image_size)
    return mesh_bytes(it.vertices, result.faces, suffix)


def export_overlay(path: Path, rgb: np.ndarray) -> Path:
    """Write an overlay or screenshot (uint8 RGB, RGBA or grey) as PNG or JPEG, as
    ``path``'s suffix says."""
    path = Path(path)
    check_output_file(path, IMAGE_TYPES)
    write_output(path, image_bytes(rgb, path.suffix))
    return path
