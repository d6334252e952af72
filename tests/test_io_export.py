"""Exports of a real result (the astronaut through the built-in proxy net): OBJ, PLY, GLB
with the photo's camera, AMASS-style npz and images, read back with independent readers;
and every destination is refused before anything is written."""
from __future__ import annotations

import math
import os

import numpy as np
import pygltflib
import pytest
import trimesh
from PIL import Image
from scipy.spatial.transform import Rotation

from result_fixtures import astronaut_result
from studio.errors import StudioError
from studio.io.export import export_overlay, export_person, numbered
from studio.io.output import check_output_file
from studio.io.smpl_params import NOMINAL_FRAMERATE, amass_npz_bytes

ALL = [0, 1, 2, 3]


@pytest.fixture(scope="module")
def result():
    return astronaut_result()


def _files(folder) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


# ---------------------------------------------------------------- OBJ and PLY

@pytest.mark.parametrize("suffix", [".obj", ".ply"])
def test_mesh_files_hold_each_iteration(result, tmp_path, suffix) -> None:
    person = result.people[0]
    assert len(person.iterations) == len(ALL)
    [final] = export_person(result, 0, tmp_path / f"final{suffix}", [-1])
    assert final == tmp_path / f"final{suffix}"
    written = export_person(result, 0, tmp_path / f"body{suffix}", ALL)
    assert written == [tmp_path / f"body_iter{k}{suffix}" for k in ALL]
    assert _files(tmp_path) == sorted(p.name for p in [final, *written])
    for path, it in zip([final, *written], [person.final, *person.iterations]):
        mesh = trimesh.load(path, process=False)
        assert mesh.vertices.shape == it.vertices.shape
        np.testing.assert_allclose(mesh.vertices, it.vertices, atol=1e-6)
        np.testing.assert_array_equal(mesh.faces, result.faces)


def test_format_argument_adds_its_suffix(result, tmp_path) -> None:
    assert export_person(result, 0, tmp_path / "body", [3], fmt="ply") == [tmp_path / "body.ply"]
    assert export_person(result, 0, tmp_path / "a.v2", [3], fmt=".OBJ") == [tmp_path / "a.v2.obj"]
    assert export_person(result, 0, tmp_path / "b.obj", [3], fmt="obj") == [tmp_path / "b.obj"]
    assert numbered(tmp_path / "out.glb", 0) == tmp_path / "out.glb"
    assert numbered(tmp_path / "out.glb", 2) == tmp_path / "out_2.glb"


# ---------------------------------------------------------------- GLB with the camera

def _world_matrices(gltf: pygltflib.GLTF2) -> dict[int, np.ndarray]:
    """Every node's 4x4 world transform, composed from the scene's roots down."""
    out: dict[int, np.ndarray] = {}

    def visit(index: int, parent: np.ndarray) -> None:
        node = gltf.nodes[index]
        local = np.eye(4)
        if node.matrix is not None:
            local = np.asarray(node.matrix, float).reshape(4, 4).T  # column-major
        else:
            if node.rotation is not None:
                local[:3, :3] = Rotation.from_quat(node.rotation).as_matrix()
            if node.scale is not None:
                local[:3, :3] = local[:3, :3] * np.asarray(node.scale)
            if node.translation is not None:
                local[:3, 3] = node.translation
        out[index] = parent @ local
        for child in node.children:
            visit(child, out[index])

    for root in gltf.scenes[gltf.scene or 0].nodes:
        visit(root, np.eye(4))
    return out


def _positions(gltf: pygltflib.GLTF2, accessor_index: int) -> np.ndarray:
    accessor = gltf.accessors[accessor_index]
    view = gltf.bufferViews[accessor.bufferView]
    assert accessor.componentType == pygltflib.FLOAT and accessor.type == "VEC3"
    start = view.byteOffset + accessor.byteOffset
    return np.frombuffer(gltf.binary_blob(), np.float32, accessor.count * 3, start).reshape(-1, 3)


