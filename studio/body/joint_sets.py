"""Keypoint layouts, the points a body model gives for them, and maps between layouts.

Each layout is a :class:`JointSet`. Its joints carry three things:
- a native name, spelled as the dataset or tool that defines the layout spells it;
- a semantic name shared by the same anatomical point in every layout, so layouts
  convert into each other by name (:func:`convert`);
- a recipe: the point of ``SOURCE_NAMES`` that stands for the joint on a posed body, so
  one body-model output yields every layout (:func:`mapping_matrix`).

Left and right are always the person's own.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

SMPL24_NAMES = (
    "pelvis", "left_hip", "right_hip", "spine1", "left_knee", "right_knee", "spine2",
    "left_ankle", "right_ankle", "spine3", "left_foot", "right_foot", "neck", "left_collar",
    "right_collar", "head", "left_shoulder", "right_shoulder", "left_elbow", "right_elbow",
    "left_wrist", "right_wrist", "left_hand", "right_hand",
)
SMPL24_PARENTS = (-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19, 20, 21)

# Named surface points every body model provides (vertex indices in BodyData.landmarks).
LANDMARK_NAMES = (
    "nose", "left_eye", "right_eye", "left_eye_inner", "left_eye_outer", "right_eye_inner",
    "right_eye_outer", "left_ear", "right_ear", "mouth_left", "mouth_right", "head_top", "chin",
    "left_big_toe", "left_small_toe", "left_heel", "right_big_toe", "right_small_toe", "right_heel",
    "left_thumb_tip", "left_index_tip", "left_middle_tip", "left_ring_tip", "left_pinky_tip",
    "right_thumb_tip", "right_index_tip", "right_middle_tip", "right_ring_tip", "right_pinky_tip",
    "left_thumb_knuckle", "left_index_knuckle", "left_pinky_knuckle",
    "right_thumb_knuckle", "right_index_knuckle", "right_pinky_knuckle",
)

# smplx's vertex_ids keys -> studio landmark names (smplx order of its 21 extra joints).
SMPLX_VERTEX_KEYS = {
    "nose": "nose", "reye": "right_eye", "leye": "left_eye",
    "rear": "right_ear", "lear": "left_ear",
    "LBigToe": "left_big_toe", "LSmallToe": "left_small_toe", "LHeel": "left_heel",
    "RBigToe": "right_big_toe", "RSmallToe": "right_small_toe", "RHeel": "right_heel",
    "lthumb": "left_thumb_tip", "lindex": "left_index_tip", "lmiddle": "left_middle_tip",
    "lring": "left_ring_tip", "lpinky": "left_pinky_tip",
    "rthumb": "right_thumb_tip", "rindex": "right_index_tip", "rmiddle": "right_middle_tip",
    "rring": "right_ring_tip", "rpinky": "right_pinky_tip",
}

# SPIN's 9 joints regressed by J_regressor_extra, in its row order.
EXTRA_JOINT_NAMES = (
    "right_hip_lsp", "left_hip_lsp", "neck_lsp", "head_top_lsp", "pelvis_mpii", "thorax_mpii",
    "spine_h36m", "jaw_h36m", "head_h36m",
)

SOURCE_NAMES = SMPL24_NAMES + LANDMARK_NAMES + EXTRA_JOINT_NAMES


def mirror_name(name: str) -> str:
    """The name of the mirror-image point: 'left' and 'right' words swapped."""
    swap = {"left": "right", "right": "left"}
    return "_".join(swap.get(word, word) for word in name.split("_"))


def _read_only(array: np.ndarray) -> np.ndarray:
    """Cached arrays are shared by every caller, so none may change them."""
    array.flags.writeable = False
    return array


# For each source, the index of its mirror image (itself on the midline).
SOURCE_FLIP = _read_only(np.array([SOURCE_NAMES.index(mirror_name(n)) for n in SOURCE_NAMES]))


@dataclass(frozen=True)
class JointSet:
    """A keypoint layout: joint names, a tree for drawing bones, and its left/right pairs."""

    key: str
    names: tuple[str, ...]  # native spelling
    parents: tuple[int, ...]  # -1 for the root
    flip_pairs: tuple[tuple[int, int], ...]  # (left or right joint, its mirror joint)
    semantics: tuple[str, ...]  # canonical names, shared across layouts

    def __post_init__(self) -> None:
        k = len(self.names)
        if len(self.parents) != k or len(self.semantics) != k:
            raise ValueError(f"{self.key}: names, parents and semantics differ in length")
        if len(set(self.names)) != k:
            raise ValueError(f"{self.key}: joint names are not unique")

    def __len__(self) -> int:
        return len(self.names)

    @property
    def bones(self) -> tuple[tuple[int, int], ...]:
        """(child, parent) for every non-root joint, in child order."""
        return tuple((c, p) for c, p in enumerate(self.parents) if p >= 0)

    def index(self, name: str) -> int:
        """Index of a joint by native name, else by (first) semantic name."""
        if name in self.names:
            return self.names.index(name)
        if name in self.semantics:
            return self.semantics.index(name)
        raise KeyError(f"{name!r} is not a joint of layout {self.key!r}")

    def flip_permutation(self) -> np.ndarray:
        """Indices that reorder a mirrored person's joints back into this layout."""
        perm = np.arange(len(self))
        for i, j in self.flip_pairs:
            perm[i], perm[j] = j, i
        return perm


