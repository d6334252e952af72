"""Built-in sample photos, available offline: two real photographs that ship with
scikit-image and matplotlib, and a full-body photo the project makes from its mannequin."""
from __future__ import annotations

from collections.abc import Callable

import numpy as np

from studio.pipeline.images import read_image


def astronaut() -> np.ndarray:
    """Eileen Collins (NASA), 512x512, upper body: scikit-image's sample photo."""
    from skimage import data

    return data.astronaut()


def grace_hopper() -> np.ndarray:
    """Grace Hopper, head and shoulders: matplotlib's sample photo."""
    from matplotlib import cbook

    return read_image(cbook.get_sample_data("grace_hopper.jpg", asfileobj=False))


def mannequin(width: int = 480, height: int = 640) -> np.ndarray:
    """A made full-body photo: the shaded mannequin, arms lowered, before a plain wall."""
    import torch

    from studio.body.model import BodyModel
    from studio.body.registry import find_body_model
    from studio.synth.raster import front_view, interpolate, rasterize
    from studio.synth.shading import vertex_normals

    body = BodyModel(find_body_model("mannequin"))
    pose = torch.zeros(1, 69)
    pose[0, 15 * 3 + 2], pose[0, 16 * 3 + 2] = -1.1, 1.1  # shoulders, about the z axis
    with torch.no_grad():
        points = front_view(body(body_pose=pose).vertices, fill=0.85)
        faces = torch.as_tensor(body.data.faces)
        side = min(width, height)
        frags = rasterize(points, faces, side)
        facing = interpolate(frags, faces, vertex_normals(points, faces)[0])[0, ..., 2].abs()
    covered = (frags.face_index[0] >= 0).numpy()
    photo = np.empty((height, width, 3), np.uint8)
    photo[:] = np.linspace(70, 140, width)[None, :, None].astype(np.uint8)
    skin = (0.3 + 0.7 * facing.numpy())[..., None] * np.array([215.0, 170.0, 140.0])
    x0, y0 = (width - side) // 2, (height - side) // 2
    photo[y0:y0 + side, x0:x0 + side][covered] = skin[covered].astype(np.uint8)
    return photo


SAMPLES: dict[str, Callable[[], np.ndarray]] = {
    "astronaut": astronaut, "grace-hopper": grace_hopper, "mannequin": mannequin}
DEFAULT_SAMPLE = "astronaut"