def _glb_projection(gltf: pygltflib.GLTF2, image_size: tuple[int, int]) -> np.ndarray:
    """The mesh's vertices as the file's camera shows them on the image, in pixels."""
    width, height = image_size
    world = _world_matrices(gltf)
    [mesh_node] = [i for i in world if gltf.nodes[i].mesh is not None]
    [camera_node] = [i for i in world if gltf.nodes[i].camera is not None]
    local = _positions(gltf, gltf.meshes[0].primitives[0].attributes.POSITION)
    points = np.c_[local, np.ones(len(local))] @ world[mesh_node].T
    view = (points @ np.linalg.inv(world[camera_node]).T)[:, :3]
    assert (view[:, 2] < 0).all()  # in front: a glTF camera looks down -z
    camera = gltf.cameras[gltf.nodes[camera_node].camera].perspective
    tan_y = math.tan(camera.yfov / 2)
    ndc_x = view[:, 0] / -view[:, 2] / (camera.aspectRatio * tan_y)
    ndc_y = view[:, 1] / -view[:, 2] / tan_y
    return np.stack([(ndc_x + 1) / 2 * width, (1 - ndc_y) / 2 * height], axis=1)


def test_glb_camera_reproduces_the_image_camera(result, tmp_path) -> None:
    person, (width, height) = result.people[0], result.image_size
    written = export_person(result, 0, tmp_path / "scene.glb", ALL)
    assert written == [tmp_path / f"scene_iter{k}.glb" for k in ALL]
    for path, it in zip(written, person.iterations):
        camera = it.image_camera
        mesh = trimesh.load(path, force="mesh", process=False)
        assert mesh.vertices.shape == it.vertices.shape
        flipped = (it.vertices + np.asarray(camera.translation)) * [1, -1, -1]
        np.testing.assert_allclose(mesh.vertices, flipped, atol=1e-4)

        gltf = pygltflib.GLTF2().load(str(path))
        [glb_camera] = gltf.cameras
        assert glb_camera.type == "perspective"
        assert glb_camera.perspective.yfov == pytest.approx(
            2 * math.atan(height / 2 / camera.focal), rel=1e-9)
        assert glb_camera.perspective.aspectRatio == pytest.approx(width / height)
        assert glb_camera.extras["focal_px"] == pytest.approx(camera.focal)
        assert glb_camera.extras["principal_point_px"] == pytest.approx(list(camera.centre))
        assert glb_camera.extras["image_size_px"] == [width, height]

        # glTF has no principal point: the camera is shifted so that the body's depth is
        # exact, and other depths are off by |offset| |z - tz| / z pixels.
        projected = _glb_projection(gltf, result.image_size)
        expected = camera.project(it.vertices)
        depth = it.vertices[:, 2] + camera.translation[2]
        offset = np.hypot(camera.centre[0] - width / 2, camera.centre[1] - height / 2)
        bound = offset * np.abs(depth - camera.translation[2]) / depth
        error = np.linalg.norm(projected - expected, axis=1)
        assert (error <= bound + 1e-3).all() and error.max() < 1.5  # about a pixel at most

    # The photo shows her to the waist: the body's part inside it frames her box.
    uv = _glb_projection(pygltflib.GLTF2().load(str(written[-1])), result.image_size)
    uv = uv[((uv >= 0) & (uv < [width, height])).all(axis=1)]
    x0, y0, x1, y1 = person.person.extent
    centre = (uv.min(axis=0) + uv.max(axis=0)) / 2
    assert np.abs(centre - [(x0 + x1) / 2, (y0 + y1) / 2]).max() < 0.1 * max(x1 - x0, y1 - y0)


# ---------------------------------------------------------------- npz

def test_npz_holds_one_iteration_or_all_as_frames(result, tmp_path) -> None:
    person = result.people[0]
    [one] = export_person(result, 0, tmp_path / "final.npz", [3])
    [every] = export_person(result, 0, tmp_path / "all.npz", ALL)
    assert (one, every) == (tmp_path / "final.npz", tmp_path / "all.npz")
    assert _files(tmp_path) == ["all.npz", "final.npz"]
    for path, frames in ((one, [person.final]), (every, person.iterations)):
        n = len(frames)
        with np.load(path) as npz:
            assert npz["poses"].shape == (n, 72) and npz["poses"].dtype == np.float32
            assert npz["trans"].shape == (n, 3) and npz["frame_betas"].shape == (n, 10)
            assert npz["betas"].shape == (10,)
            assert str(npz["gender"]) == "neutral" and str(npz["body_model"]) == result.body_name
            assert float(npz["mocap_framerate"]) == NOMINAL_FRAMERATE
            np.testing.assert_array_equal(npz["faces"], result.faces)
            vertices = npz["vertices"] if n > 1 else npz["vertices"][None]
            assert vertices.shape == (n, *person.final.vertices.shape)
            np.testing.assert_allclose(npz["betas"], person.final.betas, atol=1e-6)
            for k, it in enumerate(frames):
                np.testing.assert_allclose(npz["poses"][k], it.pose, atol=1e-6)
                np.testing.assert_allclose(npz["frame_betas"][k], it.betas, atol=1e-6)
                np.testing.assert_allclose(npz["trans"][k], it.translation(), rtol=1e-6)
                np.testing.assert_allclose(npz["trans"][k], it.image_camera.translation,
                                           rtol=1e-6)
                np.testing.assert_allclose(vertices[k], it.vertices, atol=1e-6)
    single = amass_npz_bytes(person.final, result.faces, result.body_name)
    assert single == amass_npz_bytes([person.final], result.faces, result.body_name)


