"""Animation exports of a motion on the built-in mannequin: the skinned GLB skinned again
here from its own data and compared with the body model, BVH parsed back and its angles
and forward kinematics compared with the poses, OBJ frames and npz read back."""
from __future__ import annotations

import io

import numpy as np
import pygltflib
import pytest
import torch
import trimesh
from scipy.spatial.transform import Rotation

from studio.body.joint_sets import SMPL24_NAMES
from studio.body.model import BodyModel
from studio.body.registry import find_body_model
from studio.io.animation_glb import animation_glb_bytes, continuous_quaternions, skin_influences
from studio.io.bvh import bvh_bytes, read_bvh
from studio.io.frames import obj_frames, motion_npz_bytes
from studio.io.axes import TURN_X
from studio.io.motion import Motion
from studio.pipeline.results import MeshIteration

FRAMES, FPS = 20, 25.0


@pytest.fixture(scope="module")
def body():
    return find_body_model("mannequin")


@pytest.fixture(scope="module")
def motion(body) -> Motion:
    """Smoothly varying joint angles (up to ~0.4 rad) on a body filmed upright (global
    orientation near half a turn about x), walking across and away from the camera."""
    rng = np.random.default_rng(7)
    t = np.arange(FRAMES)[:, None] / FRAMES
    poses = 0.4 * np.sin(2 * np.pi * (rng.uniform(0.3, 1.2, 72) * t + rng.uniform(0, 1, 72)))
    upright = Rotation.from_rotvec([np.pi, 0, 0]) * Rotation.from_rotvec(poses[:, :3])
    poses[:, :3] = upright.as_rotvec()
    trans = np.c_[0.4 * t[:, 0] - 0.2, 0.1 * t[:, 0], 6.0 + t[:, 0]]
    return Motion(poses, rng.normal(0, 0.8, 10), trans, FPS, body)


@pytest.fixture(scope="module")
def posed(motion) -> tuple[np.ndarray, np.ndarray]:
    """The body model's vertices and joints for every frame, plus translation (camera axes)."""
    model = BodyModel(motion.body)
    pose = torch.as_tensor(motion.poses, dtype=torch.float32)
    betas = torch.as_tensor(motion.betas, dtype=torch.float32).expand(FRAMES, -1)
    with torch.no_grad():
        out = model(global_orient=pose[:, :3], body_pose=pose[:, 3:], betas=betas)
    trans = motion.trans[:, None]
    return out.vertices.numpy() + trans, out.joints.numpy() + trans


# ---------------------------------------------------------------- Motion

def test_motion_from_iterations_uses_translation_and_mean_shape(body, motion) -> None:
    cams = np.c_[np.linspace(0.8, 1.0, 3), np.linspace(-0.1, 0.1, 3), np.zeros(3)]
    iterations = [MeshIteration(vertices=np.zeros((body.num_vertices, 3)),
                                joints=np.zeros((24, 3)), cam=cam, image_camera=None,
                                betas=np.full(10, k), pose=motion.poses[k],
                                keypoints_2d=np.zeros((49, 2)), sample_points=None,
                                pyramid_map=None)
                  for k, cam in enumerate(cams)]
    made = Motion.from_iterations(iterations, body, fps=30.0)
    assert made.num_frames == 3 and made.fps == 30.0
    np.testing.assert_allclose(made.poses, motion.poses[:3])
    np.testing.assert_allclose(made.betas, np.full(10, 1.0))
    np.testing.assert_allclose(made.trans, [it.translation() for it in iterations])
    with pytest.raises(ValueError):
        Motion(motion.poses, motion.betas, motion.trans[:3], FPS, body)


def test_motion_vertices_are_the_body_model_plus_translation(motion, posed) -> None:
    np.testing.assert_allclose(motion.vertices(), posed[0], atol=1e-5)


# ---------------------------------------------------------------- animated GLB

def _accessor(gltf: pygltflib.GLTF2, index: int) -> np.ndarray:
    """An accessor's elements as a numpy array (rows are elements; MAT4 as 4x4 row-major)."""
    acc = gltf.accessors[index]
    view = gltf.bufferViews[acc.bufferView]
    dtype = {pygltflib.FLOAT: np.float32, pygltflib.UNSIGNED_BYTE: np.uint8,
             pygltflib.UNSIGNED_SHORT: np.uint16, pygltflib.UNSIGNED_INT: np.uint32}
    width = {"SCALAR": 1, "VEC3": 3, "VEC4": 4, "MAT4": 16}[acc.type]
    item = np.dtype(dtype[acc.componentType]).itemsize * width
    assert view.byteStride in (None, item)  # tightly packed, as the exporter writes
    start = (view.byteOffset or 0) + (acc.byteOffset or 0)
    data = np.frombuffer(gltf.binary_blob(), dtype[acc.componentType], acc.count * width, start)
    if acc.type == "MAT4":
        return data.reshape(-1, 4, 4).transpose(0, 2, 1)  # stored column-major
    return data.reshape(acc.count, width) if width > 1 else data


