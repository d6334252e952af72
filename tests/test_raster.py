"""Rasterizer, shading and heatmaps: coverage, visibility, interpolation, mannequin renders."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from studio.body.registry import load_body_model
from studio.synth import raster, shading
from studio.synth.heatmaps import gaussian_heatmaps

S = 24


def centres(size: int) -> np.ndarray:
    """Pixel-centre crop coordinates [S,S,2] (x, y) with align_corners=True."""
    axis = -1 + 2 * np.arange(size) / (size - 1)
    xx, yy = np.meshgrid(axis, axis)
    return np.stack([xx, yy], -1)


def inside_numpy(tri: np.ndarray, size: int) -> np.ndarray:
    """[S,S] bool: pixel centres inside the 2D triangle [3,2], either winding."""
    q = centres(size)
    d = []
    for i in range(3):
        a, b = tri[i], tri[(i + 1) % 3]
        d.append((b[0] - a[0]) * (q[..., 1] - a[1]) - (b[1] - a[1]) * (q[..., 0] - a[0]))
    d = np.stack(d)
    return (d >= 0).all(0) | (d <= 0).all(0)


def render(points, faces, size: int = S, **kw) -> raster.Fragments:
    return raster.rasterize(torch.as_tensor(points, dtype=torch.float32)[None],
                            torch.as_tensor(faces, dtype=torch.long), size, **kw)


@pytest.mark.parametrize("tri", [
    [(-0.83, -0.71), (0.77, -0.37), (-0.21, 0.91)],  # inside the crop
    [(-3.1, -2.3), (2.6, -0.17), (-0.43, 3.2)],  # larger than the crop
    [(0.41, 0.53), (2.7, 0.66), (0.93, 2.9)],  # mostly outside
    [(0.13, -0.02), (0.16, 0.05), (0.09, 0.04)],  # smaller than a pixel
    [(1.2, 1.1), (3.0, 1.5), (1.5, 3.3)],  # outside
])
@pytest.mark.parametrize("winding", [1, -1])
def test_triangle_covers_the_pixel_centres_inside_it(tri, winding) -> None:
    tri = np.asarray(tri)[::winding]
    frags = render(np.c_[tri, np.ones(3)], [[0, 1, 2]])
    expected = inside_numpy(tri, S)
    covered = frags.face_index[0].numpy() >= 0
    np.testing.assert_array_equal(covered, expected)
    assert torch.equal(raster.silhouette(frags)[0].bool(), torch.as_tensor(expected))


def test_backface_culling_keeps_counter_clockwise_faces_facing_the_camera() -> None:
    # y points down, so (0,0) -> (1,0) -> (0,1) turns clockwise on screen: its outward
    # normal (right-handed, z away from the camera) points away from the camera.
    away = np.array([(-0.8, -0.8, 1.0), (0.8, -0.8, 1.0), (-0.8, 0.8, 1.0)])
    assert not (render(away, [[0, 1, 2]], cull_backfaces=True).face_index >= 0).any()
    assert (render(away, [[0, 2, 1]], cull_backfaces=True).face_index >= 0).any()


def test_square_of_two_triangles_has_no_crack() -> None:
    # Pixel centres lie exactly on the shared diagonal (x == y).
    square = np.array([(-0.5, -0.5, 1), (0.5, -0.5, 1), (0.5, 0.5, 1), (-0.5, 0.5, 1)])
    frags = render(square, [[0, 1, 2], [0, 2, 3]])
    q = centres(S)
    expected = (np.abs(q) <= 0.5).all(-1)
    np.testing.assert_array_equal(frags.face_index[0].numpy() >= 0, expected)
    on_diagonal = np.isclose(q[..., 0], q[..., 1]) & expected
    assert on_diagonal.any() and (frags.face_index[0].numpy()[on_diagonal] >= 0).all()


@pytest.mark.parametrize("order", [(0, 1), (1, 0)])
def test_nearer_triangle_wins(order) -> None:
    near = [(-0.9, -0.9, 2.0), (0.9, -0.9, 2.0), (0.0, 0.9, 2.0)]
    far = [(-0.9, 0.9, 5.0), (0.9, 0.9, 5.0), (0.0, -0.9, 5.0)]
    faces = [[0, 1, 2], [3, 4, 5]]
    frags = render(np.array(near + far), [faces[i] for i in order], size=32)
    near_id = order.index(0)
    both = inside_numpy(np.array(near)[:, :2], 32) & inside_numpy(np.array(far)[:, :2], 32)
    assert both.sum() > 50
    assert (frags.face_index[0].numpy()[both] == near_id).all()
    np.testing.assert_allclose(frags.depth[0].numpy()[both], 2.0, atol=1e-5)


def test_barycentrics_interpolate_linear_functions_exactly() -> None:
    tri = np.array([(-0.9, -0.7, 1.5), (0.8, -0.95, 3.0), (0.1, 0.85, 2.2)])
    frags = render(tri, [[0, 1, 2]], size=32)
    coef = np.array([0.7, -1.3, 0.4])
    attr = torch.as_tensor(np.c_[tri @ coef, tri], dtype=torch.float32)  # [3,4]
    values = raster.interpolate(frags, torch.tensor([[0, 1, 2]]), attr)[0].numpy()
    mask = frags.face_index[0].numpy() >= 0
    q = centres(32)[mask]
    depth = frags.depth[0].numpy()[mask]
    np.testing.assert_allclose(values[mask][:, 1:3], q, atol=1e-5)
    np.testing.assert_allclose(values[mask][:, 3], depth, atol=1e-5)
    np.testing.assert_allclose(values[mask][:, 0], np.c_[q, depth] @ coef, atol=1e-5)
    bary = frags.bary[0].numpy()[mask]
    np.testing.assert_allclose(bary.sum(-1), 1.0, atol=1e-5)
    assert (bary >= -1e-5).all()
    assert (values[~mask] == 0).all() and (frags.bary[0].numpy()[~mask] == 0).all()


@pytest.fixture(scope="module")
def mannequin():
    body = load_body_model("mannequin")
    gen = torch.Generator().manual_seed(3)
    with torch.no_grad():
        out = body(global_orient=0.2 * torch.randn(2, 3, generator=gen),
                   body_pose=0.2 * torch.randn(2, 69, generator=gen))
    faces = torch.as_tensor(body.data.faces)
    parts = raster.face_parts(faces, torch.as_tensor(body.data.part_labels))
    return {"body": body, "out": out, "faces": faces, "face_part": parts,
            "points": raster.front_view(out.vertices, fill=0.8),
            "uv": torch.as_tensor(body.data.uv, dtype=torch.float32)}


def test_mannequin_render_is_consistent(mannequin) -> None:
    m, size = mannequin, 64
    frags = raster.rasterize(m["points"], m["faces"], size, cull_backfaces=True)
    sil = raster.silhouette(frags)
    parts = raster.part_labels(frags, m["face_part"])
    uv = raster.interpolate(frags, m["faces"], m["uv"])
    assert sil.sum() > 0.05 * sil.numel()
    assert torch.equal(sil.bool(), parts > 0)
    assert parts.max() <= 24 and len(parts.unique()) > 15
    assert (uv[sil == 0] == 0).all() and (uv[sil == 1] >= -1e-4).all()
    # The silhouette spans the projected vertices' box (to within a pixel).
    pixel = (m["points"][..., :2] + 1) * (size - 1) / 2
    for i in range(sil.shape[0]):
        rows, cols = sil[i].nonzero(as_tuple=True)
        lo, hi = pixel[i].amin(0), pixel[i].amax(0)
        assert abs(cols.min() - lo[0]) <= 1 and abs(cols.max() - hi[0]) <= 1
        assert abs(rows.min() - lo[1]) <= 1 and abs(rows.max() - hi[1]) <= 1
    # A closed mesh looks the same with and without its back faces.
    full = raster.rasterize(m["points"], m["faces"], size)
    assert (full.face_index == frags.face_index).float().mean() > 0.999


def nearest_face_numpy(points: np.ndarray, faces: np.ndarray, size: int) -> np.ndarray:
    """[S,S] index of the nearest face covering each pixel centre (-1: none), brute force."""
    q = centres(size).reshape(-1, 1, 2)
    tri = points[faces]  # [F,3,3]
    a, b, c = tri[None, :, 0, :2], tri[None, :, 1, :2], tri[None, :, 2, :2]

    def edge(u, v):  # cross(v - u, q - u) for every pixel and face
        return (v[..., 0] - u[..., 0]) * (q[..., 1] - u[..., 1]) \
            - (v[..., 1] - u[..., 1]) * (q[..., 0] - u[..., 0])

    area = (b - a)[..., 0] * (c - a)[..., 1] - (b - a)[..., 1] * (c - a)[..., 0]
    w0, w1 = edge(b, c) / area, edge(c, a) / area
    w2 = 1 - w0 - w1
    depth = w0 * tri[:, 0, 2] + w1 * tri[:, 1, 2] + w2 * tri[:, 2, 2]
    depth[~((w0 >= 0) & (w1 >= 0) & (w2 >= 0))] = np.inf
    nearest = depth.argmin(1)
    return np.where(np.isfinite(depth.min(1)), nearest, -1).reshape(size, size)


def test_close_up_matches_brute_force(mannequin) -> None:
    points = mannequin["points"][:1] * 2.5  # the body overflows the crop
    faces = mannequin["faces"]
    frags = raster.rasterize(points, faces, 20)
    expected = nearest_face_numpy(points[0].double().numpy(), faces.numpy(), 20)
    assert 0.2 < (expected >= 0).mean() < 1
    np.testing.assert_array_equal(frags.face_index[0].numpy(), expected)


def test_face_ids_are_the_rasterizers_faces(mannequin) -> None:
    m = mannequin
    frags = raster.rasterize(m["points"], m["faces"], 96)
    assert torch.equal(raster.face_ids(m["points"], m["faces"], 96), frags.face_index)


def test_candidate_chunks_do_not_change_the_result(mannequin) -> None:
    m = mannequin
    whole = raster.rasterize(m["points"], m["faces"], 48)
    parts = raster.rasterize(m["points"], m["faces"], 48, max_candidates=48 * 48)
    assert torch.equal(whole.face_index, parts.face_index)
    assert torch.equal(whole.bary, parts.bary)


def test_batched_attributes_match_shared_ones(mannequin) -> None:
    m = mannequin
    frags = raster.rasterize(m["points"], m["faces"], 32, cull_backfaces=True)
    shared = raster.interpolate(frags, m["faces"], m["uv"])
    batched = raster.interpolate(frags, m["faces"], m["uv"].expand(2, -1, -1))
    assert torch.equal(shared, batched)


def test_shading_and_composite(mannequin) -> None:
    m, size = mannequin, 48
    frags = raster.rasterize(m["points"], m["faces"], size, cull_backfaces=True)
    sil = raster.silhouette(frags)
    light = torch.tensor([[0.0, 0.0, -1.0]]).expand(2, 3)  # at the camera
    white = torch.ones(2, 24, 3)
    rgb = shading.shade(frags, m["faces"], m["points"], white, light, torch.zeros(2),
                        face_part=m["face_part"])
    assert (rgb[sil == 0] == 0).all() and rgb.max() <= 1
    assert rgb[sil == 1].mean() > 0.5  # surfaces seen from the light's side are lit
    per_vertex = shading.shade(frags, m["faces"], m["points"], torch.ones(7000, 3), light,
                               torch.zeros(2))
    torch.testing.assert_close(per_vertex, rgb)
    background = shading.random_backgrounds(torch.Generator().manual_seed(0), 2, size)
    image = shading.composite(rgb, sil, background)
    assert torch.equal(image[sil == 0], background[sil == 0])
    assert torch.equal(image[sil == 1], rgb[sil == 1])


def _volume(verts: torch.Tensor, faces: torch.Tensor) -> torch.Tensor:
    v0, v1, v2 = verts[:, faces].unbind(2)
    return (v0 * torch.cross(v1, v2, dim=-1)).sum((-1, -2)) / 6


def test_vertex_normals_point_outward(mannequin) -> None:
    verts, faces = mannequin["out"].vertices, mannequin["faces"]
    normals = shading.vertex_normals(verts, faces)
    torch.testing.assert_close(normals.norm(dim=-1), torch.ones(verts.shape[:2]))
    # Pushing the surface along outward normals inflates the body.
    assert (_volume(verts + 0.005 * normals, faces) > _volume(verts, faces) * 1.02).all()


def test_random_backgrounds_are_varied_and_reproducible() -> None:
    a = shading.random_backgrounds(torch.Generator().manual_seed(1), 16, 32)
    b = shading.random_backgrounds(torch.Generator().manual_seed(1), 16, 32)
    assert a.shape == (16, 32, 32, 3) and torch.equal(a, b)
    assert a.min() >= 0 and a.max() <= 1
    assert a.std(dim=(1, 2)).mean() > 0.02  # textured, not flat
    assert a.mean(dim=(1, 2)).std(dim=0).mean() > 0.05  # different from image to image


def test_heatmap_peaks_at_the_keypoint() -> None:
    gen = torch.Generator().manual_seed(0)
    size = 40
    points = torch.rand(3, 5, 2, generator=gen) * 1.8 - 0.9
    points[0, 0] = torch.tensor([-1 + 2 * 7 / (size - 1), -1 + 2 * 30 / (size - 1)])
    visible = torch.ones(3, 5, dtype=torch.bool)
    visible[1, 2] = False
    heat = gaussian_heatmaps(points, visible, size, sigma_px=2.0)
    assert heat.shape == (3, 5, size, size)
    assert (heat[1, 2] == 0).all()
    assert heat[0, 0, 30, 7] == pytest.approx(1.0)
    continuous = (points + 1) * (size - 1) / 2
    for b, k in [(b, k) for b in range(3) for k in range(5) if visible[b, k]]:
        row, col = divmod(int(heat[b, k].argmax()), size)
        assert (col, row) == tuple(continuous[b, k].round().long().tolist())
        assert 0.5 < heat[b, k].max() <= 1
