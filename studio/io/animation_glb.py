"""A motion as an animated, skinned glTF 2.0 binary (GLB): one file that Blender, three.js
and other glTF tools import as a rigged body playing the capture.

Layout (node indices):

- 0 ``root``: half a turn about x, turning the camera's axes (x right, y down, z away)
  into glTF's (x right, y up, z towards the viewer); never animated. Inside it the
  skeleton lives in camera axes, as the motion's numbers do.
- 1..24: the SMPL-24 joints (node k + 1 is joint k, named as ``joint_sets.SMPL24_NAMES``)
  in SMPL's tree; each one's translation is its offset from its parent in the shaped rest
  skeleton (:meth:`Motion.rest_shape`), metres.
- 25 ``body``: the skinned mesh, a scene root without a transform (glTF ignores a skinned
  mesh node's own transform).
- 26 ``image camera`` (when the capture's camera is given): the fixed camera the motion
  was filmed by, at the world origin looking down -z, as :mod:`studio.io.camera_glb`
  writes it; ``trans`` is relative to it, so looking through it shows the body where the
  video did.

World axes are glTF's (+y up, +z towards the viewer): a body filmed upright stands upright.

Bind pose: every joint unrotated except the pelvis, whose rest rotation is half a turn
about x, undoing the root's; its rest translation puts it at the rest pelvis. The bind
pose is then the shaped rest body standing upright and facing the viewer, its vertex data
is the rest shape as the body model holds it (y up, facing +z, which are glTF's axes),
and joint k's inverse bind matrix is the translation by -J_k, the exact inverse of its
rest world transform, which importers that rebuild the rest pose from the inverse bind
matrices (Blender) rely on.

Animation ``motion``: one LINEAR rotation channel per joint (the pose's axis-angle as
quaternions x, y, z, w; the pelvis gets the global orientation, which already turns body
into camera axes) and one LINEAR translation channel on the pelvis (rest pelvis +
``trans``, camera axes); keyframe k at k / fps seconds. Each vertex keeps its 4 largest
skinning weights, renormalised. Pose correctives (SMPL's posedirs) cannot be expressed by
skinning, so the file is linear blend skinning only: exact up to the 4-weight cut for the
built-in mannequin, which has none; for SMPL the corrective offsets are left out.

Binary layout follows the spec strictly: float32 data, every buffer view 4-byte aligned,
vertex attributes and indices with their buffer view targets and vertex attribute views
with byteStride, min/max on POSITION and on the keyframe times.
"""
from __future__ import annotations

import numpy as np
import pygltflib
import trimesh
from scipy.spatial.transform import Rotation

from studio.body.joint_sets import SMPL24_NAMES
from studio.io.axes import HALF_TURN_ABOUT_X, TURN_X
from studio.io.camera_glb import add_image_camera
from studio.io.motion import Motion
from studio.pipeline.crops import ImageCamera

INFLUENCES = 4  # joints per vertex in JOINTS_0 / WEIGHTS_0
ROOT, FIRST_JOINT = 0, 1  # node indices; the mesh node follows the joints

_COMPONENT = {np.dtype(np.float32): pygltflib.FLOAT, np.dtype(np.uint8): pygltflib.UNSIGNED_BYTE,
              np.dtype(np.uint32): pygltflib.UNSIGNED_INT}
_TYPE = {(): pygltflib.SCALAR, (3,): pygltflib.VEC3, (4,): pygltflib.VEC4,
         (4, 4): pygltflib.MAT4}


class _Binary:
    """The GLB's one buffer, filled accessor by accessor."""

    def __init__(self, gltf: pygltflib.GLTF2) -> None:
        self.gltf = gltf
        self.data = bytearray()

    def add(self, array: np.ndarray, target: int | None = None, bounds: bool = False) -> int:
        """Append ``array`` (rows are elements) as its own buffer view, 4-byte aligned;
        returns the new accessor's index. Vertex attributes (``target`` ARRAY_BUFFER) get
        an explicit byteStride; ``bounds`` adds the per-component min and max."""
        array = np.ascontiguousarray(array)
        self.data += bytes(-len(self.data) % 4)
        element = array.itemsize * int(np.prod(array.shape[1:], dtype=int))
        self.gltf.bufferViews.append(pygltflib.BufferView(
            buffer=0, byteOffset=len(self.data), byteLength=array.nbytes, target=target,
            byteStride=element if target == pygltflib.ARRAY_BUFFER else None))
        self.data += array.tobytes()
        flat = array.reshape(len(array), -1)
        self.gltf.accessors.append(pygltflib.Accessor(
            bufferView=len(self.gltf.bufferViews) - 1, componentType=_COMPONENT[array.dtype],
            count=len(array), type=_TYPE[array.shape[1:]],
            min=flat.min(axis=0).tolist() if bounds else None,
            max=flat.max(axis=0).tolist() if bounds else None))
        return len(self.gltf.accessors) - 1