# A layout row: native name, semantic name, parent's native name (None: root), source.
Row = tuple[str, str, str | None, str]

LAYOUTS: dict[str, JointSet] = {}
_SOURCES: dict[str, tuple[int, ...]] = {}  # layout key -> source index per joint


def _flip_pairs(semantics: tuple[str, ...]) -> tuple[tuple[int, int], ...]:
    """Pair the n-th joint named 'left_x' with the n-th named 'right_x' (pymaf49 repeats names)."""
    pairs = []
    for i, name in enumerate(semantics):
        mirror = mirror_name(name)
        if mirror == name:
            continue
        rank = semantics[:i].count(name)
        partners = [j for j, other in enumerate(semantics) if other == mirror]
        if rank >= len(partners):
            raise ValueError(f"joint {name!r} has no mirror joint {mirror!r}")
        if i < partners[rank]:
            pairs.append((i, partners[rank]))
    return tuple(pairs)


def _register(key: str, rows: tuple[Row, ...]) -> JointSet:
    names = tuple(r[0] for r in rows)
    semantics = tuple(r[1] for r in rows)
    parents = tuple(-1 if r[2] is None else names.index(r[2]) for r in rows)
    unknown = [r[3] for r in rows if r[3] not in SOURCE_NAMES]
    if unknown:
        raise ValueError(f"{key}: recipes name unknown sources {unknown}")
    layout = JointSet(key, names, parents, _flip_pairs(semantics), semantics)
    LAYOUTS[key] = layout
    _SOURCES[key] = tuple(SOURCE_NAMES.index(r[3]) for r in rows)
    return layout


SMPL24 = _register("smpl24", tuple(
    (n, n, None if p < 0 else SMPL24_NAMES[p], n) for n, p in zip(SMPL24_NAMES, SMPL24_PARENTS)))

