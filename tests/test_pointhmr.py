"""PointHMR: the official key manifest, strict loading, the mesh matrices and the forward.

Logic tests use a tiny configuration; only the manifest and the official loading round
trip build the full official model (no full-size forward).
"""
from __future__ import annotations

import json
import sys
import types
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from scipy.sparse.csgraph import shortest_path

from reference_files import reference_file
from studio.errors import ModelFileError
from studio.nets.pointhmr import OFFICIAL, PointHMR, PointHMRConfig, build_official, load_official
from studio.nets.pointhmr_backbone import HRNetConfig
from studio.nets.pointhmr_files import (CheckpointMismatchError, load_strict, read_checkpoint,
                                        read_official_matrices)
from studio.nets.pointhmr_mesh import attention_masks, khop_reach, mannequin_matrices

TINY = PointHMRConfig(vertices=(12, 20, 40), input_size=64, model_dim=16, position_dim=8,
                      reduced_dim=8, heads=2, feedforward=(16, 16), layers_per_block=2,
                      backbone=HRNetConfig(widths=(4, 8, 16, 32), blocks=1, modules=(1, 1, 1),
                                           stem_blocks=1))


def path_graph(n: int, diagonal: bool = True) -> sp.csr_matrix:
    a = sp.diags([np.ones(n - 1), np.ones(n - 1)], [-1, 1], shape=(n, n))
    return sp.csr_matrix(a + sp.identity(n) if diagonal else a)


def grid_graph(side: int) -> sp.csr_matrix:
    n = side * side
    idx = np.arange(n).reshape(side, side)
    rows = np.concatenate([idx[:, :-1].ravel(), idx[:-1, :].ravel()])
    cols = np.concatenate([idx[:, 1:].ravel(), idx[1:, :].ravel()])
    a = sp.coo_matrix((np.ones(len(rows)), (rows, cols)), shape=(n, n))
    return sp.csr_matrix(a + a.T + sp.identity(n))


def random_upsampling(rows: int, cols: int, seed: int) -> sp.csr_matrix:
    """Three non-zeros per row, partly negative weights, like the official matrices."""
    rng = np.random.default_rng(seed)
    c = np.stack([rng.choice(cols, 3, replace=False) for _ in range(rows)]).ravel()
    w = rng.normal(0.33, 0.5, size=rows * 3)
    return sp.csr_matrix((w, (np.repeat(np.arange(rows), 3), c)), shape=(rows, cols))


@pytest.fixture(scope="module")
def tiny() -> PointHMR:
    torch.manual_seed(0)
    v = TINY.vertices
    model = PointHMR(TINY, path_graph(v[0]), random_upsampling(v[1], v[0], 1),
                     random_upsampling(v[2], v[1], 2)).eval()
    for m in model.modules():  # non-trivial BatchNorm statistics
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.1, 0.1)
            m.running_var.uniform_(0.5, 1.5)
    return model


@pytest.fixture(scope="module")
def official() -> PointHMR:
    v = OFFICIAL.vertices
    return build_official(path_graph(v[0]), random_upsampling(v[1], v[0], 3),
                          random_upsampling(v[2], v[1], 4))


def test_state_dict_equals_the_official_manifest(official: PointHMR) -> None:
    reference = json.loads(reference_file("pointhmr_state_dict.json").read_text())
    expected = [(k, t["shape"], t["dtype"]) for k, t in reference["tensors"].items()]
    ours = [(k, list(t.shape), str(t.dtype).removeprefix("torch."))
            for k, t in official.state_dict().items()]
    assert len(expected) == reference["checkpoint"]["num_keys"] == 2023
    assert ours == expected  # every key, shape and dtype, in the same order
    assert sum(p.numel() for p in official.parameters()) == reference["checkpoint"]["num_params"]


def test_load_official_round_trip_with_module_prefix(official: PointHMR, tmp_path: Path) -> None:
    state = {f"module.{k}": v for k, v in official.state_dict().items()}
    state["module.cam_layer.bias"] = torch.tensor([0.25])
    torch.save(state, tmp_path / "PointHMR_h36m.bin")
    v = OFFICIAL.vertices
    model = load_official(tmp_path / "PointHMR_h36m.bin", adjacency_431=path_graph(v[0]),
                          upsample_431_to_1723=random_upsampling(v[1], v[0], 3),
                          upsample_1723_to_6890=random_upsampling(v[2], v[1], 4))
    assert not model.training
    assert model.cam_layer.bias.item() == 0.25
    torch.testing.assert_close(model.heatmap_layer[2].weight, official.heatmap_layer[2].weight)


