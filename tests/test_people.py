"""People in real photographs (shipped with scikit-image and matplotlib) and in images
made here: found where they are, and the built-in proxy net's meshes laid over them.

The mesh checks report the IoU between the projected final mesh and MediaPipe's person
mask, and the mean keypoint reprojection error in pixels (run with ``-s`` to see them).
The limits sit a little below what the shipped built-in proxy model measured (see
MEASURED), so a broken pipeline (a flipped axis or a misplaced crop gives IoU near 0)
or a worse model fails them; update them with the model.
"""
from __future__ import annotations

import io
import math

import cv2
import numpy as np
import pytest
from PIL import Image

from studio.nets.model_registry import BUILTIN_MODELS, load_model
from studio.pipeline.crops import image_camera
from studio.pipeline.images import decode_image
from studio.pipeline.people import DETECT_MAX_SIDE, PersonFinder, TrackingPersonFinder
from studio.pipeline.samples import astronaut, grace_hopper
from studio.pipeline.samples import mannequin as mannequin_photo
from studio.pipeline.single_image import run_image
from torch_threads import one_torch_thread  # noqa: F401 (autouse fixture)

# Final-iteration IoU and keypoint error / person extent of the shipped proxy model
# (15,000 training steps, keypoint readout and ReLU regressors) with its cameras refitted
# to MediaPipe's landmarks (astronaut 10.6 px, Grace Hopper 14.6 px, mannequin 4.1 px).
# The net's own cameras gave (0.768, 0.024), (0.541, 0.069) and (0.807, 0.011): 11.8,
# 39.5 and 4.6 px.
MEASURED = {"astronaut": (0.734, 0.021), "grace_hopper": (0.807, 0.025),
            "mannequin": (0.826, 0.010)}
IOU_FLOOR = {"astronaut": 0.70, "grace_hopper": 0.77, "mannequin": 0.79}
ERROR_CEILING = {"astronaut": 0.026, "grace_hopper": 0.032, "mannequin": 0.014}




@pytest.fixture(scope="module")
def finder():
    with PersonFinder() as f:
        yield f


def _inside(extent: tuple[float, ...], box: tuple[float, float, float, float],
            slack: float) -> bool:
    return (extent[0] >= box[0] - slack and extent[1] >= box[1] - slack
            and extent[2] <= box[2] + slack and extent[3] <= box[3] + slack)


def test_astronaut_is_found_with_her_face_and_shoulders(finder) -> None:
    people = finder.find(astronaut())
    assert len(people) == 1
    p = people[0]
    nose, (left_sh, right_sh) = p.landmarks[0], p.landmarks[[11, 12]]
    assert 180 < nose[0] < 270 and 90 < nose[1] < 170  # her face, by eye from the photo
    assert right_sh[0] < nose[0] < left_sh[0]  # her right shoulder on the image's left
    assert p.visibility[[0, 11, 12]].min() > 0.9
    assert _inside(p.extent, (0, 0, 512, 512), 1) and p.extent[2] - p.extent[0] > 300
    assert p.mask.shape == (512, 512) and 0.3 < (p.mask >= 0.5).mean() < 0.6
    assert np.abs(p.world_landmarks[:, :2]).max() < 1.5  # metres around the hips


def test_grey_photo_turned_by_exif_is_found_upright(finder) -> None:
    from skimage import data

    grey = data.camera()  # the cameraman, 8-bit grey
    turned = Image.fromarray(np.rot90(grey))  # stored turned left; EXIF 6 turns it back
    exif = Image.Exif()
    exif[0x0112] = 6
    buf = io.BytesIO()
    turned.save(buf, format="JPEG", exif=exif, quality=95)
    photo = decode_image(buf.getvalue())
    assert photo.shape == (512, 512, 3)
    [p] = finder.find(photo)
    nose = p.landmarks[0]
    assert 200 < nose[0] < 300 and 120 < nose[1] < 220 and p.landmarks[27, 1] > nose[1]


def test_no_person_in_a_cat_or_a_blank_wall(finder) -> None:
    from skimage import data

    assert finder.find(data.chelsea()) == []
    assert finder.find(np.full((480, 640, 3), 128, np.uint8)) == []


def test_several_people_are_found_largest_first(finder) -> None:
    canvas = np.full((600, 1200, 3), 200, np.uint8)
    canvas[88:600, 0:512] = astronaut()
    canvas[300:600, 900:1156] = cv2.resize(grace_hopper(), (256, 300),
                                           interpolation=cv2.INTER_AREA)
    people = finder.find(canvas)
    assert len(people) == 2
    assert people[0].area > people[1].area
    assert _inside(people[0].extent, (0, 88, 512, 600), 2)
    assert _inside(people[1].extent, (900, 300, 1156, 600), 2)
    assert finder.find(canvas, max_people=1)[0].extent == people[0].extent


def test_small_second_person_is_found_in_a_tile(finder) -> None:
    photo = mannequin_photo(480, 640)
    small = np.full((640, 480, 3), 100, np.uint8)
    small[320:, 120:360] = cv2.resize(photo, (240, 320), interpolation=cv2.INTER_AREA)
    people = finder.find(np.concatenate([photo, small], axis=1))
    assert len(people) == 2
    assert _inside(people[0].extent, (0, 0, 480, 640), 2)
    assert _inside(people[1].extent, (600, 320, 840, 640), 2)