# OpenPose BODY_25, with the sources SPIN's JOINT_MAP gives its 'OP *' joints: SMPL joints
# for the limbs, neck and MidHip (= SMPL pelvis), surface landmarks for face and feet.
_OPENPOSE_ROWS: tuple[Row, ...] = (
    ("Nose", "nose", "Neck", "nose"),
    ("Neck", "neck", "MidHip", "neck"),
    ("RShoulder", "right_shoulder", "Neck", "right_shoulder"),
    ("RElbow", "right_elbow", "RShoulder", "right_elbow"),
    ("RWrist", "right_wrist", "RElbow", "right_wrist"),
    ("LShoulder", "left_shoulder", "Neck", "left_shoulder"),
    ("LElbow", "left_elbow", "LShoulder", "left_elbow"),
    ("LWrist", "left_wrist", "LElbow", "left_wrist"),
    ("MidHip", "pelvis", None, "pelvis"),
    ("RHip", "right_hip", "MidHip", "right_hip"),
    ("RKnee", "right_knee", "RHip", "right_knee"),
    ("RAnkle", "right_ankle", "RKnee", "right_ankle"),
    ("LHip", "left_hip", "MidHip", "left_hip"),
    ("LKnee", "left_knee", "LHip", "left_knee"),
    ("LAnkle", "left_ankle", "LKnee", "left_ankle"),
    ("REye", "right_eye", "Nose", "right_eye"),
    ("LEye", "left_eye", "Nose", "left_eye"),
    ("REar", "right_ear", "REye", "right_ear"),
    ("LEar", "left_ear", "LEye", "left_ear"),
    ("LBigToe", "left_big_toe", "LAnkle", "left_big_toe"),
    ("LSmallToe", "left_small_toe", "LBigToe", "left_small_toe"),
    ("LHeel", "left_heel", "LAnkle", "left_heel"),
    ("RBigToe", "right_big_toe", "RAnkle", "right_big_toe"),
    ("RSmallToe", "right_small_toe", "RBigToe", "right_small_toe"),
    ("RHeel", "right_heel", "RAnkle", "right_heel"),
)
OPENPOSE25 = _register("openpose25", _OPENPOSE_ROWS)

# SPIN/PyMAF's 49 joints: 'OP ' + BODY_25, then SPIN's 24 ground-truth joints. Hips, neck,
# head top and the MPII/H36M joints come from the extra regressor, as in SPIN's JOINT_MAP.
# Its tree hangs the ground-truth set from 'OP MidHip' so the layout has a single root.
PYMAF49 = _register("pymaf49", tuple(
    ("OP " + n, s, None if p is None else "OP " + p, src) for n, s, p, src in _OPENPOSE_ROWS
) + (
    ("Right Ankle", "right_ankle", "Right Knee", "right_ankle"),
    ("Right Knee", "right_knee", "Right Hip", "right_knee"),
    ("Right Hip", "right_hip", "Pelvis (MPII)", "right_hip_lsp"),
    ("Left Hip", "left_hip", "Pelvis (MPII)", "left_hip_lsp"),
    ("Left Knee", "left_knee", "Left Hip", "left_knee"),
    ("Left Ankle", "left_ankle", "Left Knee", "left_ankle"),
    ("Right Wrist", "right_wrist", "Right Elbow", "right_wrist"),
    ("Right Elbow", "right_elbow", "Right Shoulder", "right_elbow"),
    ("Right Shoulder", "right_shoulder", "Thorax (MPII)", "right_shoulder"),
    ("Left Shoulder", "left_shoulder", "Thorax (MPII)", "left_shoulder"),
    ("Left Elbow", "left_elbow", "Left Shoulder", "left_elbow"),
    ("Left Wrist", "left_wrist", "Left Elbow", "left_wrist"),
    ("Neck (LSP)", "upper_neck", "Thorax (MPII)", "neck_lsp"),
    ("Top of Head (LSP)", "head_top", "Head (H36M)", "head_top_lsp"),
    ("Pelvis (MPII)", "pelvis", "OP MidHip", "pelvis_mpii"),
    ("Thorax (MPII)", "thorax", "Spine (H36M)", "thorax_mpii"),
    ("Spine (H36M)", "spine", "Pelvis (MPII)", "spine_h36m"),
    ("Jaw (H36M)", "jaw", "Neck (LSP)", "jaw_h36m"),
    ("Head (H36M)", "head_h36m", "Neck (LSP)", "head_h36m"),
    ("Nose", "nose", "Neck (LSP)", "nose"),
    ("Left Eye", "left_eye", "Nose", "left_eye"),
    ("Right Eye", "right_eye", "Nose", "right_eye"),
    ("Left Ear", "left_ear", "Left Eye", "left_ear"),
    ("Right Ear", "right_ear", "Right Eye", "right_ear"),
))

