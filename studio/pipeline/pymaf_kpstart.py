"""``builtin-pymaf-proxy-kpstart``: the built-in proxy PyMAF whose feedback loop starts
from the keypoint fit's body instead of the mean parameters (a model method,
:mod:`studio.pipeline.methods`).

The start: MediaPipe's 3D world landmarks through the keypoint fit (SMPLR,
:func:`studio.pipeline.keypoint_fit.fit_keypoints`) give pose and betas in the camera's
axes; a crop camera fitted to the 2D landmarks places that body
(:func:`studio.pipeline.keypoint_method.crop_camera`). Iteration 0 is that start, the
net's three feedback iterations follow. For synthetic test people
(:func:`synthetic_start`, ``studio eval pymaf --start keypoint-fit``) the start is fitted
to the true body's mediapipe33 points with Gaussian noise, as MediaPipe's would be.

Measured against the mean start (model card of pymaf-proxy): the net's regressors were
trained from the mean parameters only and pull a good start back towards their usual
answers, so the default stays the mean start.
"""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from smplx.lbs import batch_rodrigues

from studio.body.model import BodyModel
from studio.nets.geometry import project_to_crop
from studio.nets.model_registry import LoadedModel, load_model
from studio.nets.pymaf import PyMAF
from studio.pipeline.crops import CropTransform
from studio.pipeline.keypoint_fit import SMPLRModel, fit_keypoints, load_smplr
from studio.pipeline.keypoint_method import crop_camera
from studio.pipeline.methods import LoadedMethod, MethodOutput
from studio.pipeline.people import Person
from studio.pipeline.single_image import net_iterations, seen_landmarks
from studio.synth.dataset import Batch

NAME = "builtin-pymaf-proxy-kpstart"
NET = "builtin-pymaf-proxy"
LAYOUT = "mediapipe33"
Start = tuple[torch.Tensor, torch.Tensor, torch.Tensor]  # 6D pose, betas, crop camera
# The fit's Gauss-Newton steps on the points (keypoint-fit's default) follow MediaPipe's
# noisy depths: from such starts the net's meshes covered the 14 photos' masks of
# `studio bench refine` with mean IoU 0.50 (0.64 without them, 0.65 from the mean start).
FIT_REFINE_STEPS = 0


def keypoint_start(body: BodyModel, smplr: SMPLRModel, world: np.ndarray, confidence: np.ndarray,
                   targets: np.ndarray, weights: np.ndarray) -> Start:
    """The feedback loop's start for B people: the keypoint fit of 3D mediapipe33 points
    ``world`` [B,33,3] (``confidence`` [B,33], 0 = missing) as 6D pose [B,144] and betas
    [B,10], and per person the crop camera [B,3] putting its mediapipe33 points on crop
    coordinates ``targets`` [B,33,2] (``weights`` [B,33])."""
    fit = fit_keypoints(world.astype(np.float32), LAYOUT, 3, confidence=confidence,
                        model=smplr, refine_steps=FIT_REFINE_STEPS)
    device = next(body.buffers()).device
    rotmat = batch_rodrigues(torch.as_tensor(fit.poses).reshape(-1, 3)).reshape(-1, 24, 3, 3)
    rotmat, betas = rotmat.to(device), torch.as_tensor(fit.betas, device=device)
    with torch.no_grad():
        points = body(global_orient=rotmat[:, :1], body_pose=rotmat[:, 1:], betas=betas
                      ).keypoints(LAYOUT).double().cpu().numpy()
    cams = np.stack([crop_camera(p, t, w) for p, t, w in zip(points, targets, weights)])
    # 6D as the regressors read it: each matrix's first two columns, row-major
    return (rotmat[..., :2].reshape(-1, 144), betas,
            torch.as_tensor(cams, dtype=torch.float32, device=device))


class _StartedNet:
    """The net as :func:`~studio.pipeline.single_image.net_iterations` runs it, from a
    given start."""

    def __init__(self, model: LoadedModel, start: Start) -> None:
        self.body, self.device = model.body, model.device
        self._net, self._start = model.net, start

    def infer(self, crops: torch.Tensor):
        return self._net(crops, start=self._start)


class KeypointStartMethod:
    """:class:`~studio.pipeline.methods.PersonMethod`: the start, then the net's
    feedback iterations on the person's proxy maps."""

    def __init__(self, model: LoadedModel, smplr: SMPLRModel) -> None:
        self.model, self.smplr = model, smplr

    def __call__(self, image: np.ndarray, person: Person, transform: CropTransform,
                 maps: torch.Tensor) -> MethodOutput:
        size = (image.shape[1], image.shape[0])
        visibility = np.nan_to_num(np.asarray(person.visibility, np.float32))
        # every world landmark is fitted, as keypoint-fit does (MediaPipe's guess for an
        # unseen limb beats the fit's own); visibility weighs the camera fit only
        start = keypoint_start(
            self.model.body, self.smplr, person.world_landmarks[None], np.ones((1, 33)),
            transform.to_crop(person.landmarks)[None],
            np.where(seen_landmarks(person, size), visibility, 0.0)[None])
        with torch.inference_mode():
            return net_iterations(_StartedNet(self.model, start), maps, transform)


def load(device: torch.device | str = "cpu", checkpoint: Path | None = None) -> LoadedMethod:
    """The registry's loader: the built-in proxy net (``checkpoint`` replaces its file)
    and the shipped 3D keypoint fit."""
    model = load_model(NET, device, checkpoint)
    smplr = load_smplr(LAYOUT, 3, device="cpu")
    return LoadedMethod(name=NAME, run=KeypointStartMethod(model, smplr), body=model.body,
                        input_kind="proxy", input_size=model.input_size, source=model.source,
                        device=model.device, meta=model.meta)


def synthetic_start(net: PyMAF, noise_mm: float, seed: int = 0
                    ) -> Callable[[Batch], Start]:
    """For ``studio eval pymaf``: each test batch's start, fitted to its true bodies'
    mediapipe33 points with ``noise_mm`` Gaussian noise per coordinate, placed by a
    camera fitted to those noisy points' projections (seeded: the same for every run)."""
    smplr = load_smplr(LAYOUT, 3, device="cpu")
    gen = torch.Generator().manual_seed(seed)

    def start(batch: Batch) -> Start:
        with torch.no_grad():
            true = net.body(global_orient=batch.rotmat[:, :1], body_pose=batch.rotmat[:, 1:],
                            betas=batch.betas).keypoints(LAYOUT).cpu()
        noisy = true + torch.randn(true.shape, generator=gen) * (noise_mm / 1000.0)
        targets = project_to_crop(noisy, batch.cam.cpu()).double().numpy()
        ones = np.ones(true.shape[:2])
        return keypoint_start(net.body, smplr, noisy.numpy(), ones, targets, ones)

    return start
