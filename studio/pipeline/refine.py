"""Refinement: make a person's mesh sit on the person, after the net's last iteration.

A mesh regressor's answer is one guess from the crop; on real photos the built-in proxy
net's meshes cover MediaPipe's person mask with IoU about 0.5. Starting from the last
iteration (pose, betas and the crop camera that places it), a few dozen Adam steps
change all three so that

- the body's mediapipe33 keypoints land on MediaPipe's seen landmarks (weighted by their
  visibility, a robust Charbonnier distance, so one wrong landmark does not drag a limb),
- its soft silhouette (:mod:`studio.synth.soft_silhouette`, 64 px over a square 1.5x the
  person's extent) covers MediaPipe's soft mask (1 - soft IoU),

the silhouette weighing most at first (shape and placement) and the keypoints most at the
end (loose clothes make the mask wider than the body, so the last word is the landmarks'),
regularised by the pose prior's joint limits (:data:`studio.synth.pose_prior.JOINT_LIMITS`,
a squared hinge a little outside them), a shape prior (betas near the mean, and a steep
hinge beyond +-2.5: the range people have) and a pull towards the start.

The step with the lowest objective is kept (the start included, so the objective never
rises), then polished by two Gauss-Newton steps on the keypoints that also follow the
silhouette's gradient (:mod:`studio.pipeline.refine_polish`), and the caller keeps the
start when the refined mesh is worse on either measured count, mask IoU or keypoint
error (:func:`better_than_start`). Each step poses only the points it reads
(:mod:`studio.pipeline.refine_points`) and the silhouette loss has its gradient written
out (:mod:`studio.pipeline.refine_silhouette`). Plain torch on the CPU, no Qt.
"""
from __future__ import annotations

import copy
import time

import cv2
import numpy as np
import smplx
import torch

from studio.body.model import BodyModel
from studio.nets.model_registry import LoadedModel
from studio.nets.geometry import project_to_crop, rotmat_to_axis_angle
from studio.pipeline.crops import CropTransform, image_camera, square_box
from studio.pipeline.people import Person
from studio.pipeline.refine_points import PointBody
from studio.pipeline.refine_polish import polish
from studio.pipeline.refine_silhouette import silhouette_loss
from studio.pipeline.results import MeshIteration, RefineReport
from studio.synth.pose_prior import JOINT_LIMITS
from studio.synth.soft_silhouette import EDGE_OFFSET, SurfaceSamples, sigma_pixels

STEPS = 45
SILHOUETTE_SIZE = 64  # px of the soft silhouette's square
SILHOUETTE_MARGIN = 1.5  # its side: the person's extent times this (the mesh may stray)
LEARNING_RATE = {"pose": 0.03, "betas": 0.05, "camera": 0.01}
WEIGHTS = {"keypoints": 5.0, "silhouette": 1.0, "pose_prior": 1.0, "shape": 0.02,
           "shape_hinge": 1.0, "start": 0.05}
# The steps' schedule: the keypoint and silhouette weights go linearly from RAMP[0] to
# RAMP[1] times WEIGHTS' over the steps, silhouette-heavy first (shape and placement),
# keypoint-heavy last (a loose sleeve's silhouette is wider than the arm in it; the final
# pose should sit on the landmarks). Steps are compared on WEIGHTS itself.
KEYPOINT_RAMP = (1.0, 4.0)
SILHOUETTE_RAMP = (2.0, 1.0)
KEYPOINT_EPS = 0.01  # crop units: the Charbonnier distance's soft corner
BETA_LIMIT = 2.5
IOU_SLACK, KP_SLACK = 0.005, 0.25  # what counts as worse than the start
LIMIT_SLACK = 0.2
# SMPL joints (left, right) and the mediapipe33 landmarks their rotation moves: with none
# of them seen, nothing in the image says where the limb is, and the pull to the start is
# UNSEEN_PULL times stronger (else the silhouette folds an unseen leg into the torso).
LIMB_LANDMARKS = {1: (25,), 2: (26,), 4: (27,), 5: (28,), 7: (29, 31), 8: (30, 32),
                  16: (13,), 17: (14,), 18: (15,), 19: (16,), 20: (17, 19, 21),
                  21: (18, 20, 22)}
