"""Every GLB the studio writes is y up as glTF says (+y up, +z towards the viewer, a camera
looking down its node's -z): `studio run --export`'s, the window's export (its non-Qt
function, ``export_person``) and the animated GLB of a capture. Read back from the files
with pygltflib and trimesh: the person's head is above their feet in the file's own axes,
and the image camera is there, upright, looking at the person."""
from __future__ import annotations

import io

import numpy as np
import pygltflib
import pytest
import trimesh

from result_fixtures import astronaut_image, astronaut_result
from studio import cli
from studio.body.joint_sets import SMPL24_NAMES
from studio.body.registry import find_body_model
from studio.io.animation_glb import animation_glb_bytes
from studio.io.export import export_person
from studio.io.motion import Motion
from studio.pipeline.crops import ImageCamera
from studio.pipeline.tracking import default_focal
from test_io_animation import _skinned
from test_io_export import _glb_projection, _positions, _world_matrices

HEAD = SMPL24_NAMES.index("head")
FEET = [SMPL24_NAMES.index("left_foot"), SMPL24_NAMES.index("right_foot")]


@pytest.fixture(scope="module")
def result():
    return astronaut_result()


@pytest.fixture(scope="module")
def body(result):
    return find_body_model(result.body_name)


def _assert_upright(vertices: np.ndarray, body) -> np.ndarray:
    """The skeleton regressed from a mesh's vertices stands with its head well above its
    feet (y); returns the joints."""
    joints = np.asarray(body.J_regressor, np.float64) @ vertices
    assert joints[HEAD, 1] > joints[FEET, 1].max() + 0.8, joints[[HEAD, *FEET]]
    return joints


def _camera(gltf: pygltflib.GLTF2) -> tuple[np.ndarray, pygltflib.Camera]:
    world = _world_matrices(gltf)
    [node] = [i for i in world if gltf.nodes[i].camera is not None]
    return world[node], gltf.cameras[gltf.nodes[node].camera]


def _assert_camera_sees(gltf: pygltflib.GLTF2, joints: np.ndarray,
                        image_size: tuple[int, int]) -> None:
    """The file's camera is upright (its node unturned: +y up, looking down -z) and the
    body stands in front of it, its pelvis on the picture, head above feet there too."""
    matrix, camera = _camera(gltf)
    assert camera.type == "perspective" and camera.name == "image camera"
    np.testing.assert_allclose(matrix[:3, :3], np.eye(3), atol=1e-9)
    view = (np.c_[joints, np.ones(len(joints))] @ np.linalg.inv(matrix).T)[:, :3]
    assert (view[:, 2] < 0).all()  # in front of it
    tan_y = np.tan(camera.perspective.yfov / 2)
    ndc = view[:, :2] / -view[:, 2:] / [camera.perspective.aspectRatio * tan_y, tan_y]
    assert (np.abs(ndc[0]) < 1).all()  # the pelvis is on the picture
    assert ndc[HEAD, 1] > ndc[FEET, 1].max()  # and the head above the feet on it
    assert camera.extras["image_size_px"] == list(image_size)


def _check_camera_glb(path, result, body) -> None:
    gltf = pygltflib.GLTF2().load(str(path))
    # The vertex data itself is y up, not just turned by a node.
    _assert_upright(_positions(gltf, gltf.meshes[0].primitives[0].attributes.POSITION)
                    .astype(np.float64), body)
    # In world coordinates (every node transform applied), read by trimesh ...
    placed = trimesh.load(path, force="mesh", process=False).vertices
    joints = _assert_upright(placed, body)
    # ... and composed here from pygltflib's nodes: the same.
    world = _world_matrices(gltf)
    [mesh_node] = [i for i in world if gltf.nodes[i].mesh is not None]
    local = _positions(gltf, gltf.meshes[0].primitives[0].attributes.POSITION)
    np.testing.assert_allclose((np.c_[local, np.ones(len(local))] @ world[mesh_node].T)[:, :3],
                               placed, atol=1e-5)
    _assert_camera_sees(gltf, joints, result.image_size)
    # The camera shows the body where the photo has the person (head near the top).
    uv = _glb_projection(gltf, result.image_size)
    head_v = (np.asarray(body.J_regressor) @ uv)[HEAD, 1]
    x0, y0, x1, y1 = result.people[0].person.extent
    assert y0 - 0.1 * (y1 - y0) < head_v < (y0 + y1) / 2


def test_run_glb_is_y_up_with_the_image_camera(result, body, tmp_path, capsys,
                                               monkeypatch) -> None:
    """`studio run PHOTO --export x.glb`, end to end, on the photo ``result`` came from."""
    from PIL import Image

    monkeypatch.setattr(cli, "COMMAND_MODULES", ("run",))
    photo, out = tmp_path / "astronaut.png", tmp_path / "run.glb"
    Image.fromarray(astronaut_image()).save(photo)
    code = cli.main(["run", str(photo), "--model", result.model_name, "--threads", "1",
                     "--export", str(out)])
    assert code == 0, capsys.readouterr().err
    _check_camera_glb(out, result, body)


def test_window_export_glb_is_y_up_with_the_image_camera(result, body, tmp_path) -> None:
    """The window's File > Export writes through ``export_person``: the final iteration
    and every iteration."""
    [final] = export_person(result, 0, tmp_path / "final.glb", [-1])
    _check_camera_glb(final, result, body)
    for path in export_person(result, 0, tmp_path / "all.glb", [0, 1, 2, 3]):
        _check_camera_glb(path, result, body)


def test_animated_glb_is_y_up_with_the_capture_camera(result, body) -> None:
    """Three frames of the astronaut's final iteration, walking away from the camera,
    as a capture's skinned GLB with the fixed capture camera."""
    final = result.people[0].final
    motion = Motion.from_iterations([final] * 3, body, fps=12.5)
    motion.trans = motion.trans + np.c_[np.zeros((3, 2)), np.arange(3) * 0.5]
    size = result.image_size
    camera = ImageCamera(default_focal(size), (size[0] / 2, size[1] / 2), (0.0, 0.0, 0.0))
    data = animation_glb_bytes(motion, camera, size)
    gltf = pygltflib.GLTF2.load_from_bytes(data)
    assert [n.name for n in gltf.nodes].count("image camera") == 1
    for frame in range(3):
        joints = _assert_upright(_skinned(gltf, frame), body)
        _assert_camera_sees(gltf, joints, size)
    depths = [-_assert_upright(_skinned(gltf, k), body)[0, 2] for k in range(3)]
    assert depths == pytest.approx(np.array(depths[0]) + [0, 0.5, 1.0], abs=1e-4)
    with pytest.raises(ValueError, match="image size"):
        animation_glb_bytes(motion, camera)
    # trimesh reads it as a scene with the camera and the skinned body.
    scene = trimesh.load(io.BytesIO(data), file_type="glb", process=False)
    assert len(scene.geometry) == 1