def test_huge_photo_is_searched_downscaled_with_exact_coordinates(finder) -> None:
    small = astronaut()
    huge = cv2.resize(small, (2600, 2600), interpolation=cv2.INTER_CUBIC)
    [p] = finder.find(huge)
    [q] = finder.find(small)
    assert max(p.mask.shape) == DETECT_MAX_SIDE
    scale = 2600 / 512
    seen = (q.visibility > 0.9) & (p.visibility > 0.9)
    error = np.linalg.norm(p.landmarks[seen] / scale - q.landmarks[seen], axis=1)
    assert seen.sum() >= 10 and np.median(error) < 4  # px of the 512 photo
    np.testing.assert_allclose(np.array(p.extent) / scale, q.extent, atol=8)


def test_tracking_finder_follows_a_person_through_frames() -> None:
    """MediaPipe's video mode: the mannequin walking right is found in every frame, in
    step with the frames; nobody in an empty frame; reset starts afresh."""
    photo = mannequin_photo(240, 320)
    wall = np.full_like(photo, 100)
    with TrackingPersonFinder() as finder:
        hips = []
        for k in range(6):
            people = finder.find(np.roll(photo, 6 * k, axis=1))
            assert len(people) == 1 and people[0].mask.shape == photo.shape[:2]
            hips.append(people[0].landmarks[[23, 24], 0].mean())
        steps = np.diff(hips)
        assert np.all(np.abs(steps - 6) < 3), steps
        assert finder.find(wall) == []
        finder.reset()
        assert len(finder.find(photo)) == 1 and finder.find(photo, max_people=0) == []


def test_run_image_without_overlay_skips_the_silhouette(finder, proxy_model) -> None:
    result = run_image(proxy_model, astronaut(), finder, overlay=False)
    person = result.people[0]
    assert person.render is None and person.mask_iou is None
    assert "overlay" not in result.timings_ms and "overlay" not in person.timings_ms
    assert len(person.iterations) == 4 and person.keypoint_error_px is not None
    assert "fit" in person.timings_ms


def test_without_the_camera_fit_the_nets_cameras_place_the_meshes(finder, proxy_model) -> None:
    fitted = run_image(proxy_model, astronaut(), finder, overlay=False).people[0]
    plain = run_image(proxy_model, astronaut(), finder, overlay=False,
                      fit_camera=False).people[0]
    assert "fit" not in plain.timings_ms
    for a, b in zip(fitted.iterations, plain.iterations):
        assert b.fitted_cam is None
        np.testing.assert_array_equal(a.cam, b.cam)  # the net's own, either way
        np.testing.assert_allclose(b.image_camera.translation,
                                   image_camera(b.cam, plain.crop.box).translation)
        np.testing.assert_allclose(b.translation(), b.image_camera.translation, rtol=1e-6)
        np.testing.assert_allclose(a.translation(), a.image_camera.translation, rtol=1e-6)
    assert fitted.keypoint_error_px < plain.keypoint_error_px


@pytest.fixture(scope="module")
def proxy_model():
    assert BUILTIN_MODELS["builtin-pymaf-proxy"].path.is_file(), "the shipped weights are missing"
    return load_model("builtin-pymaf-proxy")


@pytest.mark.parametrize("name", sorted(MEASURED))
def test_meshes_cover_the_person_on_real_and_made_photos(name, finder, proxy_model) -> None:
    photo = {"astronaut": astronaut, "grace_hopper": grace_hopper,
             "mannequin": mannequin_photo}[name]()
    result = run_image(proxy_model, photo, finder)
    assert len(result.people) == 1
    p = result.people[0]
    x0, y0, x1, y1 = p.person.extent
    extent = max(x1 - x0, y1 - y0)
    print(f"\n{name}: mask IoU {p.mask_iou:.3f}, keypoint error {p.keypoint_error_px:.1f} px "
          f"({p.keypoint_error_px / extent:.3f} of the person's {extent:.0f} px)")
    assert p.mask_iou >= IOU_FLOOR[name]
    assert p.keypoint_error_px <= ERROR_CEILING[name] * extent
    # The result carries what the GUI shows: every iteration placed on the image.
    assert len(p.iterations) == 4 and p.model_input.shape == (34, 64, 64)
    assert p.render is not None and p.render.silhouette.any()
    assert all(math.isfinite(it.image_camera.focal) for it in p.iterations)
    assert set(result.timings_ms) == {"detect", "crop", "net", "fit", "overlay"}
    # The cameras were refitted to MediaPipe's landmarks; the net's stay alongside.
    final = p.final
    assert final.fitted_cam is not None and not np.allclose(final.fitted_cam, final.cam)
    np.testing.assert_allclose(final.image_camera.translation,
                               image_camera(final.fitted_cam, p.crop.box).translation)


def test_extent_is_the_box_of_the_mask_and_the_seen_landmarks():
    from studio.pipeline.people import _extent

    mask = np.zeros((48, 64), np.float32)
    mask[10:20, 30:41] = 0.9
    mask[25, 5] = 0.6  # one pixel over the threshold
    mask[40, 60] = 0.4  # under it
    landmarks = np.array([[200.0, 30.0], [250.0, 300.0]])  # image pixels: twice the mask's
    x0, y0, x1, y1 = _extent(mask, landmarks, np.array([1.0, 0.1]), (128, 96))
    assert (x0, y0, x1, y1) == (10.0, 20.0, 200.0, 52.0)  # the second landmark is not seen
    assert _extent(np.zeros_like(mask), landmarks, np.zeros(2), (128, 96)) is None