UNSEEN_PULL = 50.0  # radians past the pose prior's limits before the hinge bites


def unseen_limbs(seen: np.ndarray) -> list[int]:
    """The joints of :data:`LIMB_LANDMARKS` none of whose landmarks is ``seen`` [33]."""
    seen = np.asarray(seen, bool)
    return [joint for joint, marks in LIMB_LANDMARKS.items() if not seen[list(marks)].any()]


def grown_mask(mask: np.ndarray, pixels: float) -> np.ndarray:
    """[S,S] float32: ``mask`` (at 0.5) grown outwards by ``pixels``, its new edge a
    one-pixel linear ramp."""
    inside = (mask >= 0.5).astype(np.uint8)
    distance = cv2.distanceTransform(1 - inside, cv2.DIST_L2, 5)
    return np.clip(pixels + 0.5 - distance, 0.0, 1.0).astype(np.float32)


def refine_body(model: LoadedModel) -> BodyModel:
    """``model``'s body model on the CPU, where refinement runs (a copy, made once, when
    the net is elsewhere)."""
    body = model.body
    if next(body.buffers()).device.type == "cpu":
        return body
    cpu = getattr(model, "_refine_cpu_body", None)
    if cpu is None:
        cpu = model._refine_cpu_body = copy.deepcopy(body).cpu()
    return cpu


class Adam:
    """Adam (Kingma and Ba) on a few tensors, one learning rate each. torch.optim's would
    import torch._dynamo on first use: 1.3 s, four times a whole refinement."""

    def __init__(self, params: list[torch.Tensor], lrs: list[float],
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8) -> None:
        self.params, self.lrs, self.betas, self.eps = params, lrs, betas, eps
        self.m = [torch.zeros_like(p) for p in params]
        self.v = [torch.zeros_like(p) for p in params]
        self.t = 0

    @torch.no_grad()
    def step(self, grads: tuple[torch.Tensor, ...]) -> None:
        self.t += 1
        b1, b2 = self.betas
        for p, g, m, v, lr in zip(self.params, grads, self.m, self.v, self.lrs):
            m.mul_(b1).add_(g, alpha=1 - b1)
            v.mul_(b2).addcmul_(g, g, value=1 - b2)
            denom = (v / (1 - b2 ** self.t)).sqrt_().add_(self.eps)
            p.addcdiv_(m, denom, value=-lr / (1 - b1 ** self.t))


def _point_body(body: BodyModel) -> PointBody:
    """The body model's surface samples and the points a step reads
    (:class:`studio.pipeline.refine_points.PointBody`), made once and kept on the model."""
    points = getattr(body, "_refine_points", None)
    if points is None:
        points = PointBody(body, SurfaceSamples(body.data.v_template, body.data.faces))
        body._refine_points = points
    return points


def euler_xyz(rotmats: torch.Tensor) -> torch.Tensor:
    """[...,3,3] matrices Rx(x) Ry(y) Rz(z) -> [...,3] angles (x, y, z), the pose prior's
    convention (:func:`studio.synth.pose_prior.euler_to_rotmat`)."""
    x = torch.atan2(-rotmats[..., 1, 2], rotmats[..., 2, 2])
    y = torch.asin(rotmats[..., 0, 2].clamp(-1 + 1e-6, 1 - 1e-6))
    z = torch.atan2(-rotmats[..., 0, 1], rotmats[..., 0, 0])
    return torch.stack([x, y, z], -1)


