"""A mesh and the camera that saw it in one GLB: look through the file's camera in a glTF
viewer (Blender, three.js, ...) at the photo's aspect ratio and the mesh lies where the
overlay draws it.

Conventions. The mesh's vertex data are the body model's camera-axes coordinates (x right,
y down, z away), the same numbers OBJ and PLY get. The mesh node turns them into glTF's
axes (y up, the camera looking down -z) by half a turn about x, which flips y and z, and
moves them by the camera translation, so the body stands in front of the camera:
glTF point = (x + tx, -(y + ty), -(z + tz)).

The camera is a glTF perspective camera with yfov = 2 atan(H / 2f) and aspectRatio W / H
for focal f pixels on the W x H photo. glTF cameras have no principal point: they put the
optical axis through the image centre, while the image camera's principal point is the
crop box centre. The camera node is therefore moved sideways, not turned, by the offset
(dx, dy) = principal point - image centre, scaled to the body's depth tz: -(dx, dy) tz / f
in camera axes. Points at depth tz then land exactly where ``ImageCamera.project`` puts
them; a point at depth z is off by |(dx, dy)| |z - tz| / z pixels, a fraction of a pixel
for a body tens of metres away from the nets' 5000 px camera. The exact intrinsics are
in the camera's ``extras`` (focal_px, principal_point_px, image_size_px).
"""
from __future__ import annotations

import math

import numpy as np
import pygltflib

from studio.io.meshes import mesh_bytes
from studio.pipeline.crops import ImageCamera

ZNEAR = 0.01  # metres; no zfar: an infinite projection, which glTF allows
HALF_TURN_ABOUT_X = [1.0, 0.0, 0.0, 0.0]  # quaternion (x, y, z, w)


def camera_glb_bytes(vertices: np.ndarray, faces: np.ndarray, camera: ImageCamera,
                     image_size: tuple[int, int]) -> bytes:
    """GLB of camera-axes ``vertices`` placed by ``camera`` and a glTF camera matching it
    on an image of ``image_size`` (width, height) pixels."""
    gltf = pygltflib.GLTF2.load_from_bytes(mesh_bytes(vertices, faces, ".glb"))
    width, height = image_size
    tx, ty, tz = camera.translation
    cx, cy = camera.centre
    gltf.cameras = [pygltflib.Camera(
        type="perspective", name="image camera",
        perspective=pygltflib.Perspective(yfov=2 * math.atan(height / 2 / camera.focal),
                                          aspectRatio=width / height, znear=ZNEAR),
        extras={"focal_px": camera.focal, "principal_point_px": [cx, cy],
                "image_size_px": [width, height]})]
    shift = tz / camera.focal  # metres per pixel of principal-point offset at depth tz
    scene = gltf.scenes[gltf.scene or 0]
    body = pygltflib.Node(name="body", rotation=HALF_TURN_ABOUT_X, translation=[tx, -ty, -tz],
                          children=scene.nodes)
    viewer = pygltflib.Node(name="image camera", camera=0,
                            translation=[-(cx - width / 2) * shift, (cy - height / 2) * shift,
                                         0.0])
    gltf.nodes += [body, viewer]
    scene.nodes = [len(gltf.nodes) - 2, len(gltf.nodes) - 1]
    return b"".join(gltf.save_to_bytes())
