"""Layouts are valid trees, recipes follow their sources, and conversions are consistent."""
from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from studio.body import joint_sets as js

KEYS = ("smpl24", "openpose25", "pymaf49", "coco17", "h36m17", "poseaug16", "mpii16",
        "mediapipe33")
SIZES = {"smpl24": 24, "openpose25": 25, "pymaf49": 49, "coco17": 17, "h36m17": 17,
         "poseaug16": 16, "mpii16": 16, "mediapipe33": 33}

# SPIN's 54 points (24 SMPL joints, smplx's 21 vertex joints, 9 extra joints) and its
# JOINT_MAP from the 49 joints into them, in joint order.
SPIN54 = js.SMPL24_NAMES + tuple(js.SMPLX_VERTEX_KEYS.values()) + js.EXTRA_JOINT_NAMES
SPIN_JOINT_MAP = (24, 12, 17, 19, 21, 16, 18, 20, 0, 2, 5, 8, 1, 4, 7, 25, 26, 27, 28, 29, 30,
                  31, 32, 33, 34, 8, 5, 45, 46, 4, 7, 21, 19, 17, 16, 18, 20, 47, 48, 49, 50,
                  51, 52, 53, 24, 26, 25, 28, 27)
SPIN_SMPL_FLIP = (0, 2, 1, 3, 5, 4, 6, 8, 7, 9, 11, 10, 12, 14, 13, 15, 17, 16, 19, 18, 21, 20,
                  23, 22)


def recipe(key: str) -> list[str]:
    """The single source each joint of a layout reads."""
    m = js.mapping_matrix(key)
    assert np.all(np.count_nonzero(m, axis=1) == 1)
    return [js.SOURCE_NAMES[s] for s in m.argmax(axis=1)]


def mirror_points(points: np.ndarray, perm: np.ndarray) -> np.ndarray:
    """The mirror image (x negated) of points, with left/right joints swapped back."""
    return points[..., perm, :] * np.array([-1.0, 1.0, 1.0])


def test_registry_and_constants() -> None:
    assert tuple(js.LAYOUTS) == KEYS
    for key, layout in js.LAYOUTS.items():
        assert layout.key == key and len(layout) == SIZES[key]
    assert js.SMPL24 is js.LAYOUTS["smpl24"]
    assert js.SMPL24.names == js.SMPL24_NAMES and js.SMPL24.parents == js.SMPL24_PARENTS
    assert len(js.SOURCE_NAMES) == len(set(js.SOURCE_NAMES)) == 24 + 35 + 9
    assert set(js.SMPLX_VERTEX_KEYS.values()) <= set(js.LANDMARK_NAMES)
    with pytest.raises(KeyError, match="unknown joint layout"):
        js.mapping_matrix("coco18")


@pytest.mark.parametrize("key", KEYS)
def test_names_unique_and_parents_form_tree(key: str) -> None:
    layout = js.LAYOUTS[key]
    assert len(set(layout.names)) == len(layout)
    assert layout.parents.count(-1) == 1
    for joint, parent in enumerate(layout.parents):
        assert -1 <= parent < len(layout) and parent != joint
        seen = {joint}
        while parent >= 0:  # walking up must reach the root without revisiting a joint
            assert parent not in seen
            seen.add(parent)
            parent = layout.parents[parent]
    assert len(layout.bones) == len(layout) - 1
    assert all(layout.parents[c] == p for c, p in layout.bones)


@pytest.mark.parametrize("key", KEYS)
def test_flip_pairs_are_mirror_counterparts(key: str) -> None:
    layout = js.LAYOUTS[key]
    perm = layout.flip_permutation()
    assert sorted(perm) == list(range(len(layout)))
    np.testing.assert_array_equal(perm[perm], np.arange(len(layout)))
    for i, j in layout.flip_pairs:
        a, b = layout.semantics[i], layout.semantics[j]
        assert a != b and js.mirror_name(a) == b and {"left", "right"} & set(a.split("_"))
    mirrored = Counter(js.mirror_name(s) for s in layout.semantics)
    assert mirrored == Counter(layout.semantics)
    # every joint named left/right has a partner; midline joints map to themselves
    for i, name in enumerate(layout.semantics):
        assert (perm[i] == i) == (js.mirror_name(name) == name)
        assert layout.semantics[perm[i]] == js.mirror_name(name)