def pose_prior_penalty(body_rotmats: torch.Tensor) -> torch.Tensor:
    """Squared hinge (radians^2, summed) of the 23 body joints' Euler angles beyond the
    pose prior's limits widened by LIMIT_SLACK."""
    angles = euler_xyz(body_rotmats.reshape(-1, 23, 3, 3))
    lo, hi = JOINT_LIMITS[..., 0] - LIMIT_SLACK, JOINT_LIMITS[..., 1] + LIMIT_SLACK
    return ((lo - angles).clamp_min(0) ** 2 + (angles - hi).clamp_min(0) ** 2).sum()


def shape_penalty(betas: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(mean squared beta, summed squared hinge beyond +-BETA_LIMIT)."""
    return (betas ** 2).mean(), ((betas.abs() - BETA_LIMIT).clamp_min(0) ** 2).sum()


def start_camera(body: BodyModel, start: MeshIteration) -> np.ndarray:
    """[3] ``start``'s crop camera moved so that it places the body of ``start``'s pose and
    betas where it places ``start``'s mesh. Methods whose mesh is not that body as the
    body model poses it (PointHMR regresses vertices and takes its parameters from a
    keypoint fit; the keypoint-fit methods centre their body on its pelvis) would otherwise
    start the refinement decimetres off the person."""
    with torch.no_grad():
        posed = body(global_orient=torch.as_tensor(start.pose[None, :3], dtype=torch.float32),
                     body_pose=torch.as_tensor(start.pose[None, 3:], dtype=torch.float32),
                     betas=torch.as_tensor(start.betas[None], dtype=torch.float32))
    shift = (np.asarray(start.vertices, np.float64)
             - posed.vertices[0].double().numpy()).mean(0)
    cam = np.array(start.crop_camera, np.float64)
    cam[1:] += shift[:2]  # s (X + shift + t) = s (X + t'): the mesh at X + shift
    return cam


class Problem:
    """One person's refinement objective around a start iteration."""

    def __init__(self, body: BodyModel, start: MeshIteration, person: Person,
                 transform: CropTransform, image_size: tuple[int, int],
                 seen: np.ndarray) -> None:
        self.body = body
        self.points = _point_body(body)
        dt = torch.float32
        self.start_rotmats = smplx.lbs.batch_rodrigues(
            torch.as_tensor(start.pose, dtype=dt).reshape(24, 3))[None]  # [1,24,3,3]
        self.start_betas = torch.as_tensor(start.betas, dtype=dt)[None]
        self.start_cam = torch.as_tensor(start_camera(body, start), dtype=dt)
        self.targets = torch.as_tensor(transform.to_crop(person.landmarks), dtype=dt)
        self.seen = np.asarray(seen, bool)
        self.visibility = np.asarray(person.visibility, np.float64)
        pull = np.ones(24)
        pull[unseen_limbs(seen)] = UNSEEN_PULL
        self.pull = torch.as_tensor(pull, dtype=dt)
        weights = np.where(seen, person.visibility, 0.0)
        self.weights = torch.as_tensor(weights / max(weights.sum(), 1e-9), dtype=dt)
        # The silhouette's square: model crop coordinates c map to a * c + b in it.
        box = square_box(person.extent, SILHOUETTE_MARGIN)
        self.sil = CropTransform(box, SILHOUETTE_SIZE)
        half, sil_half = transform.box.size / 2, box.size / 2
        self.scale = half / sil_half
        offset = (np.array([transform.box.x, transform.box.y]) + half
                  - np.array([box.x, box.y]) - sil_half) / sil_half
        self.offset = torch.as_tensor(offset, dtype=dt)
        mask = np.clip(self.sil.warp(person.mask.astype(np.float32), image_size), 0, 1)
        # The mask gets the edge the splatted silhouette has (EDGE_OFFSET radii outside
        # the mesh's): against the mask's own, soft IoU is highest for a body shrunk
        # until its edge is inside (the real photos' bodies came out thin).
        sigma = sigma_pixels(SILHOUETTE_SIZE, float(self.start_cam[0]) * self.scale)
        mask = grown_mask(mask, EDGE_OFFSET * sigma)
        self.mask = torch.as_tensor(mask, dtype=dt)
        # Only the square's pixels on the photo count: off it, nobody knows (a person cut
        # off at the knees may have legs there).
        inside = self.sil.warp(np.ones(person.mask.shape, np.float32), image_size)
        self.inside = torch.as_tensor(inside > 0.5, dtype=dt)

    def rotmats(self, delta: torch.Tensor) -> torch.Tensor:
        """Start rotations turned by axis-angle ``delta`` [24,3]: the root in the camera
        frame, the other joints in their own frames."""
        turn = smplx.lbs.batch_rodrigues(delta).reshape(1, 24, 3, 3)
        root = turn[:, :1] @ self.start_rotmats[:, :1]
        return torch.cat([root, self.start_rotmats[:, 1:] @ turn[:, 1:]], 1)

    @staticmethod
    def camera(cam_params: torch.Tensor) -> torch.Tensor:
        """(log s, tx, ty) -> [1,3] crop camera (s, tx, ty)."""
        return torch.cat([cam_params[:1].exp(), cam_params[1:]])[None]

    def silhouette(self, surface: torch.Tensor, cam: torch.Tensor) -> torch.Tensor:
        """1 - soft IoU of the body's surface samples [1,N,3] seen by crop camera [1,3]
        and the mask, in the silhouette's square."""
        points = project_to_crop(surface, cam)[0] * self.scale + self.offset
        sigma = sigma_pixels(SILHOUETTE_SIZE, float(cam[0, 0].detach()) * self.scale)
        return silhouette_loss(points, sigma, self.mask, self.inside)

    def objective(self, delta: torch.Tensor, betas: torch.Tensor, cam_params: torch.Tensor
                  ) -> dict[str, torch.Tensor]:
        rotmats = self.rotmats(delta)
        body_keypoints, surface = self.points(rotmats, betas)
        cam = self.camera(cam_params)
        keypoints = project_to_crop(body_keypoints, cam)[0]
        dist = ((keypoints - self.targets) ** 2).sum(1)
        kp = (self.weights * ((dist + KEYPOINT_EPS ** 2).sqrt() - KEYPOINT_EPS)).sum()
        sil = self.silhouette(surface, cam)
        mean_sq, hinge = shape_penalty(betas)
        terms = {"keypoints": kp, "silhouette": sil,
                 "pose_prior": pose_prior_penalty(rotmats[:, 1:]),
                 "shape": mean_sq, "shape_hinge": hinge,
                 "start": (self.pull * (delta ** 2).sum(1)).mean()
                 + ((betas - self.start_betas) ** 2).mean()}
        return terms

    def iteration(self, rotmats: torch.Tensor, betas: torch.Tensor, cam: torch.Tensor,
                  box) -> tuple[MeshIteration, np.ndarray]:
        """Rotations [1,24,3,3], betas [1,10] and crop camera [1,3] as a
        :class:`MeshIteration`, and its mediapipe33 points [33,3] in the body frame."""
        with torch.no_grad():
            out = self.body(global_orient=rotmats[:, :1], body_pose=rotmats[:, 1:],
                            betas=betas)
            vertices = out.vertices[0].numpy().astype(np.float32)
            regressor = np.asarray(self.body.data.J_regressor, np.float32)
            cam_np = cam[0].numpy().astype(np.float32)
            refined = MeshIteration(
                vertices=vertices, joints=regressor @ vertices, cam=cam_np,
                image_camera=image_camera(cam_np, box), betas=betas[0].numpy().copy(),
                pose=rotmat_to_axis_angle(rotmats[0]).reshape(72).numpy(),
                keypoints_2d=project_to_crop(out.keypoints("pymaf49"), cam)[0].numpy(),
                sample_points=None, pyramid_map=None)
            return refined, out.keypoints("mediapipe33")[0].double().numpy()


def step_weights(progress: float) -> dict[str, float]:
    """WEIGHTS at ``progress`` (0 first step, 1 last) through the refinement."""
    out = dict(WEIGHTS)
    for key, (a, b) in (("keypoints", KEYPOINT_RAMP), ("silhouette", SILHOUETTE_RAMP)):
        out[key] *= a + (b - a) * progress
    return out


def refine_mesh(body: BodyModel, start: MeshIteration, person: Person, transform: CropTransform,
           image_size: tuple[int, int], seen: np.ndarray, steps: int | None = None
           ) -> tuple[MeshIteration, np.ndarray, RefineReport]:
    """Refine ``start`` (the net's last iteration of ``person``, cropped by ``transform``)
    for ``steps`` Adam steps and the polish; ``seen`` [33] marks the landmarks that count.
    Returns the polished best step's iteration, its mediapipe33 points [33,3] (body
    frame) and the report (the Adam steps' loss curve and the best one's terms, the
    time of it all; the caller fills in the measured before/after figures)."""
    # Callers may run the net under inference mode (the GUI's worker does); these steps
    # need autograd.
    with torch.inference_mode(False), torch.enable_grad():
        return _refine(body, start, person, transform, image_size, seen,
                       STEPS if steps is None else steps)


def _refine(body: BodyModel, start: MeshIteration, person: Person, transform: CropTransform,
            image_size: tuple[int, int], seen: np.ndarray, steps: int
            ) -> tuple[MeshIteration, np.ndarray, RefineReport]:
    begin = time.perf_counter()
    problem = Problem(body, start, person, transform, image_size, seen)
    delta = torch.zeros(24, 3, requires_grad=True)
    betas = problem.start_betas.clone().requires_grad_(True)
    cam0 = problem.start_cam
    cam_params = torch.stack([cam0[0].clamp_min(1e-3).log(), cam0[1], cam0[2]]
                             ).requires_grad_(True)
    optimiser = Adam([delta, betas, cam_params], [LEARNING_RATE[k] for k in
                                                   ("pose", "betas", "camera")])
    losses: list[float] = []
    best = (float("inf"), None, {})
    for step in range(steps + 1):
        last = step == steps
        with torch.set_grad_enabled(not last):
            terms = problem.objective(delta, betas, cam_params)
        weights = step_weights(step / max(steps, 1))
        total = sum(weights[k] * v for k, v in terms.items())
        value = sum(WEIGHTS[k] * float(v.detach()) for k, v in terms.items())
        losses.append(value)
        if value < best[0]:
            best = (value, tuple(p.detach().clone() for p in (delta, betas, cam_params)),
                    {k: float(v.detach()) for k, v in terms.items()})
        if last:
            break
        optimiser.step(torch.autograd.grad(total, optimiser.params))
    delta, betas, cam_params = best[1]
    rotmats, cam = problem.rotmats(delta), problem.camera(cam_params)
    rotmats, betas, cam = polish(problem, rotmats, betas, cam, transform.box.size)
    refined, points = problem.iteration(rotmats, betas, cam, transform.box)
    report = RefineReport(steps=steps, loss=losses, ms=0.0, terms=best[2])
    report.ms = (time.perf_counter() - begin) * 1000.0
    return refined, points, report


def better_than_start(report: RefineReport) -> bool:
    """Keep the refined mesh only when it is no worse than the start on any measured count:
    mask IoU not lower (by more than IOU_SLACK) and keypoint error not higher (by more
    than KP_SLACK px); a count not measured (live frames draw no mask) does not vote."""
    if report.iou_before is not None and report.iou_after is not None \
            and report.iou_after < report.iou_before - IOU_SLACK:
        return False
    return not (report.kp_error_before is not None and report.kp_error_after is not None
                and report.kp_error_after > report.kp_error_before + KP_SLACK)
