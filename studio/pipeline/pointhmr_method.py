"""The ``builtin-pointhmr`` model: the built-in PointHMR (:mod:`studio.nets.pointhmr_builtin`)
as a model method (:mod:`studio.pipeline.methods`).

It reads the same person mask and 33 landmark maps as the built-in PyMAF proxy model,
made through the same crop transform, and returns one iteration: PointHMR's full mesh
(7000 vertices, pelvis-centred, camera axes) with its own crop camera. PointHMR regresses
vertices, not body-model parameters; the iteration's ``pose`` and ``betas`` (the start of
the refinement step) come from the keypoint fit (SMPLR) of the mesh's mediapipe33 points,
each joint then clamped to the pose prior's limits and the limbs MediaPipe does not see
set to the prior's standing pose: where the photo shows half a body the net's legs and
hidden arms are guesses, and their fit bent joints up to three radians past the limits
(feet, an elbow), which the refinement's pose prior then fought against, and left a leg
kicked out below the picture. The refinement places that body where the camera places the
mesh (:func:`studio.pipeline.refine.start_camera`).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import smplx
import torch

from studio.body.model import BodyModel
from studio.body.registry import find_body_model
from studio.nets import pointhmr_builtin
from studio.nets.geometry import rotmat_to_axis_angle
from studio.nets.model_names import POINTHMR_FILE
from studio.nets.pointhmr import PointHMR
from studio.pipeline.camera_fit import project_weak
from studio.pipeline.crops import CropTransform, image_camera
from studio.pipeline.keypoint_fit import SMPLRModel, fit_keypoints, load_smplr
from studio.pipeline.methods import LoadedMethod, MethodOutput
from studio.pipeline.people import Person
from studio.pipeline.refine import euler_xyz, unseen_limbs
from studio.pipeline.results import MeshIteration
from studio.pipeline.single_image import seen_landmarks
from studio.synth.pose_prior import BASE_POSES, BASE_TABLE, JOINT_LIMITS, euler_to_rotmat

NAME = "builtin-pointhmr"
LAYOUT = "mediapipe33"
STAND = BASE_TABLE[list(BASE_POSES).index("stand")]  # [23,3] the prior's standing pose
END_JOINTS = {10: 7, 11: 8, 22: 20, 23: 21}  # SMPL feet and hands: their parents


def load(device: torch.device | str = "cpu", checkpoint: Path | None = None) -> LoadedMethod:
    """The registry's loader: the shipped weights, or ``checkpoint``."""
    body = BodyModel(find_body_model("mannequin"))
    source = Path(checkpoint) if checkpoint is not None else POINTHMR_FILE
    net = pointhmr_builtin.load(source, body, device)
    method = PointHMRMethod(net, body, load_smplr(LAYOUT, 3, device=str(device)))
    return LoadedMethod(name=NAME, run=method, body=body, input_kind="proxy",
                        input_size=net.config.input_size, source=source,
                        device=torch.device(device), meta=dict(getattr(net, "meta", {})))


def start_pose(pose: np.ndarray, seen: np.ndarray) -> np.ndarray:
    """[72] axis-angle ``pose`` with each body joint's Euler angles clamped to the pose
    prior's limits (:data:`studio.synth.pose_prior.JOINT_LIMITS`), the root as it is, and
    the joints of a limb whose landmarks are all unseen (``seen`` [33]: MediaPipe's
    landmarks that count; :func:`unseen_joints`) at the prior's standing pose."""
    rotmats = smplx.lbs.batch_rodrigues(torch.as_tensor(pose, dtype=torch.float32
                                                        ).reshape(24, 3))
    angles = torch.maximum(torch.minimum(euler_xyz(rotmats[1:]), JOINT_LIMITS[..., 1]),
                           JOINT_LIMITS[..., 0])
    for joint in unseen_joints(seen):
        angles[joint - 1] = STAND[joint - 1]
    body = rotmat_to_axis_angle(euler_to_rotmat(angles)).reshape(69).numpy()
    return np.concatenate([np.asarray(pose[:3], np.float32), body]).astype(np.float32)


def unseen_joints(seen: np.ndarray) -> list[int]:
    """SMPL joints whose rotation moves only landmarks not ``seen``
    (:func:`studio.pipeline.refine.unseen_limbs`), and the feet and hands below such a
    joint."""
    unseen = unseen_limbs(seen)
    return unseen + [end for end, parent in END_JOINTS.items() if parent in unseen]


class PointHMRMethod:
    """:class:`~studio.pipeline.methods.PersonMethod`: PointHMR on the person's proxy maps."""

    def __init__(self, net: PointHMR, body: BodyModel, fit: SMPLRModel) -> None:
        self.net, self.body, self.fit = net, body, fit
        self.mediapipe = pointhmr_builtin.vertex_regressor(body, LAYOUT).numpy()
        self.pymaf49 = pointhmr_builtin.vertex_regressor(body, "pymaf49").numpy()
        self.joints = np.asarray(body.data.J_regressor, np.float32)

    def __call__(self, image: np.ndarray, person: Person, transform: CropTransform,
                 maps: torch.Tensor) -> MethodOutput:
        device = next(self.net.parameters()).device
        out = self.net(maps.to(device), fine_heatmaps=False)  # as the PyMAF proxy model's
        vertices = out["vertices_full"][0].float().cpu().numpy()
        cam = out["camera"][0].float().cpu().numpy()
        keypoints = self.mediapipe @ vertices
        fit = fit_keypoints(keypoints[None].astype(np.float32), LAYOUT, 3, model=self.fit)
        iteration = MeshIteration(
            vertices=vertices, joints=self.joints @ vertices, cam=cam,
            image_camera=image_camera(cam, transform.box), betas=fit.betas[0],
            pose=start_pose(fit.poses[0], seen_landmarks(person, image.shape[1::-1])),
            keypoints_2d=project_weak(self.pymaf49 @ vertices, cam).astype(np.float32),
            sample_points=None, pyramid_map=None)
        return MethodOutput(iterations=[iteration], keypoints=keypoints[None].astype(np.float64))
