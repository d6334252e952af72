"""The shipped mannequin: surface quality, rigging, shape space, and exact reproducibility."""
from __future__ import annotations

import copy
import io
import os
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import smplx
import torch
import trimesh

from studio.body import joint_sets as js
from studio.body.build_check import build_environment, compare_bodies
from studio.body.meshing import largest_component
from studio.body.mannequin_design import rest_joints
from studio.body.mesh_checks import self_intersections
from studio.body.model import BodyModel
from studio.body.registry import MANNEQUIN_PATH
from studio.body.storage import encode_body_npz, load_body_npz, save_smpl_pickle
from test_lock import LOCK, parse_lock

IDX = {n: i for i, n in enumerate(js.SMPL24_NAMES)}


@pytest.fixture(scope="module")
def data():
    return load_body_npz(MANNEQUIN_PATH)


@pytest.fixture(scope="module")
def model(data):
    return BodyModel(data)


def _pose(**joints: tuple[float, float, float]) -> torch.Tensor:
    body = torch.zeros(1, 23, 3)
    for name, aa in joints.items():
        body[0, IDX[name] - 1] = torch.tensor(aa)
    return body


def test_surface_is_closed_manifold_and_sized(data):
    mesh = trimesh.Trimesh(data.v_template, data.faces, process=False)
    assert 5000 <= data.num_vertices <= 10000
    assert mesh.is_watertight and mesh.is_winding_consistent
    assert mesh.euler_number == 2  # one closed genus-0 surface
    assert len(mesh.split(only_watertight=False)) == 1
    assert 0.05 < mesh.volume < 0.09  # m^3, an adult of roughly 55-90 kg
    height = np.ptp(data.v_template[:, 1])
    assert 1.6 < height < 1.85


def test_rest_pose_has_no_self_intersections(data):
    assert len(self_intersections(data.v_template.astype(np.float64), data.faces)) == 0


def test_mesh_checker_finds_a_piercing_triangle():
    v = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [0.2, 0.2, -1], [0.3, 0.2, 1], [0.25, 0.5, 1]], float)
    assert len(self_intersections(v, np.array([[0, 1, 2], [3, 4, 5]]))) > 0


@pytest.fixture(scope="module")
def rebuilt() -> bytes:
    from studio.body.mannequin import build_mannequin

    return encode_body_npz(build_mannequin())


def test_regenerating_gives_the_shipped_body_within_tolerances(rebuilt, data):
    """Holds on every machine, whatever the installed library versions."""
    report = compare_bodies(load_body_npz(io.BytesIO(rebuilt)), data)
    assert report["vertices"] == [7000, 7000] and report["watertight"]
    assert report["volume_rel"] <= 0.01 and report["height_m"] <= 0.001
    assert report["surface_m"] <= 0.02 and report["joints_m"] <= 0.001
    assert report["equivalent"]


def test_regenerating_reproduces_the_shipped_file_exactly_with_the_locked_libraries(rebuilt):
    """Byte identity holds on any x86-64 CPU, but only with the versions it was built with."""
    locked = parse_lock(LOCK.read_text())
    drift = {name: version for name, version in build_environment()["packages"].items()
             if version != locked.get(name)}
    if drift:
        pytest.skip(f"build packages differ from requirements.lock: {drift}")
    assert rebuilt == Path(MANNEQUIN_PATH).read_bytes()


def test_the_component_split_keeps_face_order(data):
    """The CPU-dependent step the build used to have: faces grouped by an unstable sort."""
    n = data.num_vertices
    tetra = np.array([[0, 1, 2], [0, 3, 1], [0, 2, 3], [1, 3, 2]]) + n
    verts = np.concatenate([data.v_template, np.eye(4)[:, :3]])
    v, f = largest_component(verts, np.concatenate([tetra, data.faces]))
    np.testing.assert_array_equal(v, data.v_template)
    np.testing.assert_array_equal(f, data.faces)