def skin_influences(weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each vertex's :data:`INFLUENCES` heaviest joints (uint8 [V,4]) and their weights
    renormalised to sum to 1 (float32 [V,4]); unused slots point at joint 0 with weight 0,
    as the spec asks."""
    weights = np.asarray(weights, np.float64)
    joints = np.argsort(-weights, axis=1)[:, :INFLUENCES]
    chosen = np.take_along_axis(weights, joints, axis=1)
    chosen = (chosen / chosen.sum(axis=1, keepdims=True)).astype(np.float32)
    chosen[:, 0] = 1 - chosen[:, 1:].sum(axis=1, dtype=np.float32)  # sum to 1 in float32
    joints[chosen == 0] = 0
    return joints.astype(np.uint8), chosen


def continuous_quaternions(rotvecs: np.ndarray) -> np.ndarray:
    """Axis-angle [N,3] -> quaternions [N,4] (x, y, z, w), each one's sign chosen to be
    nearest the previous so interpolating between keyframes takes the short way."""
    quats = Rotation.from_rotvec(rotvecs).as_quat()
    turned = np.cumsum(np.sum(quats[1:] * quats[:-1], axis=1) < 0) % 2 == 1
    quats[1:][turned] *= -1
    return quats


def _channel(sampler: int, node: int, path: str) -> pygltflib.AnimationChannel:
    return pygltflib.AnimationChannel(
        sampler=sampler, target=pygltflib.AnimationChannelTarget(node=node, path=path))


def animation_glb_bytes(motion: Motion, camera: ImageCamera | None = None,
                        image_size: tuple[int, int] | None = None) -> bytes:
    """The motion as a skinned, animated GLB laid out as the module says; with ``camera``
    (the fixed camera of the capture, translation zero) and ``image_size`` (width, height
    pixels), the image camera too."""
    body = motion.body
    vertices, joints = motion.rest_shape()
    parents = body.parents
    gltf = pygltflib.GLTF2(asset=pygltflib.Asset(version="2.0", generator="Human Mesh Studio"))
    binary = _Binary(gltf)

    offsets = joints - np.where(parents[:, None] >= 0, joints[parents], 0.0)
    gltf.nodes.append(pygltflib.Node(name="root", rotation=HALF_TURN_ABOUT_X,
                                     children=[FIRST_JOINT]))
    for k, name in enumerate(SMPL24_NAMES):
        children = [FIRST_JOINT + c for c in np.flatnonzero(parents == k).tolist()]
        node = pygltflib.Node(name=name, translation=offsets[k].tolist(),
                              children=children or None)
        if k == 0:  # at the rest pelvis, upright: undoes the root's half turn
            node.translation = (TURN_X @ joints[0]).tolist()
            node.rotation = HALF_TURN_ABOUT_X
        gltf.nodes.append(node)
    mesh_node = len(gltf.nodes)
    gltf.nodes.append(pygltflib.Node(name="body", mesh=0, skin=0))
    scene = [ROOT, mesh_node]
    if camera is not None:
        if image_size is None:
            raise ValueError("the image camera needs the image size")
        scene.append(add_image_camera(gltf, camera, image_size))
    gltf.scenes = [pygltflib.Scene(name="capture", nodes=scene)]
    gltf.scene = 0

    faces = np.asarray(body.faces)
    normals = trimesh.Trimesh(vertices, faces, process=False).vertex_normals
    joint_index, weights = skin_influences(body.weights)
    attributes = pygltflib.Attributes(
        POSITION=binary.add(vertices.astype(np.float32), pygltflib.ARRAY_BUFFER, bounds=True),
        NORMAL=binary.add(normals.astype(np.float32), pygltflib.ARRAY_BUFFER),
        JOINTS_0=binary.add(joint_index, pygltflib.ARRAY_BUFFER),
        WEIGHTS_0=binary.add(weights, pygltflib.ARRAY_BUFFER))
    indices = binary.add(faces.reshape(-1).astype(np.uint32), pygltflib.ELEMENT_ARRAY_BUFFER,
                         bounds=True)
    gltf.meshes = [pygltflib.Mesh(name="body", primitives=[pygltflib.Primitive(
        attributes=attributes, indices=indices, mode=pygltflib.TRIANGLES)])]

    inverse_bind = np.tile(np.eye(4, dtype=np.float32), (len(joints), 1, 1))
    inverse_bind[:, :3, 3] = -joints
    gltf.skins = [pygltflib.Skin(
        name="smpl", skeleton=ROOT, joints=list(range(FIRST_JOINT, FIRST_JOINT + len(joints))),
        inverseBindMatrices=binary.add(inverse_bind.transpose(0, 2, 1).copy()))]  # column-major

    times = binary.add(np.arange(motion.num_frames, dtype=np.float32) / np.float32(motion.fps),
                       bounds=True)
    rotvecs = motion.joint_rotvecs()
    samplers, channels = [], []
    for k in range(len(joints)):
        samplers.append(pygltflib.AnimationSampler(
            input=times, interpolation=pygltflib.ANIM_LINEAR,
            output=binary.add(continuous_quaternions(rotvecs[:, k]).astype(np.float32))))
        channels.append(_channel(len(samplers) - 1, FIRST_JOINT + k, pygltflib.ROTATION))
    samplers.append(pygltflib.AnimationSampler(
        input=times, interpolation=pygltflib.ANIM_LINEAR,
        output=binary.add((joints[0] + motion.trans).astype(np.float32))))
    channels.append(_channel(len(samplers) - 1, FIRST_JOINT, pygltflib.TRANSLATION))
    gltf.animations = [pygltflib.Animation(name="motion", samplers=samplers, channels=channels)]

    gltf.buffers = [pygltflib.Buffer(byteLength=len(binary.data))]
    gltf.set_binary_blob(bytes(binary.data))
    return b"".join(gltf.save_to_bytes())
