"""The traced PyMAF: same answers as the eager net, and the eager net wherever the trace
does not fit."""
from __future__ import annotations

import dataclasses

import pytest
import torch

from pymaf_fixtures import load_manifest, official_state_dict, save_official
from studio.body.registry import find_body_model
from studio.nets.model_registry import LoadedModel
from studio.nets.pymaf import MAFExtractor, PyMAF, PyMAFOutput
from studio.nets.pymaf_official import load_official
from studio.nets.traced import TracedPyMAF


def _proxy_net(**options) -> PyMAF:
    torch.manual_seed(0)
    return PyMAF(find_body_model("mannequin"), backbone="small", in_channels=34,
                 pyramid_channels=32, hidden=64, smpl_batch_size=1, **options).eval()


def _loaded(net: PyMAF, traced: bool) -> LoadedModel:
    return LoadedModel(name="test", net=net, input_kind="proxy", input_size=64,
                       body_name="mannequin", source=None, traced=traced)


def _assert_same(a: PyMAFOutput, b: PyMAFOutput) -> None:
    """Every tensor of two outputs, field by field, including the posed bodies."""
    assert len(a.iterations) == len(b.iterations)
    for x, y in zip(a.iterations, b.iterations):
        for f in dataclasses.fields(x):
            u, v = getattr(x, f.name), getattr(y, f.name)
            if f.name == "body":
                for g in dataclasses.fields(u):
                    torch.testing.assert_close(getattr(u, g.name), getattr(v, g.name),
                                               atol=1e-4, rtol=1e-4)
            elif f.name == "dense":
                assert (u is None) == (v is None)
                for key in u or {}:
                    torch.testing.assert_close(u[key], v[key], atol=1e-4, rtol=1e-4)
            elif u is None:
                assert v is None, f.name
            else:
                torch.testing.assert_close(u, v, atol=1e-4, rtol=1e-4, msg=f.name)


@pytest.mark.parametrize("options", [{}, {"keypoint_readout": 33, "regressor_relu": True}],
                         ids=["pymaf", "readout-relu"])
def test_trace_gives_the_eager_answer_on_new_inputs(options) -> None:
    net = _proxy_net(**options)
    traced = TracedPyMAF(net, torch.randn(1, 34, 64, 64))
    for seed in (1, 2):
        crops = torch.randn(1, 34, 64, 64, generator=torch.Generator().manual_seed(seed))
        with torch.no_grad():
            _assert_same(traced(crops), net(crops))
    assert traced(crops).final.body.keypoints("mediapipe33").shape == (1, 33, 3)


def test_official_layout_traces(tmp_path) -> None:
    """The official net: ResNet-50 and SMPL's 6890 vertices."""
    net = load_official(save_official(official_state_dict(load_manifest()),
                                      tmp_path / "model.pt")).eval()
    crops = torch.randn(1, 3, 224, 224)
    traced = TracedPyMAF(net, torch.randn(1, 3, 224, 224))
    with torch.no_grad():
        _assert_same(traced(crops), net(crops))


def test_downsampling_gathers_rows_of_several_vertices() -> None:
    """Dmap rows that mix several vertices (SMPL's do) are gathered exactly as the dense
    product would weigh them, and a new Dmap (loaded weights) is picked up."""
    dmap = torch.zeros(5, 40)
    generator = torch.Generator().manual_seed(0)
    for row, width in zip(dmap, (1, 3, 8, 2, 5)):
        row[torch.randperm(40, generator=generator)[:width]] = torch.rand(width, generator=generator)
    maf = MAFExtractor(dmap, in_channels=8)
    vertices = torch.randn(2, 40, 3, generator=generator)
    torch.testing.assert_close(maf.downsample(vertices), torch.einsum("nv,bvd->bnd", dmap, vertices))
    maf.Dmap.copy_(torch.eye(5, 40))
    torch.testing.assert_close(maf.downsample(vertices), vertices[:, :5])


def test_loaded_model_traces_only_when_asked_and_only_fitting_crops(monkeypatch) -> None:
    made: list[tuple[int, ...]] = []
    real_init = TracedPyMAF.__init__

    def counting_init(self, net, example) -> None:
        made.append(tuple(example.shape))
        real_init(self, net, example)

    monkeypatch.setattr(TracedPyMAF, "__init__", counting_init)
    net = _proxy_net()
    crops = torch.randn(1, 34, 64, 64)
    eager = _loaded(net, traced=False)
    eager.infer(crops)
    assert made == []
    fast = _loaded(net, traced=True)
    first = fast.infer(crops)
    fast.infer(torch.randn(1, 34, 64, 64))
    assert made == [(1, 34, 64, 64)]  # made once, at the first crop
    with torch.no_grad():
        _assert_same(first, net(crops))
        batch = torch.randn(2, 34, 64, 64)
        _assert_same(fast.infer(batch), net(batch))  # batches run eagerly
        larger = torch.randn(1, 34, 96, 96)
        _assert_same(fast.infer(larger), net(larger))  # another size too
    assert made == [(1, 34, 64, 64)]


def test_a_net_that_cannot_be_traced_runs_eagerly(monkeypatch, capsys) -> None:
    def refuse(self, net, example) -> None:
        raise RuntimeError("no tracing here")

    monkeypatch.setattr(TracedPyMAF, "__init__", refuse)
    net = _proxy_net()
    model = _loaded(net, traced=True)
    crops = torch.randn(1, 34, 64, 64)
    with torch.no_grad():
        _assert_same(model.infer(crops), net(crops))
        model.infer(crops)
    assert capsys.readouterr().err.count("cannot be traced, running it eagerly") == 1


def test_a_net_in_training_mode_is_not_traced() -> None:
    with pytest.raises(ValueError, match="eval mode"):
        TracedPyMAF(_proxy_net().train(), torch.randn(1, 34, 64, 64))
