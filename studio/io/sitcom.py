"""Sitcom affordance lists (Binge Watching, CVPR 2017), the data of scene-aware pose
generation, for users who have the dataset.

A line holds an image path, 16 MPII-order joints as x, y pixels (some releases add a 17th
reference point, which is dropped) and a pose class 1-30; values are separated by commas
and/or spaces; negative coordinates mark a missing joint. Image paths are relative to the
list file's folder. Sitcom has no person boxes: a pose's box is its visible joints' box
padded 10% per side (the joints lie inside a person's silhouette, which the synthetic
boxes pad by 5%).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from studio.errors import StudioError

BOX_PADDING = 0.10
HEIGHT = 256  # images are resized to this height, as the synthetic scenes are rendered


@dataclass(frozen=True)
class SitcomPose:
    image: str
    keypoints: np.ndarray  # [16,2] float32, (-1, -1) = missing
    pose_class: int


def parse_line(line: str) -> SitcomPose:
    """One list line; ValueError says what is wrong with it."""
    parts = [p for p in re.split(r"[,\s]+", line.strip()) if p]
    if len(parts) not in (34, 36):
        raise ValueError(f"expected an image path, 16 or 17 (x, y) pairs and a class, "
                         f"got {len(parts)} fields")
    values = np.array([float(v) for v in parts[1:-1]], np.float64).reshape(-1, 2)[:16]
    label = float(parts[-1])
    if not label.is_integer() or not 1 <= label <= 30:
        raise ValueError(f"pose class {parts[-1]} is not an integer 1-30")
    missing = (values < 0).any(1)
    values[missing] = -1.0
    return SitcomPose(parts[0], values.astype(np.float32), int(label))


def read_list(path: Path) -> list[SitcomPose]:
    """Every pose of a list file (blank lines and # comments skipped)."""
    try:
        text = Path(path).read_text()
    except OSError as err:
        raise StudioError(f"{path}: cannot read the Sitcom list ({err.strerror or err})") from err
    poses = []
    for number, line in enumerate(text.splitlines(), 1):
        if line.strip() and not line.lstrip().startswith("#"):
            try:
                poses.append(parse_line(line))
            except ValueError as err:
                raise StudioError(f"{path}:{number}: {err}") from err
    if not poses:
        raise StudioError(f"{path}: no poses in the Sitcom list")
    return poses


def pose_box(keypoints: np.ndarray, image_size: tuple[int, int]) -> np.ndarray:
    """The padded box of the visible joints, clipped to the image."""
    seen = keypoints[(keypoints >= 0).all(1)]
    lo, hi = seen.min(0), seen.max(0)
    pad = (hi - lo) * BOX_PADDING
    w, h = image_size
    return np.clip(np.r_[lo - pad, hi + pad], 0, [w, h, w, h]).astype(np.float32)


def load_sitcom(path: Path):
    """The list's scenes as a :class:`~studio.synth.scenepose_data.SceneSet`, images
    resized to :data:`HEIGHT` (poses with fewer than 2 visible joints are skipped)."""
    import cv2

    from studio.synth.scenepose_data import SceneSet

    images, kps, boxes, classes = [], [], [], []
    cache: dict[str, tuple[np.ndarray, float]] = {}  # resized image, scale
    for pose in read_list(path):
        if (pose.keypoints >= 0).all(1).sum() < 2:
            continue
        if pose.image not in cache:
            file = Path(path).parent / pose.image
            bgr = cv2.imread(str(file), cv2.IMREAD_COLOR)
            if bgr is None:
                raise StudioError(f"{file}: cannot read the image named in {path}")
            s = HEIGHT / bgr.shape[0]
            small = cv2.resize(bgr, (max(1, round(bgr.shape[1] * s)), HEIGHT),
                               interpolation=cv2.INTER_AREA)
            cache[pose.image] = cv2.cvtColor(small, cv2.COLOR_BGR2RGB), s
        image, s = cache[pose.image]
        kp = np.where(pose.keypoints >= 0, pose.keypoints * s, -1.0).astype(np.float32)
        images.append(image)
        kps.append(kp)
        boxes.append(pose_box(kp, (image.shape[1], image.shape[0])))
        classes.append(str(pose.pose_class))
    if not images:
        raise StudioError(f"{path}: no pose with two or more visible joints")
    return SceneSet(images, np.stack(kps), np.stack(boxes), np.array(classes))
