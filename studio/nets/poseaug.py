"""PoseAug (Gong et al., CVPR 2021) in the studio: the augmentor, its discriminators and
the four 2D-to-3D estimators, loading the official checkpoints and computing what the
official code computes (contract: ``poseaug_api.md``). Torch and numpy only, no Qt.

The public API:

- :func:`load_official` ``(path, part=None, device="cpu")`` -> module with ``kind``;
- :func:`load_builtin` ``(part)`` -> the shipped module ("augmentor", "d3d", "d2d",
  "pose" = the PoseAug-trained SimpleBaseline);
- the augmentor ``aug(pose_3d, noise_ba=None, noise_bl=None, noise_rot=None,
  noise_trans=None) -> dict``; :func:`augment_poses` for seeded, per-stage draws;
- :func:`project_to_2d`, :func:`normalize_screen`, :func:`screen_to_pixels`,
  :func:`camera_from_pixels` (2D normalisation from the image size alone);
- :func:`discriminator_scores`, :func:`augmented_npz_bytes` (the export) and the skeleton
  constants (joints, bones, the discriminator's parts).
"""
from __future__ import annotations

from pathlib import Path

from torch import nn

from studio.nets.poseaug_augmentor import STAGES, PoseAugmentor, draw_noise
from studio.nets.poseaug_discriminators import PoseDiscriminator2D, PoseDiscriminator3D
from studio.nets.poseaug_estimators import SemGCN, SimpleBaseline, VideoPose1f
from studio.nets.poseaug_files import PoseAugFileError, load_official, save_official
from studio.nets.poseaug_sampling import (DEFAULT_CAMERA, Augmented, augment_poses,
                                          augmented_npz_bytes, discriminator_scores,
                                          place_in_front)
from studio.nets.poseaug_skeleton import (BONE_GROUPS, BONES, JOINT_NAMES, NUM_JOINTS,
                                          PARENTS, PART_BONES, PART_JOINTS, PART_NAMES,
                                          camera_from_pixels, normalize_screen,
                                          project_to_2d, screen_to_pixels)
from studio.nets.poseaug_stgcn import STGCN

BUILTIN_DIR = Path(__file__).resolve().parents[2] / "models" / "poseaug"
BUILTIN_GAN = BUILTIN_DIR / "poseaug-gan.pth.tar"
BUILTIN_ESTIMATOR = BUILTIN_DIR / "mlp-poseaug.pth.tar"


def load_builtin(part: str, device: str = "cpu") -> nn.Module:
    """The shipped module: "augmentor", "d3d", "d2d" or "pose" (the PoseAug-trained
    SimpleBaseline), in eval mode."""
    return load_official(BUILTIN_ESTIMATOR if part == "pose" else BUILTIN_GAN, part, device)


__all__ = [
    "STAGES", "PoseAugmentor", "draw_noise", "PoseDiscriminator2D", "PoseDiscriminator3D",
    "SemGCN", "SimpleBaseline", "VideoPose1f", "STGCN", "PoseAugFileError",
    "load_official", "save_official", "load_builtin", "DEFAULT_CAMERA", "Augmented",
    "augment_poses", "augmented_npz_bytes", "discriminator_scores", "place_in_front",
    "BONE_GROUPS", "BONES",
    "JOINT_NAMES", "NUM_JOINTS", "PARENTS", "PART_BONES", "PART_JOINTS", "PART_NAMES",
    "camera_from_pixels", "normalize_screen", "project_to_2d", "screen_to_pixels",
    "BUILTIN_DIR", "BUILTIN_GAN", "BUILTIN_ESTIMATOR",
]
