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
import torch

from studio.body.model import BodyModel
from studio.body.registry import find_body_model
from studio.nets import pointhmr_builtin
from studio.nets.model_names import POINTHMR_FILE
from studio.nets.pointhmr import PointHMR
from studio.pipeline.camera_fit import project_weak
from studio.pipeline.crops import CropTransform, image_camera
from studio.pipeline.keypoint_fit import SMPLRModel, fit_keypoints, load_smplr
from studio.pipeline.methods import LoadedMethod, MethodOutput
from studio.pipeline.people import Person
from studio.pipeline.results import MeshIteration
from studio.pipeline.single_image import seen_landmarks
from studio.pipeline.start_pose import start_pose

NAME = "builtin-pointhmr"
LAYOUT = "mediapipe33"


def load(device: torch.device | str = "cpu", checkpoint: Path | None = None) -> LoadedMethod:
    """The registry's loader: the shipped weights, or ``checkpoint``."""
    body = BodyModel(find_body_model("mannequin"))
    source = Path(checkpoint) if checkpoint is not None else POINTHMR_FILE
    net = pointhmr_builtin.load(source, body, device)
    method = PointHMRMethod(net, body, load_smplr(LAYOUT, 3, device=str(device)))
    return LoadedMethod(name=NAME, run=method, body=body, input_kind="proxy",
                        input_size=net.config.input_size, source=source,
                        device=torch.device(device), meta=dict(getattr(net, "meta", {})))


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
