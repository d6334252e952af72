"""PoseAug samples of the shown person, for the studio's PoseAug panel and its exports.
No Qt.

The person's 3D pose (one feedback iteration's body, read off as PoseAug's 16 joints) is
put in front of the *photo camera*: a pinhole on the photo's pixels with the focal length
of the image's larger side, the principal point at its centre, and the person where the
iteration's image camera shows them (the same pixel for the root, the same size). The
iterations' own cameras are PyMAF's 5000-pixel weak-perspective stand-ins, which would
put an augmented person metres away far off the picture; a phone-like focal length is
also what PoseAug's cameras (Human3.6M's, ~2.3 in normalized units) look like.

The augmentor then draws N samples with a seed, each stage switchable and its strength
set (:func:`studio.nets.poseaug.augment_poses`); every stage's poses are projected
through the photo camera and scored by both discriminators, and bodies are fitted to
them through the keypoint fit (``fit_keypoints(points, "poseaug16", dims=3)``).
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from studio.body import joint_sets
from studio.body.model import BodyModel
from studio.errors import ModelFileError
from studio.nets import poseaug
from studio.pipeline.results import MeshIteration

STAGE_KEYS = ("input", "ba", "bl", "rt")  # the panel's columns, in order
STAGE_TITLES = {"input": "original", "ba": "BA", "bl": "BL", "rt": "RT"}
MESH_SUFFIXES = (".obj", ".ply", ".glb")
# Each bone's part (the discriminator column colouring it): arms' and legs' own bones,
# the spine/neck/head bones the torso's.
BONE_PART = (2, 2, 2, 3, 3, 3, 4, 4, 4, 0, 0, 0, 1, 1, 1)


@dataclass(frozen=True)
class SampleSettings:
    """What to draw: ``count`` samples with ``seed``, the stages switched on and each
    stage's strength (0..2, 1 = the augmentor's own; see ``poseaug_sampling``)."""

    count: int = 6
    seed: int = 0
    stages: tuple[str, ...] = poseaug.STAGES
    strength: dict[str, float] = field(default_factory=lambda: {s: 1.0 for s in poseaug.STAGES})


@dataclass
class PoseAugModules:
    """The augmentor and both discriminators, in eval mode, and where they came from."""

    augmentor: torch.nn.Module
    d3d: torch.nn.Module
    d2d: torch.nn.Module
    source: Path


@dataclass
class SampleSet:
    """N samples of one pose, every stage (:data:`STAGE_KEYS` order on axis 1)."""

    settings: SampleSettings
    image_size: tuple[int, int]  # width, height of the photo
    camera: np.ndarray  # [9] the photo camera, PoseAug's normalized convention
    poses: np.ndarray  # [N,4,16,3] metres, photo camera frame (x right, y down, z away)
    screen: np.ndarray  # [N,4,16,2] normalized screen coordinates (PoseAug's 2D input)
    pixels: np.ndarray  # [N,4,16,2] the same on the photo, pixels
    d3d: np.ndarray  # [N,4,5] part scores (poseaug.PART_NAMES), raw: ~1 real, ~0 augmented
    d2d: np.ndarray  # [N,4] 2D score, raw
    params: dict[str, np.ndarray]  # ba_diff [N,15], blr [N,9], rot [N,3], trans [N,3], noise_*
    augmented: poseaug.Augmented  # the augmentor's draw the arrays above come from
    source: str = ""  # the weights file the samples came from
    vertices: np.ndarray | None = None  # [N,4,V,3] fitted bodies, same frame as poses
    faces: np.ndarray | None = None  # [F,3]

    @property
    def count(self) -> int:
        return len(self.poses)


def load_modules(path: str | Path | None = None) -> PoseAugModules:
    """The shipped augmentor and discriminators, or those of an official training-state
    file (``model_G``, ``model_d3d``, ``model_d2d``); ModelFileError when missing."""
    return _load_modules(None if path is None else str(Path(path).expanduser().resolve()))


@functools.lru_cache(maxsize=2)
def _load_modules(path: str | None) -> PoseAugModules:
    source = Path(path) if path is not None else poseaug.BUILTIN_GAN
    if path is None and not source.is_file():
        raise ModelFileError(f"PoseAug weights {source.name} not found in {source.parent}; "
                             "train them with `studio train poseaug`")
    parts = {part: poseaug.load_official(source, part) for part in ("augmentor", "d3d", "d2d")}
    return PoseAugModules(parts["augmentor"], parts["d3d"], parts["d2d"], source)


def skeleton_of(iteration: MeshIteration, body: BodyModel) -> np.ndarray:
    """[16,3] PoseAug's joints of an iteration's body (same frame as its vertices), read
    off its SMPL joints and the body model's extra regressor as the body model does."""
    vertices = np.asarray(iteration.vertices, np.float32)
    landmarks = vertices[[body.data.landmarks[n] for n in joint_sets.LANDMARK_NAMES]]
    extra = body.J_regressor_extra.detach().cpu().numpy() @ vertices
    sources = np.concatenate([np.asarray(iteration.joints, np.float32), landmarks, extra])
    return joint_sets.mapping_matrix("poseaug16") @ sources


def photo_focal(image_size: tuple[int, int]) -> float:
    """The photo camera's focal length in pixels: the image's larger side."""
    return float(max(image_size))


def photo_camera(image_size: tuple[int, int]) -> np.ndarray:
    """[9] PoseAug camera of the photo (see the module docstring)."""
    width, height = image_size
    return poseaug.camera_from_pixels(photo_focal(image_size), width, height).numpy()