def _world(gltf: pygltflib.GLTF2, overrides: dict[tuple[int, str], np.ndarray]) -> np.ndarray:
    """Every node's world matrix [nodes,4,4], with (node, path) values from the animation
    replacing the nodes' own translation / rotation."""
    world = np.zeros((len(gltf.nodes), 4, 4))

    def visit(k: int, parent: np.ndarray) -> None:
        node = gltf.nodes[k]
        local = np.eye(4)
        local[:3, :3] = Rotation.from_quat(
            overrides.get((k, "rotation"), node.rotation or [0, 0, 0, 1])).as_matrix()
        local[:3, 3] = overrides.get((k, "translation"), node.translation or [0, 0, 0])
        world[k] = parent @ local
        for child in node.children or []:
            visit(child, world[k])

    for root in gltf.scenes[gltf.scene].nodes:
        visit(root, np.eye(4))
    return world


def _skinned(gltf: pygltflib.GLTF2, frame: int | None) -> np.ndarray:
    """Linear blend skinning from the file alone: the mesh at keyframe ``frame`` (None:
    the nodes' rest transforms), world coordinates."""
    overrides = {}
    if frame is not None:
        animation = gltf.animations[0]
        for channel in animation.channels:
            output = _accessor(gltf, animation.samplers[channel.sampler].output)
            overrides[channel.target.node, channel.target.path] = output[frame]
    world = _world(gltf, overrides)
    skin = gltf.skins[0]
    matrices = world[skin.joints] @ _accessor(gltf, skin.inverseBindMatrices)
    primitive = gltf.meshes[0].primitives[0]
    positions = _accessor(gltf, primitive.attributes.POSITION).astype(np.float64)
    joints = _accessor(gltf, primitive.attributes.JOINTS_0)
    weights = _accessor(gltf, primitive.attributes.WEIGHTS_0).astype(np.float64)
    homogeneous = np.c_[positions, np.ones(len(positions))]
    blended = np.einsum("vi,vikl->vkl", weights, matrices[joints])
    return np.einsum("vkl,vl->vk", blended, homogeneous)[:, :3]


@pytest.fixture(scope="module")
def glb(motion) -> pygltflib.GLTF2:
    return pygltflib.GLTF2.load_from_bytes(animation_glb_bytes(motion))


def test_glb_structure_follows_the_spec(motion, glb) -> None:
    [skin], [animation], [mesh] = glb.skins, glb.animations, glb.meshes
    assert [glb.nodes[j].name for j in skin.joints] == list(SMPL24_NAMES)
    assert glb.nodes[skin.skeleton].name == "root"
    assert glb.nodes[skin.skeleton].rotation == [1.0, 0.0, 0.0, 0.0]
    paths = [(glb.nodes[c.target.node].name, c.target.path) for c in animation.channels]
    assert sorted(p for _, p in paths) == ["rotation"] * 24 + ["translation"]
    assert ("pelvis", "translation") in paths
    assert {n for n, p in paths if p == "rotation"} == set(SMPL24_NAMES)
    for sampler in animation.samplers:
        assert sampler.interpolation == "LINEAR"
        times = glb.accessors[sampler.input]
        assert times.count == glb.accessors[sampler.output].count == FRAMES
        assert times.min == [0.0] and times.max == pytest.approx([(FRAMES - 1) / FPS])
    np.testing.assert_allclose(_accessor(glb, animation.samplers[0].input),
                               np.arange(FRAMES) / FPS, rtol=1e-6)
    [primitive] = mesh.primitives
    position = glb.accessors[primitive.attributes.POSITION]
    data = _accessor(glb, primitive.attributes.POSITION)
    assert position.min == data.min(axis=0).tolist() and position.max == data.max(axis=0).tolist()
    np.testing.assert_allclose(data, motion.rest_shape()[0], atol=1e-6)
    for k, acc in enumerate(glb.accessors):
        view = glb.bufferViews[acc.bufferView]
        assert view.byteOffset % 4 == 0 and (acc.byteOffset or 0) % 4 == 0
        assert view.byteStride is None or view.byteStride % 4 == 0
    attributes = primitive.attributes
    for index in (attributes.POSITION, attributes.NORMAL, attributes.JOINTS_0,
                  attributes.WEIGHTS_0):
        assert glb.bufferViews[glb.accessors[index].bufferView].target == pygltflib.ARRAY_BUFFER
    indices = glb.accessors[primitive.indices]
    assert glb.bufferViews[indices.bufferView].target == pygltflib.ELEMENT_ARRAY_BUFFER
    weights = _accessor(glb, attributes.WEIGHTS_0)
    np.testing.assert_allclose(weights.sum(axis=1), 1.0, atol=1e-6)