# ---------------------------------------------------------------- images

def test_overlays_as_png_and_jpeg(tmp_path) -> None:
    rgb = np.zeros((30, 40, 3), np.uint8)
    rgb[:, :20] = (255, 0, 0)
    assert export_overlay(tmp_path / "o.png", rgb) == tmp_path / "o.png"
    np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "o.png")), rgb)
    export_overlay(tmp_path / "o.JPG", rgb)
    jpeg = np.asarray(Image.open(tmp_path / "o.JPG")).astype(int)
    assert jpeg.shape == rgb.shape and np.abs(jpeg[5:25, 5:15] - rgb[5:25, 5:15]).max() < 8
    rgba = np.dstack([rgb, np.full((30, 40), 128, np.uint8)])
    export_overlay(tmp_path / "shot.png", rgba)
    np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "shot.png")), rgba)
    export_overlay(tmp_path / "shot.jpeg", rgba)
    assert np.asarray(Image.open(tmp_path / "shot.jpeg")).shape == (30, 40, 3)
    grey = np.arange(40 * 30, dtype=np.uint8).reshape(30, 40)
    export_overlay(tmp_path / "grey.png", grey)
    np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "grey.png")), grey)
    with pytest.raises(ValueError):
        export_overlay(tmp_path / "float.png", rgb.astype(np.float32))


# ---------------------------------------------------------------- refusals

def test_bad_destinations_are_refused_before_writing(result, tmp_path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    cases = [
        (out / "missing" / "body.obj", None, "folder .*missing does not exist"),
        (out / "body.stl", None, "unsupported type"),
        (out / "body", "stl", "unsupported export format 'stl'"),
        (out / "body.npz.gz", None, "unsupported type"),
    ]
    for path, fmt, message in cases:
        with pytest.raises(StudioError, match=message):
            export_person(result, 0, path, ALL, fmt)
    with pytest.raises(StudioError, match="unsupported type"):
        export_overlay(out / "o.gif", np.zeros((4, 4, 3), np.uint8))
    with pytest.raises(StudioError, match="does not exist"):
        export_overlay(out / "missing" / "o.png", np.zeros((4, 4, 3), np.uint8))
    # One of several names taken by a folder: no iteration is written.
    (out / "body_iter2.ply").mkdir()
    with pytest.raises(StudioError, match="a folder has that name"):
        export_person(result, 0, out / "body.ply", ALL)
    assert _files(out) == ["body_iter2.ply"] and not list((out / "body_iter2.ply").iterdir())
    with pytest.raises(ValueError):
        export_person(result, 0, out / "body.ply", [4])
    with pytest.raises(ValueError):
        export_person(result, 0, out / "body.ply", [])
    assert _files(out) == ["body_iter2.ply"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_read_only_folder_is_refused(result, tmp_path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        for suffix in (".obj", ".glb", ".npz"):
            with pytest.raises(StudioError, match="cannot write into"):
                export_person(result, 0, locked / f"body{suffix}", ALL)
        with pytest.raises(StudioError, match="cannot write into"):
            export_overlay(locked / "o.png", np.zeros((4, 4, 3), np.uint8))
        with pytest.raises(StudioError, match="cannot write into"):
            check_output_file(locked / "o.png", (".png",), "--overlay")
        assert _files(locked) == []
    finally:
        locked.chmod(0o755)
