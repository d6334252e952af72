"""Photo reading, crop transforms, the full-image camera and full-resolution rendering.

Everything here runs without MediaPipe or a trained net: the conventions are checked
against numbers worked out by hand or against a second, independent computation.
"""
from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from PIL import Image

from studio.errors import StudioError
from studio.nets.geometry import project_to_crop
from studio.pipeline.crops import (CropBox, CropTransform, image_camera, normalised_rgb,
                                   proxy_input, square_box)
from studio.pipeline.images import decode_image, downscaled, read_image
from studio.pipeline.overlay import (RegionRender, draw_overlay, label_mask, mask_iou,
                                     render_mesh)
from studio.pipeline.people import Person


def _encoded(pixels: np.ndarray, fmt: str, **options: object) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, format=fmt, **options)
    return buf.getvalue()


# ---------------------------------------------------------------- reading

def test_exif_grey_alpha_and_palette_become_upright_rgb(tmp_path) -> None:
    pixels = np.zeros((20, 40, 3), np.uint8)
    pixels[:, :10] = 255  # a white band on the left
    exif = Image.Exif()
    exif[0x0112] = 6  # stored rotated: turn 90 degrees clockwise to view
    Image.fromarray(pixels).save(tmp_path / "turned.jpg", exif=exif, quality=95)
    upright = read_image(tmp_path / "turned.jpg")
    assert upright.shape == (40, 20, 3) and upright.dtype == np.uint8
    assert upright[:10].mean() > 200 and upright[-10:].mean() < 50  # the band is now on top
    grey = decode_image(_encoded(np.full((17, 19), 128, np.uint8), "PNG"))
    assert grey.shape == (17, 19, 3) and (grey == 128).all()
    rgba = np.zeros((16, 16, 4), np.uint8)
    rgba[..., 0] = 200
    assert decode_image(_encoded(rgba, "PNG"))[0, 0].tolist() == [200, 0, 0]
    palette = Image.fromarray(np.full((16, 16), 3, np.uint8), mode="P")
    palette.putpalette([0, 0, 0] * 3 + [10, 20, 30] + [0, 0, 0] * 252)
    buf = io.BytesIO()
    palette.save(buf, format="PNG", transparency=0)
    assert decode_image(buf.getvalue())[5, 5].tolist() == [10, 20, 30]


def test_sixteen_bit_pngs_keep_their_high_byte(tmp_path) -> None:
    import cv2

    ramp = (np.arange(20 * 30, dtype=np.uint32).reshape(20, 30) * 109).astype(np.uint16)
    cv2.imwrite(str(tmp_path / "grey16.png"), ramp)
    grey = read_image(tmp_path / "grey16.png")
    assert grey.dtype == np.uint8 and grey.shape == (20, 30, 3)
    np.testing.assert_array_equal(grey[..., 1], ramp >> 8)
    colour = np.stack([ramp, 65535 - ramp, np.full_like(ramp, 40000)], axis=2)
    cv2.imwrite(str(tmp_path / "rgb16.png"), colour[..., ::-1])  # OpenCV writes BGR
    rgb = read_image(tmp_path / "rgb16.png")
    np.testing.assert_array_equal(rgb, colour >> 8)