def test_snake_case_native_names_mirror_too() -> None:
    for key in ("smpl24", "coco17", "mediapipe33"):
        layout = js.LAYOUTS[key]
        for i, j in layout.flip_pairs:
            assert js.mirror_name(layout.names[i]) == layout.names[j]


def test_smpl_flip_matches_spin() -> None:
    assert tuple(js.SMPL24.flip_permutation()) == SPIN_SMPL_FLIP


def test_source_flip() -> None:
    flip = js.SOURCE_FLIP
    np.testing.assert_array_equal(flip[flip], np.arange(len(js.SOURCE_NAMES)))
    names = js.SOURCE_NAMES
    assert names[flip[names.index("right_hip_lsp")]] == "left_hip_lsp"
    assert names[flip[names.index("mouth_left")]] == "mouth_right"
    assert names[flip[names.index("left_eye_inner")]] == "right_eye_inner"
    assert flip[names.index("head_h36m")] == names.index("head_h36m")
    assert flip[names.index("chin")] == names.index("chin")


@pytest.mark.parametrize("key", KEYS)
def test_mapping_matrix_rows(key: str) -> None:
    m = js.mapping_matrix(key)
    assert m.dtype == np.float32 and m.shape == (len(js.LAYOUTS[key]), len(js.SOURCE_NAMES))
    np.testing.assert_allclose(m.sum(axis=1), 1.0, rtol=0, atol=1e-6)
    assert (m >= 0).all()
    m[:] = 0  # callers get their own copy
    assert js.mapping_matrix(key).sum() == len(js.LAYOUTS[key])


@pytest.mark.parametrize("key", KEYS)
def test_flip_commutes_with_mapping(key: str) -> None:
    m, perm = js.mapping_matrix(key), js.LAYOUTS[key].flip_permutation()
    np.testing.assert_array_equal(m[perm], m[:, js.SOURCE_FLIP])
    points = np.random.default_rng(0).normal(size=(2, len(js.SOURCE_NAMES), 3))
    mapped_then_mirrored = mirror_points(m @ points, perm)
    mirrored_then_mapped = m @ mirror_points(points, js.SOURCE_FLIP)
    np.testing.assert_allclose(mapped_then_mirrored, mirrored_then_mapped, atol=1e-6)


def test_pymaf49_follows_spin_joint_map() -> None:
    assert recipe("pymaf49") == [SPIN54[i] for i in SPIN_JOINT_MAP]
    assert js.PYMAF49.names[:25] == tuple("OP " + n for n in js.OPENPOSE25.names)
    assert recipe("pymaf49")[:25] == recipe("openpose25")
    assert js.PYMAF49.names[25:28] == ("Right Ankle", "Right Knee", "Right Hip")
    assert js.PYMAF49.names[-1] == "Right Ear"