# COCO has no midline joint below the nose, so the nose is the root. Hips use SMPL's hip
# joints (as OpenPose's do), so COCO and MediaPipe keypoints need no extra regressor.
COCO17 = _register("coco17", (
    ("nose", "nose", None, "nose"),
    ("left_eye", "left_eye", "nose", "left_eye"),
    ("right_eye", "right_eye", "nose", "right_eye"),
    ("left_ear", "left_ear", "left_eye", "left_ear"),
    ("right_ear", "right_ear", "right_eye", "right_ear"),
    ("left_shoulder", "left_shoulder", "nose", "left_shoulder"),
    ("right_shoulder", "right_shoulder", "nose", "right_shoulder"),
    ("left_elbow", "left_elbow", "left_shoulder", "left_elbow"),
    ("right_elbow", "right_elbow", "right_shoulder", "right_elbow"),
    ("left_wrist", "left_wrist", "left_elbow", "left_wrist"),
    ("right_wrist", "right_wrist", "right_elbow", "right_wrist"),
    ("left_hip", "left_hip", "left_shoulder", "left_hip"),
    ("right_hip", "right_hip", "right_shoulder", "right_hip"),
    ("left_knee", "left_knee", "left_hip", "left_knee"),
    ("right_knee", "right_knee", "right_hip", "right_knee"),
    ("left_ankle", "left_ankle", "left_knee", "left_ankle"),
    ("right_ankle", "right_ankle", "right_knee", "right_ankle"),
))

# The 17 H36M joints of VideoPose3D/PoseAug (RFoot/LFoot are the ankles). Midline joints use
# SPIN's extra regressor; 'Neck/Nose' is its 'Jaw (H36M)', which SPIN trained to match
# H36M joint 9 (its H36M_TO_J17 puts that joint in the 'Jaw (H36M)' slot). H36M's Head sits
# well above SMPL's head joint (the skull's pivot), so its semantic name keeps them apart.
_H36M_ROWS: tuple[Row, ...] = (
    ("Hip", "pelvis", None, "pelvis_mpii"),
    ("RHip", "right_hip", "Hip", "right_hip"),
    ("RKnee", "right_knee", "RHip", "right_knee"),
    ("RFoot", "right_ankle", "RKnee", "right_ankle"),
    ("LHip", "left_hip", "Hip", "left_hip"),
    ("LKnee", "left_knee", "LHip", "left_knee"),
    ("LFoot", "left_ankle", "LKnee", "left_ankle"),
    ("Spine", "spine", "Hip", "spine_h36m"),
    ("Thorax", "thorax", "Spine", "thorax_mpii"),
    ("Neck/Nose", "jaw", "Thorax", "jaw_h36m"),
    ("Head", "head_h36m", "Neck/Nose", "head_h36m"),
    ("LShoulder", "left_shoulder", "Thorax", "left_shoulder"),
    ("LElbow", "left_elbow", "LShoulder", "left_elbow"),
    ("LWrist", "left_wrist", "LElbow", "left_wrist"),
    ("RShoulder", "right_shoulder", "Thorax", "right_shoulder"),
    ("RElbow", "right_elbow", "RShoulder", "right_elbow"),
    ("RWrist", "right_wrist", "RElbow", "right_wrist"),
)
H36M17 = _register("h36m17", _H36M_ROWS)

# PoseAug drops H36M's Neck/Nose, so its Head hangs from the Thorax.
POSEAUG16 = _register("poseaug16", tuple(
    ("Head", "head_h36m", "Thorax", "head_h36m") if r[0] == "Head" else r
    for r in _H36M_ROWS if r[0] != "Neck/Nose"))
# PoseAug's bones b0..b14 as (parent, child), and the bones sharing one length ratio.
POSEAUG16_BONES = ((0, 1), (1, 2), (2, 3), (0, 4), (4, 5), (5, 6), (0, 7), (7, 8), (8, 9),
                   (8, 10), (10, 11), (11, 12), (8, 13), (13, 14), (14, 15))
POSEAUG16_BONE_GROUPS = ((0, 3), (1, 4), (2, 5), (6,), (7,), (8,), (9, 12), (10, 13), (11, 14))

