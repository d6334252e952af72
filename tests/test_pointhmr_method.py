"""The refinement's start for methods whose mesh is not their parameters' body as the body
model poses it (builtin-pointhmr's net mesh and the keypoint-fit methods: centred on the
pelvis): the start camera must place the parameters' body where it places the mesh.

Figures are checked, never times (the machine is shared)."""
from __future__ import annotations

import numpy as np
import pytest
import smplx
import torch

from studio.body.model import BodyModel
from studio.body.registry import find_body_model
from studio.nets.geometry import project_to_crop, rotmat_to_axis_angle
from studio.pipeline.crops import CropTransform, image_camera, square_box
from studio.pipeline.overlay import mask_iou, render_mesh
from studio.pipeline.people import Person
from studio.pipeline.start_pose import (SPINE, STAND, fully_seen, pelvis_from_chest, soft_seen,
                                       stand_unseen, start_pose)
from studio.pipeline.refine import euler_xyz, refine_mesh, start_camera
from studio.pipeline.results import MeshIteration
from studio.pipeline.single_image import keypoint_error, seen_landmarks
from studio.synth.pose_prior import JOINT_LIMITS, euler_to_rotmat
from torch_threads import one_torch_thread  # noqa: F401 (autouse fixture)

SIZE = (480, 640)  # width, height
BOX = square_box((140.0, 80.0, 340.0, 560.0))
CAM = np.array([0.9, 0.0, 0.05])


@pytest.fixture(scope="module")
def body() -> BodyModel:
    return BodyModel(find_body_model("mannequin"))


def _posed(body: BodyModel) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """A standing body, one arm raised, one knee bent: (pose [72], betas [10], vertices,
    mediapipe33 points), as the body model poses it (not centred)."""
    euler = torch.zeros(24, 3)
    euler[0, 0] = np.pi  # upright in the image
    euler[16, 2], euler[17, 2], euler[4, 0] = 0.5, 1.1, 0.6
    pose = rotmat_to_axis_angle(euler_to_rotmat(euler)).reshape(72).numpy().astype(np.float64)
    betas = np.array([1.0, -0.5] + [0.0] * 8)
    with torch.no_grad():
        out = body(global_orient=torch.as_tensor(pose[None, :3], dtype=torch.float32),
                   body_pose=torch.as_tensor(pose[None, 3:], dtype=torch.float32),
                   betas=torch.as_tensor(betas[None], dtype=torch.float32))
    return (pose, betas, out.vertices[0].numpy(),
            out.keypoints("mediapipe33")[0].double().numpy())


def _iteration(vertices: np.ndarray, pose: np.ndarray, betas: np.ndarray,
               cam: np.ndarray) -> MeshIteration:
    return MeshIteration(vertices=vertices.astype(np.float32), joints=np.zeros((24, 3)),
                         cam=cam.astype(np.float32), image_camera=image_camera(cam, BOX),
                         betas=betas.astype(np.float32), pose=pose.astype(np.float32),
                         keypoints_2d=np.zeros((49, 2), np.float32), sample_points=None,
                         pyramid_map=None)


def _crop(points: np.ndarray, cam: np.ndarray) -> np.ndarray:
    return project_to_crop(torch.as_tensor(points[None], dtype=torch.float64),
                           torch.as_tensor(cam[None], dtype=torch.float64))[0].numpy()


def test_the_start_camera_puts_the_parameters_body_on_a_centred_mesh(body) -> None:
    pose, betas, vertices, points = _posed(body)
    pelvis = vertices.mean(0) + np.array([0.02, -0.3, 0.01])  # any centre, decimetres off
    centred = _iteration(vertices - pelvis, pose, betas, CAM)
    cam = start_camera(body, centred)
    # the body's keypoints land where the centred mesh's are (to the depth factor's
    # percent of a centimetre: well under a pixel of a 480 px crop)
    gap = _crop(points, cam) - _crop(points - pelvis, CAM)
    assert np.abs(gap).max() < 2e-3
    assert np.abs(_crop(points, CAM) - _crop(points - pelvis, CAM)).max() > 0.2
    # a mesh that is its parameters' body keeps its camera
    np.testing.assert_allclose(start_camera(body, _iteration(vertices, pose, betas, CAM)),
                               CAM, atol=1e-6)


