"""PyMAF: strict loading of the official layout, and each convention it depends on."""
from __future__ import annotations

import math

import pytest
import smplx
import torch

from pymaf_fixtures import NUM_VERTS, load_manifest, official_state_dict, save_official
from studio.body.registry import find_body_model
from studio.errors import ModelFileError
from studio.nets import geometry
from studio.nets.pymaf import (KeypointReadout, MAFExtractor, PyMAF, make_points_grid,
                               sample_features)
from studio.nets.pymaf_official import load_official, mismatch_report


@pytest.fixture(scope="module")
def manifest() -> dict[str, dict]:
    return load_manifest()


@pytest.fixture(scope="module")
def official_state(manifest) -> dict[str, torch.Tensor]:
    """A state dict with exactly the manifest's keys, shapes and dtypes."""
    return official_state_dict(manifest)


@pytest.fixture(scope="module")
def official(official_state, tmp_path_factory) -> PyMAF:
    path = tmp_path_factory.mktemp("pymaf") / "model.pt"
    return load_official(save_official(official_state, path))


@pytest.fixture(scope="module")
def mannequin_small() -> PyMAF:
    torch.manual_seed(0)
    return PyMAF(find_body_model("mannequin"), backbone="small", in_channels=5).eval()


def test_fixture_matches_manifest(official_state, manifest) -> None:
    assert list(official_state) == list(manifest)
    for key, spec in manifest.items():
        assert list(official_state[key].shape) == spec["shape"], key
        assert str(official_state[key].dtype) == f"torch.{spec['dtype']}", key


def test_official_loads_strictly_and_runs(official, official_state) -> None:
    loaded = official.state_dict()
    assert set(loaded) == set(official_state)
    for key in ("maf_extractor.2.Dmap", "regressor.1.init_cam", "feature_extractor.conv1.weight",
                "regressor.2.smpl.posedirs", "dp_head.predict_u.bias"):
        torch.testing.assert_close(loaded[key], official_state[key])
    assert official.regressor[0].fc1.in_features == 5 * 441 + 157 == 2362
    assert official.regressor[1].fc1.in_features == 5 * 431 + 157 == 2312
    torch.manual_seed(1)
    with torch.no_grad():
        out = official(torch.randn(2, 3, 224, 224))
    assert len(out.iterations) == 4
    for i, it in enumerate(out.iterations):
        assert it.vertices.shape == (2, NUM_VERTS, 3)
        assert it.theta.shape == (2, 85) and it.rotmat.shape == (2, 24, 3, 3)
        assert it.cam.shape == (2, 3) and it.keypoints_2d.shape == (2, 49, 2)
        assert it.keypoints_3d.shape == (2, 49, 3)
        for t in (it.vertices, it.theta, it.rotmat, it.keypoints_2d, it.keypoints_3d):
            assert torch.isfinite(t).all(), i
        torch.testing.assert_close(it.theta[:, :3], it.cam)
        expected_points = [None, 441, 431, 431][i]
        if expected_points is None:
            assert it.sample_points is None
        else:
            assert it.sample_points.shape == (2, expected_points, 2)
    # Iteration 0 is the mesh of the checkpoint's mean parameters, the same for every crop.
    torch.testing.assert_close(out.iterations[0].cam, official_state["regressor.0.init_cam"]
                               .expand(2, -1))
    assert not torch.allclose(out.iterations[3].theta[0], out.iterations[3].theta[1])
    torch.testing.assert_close(out.iterations[1].sample_points[0], official.points_grid[0].T)
    dense = out.final.dense
    assert {k: tuple(v.shape) for k, v in dense.items()} == {
        "uv_index": (2, 25, 56, 56), "ann_index": (2, 15, 56, 56), "u": (2, 25, 56, 56),
        "v": (2, 25, 56, 56)}


def test_later_iterations_sample_the_projected_downsampled_mesh(official) -> None:
    torch.manual_seed(2)
    with torch.no_grad():
        out = official(torch.randn(1, 3, 224, 224))
    for prev, cur in zip(out.iterations[1:3], out.iterations[2:4]):
        ds = official.maf_extractor[0].Dmap @ prev.vertices
        torch.testing.assert_close(cur.sample_points, geometry.project_to_crop(ds, prev.cam))


