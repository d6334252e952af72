"""Built-in sample photos, available offline: two real photographs that ship with
scikit-image and matplotlib, and a full-body photo the project makes from its mannequin."""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

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


def write_sample_clip(path: Path, name: str = "astronaut", size: tuple[int, int] = (640, 480),
                      frames: int = 60, fps: float = 30.0) -> Path:
    """A webcam stand-in: sample photo ``name`` fitted into ``size`` (width, height) on a
    grey wall and swaying sideways (one full sway per ``frames``), as an MJPG video;
    for ``studio bench live`` and tests, since CI has no camera."""
    import cv2

    width, height = size
    photo = SAMPLES[name]()
    scale = min(width / photo.shape[1], height / photo.shape[0]) * 0.9
    picture = cv2.resize(photo, (round(photo.shape[1] * scale), round(photo.shape[0] * scale)),
                         interpolation=cv2.INTER_AREA)
    ph, pw = picture.shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, size)
    try:
        for k in range(frames):
            frame = np.full((height, width, 3), 90, np.uint8)
            x0 = (width - pw) // 2 + round(0.05 * width * np.sin(2 * np.pi * k / frames))
            y0 = (height - ph) // 2
            frame[y0:y0 + ph, x0:x0 + pw] = picture
            writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    finally:
        writer.release()
    return Path(path)


SAMPLES: dict[str, Callable[[], np.ndarray]] = {
    "astronaut": astronaut, "grace-hopper": grace_hopper, "mannequin": mannequin}
DEFAULT_SAMPLE = "astronaut"