def test_glb_bind_pose_is_the_rest_pose(motion, glb) -> None:
    """Each joint's rest world transform is the inverse of its inverse bind matrix, so the
    rest pose skins to the upright rest shape (what Blender builds the armature from)."""
    world = _world(glb, {})
    skin = glb.skins[0]
    products = world[skin.joints] @ _accessor(glb, skin.inverseBindMatrices)
    np.testing.assert_allclose(products, np.tile(np.eye(4), (24, 1, 1)), atol=1e-6)
    np.testing.assert_allclose(_skinned(glb, None), motion.rest_shape()[0], atol=1e-5)


def test_glb_skins_to_the_body_model(glb, posed) -> None:
    """Skinning the file's data at each keyframe gives the body model's mesh (turned into
    glTF axes). The mannequin has no pose correctives, so the only difference is keeping 4
    weights per vertex (measured: mean 0.004 mm, max 2.5 mm)."""
    for frame in (0, FRAMES // 2, FRAMES - 1):
        skinned = _skinned(glb, frame)
        error = np.linalg.norm(skinned - posed[0][frame] @ TURN_X.T, axis=1)
        assert error.mean() < 1e-4, error.mean()
        assert error.max() < 1e-2, error.max()


def test_glb_loads_in_trimesh(body, motion) -> None:
    scene = trimesh.load(io.BytesIO(animation_glb_bytes(motion)), file_type="glb",
                         process=False)
    assert isinstance(scene, trimesh.Scene)
    [mesh] = scene.geometry.values()
    assert mesh.vertices.shape == (body.num_vertices, 3)
    np.testing.assert_array_equal(mesh.faces, body.faces)


def test_quaternions_keep_one_hemisphere() -> None:
    angles = np.linspace(0, 4 * np.pi, 40)
    quats = continuous_quaternions(np.c_[angles, np.zeros((40, 2))])
    assert np.all(np.sum(quats[1:] * quats[:-1], axis=1) > 0)
    np.testing.assert_allclose(Rotation.from_quat(quats).as_rotvec()[:, 0],
                               np.angle(np.exp(1j * angles)), atol=1e-9)


def test_skin_influences_keep_the_heaviest_four() -> None:
    weights = np.array([[0.1, 0.0, 0.5, 0.2, 0.15, 0.05], [0.0, 1.0, 0.0, 0.0, 0.0, 0.0]])
    joints, kept = skin_influences(weights)
    np.testing.assert_array_equal(joints, [[2, 3, 4, 0], [1, 0, 0, 0]])
    np.testing.assert_allclose(kept, [[0.5 / 0.95, 0.2 / 0.95, 0.15 / 0.95, 0.1 / 0.95],
                                      [1, 0, 0, 0]], rtol=1e-6)


# ---------------------------------------------------------------- BVH

@pytest.fixture(scope="module")
def bvh(motion):
    return read_bvh(bvh_bytes(motion).decode("ascii"))


def _bvh_local(bvh) -> tuple[np.ndarray, np.ndarray]:
    """Per frame and joint (file order): the local rotation matrices the channels encode,
    composed in the order listed, and the root position [N,3]."""
    rotations = np.zeros((len(bvh.frames), len(bvh.names), 3, 3))
    column = 0
    for j, channels in enumerate(bvh.channels):
        matrix = np.tile(np.eye(3), (len(bvh.frames), 1, 1))
        for name in channels:
            if name.endswith("rotation"):
                angle = bvh.frames[:, column, None]
                turn = Rotation.from_euler(name[0].lower(), angle, degrees=True)
                matrix = matrix @ turn.as_matrix()
            column += 1
        rotations[:, j] = matrix
    root = bvh.frames[:, [bvh.channels[0].index(f"{axis}position") for axis in "XYZ"]]
    return rotations, root


def test_bvh_hierarchy_is_the_smpl_skeleton(motion, bvh) -> None:
    assert sorted(bvh.names) == sorted(SMPL24_NAMES)
    smpl = [SMPL24_NAMES.index(n) for n in bvh.names]
    parents = [-1 if p < 0 else smpl[p] for p in bvh.parents]
    np.testing.assert_array_equal(parents, motion.body.parents[smpl])
    _, joints = motion.rest_shape()
    expected = joints[smpl] - joints[motion.body.parents[smpl]]
    np.testing.assert_allclose(bvh.offsets[1:], expected[1:] * 100, atol=1e-5)  # centimetres
    np.testing.assert_array_equal(bvh.offsets[0], 0.0)
    assert bvh.channels[0] == ("Xposition", "Yposition", "Zposition",
                               "Zrotation", "Xrotation", "Yrotation")
    assert all(c == ("Zrotation", "Xrotation", "Yrotation") for c in bvh.channels[1:])
    assert bvh.frames.shape == (FRAMES, 6 + 23 * 3)
    assert bvh.frame_time == pytest.approx(1 / FPS)


def test_bvh_rotations_are_the_poses(motion, bvh) -> None:
    rotations, _ = _bvh_local(bvh)
    rotations[:, 0] = TURN_X.T @ rotations[:, 0]  # the root carries the half turn to y up
    smpl = [SMPL24_NAMES.index(n) for n in bvh.names]
    expected = Rotation.from_rotvec(motion.joint_rotvecs()[:, smpl].reshape(-1, 3))
    np.testing.assert_allclose(rotations.reshape(-1, 3, 3), expected.as_matrix(), atol=1e-4)
    error = (Rotation.from_matrix(rotations.reshape(-1, 3, 3)) * expected.inv()).magnitude()
    assert error.max() < 1e-6


def bvh_joint_positions(bvh) -> np.ndarray:
    """Forward kinematics from the file alone (offsets, channels): every joint's position
    [N,J,3] per frame, in file order and units."""
    rotations, root = _bvh_local(bvh)
    world_rot = np.zeros_like(rotations)
    world_pos = np.zeros((len(bvh.frames), len(bvh.names), 3))
    for j, parent in enumerate(bvh.parents):
        if parent < 0:
            world_rot[:, j], world_pos[:, j] = rotations[:, j], root + bvh.offsets[j]
        else:
            world_rot[:, j] = world_rot[:, parent] @ rotations[:, j]
            world_pos[:, j] = (world_pos[:, parent]
                               + np.einsum("nij,j->ni", world_rot[:, parent], bvh.offsets[j]))
    return world_pos


def test_bvh_forward_kinematics_gives_the_body_model_joints(motion, bvh, posed) -> None:
    """Joint positions from the file alone (offsets, channels) equal the body model's
    joints plus translation, turned into the file's y-up axes, in centimetres."""
    world_pos = bvh_joint_positions(bvh)
    smpl = [SMPL24_NAMES.index(n) for n in bvh.names]
    expected = posed[1][:, smpl] @ TURN_X.T * 100
    np.testing.assert_allclose(world_pos, expected, atol=1e-2)  # 0.1 mm


def test_read_bvh_refuses_a_short_motion(motion) -> None:
    text = bvh_bytes(motion).decode("ascii")
    with pytest.raises(ValueError):
        read_bvh(text.rsplit("\n", 2)[0])


# ---------------------------------------------------------------- OBJ frames and npz

def test_obj_frames_hold_each_posed_mesh(motion, posed) -> None:
    files = list(obj_frames(motion))
    assert [name for name, _ in files] == [f"frame_{k:06d}.obj" for k in range(FRAMES)]
    for k in (0, FRAMES - 1):  # y up, as the GLB and BVH
        mesh = trimesh.load(io.BytesIO(files[k][1]), file_type="obj", process=False)
        np.testing.assert_allclose(mesh.vertices, posed[0][k] @ TURN_X.T, atol=1e-5)
        np.testing.assert_array_equal(mesh.faces, motion.body.faces)
    arrays = list(obj_frames(list(posed[0][:2]), motion.body.faces))
    assert [name for name, _ in arrays] == ["frame_000000.obj", "frame_000001.obj"]
    with pytest.raises(ValueError):
        obj_frames(list(posed[0][:2]))


def test_npz_holds_amass_keys(motion) -> None:
    data = np.load(io.BytesIO(motion_npz_bytes(motion)))
    assert data["poses"].shape == (FRAMES, 72) and data["poses"].dtype == np.float32
    np.testing.assert_allclose(data["poses"], motion.poses, atol=1e-6)
    np.testing.assert_allclose(data["trans"], motion.trans, atol=1e-6)
    np.testing.assert_allclose(data["betas"], motion.betas, atol=1e-6)
    assert float(data["mocap_framerate"]) == FPS
    assert str(data["gender"]) == motion.body.gender
    assert str(data["body_model"]) == motion.body.name