def test_documented_recipes() -> None:
    def source(key: str, name: str) -> str:
        return recipe(key)[js.LAYOUTS[key].index(name)]

    assert recipe("smpl24") == list(js.SMPL24_NAMES)
    assert source("openpose25", "MidHip") == "pelvis"
    assert source("openpose25", "Neck") == "neck"
    assert source("coco17", "left_shoulder") == "left_shoulder"
    assert source("mediapipe33", "left_index") == "left_index_knuckle"
    assert source("mediapipe33", "right_pinky") == "right_pinky_knuckle"
    assert source("mediapipe33", "left_thumb") == "left_thumb_knuckle"
    assert source("mediapipe33", "left_foot_index") == "left_big_toe"
    assert source("mediapipe33", "mouth_right") == "mouth_right"
    assert source("mediapipe33", "right_eye_outer") == "right_eye_outer"
    h36m = dict(zip(js.H36M17.names, recipe("h36m17")))
    assert (h36m["Hip"], h36m["Spine"], h36m["Thorax"], h36m["Neck/Nose"], h36m["Head"]) == (
        "pelvis_mpii", "spine_h36m", "thorax_mpii", "jaw_h36m", "head_h36m")
    assert h36m["RFoot"] == "right_ankle" and h36m["LHip"] == "left_hip"
    poseaug = dict(zip(js.POSEAUG16.names, recipe("poseaug16")))
    assert (poseaug["Hip"], poseaug["Spine"], poseaug["Thorax"], poseaug["Head"]) == (
        "pelvis_mpii", "spine_h36m", "thorax_mpii", "head_h36m")
    mpii = dict(zip(js.MPII16.names, recipe("mpii16")))
    assert (mpii["upper-neck"], mpii["head-top"], mpii["pelvis"], mpii["r-hip"]) == (
        "neck_lsp", "head_top_lsp", "pelvis_mpii", "right_hip_lsp")


def test_layout_orders() -> None:
    assert js.COCO17.names[:5] == ("nose", "left_eye", "right_eye", "left_ear", "right_ear")
    assert js.COCO17.names[-1] == "right_ankle"
    assert js.OPENPOSE25.names[8] == "MidHip" and js.OPENPOSE25.names[24] == "RHeel"
    assert js.MEDIAPIPE33.names[11] == "left_shoulder"
    assert js.MEDIAPIPE33.names[31:] == ("left_foot_index", "right_foot_index")
    assert js.H36M17.parents == (-1, 0, 1, 2, 0, 4, 5, 0, 7, 8, 9, 8, 11, 12, 8, 14, 15)
    assert js.MPII16.names[6:10] == ("pelvis", "thorax", "upper-neck", "head-top")
    assert js.MPII16.index("upper_neck") == 8  # falls back to the semantic name
    with pytest.raises(KeyError):
        js.MPII16.index("tail")


def test_poseaug16_matches_methods() -> None:
    assert js.POSEAUG16.names == ("Hip", "RHip", "RKnee", "RFoot", "LHip", "LKnee", "LFoot",
                                  "Spine", "Thorax", "Head", "LShoulder", "LElbow", "LWrist",
                                  "RShoulder", "RElbow", "RWrist")
    assert js.POSEAUG16.parents == (-1, 0, 1, 2, 0, 4, 5, 0, 7, 8, 8, 10, 11, 8, 13, 14)
    assert js.POSEAUG16_BONES == tuple((p, c) for c, p in js.POSEAUG16.bones)
    groups = js.POSEAUG16_BONE_GROUPS
    assert len(groups) == 9 and sorted(b for g in groups for b in g) == list(range(15))
    perm = js.POSEAUG16.flip_permutation()
    for group in groups:  # paired bones are each other's mirror, single ones lie on the midline
        bones = [js.POSEAUG16_BONES[b] for b in group]
        assert [tuple(int(perm[j]) for j in bone) for bone in bones] == bones[::-1]


def test_convert_round_trips() -> None:
    rng = np.random.default_rng(1)
    coco = rng.normal(size=(3, 17, 2))
    mp = js.convert(coco, "coco17", "mediapipe33")
    np.testing.assert_array_equal(js.convert(mp, "mediapipe33", "coco17"), coco)
    assert np.isnan(mp[:, js.MEDIAPIPE33.index("left_pinky")]).all()
    for key in KEYS:
        points = rng.normal(size=(len(js.LAYOUTS[key]), 3))
        np.testing.assert_array_equal(js.convert(points, key, key), points)
    smpl = js.convert_index("pymaf49", "smpl24")
    missing = {js.SMPL24_NAMES[i] for i in np.flatnonzero(smpl < 0)}
    assert missing == {"spine1", "spine2", "spine3", "left_foot", "right_foot", "left_collar",
                       "right_collar", "head", "left_hand", "right_hand"}