def test_broken_files_give_clear_errors(tmp_path) -> None:
    photo = _encoded(np.random.default_rng(0).integers(0, 255, (64, 64, 3), np.uint8), "JPEG")
    png = _encoded(np.random.default_rng(1).integers(0, 255, (64, 64, 3), np.uint8), "PNG")
    cases = {
        b"": "the file is empty",
        b"just some text, not a picture": "not an image file",
        photo[:len(photo) // 2]: "damaged or truncated",
        png[:len(png) // 2]: "damaged or truncated",
    }
    for data, message in cases.items():
        with pytest.raises(StudioError, match=message):
            decode_image(data, "x.jpg")
    with pytest.raises(StudioError, match="cannot read the image"):
        read_image(tmp_path / "absent.jpg")
    with pytest.raises(StudioError, match="cannot read the image"):
        read_image(tmp_path)  # a folder


def test_tiny_and_oversized_images(monkeypatch) -> None:
    with pytest.raises(StudioError, match=r"too small \(8x12 px\)"):
        decode_image(_encoded(np.zeros((12, 8, 3), np.uint8), "PNG"))
    assert decode_image(_encoded(np.zeros((16, 16, 3), np.uint8), "PNG")).shape == (16, 16, 3)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)  # Pillow's bomb guard, scaled down
    with pytest.raises(StudioError, match="too large to decode safely"):
        decode_image(_encoded(np.zeros((100, 100, 3), np.uint8), "PNG"))


def test_downscaled_keeps_small_images_and_shrinks_large_ones() -> None:
    small = np.zeros((300, 200, 3), np.uint8)
    assert downscaled(small, 1280) is small
    large = np.full((3000, 1500, 3), 7, np.uint8)
    shrunk = downscaled(large, 1280)
    assert shrunk.shape == (1280, 640, 3) and (shrunk == 7).all()


# ---------------------------------------------------------------- crops and cameras

def test_square_box_frames_the_extent_with_the_training_margin() -> None:
    box = square_box((100.0, 50.0, 200.0, 450.0))
    assert box == CropBox(x=-100.0, y=0.0, size=500.0)
    t = CropTransform(box, 64)
    np.testing.assert_allclose(t.to_crop([[150.0, 250.0], [-100.0, 500.0]]), [[0, 0], [-1, 1]])
    points = np.random.default_rng(0).uniform(-300, 800, (10, 2))
    np.testing.assert_allclose(t.to_image(t.to_crop(points)), points)


@pytest.mark.parametrize("align_corners", [True, False])
def test_warp_samples_where_the_conventions_say(align_corners: bool) -> None:
    # Pixel values = their centre's image coordinate minus 0.5 (x in channel 0, y in 1),
    # so bilinear sampling returns exactly the coordinate each crop pixel looks at.
    h, w = 300, 400
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    ramp = np.stack([xs, ys], axis=2)
    size, box = 8, CropBox(x=100.0, y=60.0, size=140.0)
    crop = CropTransform(box, size, align_corners).warp(ramp, (w, h))
    j = np.arange(size)
    c = -1 + 2 * j / (size - 1) if align_corners else -1 + (2 * j + 1) / size
    expected = box.x + (c + 1) / 2 * box.size - 0.5
    # OpenCV places bilinear samples to 1/32 of a (block-averaged) source pixel.
    tolerance = box.size / size / 32
    np.testing.assert_allclose(crop[0, :, 0], expected, atol=tolerance)
    np.testing.assert_allclose(crop[:, 0, 1], box.y - box.x + expected, atol=tolerance)
    # A half-resolution copy (pixel k covers full pixels 2k, 2k+1; the values give its
    # centre's full-resolution coordinate) is sampled at the same image points.
    half = CropTransform(box, size, align_corners).warp(ramp[::2, ::2] + 0.5, (w, h))
    np.testing.assert_allclose(half[0, :, 0], expected, atol=tolerance)


def test_warp_averages_large_photos_and_pads_black() -> None:
    stripes = np.zeros((2000, 2000, 3), np.uint8)
    stripes[:, ::2] = 255  # one-pixel stripes: plain sampling would alias badly
    crop = CropTransform(CropBox(0.0, 0.0, 2000.0), 64, False).warp(stripes, (2000, 2000))
    inner = crop[1:-1, 1:-1]  # the outermost pixels also average copies of the edge
    assert abs(inner.mean() - 127.5) < 2 and inner.min() > 115 and inner.max() < 140
    white = np.full((100, 100, 3), 255, np.uint8)
    crop = CropTransform(CropBox(-100.0, 0.0, 200.0), 16, False).warp(white, (100, 100))
    assert (crop[:8, 9:] == 255).all()  # the box's top right quarter is the image
    assert not crop[:, :8].any() and not crop[8:].any()
    away = CropTransform(CropBox(500.0, 500.0, 50.0), 16).warp(white, (100, 100))
    assert away.shape == (16, 16, 3) and not away.any()


def test_image_camera_equals_crop_projection_mapped_through_the_box() -> None:
    gen = torch.Generator().manual_seed(0)
    points = torch.randn(1, 50, 3, generator=gen, dtype=torch.float64) * 0.5
    for cam, box in (([0.9, 0.1, -0.2], CropBox(37.5, -12.0, 480.0)),
                     ([1.3, -0.3, 0.4], CropBox(900.0, 400.0, 64.0))):
        crop = project_to_crop(points, torch.tensor([cam], dtype=torch.float64))[0].numpy()
        transform = CropTransform(box, 224)
        via_crop = transform.to_image(crop)
        direct = image_camera(np.array(cam), box).project(points[0].numpy())
        np.testing.assert_allclose(direct, via_crop, rtol=0, atol=1e-9 * box.size)


def test_normalised_rgb_and_proxy_input() -> None:
    mean_colour = np.full((8, 8, 3), (124, 116, 104), np.uint8)  # ImageNet's mean colour
    x = normalised_rgb(mean_colour)
    assert x.shape == (1, 3, 8, 8) and x.abs().max() < 0.01
    t = CropTransform(CropBox(0.0, 0.0, 64.0), 64)
    landmarks = np.full((33, 2), 32.0)
    landmarks[0] = (64 * 5 / 63, 64 * 10 / 63)  # exactly on crop pixel (5, 10)
    landmarks[1] = (-5.0, 20.0)  # outside the crop
    visibility = np.full(33, 0.8)
    mask = np.zeros((64, 64), np.float32)
    mask[20:40] = 0.9
    maps = proxy_input(mask, landmarks, visibility, t)
    assert maps.shape == (1, 34, 64, 64)
    assert torch.equal(maps[0, 0], torch.from_numpy(mask))
    assert maps[0, 1].max() == pytest.approx(0.8)
    assert divmod(int(maps[0, 1].argmax()), 64) == (10, 5)
    assert maps[0, 2].abs().max() == 0  # outside the crop: visibility 0


# ---------------------------------------------------------------- rendering

def _square_mesh(half: float) -> tuple[np.ndarray, np.ndarray]:
    vertices = np.array([[-half, -half, 0], [half, -half, 0], [half, half, 0], [-half, half, 0]])
    return vertices, np.array([[0, 1, 2], [0, 2, 3]])


def test_render_mesh_covers_exactly_the_projected_pixels() -> None:
    vertices, faces = _square_mesh(0.25)
    camera = image_camera(np.array([1.0, 0.1, 0.0]), CropBox(50.0, 20.0, 224.0))
    corners = camera.project(vertices)
    render = render_mesh(vertices, faces, camera, (400, 300))
    assert render is not None
    h, w = render.silhouette.shape
    ys, xs = np.mgrid[render.y:render.y + h, render.x:render.x + w] + 0.5  # pixel centres
    inside = ((xs > corners[:, 0].min()) & (xs < corners[:, 0].max())
              & (ys > corners[:, 1].min()) & (ys < corners[:, 1].max()))
    assert render.silhouette.sum() > 1000
    assert (render.silhouette != inside).sum() <= 0.01 * inside.sum()  # edge pixels only
    assert render.shade[render.silhouette].min() > 0.99  # facing the camera
    away = image_camera(np.array([1.0, 5.0, 0.0]), CropBox(50.0, 20.0, 224.0))
    assert render_mesh(vertices, faces, away, (400, 300)) is None


def _block(x: int, y: int, w: int, h: int) -> RegionRender:
    return RegionRender(x=x, y=y, silhouette=np.ones((h, w), bool),
                        shade=np.ones((h, w), np.float32))


def test_label_mask_overlay_and_iou() -> None:
    big, small = _block(10, 10, 40, 40), _block(40, 40, 20, 20)
    labels = label_mask((80, 60), [big, None, small])
    assert labels.shape == (60, 80) and labels.dtype == np.uint8
    assert labels[20, 20] == 1 and labels[45, 45] == 1 and labels[55, 55] == 3
    assert labels[0, 0] == 0 and not (labels == 2).any()
    photo = np.zeros((60, 80, 3), np.uint8)
    drawn = draw_overlay(photo, [big, small])
    assert (drawn[0, 0] == 0).all() and drawn[20, 20].sum() > 0
    mask = np.zeros((30, 40), np.float32)  # a half-resolution MediaPipe mask
    mask[5:25, 5:25] = 1.0  # = image pixels 10..50, the big block exactly
    person = Person(landmarks=np.zeros((33, 2)), visibility=np.zeros(33),
                    world_landmarks=np.zeros((33, 3)), mask=mask,
                    extent=(10.0, 10.0, 50.0, 50.0))
    assert mask_iou(big, person, (80, 60)) == pytest.approx(1.0)
    assert mask_iou(_block(30, 10, 40, 40), person, (80, 60)) == pytest.approx(1 / 3, abs=0.01)
    assert mask_iou(None, person, (80, 60)) == 0.0
