"""One image through a mesh regressor: decode, crop, normalise, run, keep every iteration.

Plain numpy results and no Qt, so the ``studio run`` command and the GUI's worker share
it. Until the person finder lands the crop is the image's centred square
(:func:`centre_square_box`, the one piece to replace).
"""
from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import torch

from studio.errors import StudioError
from studio.nets.geometry import weak_perspective_to_translation
from studio.nets.model_registry import LoadedModel

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class CropBox:
    """A square region of the image, in pixels: top-left corner and side."""

    x: int
    y: int
    size: int


@dataclass
class MeshIteration:
    """One feedback iteration (index 0: the mean-parameter start), batch item removed.

    Vertices are in the body model's frame turned by the predicted global orientation,
    i.e. the camera's axes (x right, y down, z away), without the camera translation.
    """

    vertices: np.ndarray  # [V,3] float32, metres
    cam: np.ndarray  # [3] weak perspective [s, tx, ty]
    betas: np.ndarray  # [10]
    pose: np.ndarray  # [72] axis-angle, root first
    keypoints_2d: np.ndarray  # [49,2] pymaf49 in crop coordinates [-1, 1]
    sample_points: np.ndarray | None  # [N,2] crop coordinates the step sampled; None at 0

    def translation(self) -> np.ndarray:
        """[3] camera-frame translation of the body (focal 5000 px on a 224 px crop, the
        virtual camera the nets project with)."""
        cam = torch.as_tensor(self.cam, dtype=torch.float64)[None]
        return weak_perspective_to_translation(cam)[0].numpy()


@dataclass
class FrameResult:
    """Everything one image produced; the last iteration is the answer."""

    model_name: str
    body_name: str
    image_size: tuple[int, int]  # width, height
    crop: CropBox
    input_size: int
    faces: np.ndarray  # [F,3] int64
    iterations: list[MeshIteration]
    timings_ms: dict[str, float] = field(default_factory=dict)

    @property
    def final(self) -> MeshIteration:
        return self.iterations[-1]


@contextmanager
def timed(timings: dict[str, float], stage: str) -> Iterator[None]:
    """Record the wall time of the ``with`` body in ``timings[stage]`` (milliseconds)."""
    start = time.perf_counter()
    yield
    timings[stage] = (time.perf_counter() - start) * 1000.0


def read_image(path: str | Path) -> np.ndarray:
    """The image as RGB uint8 [H,W,3], turned upright by its EXIF orientation.

    Grey images are expanded to RGB and an alpha channel is dropped (OpenCV's colour
    decoding does both, and applies the EXIF orientation).
    """
    path = Path(path)
    try:
        data = np.fromfile(path, np.uint8)  # unlike cv2.imread, any path encoding works
    except OSError as err:
        raise StudioError(f"{path}: cannot read the image ({err.strerror or err})") from err
    bgr = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    if bgr is None:
        raise StudioError(f"{path}: not an image OpenCV can decode (empty, damaged or an "
                          "unsupported format)")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def centre_square_box(width: int, height: int) -> CropBox:
    """Stand-in for the person finder: the largest square centred in the image."""
    size = min(width, height)
    return CropBox(x=(width - size) // 2, y=(height - size) // 2, size=size)


def crop_image(image: np.ndarray, box: CropBox, size: int) -> np.ndarray:
    """The box's pixels resized to ``size`` x ``size`` (area filter when shrinking)."""
    patch = image[box.y:box.y + box.size, box.x:box.x + box.size]
    interpolation = cv2.INTER_AREA if box.size > size else cv2.INTER_LINEAR
    return cv2.resize(patch, (size, size), interpolation=interpolation)


def to_input(crop: np.ndarray, device: torch.device) -> torch.Tensor:
    """RGB uint8 crop [S,S,3] -> ImageNet-normalised [1,3,S,S] float32 on ``device``."""
    x = torch.from_numpy(np.ascontiguousarray(crop)).to(device).permute(2, 0, 1).float() / 255
    mean = torch.tensor(IMAGENET_MEAN, device=device)[:, None, None]
    std = torch.tensor(IMAGENET_STD, device=device)[:, None, None]
    return ((x - mean) / std)[None]


def require_rgb_input(name: str, input_kind: str | None) -> None:
    """Refuse models that need the photo pipeline's proxy maps (not there for bare images)."""
    if input_kind not in (None, "rgb"):
        raise StudioError(f"model {name!r} needs keypoints and a person mask from the photo "
                          "pipeline, which cannot run on a bare image yet; pick an rgb model "
                          "(e.g. builtin-pymaf-rgb or official-pymaf)")


def _numpy(t: torch.Tensor) -> np.ndarray:
    return t[0].detach().float().cpu().numpy()


def run_image(model: LoadedModel, image: np.ndarray) -> FrameResult:
    """The model's iterations on ``image`` (RGB uint8); times the crop and net stages."""
    require_rgb_input(model.name, model.input_kind)
    timings: dict[str, float] = {}
    device = next(model.net.parameters()).device
    height, width = image.shape[:2]
    with timed(timings, "crop"):
        box = centre_square_box(width, height)
        crops = to_input(crop_image(image, box, model.input_size), device)
    with timed(timings, "net"), torch.inference_mode():
        out = model.net(crops)
        iterations = [MeshIteration(
            vertices=_numpy(it.vertices), cam=_numpy(it.cam), betas=_numpy(it.betas),
            pose=_numpy(it.theta[:, 13:]), keypoints_2d=_numpy(it.keypoints_2d),
            sample_points=None if it.sample_points is None else _numpy(it.sample_points))
            for it in out.iterations]
    return FrameResult(model_name=model.name, body_name=model.body_name,
                       image_size=(width, height), crop=box, input_size=model.input_size,
                       faces=model.net.body.data.faces, iterations=iterations,
                       timings_ms=timings)
