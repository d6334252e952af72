"""A crude synthetic body (spheres and capsules on the SMPL tree) for tests.

Tests that need a body model use it instead of the shipped mannequin, so they do
not depend on model files and stay fast (a few thousand vertices).
"""
from __future__ import annotations

import numpy as np
import trimesh

from studio.body import joint_sets
from studio.body.model import NUM_BETAS, NUM_JOINTS, BodyData

# Rest joint positions in metres: y up, facing +z, the body's left on +x (T-pose).
_JOINTS = {
    "pelvis": (0.0, 0.95, 0.0), "left_hip": (0.09, 0.87, 0.0), "right_hip": (-0.09, 0.87, 0.0),
    "spine1": (0.0, 1.06, -0.01), "left_knee": (0.10, 0.50, 0.01),
    "right_knee": (-0.10, 0.50, 0.01), "spine2": (0.0, 1.19, -0.01),
    "left_ankle": (0.10, 0.09, -0.02), "right_ankle": (-0.10, 0.09, -0.02),
    "spine3": (0.0, 1.26, -0.01), "left_foot": (0.11, 0.03, 0.10),
    "right_foot": (-0.11, 0.03, 0.10), "neck": (0.0, 1.49, -0.01),
    "left_collar": (0.07, 1.41, -0.01), "right_collar": (-0.07, 1.41, -0.01),
    "head": (0.0, 1.63, 0.02), "left_shoulder": (0.18, 1.43, -0.01),
    "right_shoulder": (-0.18, 1.43, -0.01), "left_elbow": (0.45, 1.43, -0.02),
    "right_elbow": (-0.45, 1.43, -0.02), "left_wrist": (0.70, 1.43, -0.01),
    "right_wrist": (-0.70, 1.43, -0.01), "left_hand": (0.78, 1.43, 0.0),
    "right_hand": (-0.78, 1.43, 0.0),
}
# Radius of the limb that leaves each joint (and of the joint's ball).
_RADII = {"pelvis": 0.11, "spine1": 0.11, "spine2": 0.12, "spine3": 0.12, "neck": 0.05,
          "head": 0.10, "left_collar": 0.05, "right_collar": 0.05, "left_hip": 0.07,
          "right_hip": 0.07, "left_knee": 0.05, "right_knee": 0.05, "left_hand": 0.04,
          "right_hand": 0.04}
_DEFAULT_RADIUS = 0.04

# Landmark -> (joint whose part holds it, direction it points to from that joint).
_LANDMARK_RULES = {
    "nose": ("head", (0, 0, 1)), "left_eye": ("head", (0.3, 0.3, 1)),
    "right_eye": ("head", (-0.3, 0.3, 1)), "left_eye_inner": ("head", (0.15, 0.3, 1)),
    "left_eye_outer": ("head", (0.5, 0.3, 1)), "right_eye_inner": ("head", (-0.15, 0.3, 1)),
    "right_eye_outer": ("head", (-0.5, 0.3, 1)), "left_ear": ("head", (1, 0, 0)),
    "right_ear": ("head", (-1, 0, 0)), "mouth_left": ("head", (0.2, -0.4, 1)),
    "mouth_right": ("head", (-0.2, -0.4, 1)), "head_top": ("head", (0, 1, 0)),
    "chin": ("head", (0, -1, 0.6)),
}
for _side, _s in (("left", 1.0), ("right", -1.0)):
    _LANDMARK_RULES.update({
        f"{_side}_big_toe": (f"{_side}_foot", (-_s * 0.3, 0, 1)),
        f"{_side}_small_toe": (f"{_side}_foot", (_s * 0.6, 0, 1)),
        f"{_side}_heel": (f"{_side}_ankle", (0, -0.5, -1)),
    })
    for _k, _finger in enumerate(("thumb", "index", "middle", "ring", "pinky")):
        _LANDMARK_RULES[f"{_side}_{_finger}_tip"] = (f"{_side}_hand", (_s, 0, 0.8 - 0.4 * _k))
    for _finger, _z in (("thumb", 1.0), ("index", 0.5), ("pinky", -0.8)):
        _LANDMARK_RULES[f"{_side}_{_finger}_knuckle"] = (f"{_side}_wrist", (_s * 0.5, 0, _z))