# MPII's 16 joints. MPII annotates hips like LSP, so its hips are the LSP hips.
MPII16 = _register("mpii16", (
    ("r-ankle", "right_ankle", "r-knee", "right_ankle"),
    ("r-knee", "right_knee", "r-hip", "right_knee"),
    ("r-hip", "right_hip", "pelvis", "right_hip_lsp"),
    ("l-hip", "left_hip", "pelvis", "left_hip_lsp"),
    ("l-knee", "left_knee", "l-hip", "left_knee"),
    ("l-ankle", "left_ankle", "l-knee", "left_ankle"),
    ("pelvis", "pelvis", None, "pelvis_mpii"),
    ("thorax", "thorax", "pelvis", "thorax_mpii"),
    ("upper-neck", "upper_neck", "thorax", "neck_lsp"),
    ("head-top", "head_top", "upper-neck", "head_top_lsp"),
    ("r-wrist", "right_wrist", "r-elbow", "right_wrist"),
    ("r-elbow", "right_elbow", "r-shoulder", "right_elbow"),
    ("r-shoulder", "right_shoulder", "thorax", "right_shoulder"),
    ("l-shoulder", "left_shoulder", "thorax", "left_shoulder"),
    ("l-elbow", "left_elbow", "l-shoulder", "left_elbow"),
    ("l-wrist", "left_wrist", "l-elbow", "left_wrist"),
))

# MediaPipe Pose's 33 landmarks. Its hand points are knuckles (pinky/index #1, thumb #2)
# and 'foot_index' is the big toe; hips are SMPL's, as for COCO.
MEDIAPIPE33 = _register("mediapipe33", (
    ("nose", "nose", None, "nose"),
    ("left_eye_inner", "left_eye_inner", "nose", "left_eye_inner"),
    ("left_eye", "left_eye", "left_eye_inner", "left_eye"),
    ("left_eye_outer", "left_eye_outer", "left_eye", "left_eye_outer"),
    ("right_eye_inner", "right_eye_inner", "nose", "right_eye_inner"),
    ("right_eye", "right_eye", "right_eye_inner", "right_eye"),
    ("right_eye_outer", "right_eye_outer", "right_eye", "right_eye_outer"),
    ("left_ear", "left_ear", "left_eye_outer", "left_ear"),
    ("right_ear", "right_ear", "right_eye_outer", "right_ear"),
    ("mouth_left", "mouth_left", "nose", "mouth_left"),
    ("mouth_right", "mouth_right", "nose", "mouth_right"),
    ("left_shoulder", "left_shoulder", "nose", "left_shoulder"),
    ("right_shoulder", "right_shoulder", "nose", "right_shoulder"),
    ("left_elbow", "left_elbow", "left_shoulder", "left_elbow"),
    ("right_elbow", "right_elbow", "right_shoulder", "right_elbow"),
    ("left_wrist", "left_wrist", "left_elbow", "left_wrist"),
    ("right_wrist", "right_wrist", "right_elbow", "right_wrist"),
    ("left_pinky", "left_pinky_knuckle", "left_wrist", "left_pinky_knuckle"),
    ("right_pinky", "right_pinky_knuckle", "right_wrist", "right_pinky_knuckle"),
    ("left_index", "left_index_knuckle", "left_wrist", "left_index_knuckle"),
    ("right_index", "right_index_knuckle", "right_wrist", "right_index_knuckle"),
    ("left_thumb", "left_thumb_knuckle", "left_wrist", "left_thumb_knuckle"),
    ("right_thumb", "right_thumb_knuckle", "right_wrist", "right_thumb_knuckle"),
    ("left_hip", "left_hip", "left_shoulder", "left_hip"),
    ("right_hip", "right_hip", "right_shoulder", "right_hip"),
    ("left_knee", "left_knee", "left_hip", "left_knee"),
    ("right_knee", "right_knee", "right_hip", "right_knee"),
    ("left_ankle", "left_ankle", "left_knee", "left_ankle"),
    ("right_ankle", "right_ankle", "right_knee", "right_ankle"),
    ("left_heel", "left_heel", "left_ankle", "left_heel"),
    ("right_heel", "right_heel", "right_ankle", "right_heel"),
    ("left_foot_index", "left_big_toe", "left_ankle", "left_big_toe"),
    ("right_foot_index", "right_big_toe", "right_ankle", "right_big_toe"),
))


