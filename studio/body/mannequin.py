"""Builds the built-in mannequin body model (`studio body build`) from its design.

Everything here is deterministic: with the locked package versions, rebuilding reproduces
``models/mannequin/mannequin.npz`` byte for byte on any x86-64 CPU (checked by
``studio body build --check`` and the test suite).

Why a recorded face order: quadric decimation depends on the order of its input faces, and
the shipped file was built when the faces came out of ``trimesh``'s component split, which
ordered them with numpy's unstable argsort of tied labels. numpy 1.26 sorts with AVX-512
code on CPUs that have it and with introsort elsewhere, and the two break ties differently,
so the shipped mannequin could only be rebuilt on AVX-512 machines. The build now keeps the
marching-cubes order (``meshing.largest_component``) and applies the order the shipped file
was built from, stored as ``build_face_order.npz`` (1.6 KB); every built-in weight file
depends on the shipped vertices, so the shipped file stays the source of truth.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from studio.body import joint_sets as js
from studio.body.downsample import build_downsampling
from studio.body.mannequin_design import HEAD_TOP_Y, body_sdf, mirror, nearest_part_joint, rest_joints
from studio.body.meshing import decimate, polygonise, relax
from studio.body.model import BodyData
from studio.body.registry import MANNEQUIN_PATH
from studio.body.rigging import closest_on_segments, part_uv, skinning_weights, vertex_regressor

TARGET_VERTICES = 7000
GRID_STEP = 0.007
BOUNDS = (np.array([-0.92, -1.20, -0.20]), np.array([0.92, 0.60, 0.25]))
WEIGHT_DIFFUSION_STEPS = 25
FACE_ORDER_PATH = MANNEQUIN_PATH.with_name("build_face_order.npz")

NAMES = js.SMPL24_NAMES
PARENTS = np.asarray(js.SMPL24_PARENTS)
IDX = {n: i for i, n in enumerate(NAMES)}

# End points of the bone axis owned by each joint, for joints without a single child.
_AXIS_ENDS = {
    "pelvis": "spine1", "spine3": "neck", "left_collar": "left_shoulder",
    "right_collar": "right_shoulder",
}
_TIP_POINTS = {
    "head": (0.0, HEAD_TOP_Y, 0.02), "left_hand": (0.862, 0.219, -0.042),
    "left_foot": (0.104, -1.147, 0.177),
}

# Landmark design points (left side and midline); right side mirrors x. The ear is where
# MediaPipe puts it (`studio bench landmarks`, see the model card): in front of the
# head's side, not on it.
_LANDMARK_POINTS = {
    "nose": (0.0, 0.432, 0.145), "left_eye": (0.032, 0.470, 0.110),
    "left_eye_inner": (0.017, 0.470, 0.115), "left_eye_outer": (0.050, 0.468, 0.095),
    "left_ear": (0.072, 0.445, 0.072), "mouth_left": (0.024, 0.405, 0.115),
    "head_top": (0.0, 0.600, 0.020), "chin": (0.0, 0.352, 0.090),
    "left_big_toe": (0.086, -1.150, 0.190), "left_small_toe": (0.135, -1.152, 0.160),
    "left_heel": (0.090, -1.145, -0.100),
    "left_thumb_tip": (0.775, 0.206, 0.050), "left_index_tip": (0.870, 0.219, -0.012),
    "left_middle_tip": (0.875, 0.219, -0.032), "left_ring_tip": (0.872, 0.219, -0.052),
    "left_pinky_tip": (0.862, 0.219, -0.074),
    "left_thumb_knuckle": (0.738, 0.210, 0.022), "left_index_knuckle": (0.782, 0.226, -0.012),
    "left_pinky_knuckle": (0.776, 0.226, -0.072),
}

# SPIN's extra joints (rows of J_regressor_extra), as points inside the mannequin.
_EXTRA_POINTS = {
    "right_hip_lsp": (-0.090, -0.345, 0.010), "left_hip_lsp": (0.090, -0.345, 0.010),
    "neck_lsp": (0.0, 0.335, -0.005), "head_top_lsp": (0.0, 0.535, 0.015),
    "pelvis_mpii": (0.0, -0.305, 0.008), "thorax_mpii": (0.0, 0.250, -0.012),
    "spine_h36m": (0.0, -0.030, 0.005), "jaw_h36m": (0.0, 0.385, 0.055),
    "head_h36m": (0.0, 0.455, 0.025),
}


def _design_point(table: dict[str, tuple[float, float, float]], name: str) -> tuple[float, float, float]:
    if name in table:
        return table[name]
    left = name.replace("right_", "left_").replace("mouth_right", "mouth_left")
    return mirror(table[left])


def _segments(joints: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start and end [24,3] of the bone axis each joint rotates."""
    kids = {p: j for j, p in enumerate(PARENTS) if p >= 0}
    ends = np.zeros_like(joints)
    for j, name in enumerate(NAMES):
        side_free = name.replace("right_", "left_")
        if name in _AXIS_ENDS:
            ends[j] = joints[IDX[_AXIS_ENDS[name]]]
        elif side_free in _TIP_POINTS:
            ends[j] = _design_point(_TIP_POINTS, name)
        else:
            ends[j] = joints[kids[j]]
    return joints.copy(), ends