def _capsule(a: np.ndarray, b: np.ndarray, radius: float) -> trimesh.Trimesh:
    """A capsule whose axis runs from ``a`` to ``b``."""
    axis = b - a
    length = float(np.linalg.norm(axis))
    mesh = trimesh.creation.capsule(height=length, radius=radius, count=[10, 8])
    transform = trimesh.geometry.align_vectors([0.0, 0.0, 1.0], axis / length)
    transform[:3, 3] = (a + b) / 2.0
    mesh.apply_transform(transform)
    return mesh


def make_stick_body(name: str = "stick-test") -> BodyData:
    """A valid 24-joint body: a ball at every joint, a capsule along every bone.

    Each joint's ball and the capsules to its children are skinned rigidly to that
    joint, so part labels cover all 24 parts and the joint regressor (ball centroids)
    reproduces the rest joints exactly.
    """
    names = joint_sets.SMPL24_NAMES
    parents = np.asarray(joint_sets.SMPL24_PARENTS, np.int64)
    joints = np.asarray([_JOINTS[n] for n in names], np.float64)
    pieces: list[tuple[int, trimesh.Trimesh, bool]] = []  # (joint, mesh, is_ball)
    for j, n in enumerate(names):
        radius = _RADII.get(n, _DEFAULT_RADIUS)
        ball = trimesh.creation.icosphere(subdivisions=1, radius=radius)
        ball.apply_translation(joints[j])
        pieces.append((j, ball, True))
        if parents[j] >= 0:
            p = int(parents[j])
            limb_radius = min(_RADII.get(names[p], _DEFAULT_RADIUS), 0.8 * radius + 0.02)
            pieces.append((p, _capsule(joints[p], joints[j], limb_radius), False))

    verts, faces, owner = [], [], []
    regressor_rows: list[list[int]] = [[] for _ in range(NUM_JOINTS)]
    offset = 0
    for j, mesh, is_ball in pieces:
        count = len(mesh.vertices)
        verts.append(np.asarray(mesh.vertices))
        faces.append(np.asarray(mesh.faces) + offset)
        owner.append(np.full(count, j))
        if is_ball:
            regressor_rows[j] = list(range(offset, offset + count))
        offset += count
    v = np.concatenate(verts).astype(np.float32)
    part = np.concatenate(owner)
    weights = np.zeros((len(v), NUM_JOINTS), np.float32)
    weights[np.arange(len(v)), part] = 1.0
    regressor = np.zeros((NUM_JOINTS, len(v)), np.float32)
    for j, rows in enumerate(regressor_rows):
        regressor[j, rows] = 1.0 / len(rows)

    shapedirs = np.zeros((len(v), 3, NUM_BETAS), np.float32)
    shapedirs[:, :, 0] = 0.06 * v  # taller/shorter, feet stay on the ground
    shapedirs[:, 0, 1] = 0.10 * v[:, 0]  # wider/narrower
    shapedirs[:, 2, 1] = 0.10 * v[:, 2]
    for k in range(2, NUM_BETAS):
        shapedirs[:, k % 3, k] = 0.01 * np.sin((k + 1) * 3.0 * v[:, 1])

    landmarks = {}
    for lm in joint_sets.LANDMARK_NAMES:
        joint_name, direction = _LANDMARK_RULES[lm]
        j = names.index(joint_name)
        candidates = np.flatnonzero(part == j)
        score = (v[candidates] - joints[j]) @ np.asarray(direction, np.float64)
        landmarks[lm] = int(candidates[int(np.argmax(score))])
    vertex_ids = {key: landmarks[lm] for key, lm in joint_sets.SMPLX_VERTEX_KEYS.items()}

    return BodyData(name=name, source="tests/body_fixtures.py", v_template=v,
                    shapedirs=shapedirs, J_regressor=regressor, weights=weights,
                    parents=parents, faces=np.concatenate(faces), vertex_ids=vertex_ids,
                    landmarks=landmarks, part_labels=part)