def test_a_right_start_on_a_centred_mesh_stays_right(body) -> None:
    """Before the start camera was placed, this start began 0.3 m off and came back
    worse than it went in (the refinement kept the start on the half-body sample)."""
    pose, betas, vertices, points = _posed(body)
    truth = _iteration(vertices, pose, betas, CAM)
    render = render_mesh(vertices, body.data.faces, truth.image_camera, SIZE)
    mask = np.zeros((SIZE[1], SIZE[0]), np.float32)
    h, w = render.silhouette.shape
    mask[render.y:render.y + h, render.x:render.x + w] = render.silhouette
    ys, xs = np.nonzero(mask)
    person = Person(landmarks=truth.image_camera.project(points), visibility=np.ones(33),
                    mask=mask, world_landmarks=np.zeros((33, 3)),
                    extent=(float(xs.min()), float(ys.min()), float(xs.max() + 1),
                            float(ys.max() + 1)))
    pelvis = vertices.mean(0)
    shifted_cam = CAM + np.array([0.0, *pelvis[:2]])  # the same picture of the centred mesh
    start = _iteration(vertices - pelvis, pose, betas, shifted_cam)
    refined, refined_points, _ = refine_mesh(body, start, person, CropTransform(BOX, 64), SIZE,
                                             seen_landmarks(person, SIZE))
    placed = render_mesh(refined.vertices, body.data.faces, refined.image_camera, SIZE)
    kp = keypoint_error(refined.image_camera.project(refined_points), person, SIZE)
    assert mask_iou(placed, person, SIZE) > 0.94 and kp < 1.0



def _rotations(pose: np.ndarray) -> torch.Tensor:
    return smplx.lbs.batch_rodrigues(torch.as_tensor(pose, dtype=torch.float32).reshape(24, 3))


def test_the_start_pose_is_clamped_to_the_pose_priors_limits(body) -> None:
    pose = _posed(body)[0]
    everything = np.ones(33, bool)
    # a pose inside the limits comes back as it was (as rotations: axis-angle is not unique)
    np.testing.assert_allclose(_rotations(start_pose(pose, everything)).numpy(),
                               _rotations(pose).numpy(), atol=1e-5)
    # an elbow (SMPL 18) bent and a foot (SMPL 10) turned most of a radian past the limits
    euler = euler_xyz(_rotations(pose))
    euler[18, 2] = JOINT_LIMITS[17, 2, 1] + 0.8
    euler[10, 0] = JOINT_LIMITS[9, 0, 0] - 0.8
    bent = np.concatenate([pose[:3], rotmat_to_axis_angle(euler_to_rotmat(euler[1:]))
                           .reshape(69).numpy()])
    assert (euler_xyz(_rotations(bent))[1:] > JOINT_LIMITS[..., 1] + 0.5).any()
    angles = euler_xyz(_rotations(start_pose(bent, everything))[1:])
    assert (angles >= JOINT_LIMITS[..., 0] - 1e-4).all()
    assert (angles <= JOINT_LIMITS[..., 1] + 1e-4).all()
    np.testing.assert_allclose(start_pose(bent, everything)[:3], pose[:3], atol=1e-6)


def test_unseen_limbs_start_at_the_priors_standing_pose(body) -> None:
    """A half-body photo: face and shoulders seen (MediaPipe 0-12), nothing below."""
    seen = np.zeros(33, bool)
    seen[:13] = True
    # shoulders (their elbows unseen), elbows, wrists, hips, knees, ankles, hands, feet
    unseen = [1, 2, 4, 5, 7, 8, 10, 11, 16, 17, 18, 19, 20, 21, 22, 23]
    pose = _posed(body)[0]
    angles = euler_xyz(_rotations(start_pose(pose, seen))[1:])
    rows = [j - 1 for j in unseen]
    np.testing.assert_allclose(angles[rows].numpy(), STAND[rows].numpy(), atol=1e-4)
    kept = [j - 1 for j in range(1, 24) if j not in unseen]  # spine, neck, head, collars
    np.testing.assert_allclose(angles[kept].numpy(), euler_xyz(_rotations(pose))[1:][kept]
                               .numpy(), atol=1e-4)


def _leant_back(pose: np.ndarray) -> np.ndarray:
    """``pose`` with the pelvis tilted 0.7 rad back and the spine bent 0.7 rad forward to
    keep the chest where it was: what a fit to guessed legs under a portrait does."""
    from scipy.spatial.transform import Rotation

    rot = Rotation.from_rotvec(pose.reshape(24, 3))
    out = rot.as_rotvec()
    out[0] = (rot[0] * Rotation.from_euler("x", 0.7)).as_rotvec()
    out[3] = Rotation.from_euler("x", -0.4).as_rotvec()
    out[6] = Rotation.from_euler("x", -0.3).as_rotvec()
    return out.reshape(72)


def _chest(pose: np.ndarray) -> np.ndarray:
    """The chest's (SMPL spine3's) world rotation matrix."""
    rot = _rotations(pose).double().numpy()
    return rot[0] @ rot[3] @ rot[6] @ rot[9]