def test_strict_loading_names_missing_extra_and_misshaped_keys(tiny: PointHMR) -> None:
    state = dict(tiny.state_dict())
    del state["joint_token_embed.weight"]
    state["extra.weight"] = torch.zeros(2)
    state["cam_layer.weight"] = torch.zeros(1, 5)
    copy = PointHMR(TINY, path_graph(12), random_upsampling(20, 12, 1),
                    random_upsampling(40, 20, 2))
    with pytest.raises(CheckpointMismatchError) as info:
        load_strict(copy, state, "ckpt.bin")
    text = str(info.value)
    assert "joint_token_embed.weight" in text and "extra.weight" in text
    assert "cam_layer.weight [1, 5] (expected [1, 12])" in text
    assert isinstance(info.value, ValueError) and info.value.exit_code == 3


def test_official_unused_keys_are_accepted(tiny: PointHMR) -> None:
    copy = PointHMR(TINY, path_graph(12), random_upsampling(20, 12, 1),
                    random_upsampling(40, 20, 2))
    load_strict(copy, {f"module.{k}": v for k, v in tiny.state_dict().items()}, "x")
    assert torch.equal(copy.vertex_token_embed.weight, tiny.vertex_token_embed.weight)


@pytest.mark.parametrize("hops", [1, 3, 5, 7])
def test_attention_masks_are_khop_neighbourhoods(hops: int) -> None:
    # path graph: j allowed for i iff |i - j| <= hops
    n = 12
    i, j = np.indices((n, n))
    assert np.array_equal(khop_reach(path_graph(n), hops), np.abs(i - j) <= hops)
    # grid graph: against scipy's shortest paths
    grid = grid_graph(5)
    dist = shortest_path(grid, unweighted=True)
    assert np.array_equal(khop_reach(grid, hops), dist <= hops)


def test_attention_mask_layout_and_block_order() -> None:
    n, prefix = 10, 4
    masks = attention_masks(path_graph(n), prefix)
    i, j = np.indices((n, n))
    for mask, hops in zip(masks, (7, 5, 3, 1)):
        assert mask.shape == (prefix + n, prefix + n) and mask.dtype == torch.bool
        assert not mask[:prefix].any() and not mask[:, :prefix].any()
        assert np.array_equal(mask[prefix:, prefix:].numpy(), np.abs(i - j) > hops)