def _part_labels(verts: np.ndarray) -> np.ndarray:
    """SMPL-like 24-part labels: nearest design primitive, torso split into bands."""
    labels = np.array([IDX[n] for n in nearest_part_joint(verts)])
    torso = np.isin(labels, [IDX[n] for n in ("pelvis", "spine1", "spine2", "spine3",
                                               "left_collar", "right_collar")])
    x, y = verts[:, 0], verts[:, 1]
    band = np.select([y < -0.1675, y < -0.04, y < 0.06], [IDX["pelvis"], IDX["spine1"], IDX["spine2"]],
                     IDX["spine3"])
    collar = (y > 0.17) & (np.abs(x) > 0.085)
    band = np.where(collar, np.where(x > 0, IDX["left_collar"], IDX["right_collar"]), band)
    return np.where(torso, band, labels)


def _joint_translation_field(verts: np.ndarray, weights: np.ndarray, seg_a: np.ndarray,
                             seg_b: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Displacement [V,3] that moves joints by ``t`` [24,3] and stretches bones between.

    Along each bone the displacement goes linearly from its joint's to its child's, so a
    longer femur lengthens the thigh evenly instead of bulging the knee.
    """
    kids = {p: j for j, p in enumerate(PARENTS) if p >= 0 and list(PARENTS).count(p) == 1}
    out = np.zeros_like(verts)
    for j in range(len(NAMES)):
        w = weights[:, j]
        m = w > 0
        if not m.any():
            continue
        if j in kids:
            _, s = closest_on_segments(verts[m], np.broadcast_to(seg_a[j], (m.sum(), 3)),
                                       np.broadcast_to(seg_b[j], (m.sum(), 3)))
            d = t[j] + s[:, None] * (t[kids[j]] - t[j])
        else:
            d = np.broadcast_to(t[j], (m.sum(), 3))
        out[m] += w[m, None] * d
    return out


def _radial_field(verts: np.ndarray, weights: np.ndarray, seg_a: np.ndarray, seg_b: np.ndarray,
                  gain: np.ndarray, axis_mask: np.ndarray = np.ones(3)) -> np.ndarray:
    """Displacement pushing the surface away from each bone axis by ``gain[j]`` per metre."""
    out = np.zeros_like(verts)
    for j in range(len(NAMES)):
        w = weights[:, j] * gain[j]
        m = w != 0
        if not m.any():
            continue
        c, _ = closest_on_segments(verts[m], np.broadcast_to(seg_a[j], (m.sum(), 3)),
                                   np.broadcast_to(seg_b[j], (m.sum(), 3)))
        out[m] += w[m, None] * (verts[m] - c) * axis_mask
    return out


def _per_joint(values: dict[str, object], default: object = 0.0) -> np.ndarray:
    """An array over the 24 joints from a {name or 'left_*' pattern: value} table (mirrored)."""
    rows = []
    for n in NAMES:
        key = n.replace("right_", "left_")
        v = np.asarray(values.get(n, values.get(key, default)), np.float64)
        if n.startswith("right_") and v.ndim == 1:
            v = v * np.array([-1.0, 1.0, 1.0])
        rows.append(v)
    return np.stack(rows)


def shape_components(verts: np.ndarray, weights: np.ndarray, joints: np.ndarray) -> np.ndarray:
    """The 10 shape directions [V,3,10], each one unit ~ one standard deviation.

    0 height, 1 weight/girth, 2 shoulder width, 3 hip width, 4 leg length, 5 arm length,
    6 torso length, 7 belly and chest depth, 8 head size, 9 limb muscularity.
    """
    a, b = _segments(joints)
    sole = verts[:, 1].min()
    up = np.array([0.0, 1.0, 0.0])
    arms = ("left_shoulder", "left_elbow", "left_wrist", "left_hand")
    upper = ("spine3", "neck", "head", "left_collar") + arms
    dirs = []
    # 0 height: taller and slightly broader, soles fixed.
    dirs.append(0.035 * (verts[:, 1:2] - sole) * up + 0.008 * verts * np.array([1.0, 0.0, 1.0]))
    # 1 weight: girth everywhere, most at the belly.
    dirs.append(_radial_field(verts, weights, a, b, _per_joint(
        {"spine1": 0.22, "spine2": 0.2, "pelvis": 0.16, "spine3": 0.12, "left_hip": 0.14,
         "left_knee": 0.08, "left_shoulder": 0.1, "left_elbow": 0.07, "neck": 0.08,
         "left_collar": 0.08, "head": 0.02}, 0.0)))
    # 2 shoulder width: the arms move out, the chest widens.
    t = _per_joint({**{n: (0.018, 0, 0) for n in arms}, "left_collar": (0.009, 0, 0)}, (0, 0, 0))
    dirs.append(_joint_translation_field(verts, weights, a, b, t)
                + _radial_field(verts, weights, a, b, _per_joint({"spine3": 0.08}), np.array([1.0, 0, 0])))
    # 3 hip width: legs move out, the pelvis widens.
    legs = ("left_hip", "left_knee", "left_ankle", "left_foot")
    t = _per_joint({n: (0.012, 0, 0) for n in legs}, (0, 0, 0))
    dirs.append(_joint_translation_field(verts, weights, a, b, t)
                + _radial_field(verts, weights, a, b, _per_joint({"pelvis": 0.1, "spine1": 0.04}),
                                np.array([1.0, 0, 0])))
    # 4 leg length: thighs and shins lengthen, the body above rides up.
    t = _per_joint({"left_knee": (0, 0.016, 0), "left_ankle": (0, 0.0, 0), "left_foot": (0, 0, 0)},
                   (0, 0.032, 0))
    dirs.append(_joint_translation_field(verts, weights, a, b, t))
    # 5 arm length: upper arm and forearm lengthen.
    t = _per_joint({"left_elbow": (0.014, 0, 0), "left_wrist": (0.028, 0, 0),
                    "left_hand": (0.028, 0, 0)}, (0, 0, 0))
    dirs.append(_joint_translation_field(verts, weights, a, b, t))
    # 6 torso length: the chest, neck, head and arms ride up over a longer spine.
    t = _per_joint({"spine2": (0, 0.010, 0), **{n: (0, 0.022, 0) for n in upper}}, (0, 0, 0))
    dirs.append(_joint_translation_field(verts, weights, a, b, t))
    # 7 belly and chest depth (front-back only).
    dirs.append(_radial_field(verts, weights, a, b, _per_joint(
        {"spine1": 0.25, "spine2": 0.22, "spine3": 0.12, "pelvis": 0.08}), np.array([0, 0, 1.0])))
    # 8 head size: the head scales about its centre.
    head = np.array([0.0, 0.46, 0.02])
    dirs.append(0.06 * weights[:, IDX["head"], None] * (verts - head))
    # 9 limb muscularity: arms and legs thicken.
    dirs.append(_radial_field(verts, weights, a, b, _per_joint(
        {"left_shoulder": 0.16, "left_elbow": 0.12, "left_hip": 0.13, "left_knee": 0.13})))
    return np.stack(dirs, axis=-1)


def recorded_face_order(count: int, path: Path = FACE_ORDER_PATH) -> np.ndarray:
    """The order [count] of the marching-cubes faces that the shipped mannequin was built from.

    Stored as steps between successive indices (it is mostly runs of consecutive faces).
    A design change that alters the face count makes the record stale: delete the file,
    rebuild, and retrain the built-in weights, since they depend on the vertices.
    """
    if not path.is_file():
        return np.arange(count)
    with np.load(path, allow_pickle=False) as f:
        order = np.cumsum(f["steps"].astype(np.int64))
    if len(order) != count or not np.array_equal(np.sort(order), np.arange(count)):
        raise ValueError(f"{path} orders {len(order)} faces but the design gives {count}; "
                         "delete it when the mannequin's design changes")
    return order


def build_mannequin() -> BodyData:
    """Generate the mannequin from its design (about a minute on two cores)."""
    joints = rest_joints(NAMES)
    verts, faces = polygonise(body_sdf, *BOUNDS, GRID_STEP)
    faces = faces[recorded_face_order(len(faces))]
    verts, faces = decimate(verts, faces, TARGET_VERTICES)
    verts = relax(verts, faces, body_sdf, iterations=30)
    verts = verts.astype(np.float32).astype(np.float64)

    weights = skinning_weights(faces, _part_labels(verts), PARENTS, WEIGHT_DIFFUSION_STEPS)
    labels = weights.argmax(axis=1)  # like SMPL: a vertex belongs to its dominant joint
    j_reg = vertex_regressor(verts, joints)
    extra = vertex_regressor(verts, np.array([_EXTRA_POINTS[n] for n in js.EXTRA_JOINT_NAMES]))

    tree_pts = np.array([_design_point(_LANDMARK_POINTS, n) for n in js.LANDMARK_NAMES])
    nearest = np.argmin(((verts[None] - tree_pts[:, None]) ** 2).sum(-1), axis=1)
    landmarks = {n: int(i) for n, i in zip(js.LANDMARK_NAMES, nearest)}
    vertex_ids = {k: landmarks[v] for k, v in js.SMPLX_VERTEX_KEYS.items()}

    seg_a, seg_b = _segments(joints)
    limb_side = np.array([0.0, 0.0, 1.0])
    ref = np.where(np.abs(seg_b - seg_a)[:, 2:3] > np.abs(seg_b - seg_a)[:, 1:2],
                   np.array([0.0, 1.0, 0.0]), limb_side)
    uv = part_uv(verts, labels, seg_a, seg_b, ref)
    shapedirs = shape_components(verts, weights, joints)
    down, up = build_downsampling(verts, faces)
    return BodyData(
        name="mannequin", source="built-in (studio body build)", v_template=verts,
        shapedirs=shapedirs, J_regressor=j_reg, weights=weights, parents=PARENTS, faces=faces,
        vertex_ids=vertex_ids, landmarks=landmarks, J_regressor_extra=extra, part_labels=labels,
        uv=uv, downsampling=down, upsampling=up,
    )