def test_a_pelvis_with_no_hip_seen_follows_the_chest(body) -> None:
    """Face and shoulders seen (MediaPipe 0-12): the root takes the chest's orientation and
    the spine the standing pose's, so the chest keeps its world rotation and the pelvis is
    upright again; with a hip seen nothing changes."""
    upright = _posed(body)[0]
    leant = _leant_back(upright)
    seen = np.zeros(33, bool)
    seen[:13] = True
    out = pelvis_from_chest(leant, seen)
    np.testing.assert_allclose(_chest(out), _chest(leant), atol=1e-5)
    np.testing.assert_allclose(_rotations(out)[0].numpy(), _rotations(upright)[0].numpy(),
                               atol=1e-5)  # the standing spine is straight
    rows = [j - 1 for j in SPINE]
    np.testing.assert_allclose(euler_xyz(_rotations(out)[list(SPINE)]).numpy(),
                               STAND[rows].numpy(), atol=1e-5)
    seen[23] = True
    np.testing.assert_allclose(pelvis_from_chest(leant, seen), leant, atol=1e-6)


def test_keypoint_fit_stands_a_portraits_unseen_legs() -> None:
    """The keypoint-fit model on a portrait whose legs MediaPipe guessed folded (world
    landmarks of someone sitting, 2D landmarks below the photo, visibility 0): the
    fitted body's ankles hang below its hips, within 15 degrees of straight down (a sitting
    pose: its chest upright, its thighs level)."""
    from studio.nets.model_registry import load_model
    from studio.synth.pose_prior import BASE_POSES, BASE_TABLE

    model = load_model("keypoint-fit")
    fit_body = model.body
    euler = torch.zeros(24, 3)
    euler[0, 0] = np.pi
    euler[1:] = BASE_TABLE[list(BASE_POSES).index("sit")]
    with torch.no_grad():
        out = fit_body(global_orient=rotmat_to_axis_angle(euler_to_rotmat(euler[:1])),
                       body_pose=rotmat_to_axis_angle(euler_to_rotmat(euler[1:]))[None]
                       .reshape(1, 69))
    world = out.keypoints("mediapipe33")[0].double().numpy()
    world -= world[[23, 24]].mean(0)
    landmarks = 320 + 400 * world[:, :2]  # a 640x640 photo cut at the shoulders' line
    landmarks[23:] = landmarks[23:] + [0.0, 700.0]  # hips and legs: guessed below it
    visibility = np.ones(33)
    visibility[13:] = 0.0
    mask = np.zeros((640, 640), np.float32)
    mask[200:640, 150:490] = 1.0
    person = Person(landmarks=landmarks, visibility=visibility, world_landmarks=world,
                    mask=mask, extent=(150.0, 0.0, 490.0, 640.0))
    transform = CropTransform(square_box(person.extent), 128)
    result = model.run(np.zeros((640, 640, 3), np.uint8), person, transform, None)
    joints = result.iterations[0].joints  # SMPL 24, camera axes (y down)
    for hip, ankle in ((1, 7), (2, 8)):
        down = joints[ankle] - joints[hip]
        angle = np.degrees(np.arccos(down[1] / np.linalg.norm(down)))
        assert angle < 15, (hip, angle)


def test_half_seen_limbs_and_hips_blend_without_a_jump(body) -> None:
    """Visibility ramps from 0.1 to 0.5 and the poses blend in between: a little more or
    less visible, the body is nearly the same (a webcam's hips at the frame's edge do not
    flip it); at 0.1 and 0.5 it is the standing and the fitted body."""
    seen_from = np.zeros(33)
    seen_from[:13] = 1.0
    assert np.allclose(soft_seen(np.full(33, 0.3), np.ones(33, bool)), 0.5)
    assert not soft_seen(np.ones(33), np.zeros(33, bool)).any()  # outside the photo
    assert fully_seen(np.ones(33)) and not fully_seen(seen_from)
    leg_half_seen = np.ones(33)
    leg_half_seen[[25, 27, 29, 31]] = 0.9  # the left knee, ankle, heel, toe
    assert not fully_seen(leg_half_seen)
    leant = _leant_back(_posed(body)[0])

    def posed_with_hips(visibility: float) -> np.ndarray:
        vis = np.where(seen_from > 0, 1.0, visibility)
        seen = soft_seen(vis, np.ones(33, bool))
        return pelvis_from_chest(stand_unseen(leant, seen), seen)

    def change(a: np.ndarray, b: np.ndarray) -> float:
        return float(np.abs(_rotations(a).numpy() - _rotations(b).numpy()).max())

    hidden, shown = posed_with_hips(0.1), posed_with_hips(0.5)
    assert change(hidden, shown) > 0.5  # the whole way: what a hard threshold jumps
    assert change(posed_with_hips(0.29), posed_with_hips(0.31)) < 0.1 * change(hidden, shown)
    np.testing.assert_allclose(_rotations(shown).numpy(), _rotations(leant).numpy(), atol=1e-5)
    np.testing.assert_allclose(_chest(hidden), _chest(leant), atol=1e-5)