def test_face_order_is_the_same_without_avx512(tmp_path, data):
    """The mannequin's marching-cubes faces do not depend on numpy's CPU dispatch."""
    if "AVX512_SKX" not in build_environment()["numpy_simd"]:
        pytest.skip("no AVX-512 here: numpy already runs its baseline sort")
    script = (
        "import sys, numpy as np\n"
        "from studio.body.meshing import largest_component\n"
        "f = np.load(sys.argv[1])['f']\n"
        "v = np.zeros((f.max() + 1, 3))\n"
        "np.save(sys.argv[2], largest_component(v, f)[1])\n")
    faces = np.asarray(data.faces)
    np.savez(tmp_path / "in.npz", f=faces)
    env = {**os.environ, "NPY_DISABLE_CPU_FEATURES":
           "AVX512F AVX512CD AVX512_SKX AVX512_CLX AVX512_CNL AVX512_ICL"}
    subprocess.run([sys.executable, "-c", script, str(tmp_path / "in.npz"),
                    str(tmp_path / "out.npy")], env=env, check=True)
    np.testing.assert_array_equal(np.load(tmp_path / "out.npy"), faces)


def test_rebuild_check_reports_how_far_a_different_body_is(data):
    moved = copy.copy(data)
    moved.v_template = data.v_template.copy()
    moved.v_template[:50] += 0.05
    report = compare_bodies(moved, data)
    assert not report["equivalent"] and report["surface_m"] >= 0.04
    shuffled = copy.copy(data)
    perm = np.random.default_rng(0).permutation(len(data.faces))
    shuffled.faces = data.faces[perm]
    report = compare_bodies(shuffled, data)
    assert not report["faces_equal"] and report["faces_equal_after_matching"]
    assert report["equivalent"] and report["vertices_matched_m"]["max"] == 0.0


def test_kinematic_tree_and_rest_joints_follow_smpl(data):
    assert tuple(data.parents) == js.SMPL24_PARENTS
    joints = data.rest_joints()
    np.testing.assert_allclose(joints, rest_joints(js.SMPL24_NAMES), atol=1e-3)
    left = [i for i, n in enumerate(js.SMPL24_NAMES) if n.startswith("left_")]
    assert (joints[left, 0] > 0).all(), "+x is the body's left, as in SMPL"
    assert joints[IDX["head"], 1] > joints[IDX["pelvis"], 1] > joints[IDX["left_ankle"], 1]
    assert joints[IDX["left_foot"], 2] > joints[IDX["left_ankle"], 2], "feet point to +z"


def test_regressors_are_convex_vertex_combinations(data):
    for reg in (np.asarray(data.J_regressor), np.asarray(data.J_regressor_extra)):
        assert (reg >= 0).all()
        np.testing.assert_allclose(reg.sum(axis=1), 1.0, atol=1e-5)


def test_parts_uv_and_landmarks(data):
    assert set(np.unique(data.part_labels)) == set(range(24))
    assert data.uv.min() >= 0 and data.uv.max() <= 1
    v = data.v_template
    lm = {n: v[i] for n, i in data.landmarks.items()}
    assert set(lm) == set(js.LANDMARK_NAMES)
    head = v[data.part_labels == IDX["head"]]
    assert lm["nose"][2] == pytest.approx(head[:, 2].max(), abs=0.01)
    assert lm["head_top"][1] == pytest.approx(v[:, 1].max(), abs=0.005)
    for name, point in lm.items():
        if name.startswith("left_"):
            assert point[0] > 0 and lm["right_" + name[5:]][0] < 0, name
    # The ear is where MediaPipe puts it (see the model card): behind and outside the
    # outer eye corner, in front of the head's widest point.
    ear, eye = lm["left_ear"], lm["left_eye_outer"]
    assert ear[0] > eye[0] and ear[2] < eye[2] - 0.01
    assert ear[0] < head[:, 0].max() - 0.01 and ear[2] > 0.03
    assert lm["left_big_toe"][2] > lm["left_heel"][2] + 0.2
    assert abs(lm["left_big_toe"][0]) < abs(lm["left_small_toe"][0])
    assert lm["left_index_tip"][0] > lm["left_thumb_tip"][0] > data.rest_joints()[IDX["left_wrist"], 0]


