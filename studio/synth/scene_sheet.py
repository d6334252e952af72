"""Looking at and saving synthetic scene samples: labelled contact sheets and npz arrays."""
from __future__ import annotations

import io
from collections.abc import Sequence

import cv2
import numpy as np

from studio.body.joint_sets import MPII16
from studio.synth.scenes import SceneSample

_LEFT = {i for i, name in enumerate(MPII16.names) if name.startswith("l-")}


def draw_labels(sample: SceneSample) -> np.ndarray:
    """The render with the person, its MPII skeleton (left side blue, right side red), its
    box and its pose class drawn on: RGB uint8."""
    out = np.ascontiguousarray(sample.with_person.copy())
    kp = sample.keypoints
    for child, parent in MPII16.bones:
        if (kp[[child, parent]] >= 0).all():
            color = (60, 110, 255) if child in _LEFT else (255, 60, 60)
            cv2.line(out, tuple(int(round(v)) for v in kp[child]),
                     tuple(int(round(v)) for v in kp[parent]), color, 1, cv2.LINE_AA)
    x0, y0, x1, y1 = (int(round(v)) for v in sample.box)
    cv2.rectangle(out, (x0, y0), (x1, y1), (40, 230, 40), 1)
    cv2.putText(out, sample.pose_class, (3, 12), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (255, 255, 0),
                1, cv2.LINE_AA)
    return out


def contact_sheet(samples: Sequence[SceneSample], columns: int = 4) -> np.ndarray:
    """RGB grid: per sample, the input scene (no person) beside the labelled render."""
    h = max(s.image.shape[0] for s in samples)
    w = max(s.image.shape[1] for s in samples)
    rows = -(-len(samples) // columns)
    sheet = np.zeros((rows * (h + 2), columns * (2 * w + 6), 3), np.uint8)
    for i, s in enumerate(samples):
        r, c = divmod(i, columns)
        y, x = r * (h + 2), c * (2 * w + 6)
        sh, sw = s.image.shape[:2]
        sheet[y:y + sh, x:x + sw] = s.image
        sheet[y:y + sh, x + w + 1:x + w + 1 + sw] = draw_labels(s)
    return sheet


def png_bytes(rgb: np.ndarray) -> bytes:
    ok, data = cv2.imencode(".png", np.ascontiguousarray(rgb[..., ::-1]))
    if not ok:
        raise RuntimeError("PNG encoding failed")
    return data.tobytes()


def samples_npz(samples: Sequence[SceneSample], seeds: Sequence[int]) -> bytes:
    """The samples as one compressed npz: ``images`` and ``with_person`` [N,H,W,3] uint8,
    ``keypoints`` [N,16,2], ``boxes`` [N,4], ``pose_class``, ``scene_kind`` [N] str,
    ``focal_length`` [N], ``seeds`` [N]."""
    buf = io.BytesIO()
    np.savez_compressed(
        buf, images=np.stack([s.image for s in samples]),
        with_person=np.stack([s.with_person for s in samples]),
        keypoints=np.stack([s.keypoints for s in samples]),
        boxes=np.stack([s.box for s in samples]),
        pose_class=np.array([s.pose_class for s in samples]),
        scene_kind=np.array([s.scene_kind for s in samples]),
        focal_length=np.array([s.focal_length for s in samples], np.float32),
        seeds=np.asarray(seeds, np.int64))
    return buf.getvalue()