def place_for_photo(skeleton: np.ndarray, iteration: MeshIteration,
                    image_size: tuple[int, int]) -> np.ndarray:
    """[16,3] the skeleton (iteration frame) in the photo camera's frame: its root on the
    pixel the iteration's image camera puts it on, at the depth that keeps its size."""
    cam = iteration.image_camera
    root = skeleton[0]
    root_px = cam.project(root)
    depth = (root[2] + cam.translation[2]) * photo_focal(image_size) / cam.focal
    centre = np.asarray(image_size, np.float64) / 2
    xy = (root_px - centre) * depth / photo_focal(image_size)
    return (skeleton - root + np.array([xy[0], xy[1], depth])).astype(np.float32)


def draw_samples(modules: PoseAugModules, pose: np.ndarray, image_size: tuple[int, int],
                 settings: SampleSettings) -> SampleSet:
    """``settings.count`` augmentations of ``pose`` [16,3] (photo camera frame), every
    stage projected through the photo camera and scored; the same settings give the
    same samples (none switched on: the pose itself). ValueError for unknown stages or
    strengths out of range."""
    camera = photo_camera(image_size)
    aug = poseaug.augment_poses(modules.augmentor, torch.as_tensor(pose, dtype=torch.float32)[None],
                                settings.count, settings.seed, *_effective(settings),
                                torch.as_tensor(camera)[None])
    poses = torch.stack([aug.poses[k] for k in STAGE_KEYS], 1)  # [N,4,16,3]
    screen = torch.stack([aug.pose_2d[k] for k in STAGE_KEYS], 1)
    n = len(poses)
    d3d, d2d = poseaug.discriminator_scores(modules.d3d, modules.d2d, poses.reshape(-1, 16, 3),
                                            screen.reshape(-1, 16, 2))
    width, height = image_size
    params = {"ba_diff": aug.ba_diff, "blr": aug.blr, "rot": aug.rot, "trans": aug.trans,
              **aug.noise}
    return SampleSet(settings=settings, image_size=(int(width), int(height)), camera=camera,
                     poses=poses.numpy(), screen=screen.numpy(),
                     pixels=poseaug.screen_to_pixels(screen, width, height).numpy(),
                     d3d=d3d.reshape(n, 4, -1).numpy(), d2d=d2d.reshape(n, 4).numpy(),
                     params={k: v.numpy() for k, v in params.items()}, augmented=aug,
                     source=str(modules.source))


def _effective(settings: SampleSettings) -> tuple[tuple[str, ...], dict[str, float]]:
    """The stages and strengths drawn with: every stage switched off is every stage at
    strength 0 (the pose itself; augment_poses wants a stage)."""
    if settings.stages:
        return settings.stages, settings.strength
    return poseaug.STAGES, {s: 0.0 for s in poseaug.STAGES}


def fit_bodies(samples: SampleSet, model=None) -> SampleSet:
    """``samples`` with bodies fitted to every stage's pose by the keypoint fit (``model``:
    a loaded SMPLR 3D model, default the shipped one)."""
    from studio.pipeline.keypoint_fit import fit_keypoints

    n = samples.count
    fit = fit_keypoints(samples.poses.reshape(n * 4, 16, 3), "poseaug16", dims=3, model=model)
    samples.vertices = fit.vertices.reshape(n, 4, -1, 3)
    samples.faces = np.asarray(fit.faces)
    return samples


def npz_bytes(samples: SampleSet) -> bytes:
    """The augmented 2D-3D pairs as ``studio poseaug augment`` writes them
    (:func:`studio.nets.poseaug.augmented_npz_bytes`: every stage's poses and
    projections, cameras, per-stage parameters, noise, seed, the final poses' scores)."""
    stages, strength = _effective(samples.settings)
    final = len(STAGE_KEYS) - 1
    scores = (torch.as_tensor(samples.d3d[:, final]), torch.as_tensor(samples.d2d[:, final]))
    pose = samples.augmented.poses["input"][:1]
    return poseaug.augmented_npz_bytes(samples.augmented, pose, torch.zeros(1, dtype=torch.bool),
                                       samples.settings.seed, samples.count, stages, strength,
                                       scores)


def mesh_payloads(samples: SampleSet, path: Path) -> list[tuple[Path, bytes]]:
    """One mesh file per sample and stage beside ``path``: ``<stem>_<i>_<stage><suffix>``
    (suffix .obj, .ply or .glb); ValueError when the bodies were not fitted."""
    from studio.io.meshes import mesh_bytes

    if samples.vertices is None or samples.faces is None:
        raise ValueError("the samples have no fitted bodies")
    suffix = path.suffix.lower()
    if suffix not in MESH_SUFFIXES:
        raise ValueError(f"{path.name}: mesh files end in {', '.join(MESH_SUFFIXES)}")
    return [(path.with_name(f"{path.stem}_{i:02d}_{stage}{suffix}"),
             mesh_bytes(samples.vertices[i, k], samples.faces, suffix))
            for i in range(samples.count) for k, stage in enumerate(STAGE_KEYS)]


def person_samples(iteration: MeshIteration, body: BodyModel, image_size: tuple[int, int],
                   settings: SampleSettings, weights: str | Path | None = None) -> SampleSet:
    """Samples of one iteration's person (its body model ``body``), bodies fitted: what
    the panel shows. ``weights``: an official training-state file instead of the shipped
    augmentor and discriminators."""
    pose = place_for_photo(skeleton_of(iteration, body), iteration, image_size)
    return fit_bodies(draw_samples(load_modules(weights), pose, image_size, settings))