def test_downsampling_levels(data):
    sizes = [data.num_vertices] + [d.shape[0] for d in data.downsampling]
    assert len(sizes) == 3
    assert sizes[1] == pytest.approx(sizes[0] / 4, abs=1) and sizes[2] == pytest.approx(sizes[0] / 16, abs=1)


def _chain_length(joints: np.ndarray, j: int) -> float:
    total, parents = 0.0, js.SMPL24_PARENTS
    while parents[j] >= 0:
        total += float(np.linalg.norm(joints[j] - joints[parents[j]]))
        j = parents[j]
    return total


def test_no_vertex_moves_further_than_the_bone_chain_allows(data, model):
    torch.manual_seed(0)
    joints = data.rest_joints()
    reach = np.array([[_chain_length(joints, j) + np.linalg.norm(v - joints[j]) for j in range(24)]
                      for v in data.v_template])
    bound = np.where(data.weights > 0, reach, 0).max(axis=1)
    for _ in range(5):
        body_pose = (torch.rand(1, 69) * 2 - 1) * 2.0  # up to ~115 degrees per axis
        with torch.no_grad():
            out = model(body_pose=body_pose)
        posed_root = out.joints[0, 0].numpy()
        dist = np.linalg.norm(out.vertices[0].numpy() - posed_root, axis=1)
        assert (dist <= bound + 1e-4).all()
        np.testing.assert_allclose(posed_root, joints[0], atol=1e-5)


@pytest.mark.parametrize("joint,child,aa", [
    ("left_elbow", "left_wrist", (0.0, -np.pi / 2, 0.0)),
    ("right_elbow", "right_wrist", (0.0, np.pi / 2, 0.0)),
    ("left_knee", "left_ankle", (np.pi / 2, 0.0, 0.0)),
    ("right_knee", "right_ankle", (np.pi / 2, 0.0, 0.0)),
])
def test_ninety_degree_bends_keep_their_volume(data, model, joint, child, aa):
    """Linear blend skinning collapses badly weighted joints; ours must keep their girth."""
    with torch.no_grad():
        out = model(body_pose=_pose(**{joint: aa}))
    v = out.vertices[0].numpy()
    j = out.joints[0].numpy()
    rest_vol = trimesh.Trimesh(data.v_template, data.faces, process=False).volume
    assert trimesh.Trimesh(v, data.faces, process=False).volume == pytest.approx(rest_vol, rel=0.02)
    # The child bone really turned by 90 degrees.
    rj = data.rest_joints()
    jt, ch, par = IDX[joint], IDX[child], js.SMPL24_PARENTS[IDX[joint]]
    before = rj[ch] - rj[jt]
    after = j[ch] - j[jt]
    cos = before @ after / np.linalg.norm(before) / np.linalg.norm(after)
    assert abs(cos) < 0.05
    # Vertices blended across the joint stay away from both bones (no pinching).
    band = (data.weights[:, jt] > 0.2) & (data.weights[:, par] > 0.2)
    assert band.sum() > 20

    def dist_to(p, a, b):
        ab = b - a
        s = np.clip(((p - a) @ ab) / (ab @ ab), 0, 1)
        return np.linalg.norm(p - (a + s[:, None] * ab), axis=1)

    def bone_dist(pts, jts):
        return np.minimum(dist_to(pts, jts[par], jts[jt]), dist_to(pts, jts[jt], jts[ch]))

    ratio = bone_dist(v[band], j) / bone_dist(data.v_template[band].astype(float), rj)
    # The inner side of a bend compresses (as skin does); nothing may collapse onto the bone.
    assert np.median(ratio) > 0.8 and np.percentile(ratio, 10) > 0.3 and ratio.min() > 0.1