# Hips and pelvis are annotated differently across datasets (SMPL's joint centres, LSP's
# hips, MPII's pelvis); conversions treat them as the same joint. Nothing else may differ.
CONVENTION_JOINTS = {"pelvis", "left_hip", "right_hip"}


@pytest.mark.parametrize("src", KEYS)
def test_convert_matches_model_output(src: str) -> None:
    """Converting a layout the body model posed equals posing the target layout directly."""
    points = np.random.default_rng(2).normal(size=(len(js.SOURCE_NAMES), 3))
    for dst in KEYS:
        index = js.convert_index(src, dst)
        converted = js.convert(js.mapping_matrix(src) @ points, src, dst)
        direct = js.mapping_matrix(dst) @ points
        differs = ~np.isclose(converted, direct, atol=1e-6).all(axis=-1) & (index >= 0)
        assert {js.LAYOUTS[dst].semantics[d] for d in np.flatnonzero(differs)} <= CONVENTION_JOINTS
        if src == "pymaf49" and dst in ("openpose25", "coco17", "h36m17", "poseaug16", "mpii16"):
            assert (index >= 0).all() and not differs.any()


@settings(max_examples=60, deadline=None)
@given(src=st.sampled_from(KEYS), dst=st.sampled_from(KEYS),
       lead=st.lists(st.integers(1, 3), max_size=2), dim=st.integers(1, 4), seed=st.integers(0, 99))
def test_convert_property(src: str, dst: str, lead: list[int], dim: int, seed: int) -> None:
    a, b = js.LAYOUTS[src], js.LAYOUTS[dst]
    points = np.random.default_rng(seed).normal(size=(*lead, len(a), dim)).astype(np.float32)
    out = js.convert(points, src, dst)
    assert out.shape == (*lead, len(b), dim) and out.dtype == np.float32
    index = js.convert_index(src, dst)
    for d, s in enumerate(index):
        if s < 0:
            assert b.semantics[d] not in a.semantics
            assert np.isnan(out[..., d, :]).all()
        else:
            assert a.semantics[s] == b.semantics[d]
            np.testing.assert_array_equal(out[..., d, :], points[..., s, :])
    # a round trip returns each joint it kept; layouts without repeated names keep it in place
    back = js.convert(out, dst, src, fill=0.0)
    through = np.where(js.convert_index(dst, src) >= 0, index[js.convert_index(dst, src)], -1)
    for i, s in enumerate(through):
        if s >= 0:
            np.testing.assert_array_equal(back[..., i, :], points[..., s, :])
            assert s == i or src == "pymaf49"
        else:
            assert (back[..., i, :] == 0).all()


def test_convert_rejects_wrong_joint_count() -> None:
    with pytest.raises(ValueError, match="coco17"):
        js.convert(np.zeros((16, 2)), "coco17", "mpii16")


def test_part_tables() -> None:
    assert js.PART_NAMES == js.SMPL24_NAMES
    assert len(js.COARSE_PART_NAMES) == 14 and len(js.PART_TO_COARSE) == 24
    coarse = {p: js.COARSE_PART_NAMES[c] for p, c in zip(js.PART_NAMES, js.PART_TO_COARSE)}
    assert coarse["left_hip"] == "left_upper_leg" and coarse["right_knee"] == "right_lower_leg"
    assert coarse["left_ankle"] == coarse["left_foot"] == "left_foot"
    assert coarse["right_shoulder"] == "right_upper_arm"
    assert coarse["left_elbow"] == "left_lower_arm"
    assert coarse["right_wrist"] == coarse["right_hand"] == "right_hand"
    assert {coarse[p] for p in ("pelvis", "spine1", "spine2", "spine3", "left_collar")} == {"torso"}
    assert coarse["neck"] == coarse["head"] == "head"
    assert set(coarse.values()) == set(js.COARSE_PART_NAMES)  # every coarse part is used
    for part, name in coarse.items():  # mirror parts land in mirror coarse parts
        assert coarse[js.mirror_name(part)] == js.mirror_name(name)