def test_mismatched_checkpoint_reports_each_group(official_state, tmp_path) -> None:
    state = dict(official_state)
    del state["regressor.1.deccam.bias"]
    state["regressor.3.fc1.weight"] = torch.zeros(1)
    state["regressor.0.fc2.weight"] = torch.zeros(1024, 1000)
    with pytest.raises(ModelFileError) as err:
        load_official(save_official(state, tmp_path / "bad.pt"))
    message = str(err.value)
    assert "missing keys (1): regressor.1.deccam.bias" in message
    assert "unexpected keys (1): regressor.3.fc1.weight" in message
    assert "wrongly shaped keys (1" in message
    assert "regressor.0.fc2.weight (1024, 1000) != (1024, 1024)" in message
    assert len(message.splitlines()) == 4


def test_mismatch_report_is_short_and_none_when_equal() -> None:
    expected = {f"k{i}": (i,) for i in range(20)}
    assert mismatch_report(expected, dict(expected)) is None
    report = mismatch_report(expected, {})
    assert report == "  missing keys (20): k0, k1, k2, k3, k4, k5, ... (14 more)"


def test_not_a_checkpoint(tmp_path) -> None:
    with pytest.raises(ModelFileError, match="not found"):
        load_official(tmp_path / "absent.pt")
    path = tmp_path / "plain.pt"
    torch.save({"state_dict": {}}, path)
    with pytest.raises(ModelFileError, match="under 'model'"):
        load_official(path)


# ---------------------------------------------------------------- conventions

