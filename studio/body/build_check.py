"""How a rebuilt mannequin compares with the shipped one, and what it was built with.

Byte identity is the strong guarantee (with the locked package versions it holds on any
x86-64 CPU); where a library version drifts it may not, so ``studio body build --check``
and the tests also measure geometric equivalence against stated tolerances.
"""
from __future__ import annotations

import io
import platform
from importlib import metadata

import numpy as np
import pyvista as pv
import trimesh
from scipy.spatial import cKDTree

from studio.body.model import BodyData
from studio.body.storage import load_body_npz

# What "the same body" means when bytes differ (metres, or a fraction for volume).
TOLERANCES = {"volume_rel": 0.01, "height_m": 0.001, "surface_m": 0.02, "joints_m": 0.001}

# The packages whose numbers reach the mannequin's arrays.
BUILD_PACKAGES = ("numpy", "scipy", "scikit-image", "trimesh", "vtk", "pyvista")


def build_environment() -> dict[str, object]:
    """CPU, the SIMD extensions numpy dispatches to, and the build packages' versions."""
    try:
        from numpy._core._multiarray_umath import __cpu_features__  # numpy >= 2
    except ImportError:
        from numpy.core._multiarray_umath import __cpu_features__

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            cpu = next((ln.split(":", 1)[1].strip() for ln in fh if ln.startswith("model name")), cpu)
    except OSError:
        pass
    versions = {}
    for name in BUILD_PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return {"cpu": cpu, "machine": platform.machine(),
            "numpy_simd": sorted(k for k, on in __cpu_features__.items() if on),
            "packages": versions}


def _polydata(body: BodyData) -> pv.PolyData:
    faces = np.hstack([np.full((len(body.faces), 1), 3), body.faces]).ravel()
    return pv.PolyData(np.asarray(body.v_template, np.float64), faces)


def _surface_distance(a: BodyData, b: BodyData) -> float:
    """Largest distance from either mesh's vertices to the other surface (symmetric)."""
    pa, pb = _polydata(a), _polydata(b)
    ab = np.abs(pa.compute_implicit_distance(pb)["implicit_distance"]).max()
    ba = np.abs(pb.compute_implicit_distance(pa)["implicit_distance"]).max()
    return float(max(ab, ba))


def compare_bodies(built: BodyData, shipped: BodyData) -> dict[str, object]:
    """Per-array identity and geometric differences of two body models."""
    new = trimesh.Trimesh(built.v_template, built.faces, process=False)
    old = trimesh.Trimesh(shipped.v_template, shipped.faces, process=False)
    dist, match = cKDTree(shipped.v_template).query(built.v_template)
    same_faces = {tuple(sorted(f)) for f in match[built.faces]} == \
        {tuple(sorted(f)) for f in shipped.faces}
    joints = np.abs(built.rest_joints() - shipped.rest_joints()).max()
    report: dict[str, object] = {
        "vertices": [built.num_vertices, shipped.num_vertices],
        "faces": [len(built.faces), len(shipped.faces)],
        "vertices_equal": bool(np.array_equal(built.v_template, shipped.v_template)),
        "vertices_matched_m": {"max": float(dist.max()), "mean": float(dist.mean()),
                               "exact_fraction": float(np.mean(dist == 0.0))},
        "faces_equal": bool(np.array_equal(built.faces, shipped.faces)),
        "faces_equal_after_matching": bool(same_faces),
        "volume_rel": float(abs(new.volume - old.volume) / old.volume),
        "height_m": float(abs(np.ptp(built.v_template[:, 1]) - np.ptp(shipped.v_template[:, 1]))),
        "surface_m": _surface_distance(built, shipped),
        "joints_m": float(joints),
        "watertight": bool(new.is_watertight),
    }
    report["equivalent"] = bool(
        built.num_vertices == shipped.num_vertices and report["watertight"]
        and all(report[k] <= tol for k, tol in TOLERANCES.items()))
    return report


def differing_arrays(payload: bytes, shipped_bytes: bytes) -> list[str]:
    """Names of the arrays that differ between two encoded body models."""
    with np.load(io.BytesIO(payload), allow_pickle=False) as new, \
            np.load(io.BytesIO(shipped_bytes), allow_pickle=False) as old:
        keys = sorted(set(new.files) | set(old.files))
        return [k for k in keys if k not in new.files or k not in old.files
                or new[k].dtype != old[k].dtype or not np.array_equal(new[k], old[k])]


def check_rebuild(payload: bytes, shipped_bytes: bytes) -> dict[str, object]:
    """The full comparison ``studio body build --check`` reports."""
    report: dict[str, object] = {"identical": payload == shipped_bytes,
                                 "environment": build_environment()}
    if not report["identical"]:
        report["arrays_differ"] = differing_arrays(payload, shipped_bytes)
        report["geometry"] = compare_bodies(load_body_npz(io.BytesIO(payload), "rebuilt"),
                                            load_body_npz(io.BytesIO(shipped_bytes), "shipped"))
    return report


def describe(report: dict[str, object]) -> list[str]:
    """Readable lines for a :func:`check_rebuild` report."""
    env = report["environment"]
    pkgs = ", ".join(f"{k} {v}" for k, v in env["packages"].items())
    simd = "AVX-512" if "AVX512_SKX" in env["numpy_simd"] else \
        ("AVX2" if "AVX2" in env["numpy_simd"] else "no AVX2")
    lines = [f"built on {env['cpu']} (numpy dispatch: {simd}); {pkgs}"]
    if report["identical"]:
        return ["identical: the rebuilt mannequin matches the shipped file byte for byte"] + lines
    g = report["geometry"]
    v = g["vertices_matched_m"]
    lines = [
        "differs: the rebuilt mannequin is not byte-identical to the shipped file",
        f"arrays that differ: {', '.join(report['arrays_differ']) or 'none (zip bytes only)'}",
        f"vertices {g['vertices'][0]} vs {g['vertices'][1]}; after matching each rebuilt vertex "
        f"to the nearest shipped one: max {v['max'] * 1000:.2f} mm, mean {v['mean'] * 1000:.3f} mm, "
        f"{v['exact_fraction']:.0%} exact",
        f"faces {g['faces'][0]} vs {g['faces'][1]}; same order: {g['faces_equal']}; "
        f"same triangles after matching: {g['faces_equal_after_matching']}",
        f"volume {g['volume_rel']:.3%} apart (tolerance {TOLERANCES['volume_rel']:.0%}), height "
        f"{g['height_m'] * 1000:.2f} mm ({TOLERANCES['height_m'] * 1000:.0f} mm), surface "
        f"{g['surface_m'] * 1000:.2f} mm ({TOLERANCES['surface_m'] * 1000:.0f} mm), joints "
        f"{g['joints_m'] * 1000:.3f} mm ({TOLERANCES['joints_m'] * 1000:.0f} mm), "
        f"watertight: {g['watertight']}",
        "geometrically equivalent within the tolerances" if g["equivalent"]
        else "NOT equivalent: differences exceed the tolerances",
    ] + lines
    return lines