def test_transformer_attention_respects_the_masks(tiny: PointHMR) -> None:
    attention: list[torch.Tensor] = []
    with torch.no_grad():
        tiny(torch.randn(1, 3, 64, 64), attention=attention)
    assert len(attention) == 8
    prefix = TINY.tokens - TINY.vertices[0]
    i, j = np.indices((12, 12))
    for layer, weights in enumerate(attention):
        hops = (7, 5, 3, 1)[layer // 2]
        vv = weights[0, prefix:, prefix:].numpy()
        assert np.all(vv[np.abs(i - j) > hops] == 0)
        assert np.all(vv[np.abs(i - j) <= hops] > 0)


def test_forward_heatmaps_and_upsampling(tiny: PointHMR) -> None:
    torch.manual_seed(1)
    images = torch.randn(3, 3, 64, 64)
    with torch.no_grad():
        out = tiny(images)
        single = tiny(images[1:2])
    assert out["heatmaps"].shape == (3, 12, 32, 32)
    torch.testing.assert_close(out["heatmaps"].sum(dim=(2, 3)), torch.ones(3, 12))
    # each 16x16 cell's probability is shared equally by its four 32x32 sub-cells
    h = out["heatmaps"]
    assert torch.equal(h[..., 0::2, 0::2], h[..., 1::2, 1::2])
    u_mid = tiny.upsample_coarse_to_mid.to_dense().numpy().astype(np.float64)
    u_full = tiny.upsample_mid_to_full.to_dense().numpy().astype(np.float64)
    coarse = out["vertices_12"].numpy().astype(np.float64)
    assert out["joints"].shape == (3, 14, 3) and out["camera"].shape == (3, 3)
    np.testing.assert_allclose(out["vertices_20"].numpy(), u_mid @ coarse, atol=1e-5)
    np.testing.assert_allclose(out["vertices_40"].numpy(), (u_full @ u_mid) @ coarse, atol=1e-5)
    for key in ("camera", "joints", "vertices_40", "heatmaps"):  # batch-independent
        torch.testing.assert_close(single[key][0], out[key][1], atol=1e-5, rtol=1e-4)


def test_matrices_accept_numpy_torch_and_scipy() -> None:
    v = TINY.vertices
    dense = path_graph(v[0]).toarray().astype(np.float16)
    up1 = random_upsampling(v[1], v[0], 1)
    model = PointHMR(TINY, torch.from_numpy(dense).to_sparse(), up1.toarray(),
                     torch.from_numpy(random_upsampling(v[2], v[1], 2).toarray()))
    assert torch.allclose(model.upsample_coarse_to_mid.to_dense(),
                          torch.from_numpy(up1.toarray()).float())
    with pytest.raises(ValueError, match="adjacency: expected shape"):
        PointHMR(TINY, np.eye(5), up1, random_upsampling(v[2], v[1], 2))


def test_mannequin_matrices() -> None:
    m = mannequin_matrices()
    assert m["adjacency"].shape == (438, 438)
    assert m["adjacency_mid"].shape == (1750, 1750)
    assert m["upsample_coarse_to_mid"].shape == (1750, 438)
    assert m["upsample_mid_to_full"].shape == (7000, 1750)
    adj = m["adjacency"]
    linked = adj > 0
    assert (linked != linked.T).nnz == 0 and np.all(adj.diagonal() > 0)  # symmetric links
    np.testing.assert_allclose(np.asarray(adj.sum(axis=1)).ravel(), 1.0)  # rows normalised
    degree = np.diff(adj.indptr)
    assert 5 < degree.mean() < 9  # like the official 431-vertex mesh (6.97 with itself)
    assert khop_reach(adj, 7).all(axis=1).sum() < 438  # 7 hops do not span the body


def test_official_matrix_files_are_read(tmp_path: Path) -> None:
    adj = sp.coo_matrix(path_graph(431))
    torch.save(torch.from_numpy(np.vstack([adj.row, adj.col]).astype(np.int64)),
               tmp_path / "smpl_431_adjmat_indices.pt")
    torch.save(torch.from_numpy(adj.data.astype(np.float32)), tmp_path / "smpl_431_adjmat_values.pt")
    torch.save(torch.Size([431, 431]), tmp_path / "smpl_431_adjmat_size.pt")
    u0, u1 = random_upsampling(6890, 1723, 5), random_upsampling(1723, 431, 6)

    def objects(*items: object) -> np.ndarray:
        arr = np.empty(len(items), object)
        arr[:] = items
        return arr

    np.savez(tmp_path / "mesh_downsampling.npz",
             A=objects(*(sp.csc_matrix(sp.identity(n)) for n in (6890, 1723, 431))),
             U=objects(sp.csc_matrix(u0), sp.csc_matrix(u1)),
             D=objects(sp.csc_matrix((1723, 6890)), sp.csc_matrix((431, 1723))),
             F=objects(np.zeros((2, 3), np.int64)))
    m = read_official_matrices(tmp_path)
    assert (m["adjacency_431"] != path_graph(431)).nnz == 0
    assert abs(m["upsample_431_to_1723"] - u1).max() < 1e-12
    assert abs(m["upsample_1723_to_6890"] - u0).max() < 1e-12
    with pytest.raises(ModelFileError, match="smpl_431_adjmat_indices.pt.*mesh_downsampling.npz"):
        read_official_matrices(tmp_path / "elsewhere")


def test_whole_pickled_model_is_read_without_its_code(tiny: PointHMR, tmp_path: Path) -> None:
    fake = types.ModuleType("src_fake_pointhmr")

    class Network(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.cam_layer = torch.nn.Linear(3, 1)
            self.norm = torch.nn.BatchNorm1d(2)
            self.sampler = types.SimpleNamespace(U=[torch.ones(2)])

    Network.__module__, Network.__qualname__ = fake.__name__, "Network"
    fake.Network = Network
    sys.modules[fake.__name__] = fake
    try:
        torch.save(Network(), tmp_path / "model.bin")
    finally:
        del sys.modules[fake.__name__]
    state, kind = read_checkpoint(tmp_path / "model.bin")
    assert "whole pickled model" in kind and "Network" in kind
    assert list(state) == ["cam_layer.weight", "cam_layer.bias", "norm.weight", "norm.bias",
                           "norm.running_mean", "norm.running_var", "norm.num_batches_tracked"]
    torch.save({"state": {}, "param_groups": []}, tmp_path / "op_state_dict.bin")
    with pytest.raises(ModelFileError, match="optimizer state"):
        read_checkpoint(tmp_path / "op_state_dict.bin")
    (tmp_path / "junk.bin").write_bytes(b"not a torch file")
    with pytest.raises(ModelFileError, match="not a readable torch file"):
        read_checkpoint(tmp_path / "junk.bin")


def test_bench_pointhmr_is_registered() -> None:
    import argparse

    from studio.bench.pointhmr_speed import pointhmr_table
    from studio.commands.bench import BENCHMARKS, _add_pointhmr

    assert "pointhmr" in BENCHMARKS
    parser = argparse.ArgumentParser()
    _add_pointhmr(parser.add_subparsers())
    args = parser.parse_args(["pointhmr", "--variants", "light", "--batch-sizes", "1,4", "--json"])
    assert args.batch_sizes == [1, 4] and args.json and args.variants == ["light"]
    with pytest.raises(SystemExit):
        parser.parse_args(["pointhmr", "--variants", "heavy"])
    row = {"variant": "light", "vertices": [438, 1750, 7000], "params_m": 12.7, "batch": 1,
           "repeats": 3, "ms_per_crop": 700.0}
    doc = {"torch": "x", "device": "cpu", "threads": 1, "results": [row]}
    assert "light" in pointhmr_table(doc)