def test_points_grid_order_and_x_first() -> None:
    grid = make_points_grid()
    t = torch.linspace(-1, 1, 21)
    assert grid.shape == (1, 2, 441) and grid.dtype == torch.float32
    for k in (0, 1, 20, 21, 22, 230, 440):
        assert grid[0, :, k].tolist() == [t[k // 21].item(), t[k % 21].item()]
    # A map whose value is its column index: the first coordinate (x) picks the column.
    columns = torch.arange(21.0).expand(1, 1, 21, 21)
    sampled = sample_features(columns, grid.transpose(1, 2))
    torch.testing.assert_close(sampled[0, 0], torch.arange(441.0) // 21)


def test_grid_sample_hits_corner_and_centre_pixels() -> None:
    fmap = torch.arange(15.0).reshape(1, 1, 3, 5)
    points = torch.tensor([[[-1.0, -1.0], [1.0, -1.0], [-1.0, 1.0], [1.0, 1.0], [0.0, 0.0],
                            [0.5, 0.0]]])
    values = sample_features(fmap, points)[0, 0].tolist()
    assert values == [0.0, 4.0, 10.0, 14.0, 7.0, 8.0]


def test_rot6d_reads_a_row_major_3x2_matrix() -> None:
    # Columns (1,0,0) and (1,1,0): Gram-Schmidt gives the identity.
    torch.testing.assert_close(geometry.rot6d_to_rotmat(torch.tensor([1.0, 1, 0, 1, 0, 0])),
                               torch.eye(3)[None])
    # Columns a1 = (0,3,0), a2 = (2,0,1) -> b1 = y, b2 = (2,0,1)/sqrt5, b3 = (1,0,-2)/sqrt5.
    r = geometry.rot6d_to_rotmat(torch.tensor([[0.0, 2, 3, 0, 0, 1]]))
    s = math.sqrt(5)
    expected = torch.tensor([[0, 2 / s, 1 / s], [1, 0, 0], [0, 1 / s, -2 / s]])
    torch.testing.assert_close(r[0], expected)
    assert geometry.rot6d_to_rotmat(torch.randn(4, 144)).shape == (96, 3, 3)


def test_axis_angle_round_trip() -> None:
    torch.manual_seed(3)
    axes = torch.nn.functional.normalize(torch.randn(64, 3), dim=1)
    angles = torch.cat([torch.tensor([0.0, 1e-5, math.pi - 1e-4, math.pi - 1e-2]),
                        torch.rand(60) * math.pi])
    aa = axes * angles[:, None]
    back = geometry.rotmat_to_axis_angle(smplx.lbs.batch_rodrigues(aa))
    torch.testing.assert_close(back, aa, atol=2e-4, rtol=1e-4)
    assert geometry.rotmat_to_axis_angle(torch.eye(3).expand(2, 24, 3, 3)).shape == (2, 24, 3)


def test_projection_of_a_known_point() -> None:
    cam = torch.tensor([[1.0, 0.0, 0.0], [0.5, 0.1, -0.2]])
    t = geometry.weak_perspective_to_translation(cam)
    torch.testing.assert_close(t[0], torch.tensor([0.0, 0.0, 10000 / 224]))
    points = torch.tensor([[[0.5, -0.25, 50 - 10000 / 224]], [[0.1, 0.2, 0.0]]])
    uv = geometry.project_to_crop(points, cam)
    # Depth 50: 5000 * (0.5, -0.25) / 50 / 112. Depth 0 of a weak camera: s * (X + t).
    torch.testing.assert_close(uv[0, 0], torch.tensor([50 / 112, -25 / 112]))
    torch.testing.assert_close(uv[1, 0], torch.tensor([0.5 * 0.2, 0.5 * 0.0]))


def test_regressor_input_order(mannequin_small) -> None:
    reg = mannequin_small.regressor[1]
    n_feat = reg.fc1.in_features - 157
    feature, (pose, shape, cam) = torch.rand(1, n_feat), reg.initial(1)
    shape = shape + torch.arange(10.0)
    cam = torch.tensor([[0.7, 0.1, 0.2]])
    with torch.no_grad():
        for p in reg.parameters():
            p.zero_()
        # One path per input block: fc1 unit i reads one column, fc2 passes it on, and a
        # head adds it to its own output, so each input shows up in a known place.
        for unit, column in enumerate((0, n_feat + 7, n_feat + 144 + 3, n_feat + 154)):
            reg.fc1.weight[unit, column] = 1.0
            reg.fc2.weight[unit, unit] = 1.0
        reg.decpose.weight[0, 0] = reg.decpose.weight[1, 1] = 1.0
        reg.decshape.weight[0, 2] = reg.deccam.weight[0, 3] = 1.0
        new_pose, new_shape, new_cam = reg.step(feature, pose, shape, cam)
    assert new_pose[0, 0].item() == pytest.approx(pose[0, 0] + feature[0, 0])
    assert new_pose[0, 1].item() == pytest.approx(pose[0, 1] + pose[0, 7])
    assert new_shape[0].tolist() == pytest.approx((shape[0] + torch.eye(10)[0] * 3).tolist())
    assert new_cam[0].tolist() == pytest.approx([0.7 + 0.7, 0.1, 0.2])
    torch.testing.assert_close(new_pose[0, 2:], pose[0, 2:])


def test_zero_regressors_keep_the_mean_parameters() -> None:
    net = PyMAF(find_body_model("mannequin"), backbone="small", in_channels=5).eval()
    with torch.no_grad():
        for reg in net.regressor:
            for p in (*reg.fc1.parameters(), *reg.fc2.parameters(), *reg.decpose.parameters(),
                      *reg.decshape.parameters(), *reg.deccam.parameters()):
                p.zero_()
        out = net(torch.randn(1, 5, 224, 224))
    for it in out.iterations:
        torch.testing.assert_close(it.theta, out.iterations[0].theta)
    torch.testing.assert_close(out.iterations[0].pose6d, net.regressor[0].init_pose)
    # The mean pose faces the camera: root rotated by pi about x, the rest at rest.
    torch.testing.assert_close(out.final.rotmat[0, 0], torch.diag(torch.tensor([1.0, -1, -1])))
    torch.testing.assert_close(out.final.theta[0, 13:16], torch.tensor([math.pi, 0, 0]))


def test_maf_output_is_channel_major() -> None:
    maf = MAFExtractor(torch.zeros(4, 10))
    with torch.no_grad():
        for p in maf.parameters():
            p.zero_()
        maf.conv2.bias.copy_(torch.arange(1.0, 6.0))
    out = maf.reduce(torch.randn(2, 256, 7))
    assert out.shape == (2, 35)
    assert out[0].tolist() == [float(c) for c in range(1, 6) for _ in range(7)]


def test_builtin_variant_runs_with_the_mannequin(mannequin_small) -> None:
    body = mannequin_small.body.data
    d0, d1 = body.downsampling
    dmap = mannequin_small.maf_extractor[1].Dmap
    assert dmap.shape == (d1.shape[0], body.num_vertices)
    torch.testing.assert_close(dmap, torch.as_tensor((d1 @ d0).toarray(), dtype=torch.float32))
    assert mannequin_small.feature_extractor.conv1.in_channels == 5
    with torch.no_grad():
        out = mannequin_small(torch.randn(2, 5, 112, 112))  # stride 16: 7x7 features
    assert len(out.iterations) == 4
    assert [None if it.sample_points is None else it.sample_points.shape[1]
            for it in out.iterations] == [None, 441, d1.shape[0], d1.shape[0]]
    for it in out.iterations:
        assert it.vertices.shape == (2, body.num_vertices, 3)
        assert torch.isfinite(it.vertices).all() and torch.isfinite(it.keypoints_2d).all()
    assert out.final.dense["ann_index"].shape == (2, 15, 56, 56)
    no_head = PyMAF(body, backbone="resnet18", in_channels=5, dense_head=False,
                    pyramid_channels=64).eval()
    assert not any(k.startswith("dp_head") for k in no_head.state_dict())
    assert no_head.maf_extractor[0].conv1.in_channels == 64 + 128
    with torch.no_grad():
        assert no_head(torch.randn(1, 5, 224, 224)).final.dense is None


def test_ief_baseline_reuses_the_global_feature() -> None:
    """The IEF variant: same backbone and regressors, no sampled features."""
    body = find_body_model("mannequin")
    net = PyMAF(body, backbone="small", pyramid_channels=16, hidden=64, feedback="ief").eval()
    assert net.maf_extractor is None
    assert net.regressor[0].fc1.in_features == net.feature_extractor.out_channels + 157
    with torch.no_grad():
        out = net(torch.randn(2, 3, 64, 64))
    assert len(out.iterations) == 4 and all(it.sample_points is None for it in out.iterations)
    assert out.final.dense["u"].shape == (2, 25, 32, 32)


def test_sparse_downsampling_matches_the_dense_product() -> None:
    gen = torch.Generator().manual_seed(0)
    dmap = torch.rand(5, 9, generator=gen) * (torch.rand(5, 9, generator=gen) < 0.3)
    maf = MAFExtractor(dmap, 8)
    vertices = torch.randn(3, 9, 3, generator=gen)
    torch.testing.assert_close(maf.downsample(vertices), torch.matmul(dmap, vertices))


def test_keypoint_readout_reads_the_proxy_heatmaps_positions_and_visibility() -> None:
    """The readout gets the landmarks the heatmaps were drawn from: exact positions, a
    visibility within a sub-pixel peak's loss, and zeros for an unseen landmark."""
    from studio.synth.proxy import NUM_KEYPOINTS, proxy_maps

    gen = torch.Generator().manual_seed(0)
    points = torch.rand(3, NUM_KEYPOINTS, 2, generator=gen) * 1.8 - 0.9
    visibility = 0.2 + 0.8 * torch.rand(3, NUM_KEYPOINTS, generator=gen)
    visibility[0, :4] = 0
    maps = proxy_maps(torch.ones(3, 64, 64), points, visibility)
    read = KeypointReadout.read(maps[:, 1:])
    seen = visibility > 0
    torch.testing.assert_close(read[..., :2][seen], points[seen], atol=1e-4, rtol=0)
    assert (read[0, :4] == 0).all()
    peak_loss = 1 - math.exp(-0.5 ** 2)  # half a pixel off in x and y at sigma 1 px
    assert ((visibility - read[..., 2])[seen] <= peak_loss * visibility[seen] + 1e-6).all()
    assert (read[..., 2][seen] <= visibility[seen] + 1e-6).all()


def test_readout_variant_feeds_every_regressor_and_skips_the_mask() -> None:
    body = find_body_model("mannequin")
    net = PyMAF(body, backbone="small", in_channels=34, pyramid_channels=16, hidden=64,
                keypoint_readout=33).eval()
    plain = PyMAF(body, backbone="small", in_channels=34, pyramid_channels=16, hidden=64)
    extra = net.readout.out_dim
    assert [r.fc1.in_features - extra for r in net.regressor] == \
        [r.fc1.in_features for r in plain.regressor]
    crops = torch.rand(2, 34, 64, 64)
    with torch.no_grad():
        first = net.readout(crops)
        crops[:, 0] = 0  # the mask channel is not a heatmap
        assert torch.equal(net.readout(crops), first)
        assert len(net(crops).iterations) == 4
    assert not any(k.startswith("readout") for k in plain.state_dict())


def test_relu_regressors_have_the_same_weights_and_bend_the_map() -> None:
    """``regressor_relu`` adds no weights (files keep their keys) but makes a regressor
    step nonlinear in its input, where PyMAF's own is affine."""
    body = find_body_model("mannequin")
    args = dict(backbone="small", in_channels=34, pyramid_channels=16, hidden=64, dropout=0.0)
    plain, bent = PyMAF(body, **args).eval(), PyMAF(body, **args, regressor_relu=True).eval()
    assert plain.state_dict().keys() == bent.state_dict().keys()
    bent.load_state_dict(plain.state_dict())
    gen = torch.Generator().manual_seed(0)
    feature = torch.randn(2, plain.regressor[0].fc1.in_features - 157, generator=gen)
    start = plain.regressor[0].initial(2)

    def residual(net: PyMAF, scale: float) -> torch.Tensor:
        with torch.no_grad():
            return net.regressor[0].step(scale * feature, *start)[0] - start[0]

    torch.testing.assert_close(residual(plain, -1.0) + residual(plain, 1.0),
                               2 * residual(plain, 0.0))
    assert not torch.allclose(residual(bent, -1.0) + residual(bent, 1.0),
                              2 * residual(bent, 0.0))
