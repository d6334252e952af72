"""A mesh and the camera that saw it in one GLB: look through the file's camera in a glTF
viewer (Blender, three.js, ...) at the photo's aspect ratio and the mesh lies where the
overlay draws it.

Conventions: glTF's own (+y up, +z towards the viewer, metres). The body model's
camera-axes vertices (x right, y down, z away; what OBJ and PLY get) are turned half a
turn about x into them, so the vertex data itself stands upright: (x, y, z) -> (x, -y, -z).
The ``body`` node carries the camera translation, turned likewise, so the body stands in
front of the camera at the world origin: glTF point = (x + tx, -(y + ty), -(z + tz)).

The camera is a glTF perspective camera (looking down its node's -z, +y up) with
yfov = 2 atan(H / 2f) and aspectRatio W / H for focal f pixels on the W x H photo. glTF
cameras have no principal point: they put the optical axis through the image centre, while
the image camera's principal point is the crop box centre. The camera node is therefore
moved sideways, not turned, by the offset (dx, dy) = principal point - image centre, scaled
to the body's depth tz: -(dx, dy) tz / f in camera axes. Points at depth tz then land
exactly where ``ImageCamera.project`` puts them; a point at depth z is off by
|(dx, dy)| |z - tz| / z pixels, about a pixel at most for a body tens of metres away
from the nets' 5000 px camera. The exact intrinsics are in the camera's ``extras`` (focal_px,
principal_point_px, image_size_px).
"""
from __future__ import annotations

import math

import numpy as np
import pygltflib

from studio.io.axes import Y_UP
from studio.io.meshes import mesh_bytes
from studio.pipeline.crops import ImageCamera

ZNEAR = 0.01  # metres; no zfar: an infinite projection, which glTF allows


def add_image_camera(gltf: pygltflib.GLTF2, camera: ImageCamera,
                     image_size: tuple[int, int]) -> int:
    """Append a glTF camera matching ``camera`` on an image of ``image_size`` (width,
    height) pixels, and its node at the world origin (shifted for the principal point as
    the module says, for points at the camera's depth); returns the node's index. The
    caller lists the node in its scene."""
    width, height = image_size
    cx, cy = camera.centre
    gltf.cameras.append(pygltflib.Camera(
        type="perspective", name="image camera",
        perspective=pygltflib.Perspective(yfov=2 * math.atan(height / 2 / camera.focal),
                                          aspectRatio=width / height, znear=ZNEAR),
        extras={"focal_px": camera.focal, "principal_point_px": [cx, cy],
                "image_size_px": [width, height]}))
    shift = camera.translation[2] / camera.focal  # metres per pixel of offset at depth tz
    gltf.nodes.append(pygltflib.Node(
        name="image camera", camera=len(gltf.cameras) - 1,
        translation=[-(cx - width / 2) * shift, (cy - height / 2) * shift, 0.0]))
    return len(gltf.nodes) - 1


def camera_glb_bytes(vertices: np.ndarray, faces: np.ndarray, camera: ImageCamera,
                     image_size: tuple[int, int]) -> bytes:
    """GLB of camera-axes ``vertices`` placed by ``camera`` and a glTF camera matching it
    on an image of ``image_size`` (width, height) pixels, in glTF's axes."""
    upright = np.asarray(vertices, np.float64) * Y_UP
    gltf = pygltflib.GLTF2.load_from_bytes(mesh_bytes(upright, faces, ".glb"))
    scene = gltf.scenes[gltf.scene or 0]
    gltf.nodes.append(pygltflib.Node(name="body", children=scene.nodes,
                                     translation=(np.asarray(camera.translation) * Y_UP).tolist()))
    body = len(gltf.nodes) - 1
    scene.nodes = [body, add_image_camera(gltf, camera, image_size)]
    return b"".join(gltf.save_to_bytes())