def test_height_grows_monotonically_with_shape_component_zero(model):
    heights = []
    for b0 in np.linspace(-3, 3, 13):
        betas = torch.zeros(1, 10)
        betas[0, 0] = float(b0)
        with torch.no_grad():
            v = model(betas=betas).vertices[0]
        heights.append(float(v[:, 1].max() - v[:, 1].min()))
    assert np.all(np.diff(heights) > 0)
    assert heights[-1] - heights[0] > 0.25  # about +-10% of 1.72 m over +-3 sd


def test_every_shape_component_changes_the_body_and_moves_joints(model, data):
    rest = model()
    for k in range(10):
        betas = torch.zeros(1, 10)
        betas[0, k] = 2.0
        with torch.no_grad():
            out = model(betas=betas)
        moved = (out.vertices - rest.vertices).norm(dim=-1)
        assert moved.max() > 0.008, f"component {k} barely changes the surface"
    # Joints are regressed from vertices, so they follow shape: longer arms move the wrists out.
    betas = torch.zeros(1, 10)
    betas[0, 5] = 2.0
    with torch.no_grad():
        wrist = model(betas=betas).joints[0, IDX["left_wrist"], 0]
    assert wrist > rest.joints[0, IDX["left_wrist"], 0] + 0.03


def test_keypoints_in_every_layout(model):
    with torch.no_grad():
        out = model(body_pose=_pose(left_shoulder=(0, 0, -1.2), right_shoulder=(0, 0, 1.2)))
    for key, layout in js.LAYOUTS.items():
        kp = out.keypoints(key)
        assert kp.shape == (1, len(layout.names), 3) and torch.isfinite(kp).all(), key
        # Keypoints lie on or inside the body's extent.
        lo, hi = out.vertices[0].min(0).values - 0.02, out.vertices[0].max(0).values + 0.02
        assert ((kp[0] >= lo) & (kp[0] <= hi)).all(), key


def test_loads_through_smplx_smpl_from_an_smpl_layout_pickle(data, model, tmp_path):
    path = tmp_path / "SMPL_MANNEQUIN.pkl"
    save_smpl_pickle(data, path)
    with open(path, "rb") as fh:
        assert {"v_template", "shapedirs", "posedirs", "J_regressor", "weights",
                "kintree_table", "f"} <= set(pickle.load(fh))
    ref = smplx.SMPL(model_path=str(path), vertex_ids=data.vertex_ids)
    torch.manual_seed(1)
    pose, betas, go = torch.randn(2, 69) * 0.4, torch.randn(2, 10), torch.randn(2, 3) * 0.5
    with torch.no_grad():
        a = ref(betas=betas, body_pose=pose, global_orient=go)
        b = model(global_orient=go, body_pose=pose, betas=betas)
    torch.testing.assert_close(a.vertices, b.vertices, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(a.joints[:, :24], b.joints, atol=1e-5, rtol=1e-5)


def test_forward_accepts_rotation_matrices_and_axis_angle(model):
    torch.manual_seed(2)
    aa = torch.randn(3, 69) * 0.3
    go = torch.randn(3, 3) * 0.3  # batch of 3 axis-angles: must not be read as one 3x3 matrix
    mats = smplx.lbs.batch_rodrigues(aa.reshape(-1, 3)).reshape(3, 23, 3, 3)
    go_m = smplx.lbs.batch_rodrigues(go).reshape(3, 1, 3, 3)
    with torch.no_grad():
        a = model(global_orient=go, body_pose=aa)
        b = model(global_orient=go_m, body_pose=mats)
    torch.testing.assert_close(a.vertices, b.vertices, atol=1e-5, rtol=1e-5)


def test_derived_extra_joints_approximate_the_regressed_ones(data):
    """Official SMPL files lack SPIN's extra regressor; the stand-in must land nearby."""
    from studio.body.model import derived_extra_regressor

    v = data.v_template.astype(np.float64)
    derived = derived_extra_regressor(data) @ v
    regressed = np.asarray(data.J_regressor_extra) @ v
    assert np.abs(derived - regressed).max() < 0.08
    assert np.linalg.norm(derived - regressed, axis=1).mean() < 0.04