def _layout(key: str) -> JointSet:
    try:
        return LAYOUTS[key]
    except KeyError:
        raise KeyError(f"unknown joint layout {key!r}; known: {sorted(LAYOUTS)}") from None


@functools.cache
def _mapping(key: str) -> np.ndarray:
    sources = _SOURCES[_layout(key).key]
    matrix = np.zeros((len(sources), len(SOURCE_NAMES)), np.float32)
    matrix[np.arange(len(sources)), sources] = 1.0
    return _read_only(matrix)


def mapping_matrix(key: str) -> np.ndarray:
    """[K, len(SOURCE_NAMES)] float32: row k blends the sources into joint k (rows sum to 1).

    A writable copy of a cached matrix: torch warns on tensors made from read-only arrays.
    """
    return _mapping(key).copy()


@functools.cache
def convert_index(src_key: str, dst_key: str) -> np.ndarray:
    """For each joint of ``dst_key``, the index of the same joint in ``src_key``, or -1.

    Joints match by semantic name. Where a layout repeats a name (pymaf49), the source
    joint with the same recipe wins, then the one with the same native name, so
    conversions stay exact on body-model output and a layout converts to itself unchanged.
    """
    src, dst = _layout(src_key), _layout(dst_key)
    src_sources, dst_sources = _SOURCES[src.key], _SOURCES[dst.key]
    index = np.full(len(dst), -1, np.int64)
    for d, name in enumerate(dst.semantics):
        candidates = [s for s, other in enumerate(src.semantics) if other == name]
        if candidates:
            index[d] = max(candidates, key=lambda s: (src_sources[s] == dst_sources[d],
                                                      src.names[s] == dst.names[d], -s))
    return _read_only(index)


def convert(points: np.ndarray, src_key: str, dst_key: str, fill: float = np.nan) -> np.ndarray:
    """Re-order keypoints [..., K_src, D] into layout ``dst_key``; missing joints get ``fill``."""
    points = np.asarray(points)
    if points.ndim < 2 or points.shape[-2] != len(_layout(src_key)):
        raise ValueError(f"points of shape {points.shape} do not hold the "
                         f"{len(_layout(src_key))} joints of {src_key!r}")
    index = convert_index(src_key, dst_key)
    out = np.full(points.shape[:-2] + (len(index), points.shape[-1]), fill,
                  dtype=np.result_type(points, fill))
    found = index >= 0
    out[..., found, :] = points[..., index[found], :]
    return out


# Body parts: one per SMPL joint (the segment it rotates), and DensePose's 14 coarse parts.
PART_NAMES = SMPL24_NAMES
COARSE_PART_NAMES = (
    "torso", "right_hand", "left_hand", "left_foot", "right_foot", "right_upper_leg",
    "left_upper_leg", "right_lower_leg", "left_lower_leg", "left_upper_arm", "right_upper_arm",
    "left_lower_arm", "right_lower_arm", "head",
)
_COARSE_OF_PART = {
    "pelvis": "torso", "spine1": "torso", "spine2": "torso", "spine3": "torso",
    "left_collar": "torso", "right_collar": "torso", "neck": "head", "head": "head",
    "left_hip": "left_upper_leg", "left_knee": "left_lower_leg",
    "left_ankle": "left_foot", "left_foot": "left_foot",
    "left_shoulder": "left_upper_arm", "left_elbow": "left_lower_arm",
    "left_wrist": "left_hand", "left_hand": "left_hand",
}
_COARSE_OF_PART.update({mirror_name(p): mirror_name(c) for p, c in list(_COARSE_OF_PART.items())})
# [24] coarse part index of each SMPL part, e.g. PART_TO_COARSE[part_labels] per vertex.
PART_TO_COARSE = _read_only(np.array(
    [COARSE_PART_NAMES.index(_COARSE_OF_PART[p]) for p in PART_NAMES], np.int64))
