"""The built-in PointHMR: it learns, its file round-trips, its losses and the mesh
errors measure what they say, and the commands reject bad input."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch

from studio.body.model import BodyModel
from studio.body.registry import find_body_model
from studio.errors import ModelFileError
from studio.nets import pointhmr_builtin
from studio.synth.dataset import SyntheticPeople
from studio.train.pointhmr_eval import mesh_errors_mm
from studio.train.pointhmr_losses import heatmap_losses, heatmap_targets, pointhmr_losses
from studio.train.pointhmr_train import mesh_targets


@pytest.fixture(scope="module")
def body() -> BodyModel:
    return BodyModel(find_body_model("mannequin"))


@pytest.fixture(scope="module")
def batch(body: BodyModel):
    return SyntheticPeople(body, "proxy", pointhmr_builtin.INPUT_SIZE, 4).batch("train", 0, 0, 4)


def test_builtin_trains_and_its_loss_falls(body: BodyModel, batch) -> None:
    torch.manual_seed(0)
    torch.set_num_threads(1)
    net = pointhmr_builtin.build(body)
    targets = mesh_targets(body)
    opt = torch.optim.AdamW(net.parameters(), lr=1e-3)
    losses = []
    for _ in range(12):
        loss = pointhmr_losses(net(batch.inputs, fine_heatmaps=False), batch, targets)
        opt.zero_grad()
        loss["total"].backward()
        opt.step()
        losses.append(loss["total"].item())
    assert all(torch.isfinite(torch.tensor(losses)))
    assert losses[-1] < 0.7 * losses[0], losses


def test_builtin_outputs(body: BodyModel, batch) -> None:
    net = pointhmr_builtin.build(body).eval()
    with torch.no_grad():
        out = net(batch.inputs[:2])
    assert out["vertices_full"].shape == (2, 7000, 3)
    assert out["vertices_coarse"].shape == (2, 438, 3)
    heat = out["heatmaps"]
    assert heat.shape == (2, 438, 32, 32)
    torch.testing.assert_close(heat.sum((2, 3)), torch.ones(2, 438))


def test_weights_file_round_trip(body: BodyModel, batch, tmp_path: Path) -> None:
    net = pointhmr_builtin.build(body).eval()
    path = pointhmr_builtin.save(tmp_path / "p.pt", net, "mannequin", {"steps": 0})
    loaded = pointhmr_builtin.load(path, body)
    assert loaded.meta == {"steps": 0}
    with torch.no_grad():
        a, b = net(batch.inputs[:1]), loaded(batch.inputs[:1])
    torch.testing.assert_close(a["vertices_full"], b["vertices_full"], atol=2e-3, rtol=1e-2)
    torch.save({"format": "something else"}, tmp_path / "bad.pt")
    with pytest.raises(ModelFileError, match="not a built-in PointHMR"):
        pointhmr_builtin.load(tmp_path / "bad.pt", body)
    with pytest.raises(ModelFileError, match="not found"):
        pointhmr_builtin.load(tmp_path / "missing.pt", body)


def test_heatmap_targets_and_losses() -> None:
    points = torch.tensor([[[0.0, 0.0], [0.5, -0.5]]])
    target = heatmap_targets(points, 16, 16)
    assert target.shape == (1, 2, 16, 16)
    peak = target[0, 1].flatten().argmax()
    assert (int(peak // 16), int(peak % 16)) in {(3, 11), (4, 12), (3, 12), (4, 11)}
    valid = torch.ones(1, 2)
    _, dice_right = heatmap_losses(10 * target, target, valid)
    _, dice_flat = heatmap_losses(torch.zeros_like(target), target, valid)
    assert dice_right < 0.3 < dice_flat


def test_mesh_errors(body: BodyModel, batch) -> None:
    regressor = pointhmr_builtin.vertex_regressor(body, "h36m17")
    true = batch.vertices
    moved = true + torch.tensor([0.1, -0.2, 0.3])
    errs = mesh_errors_mm(moved, true, regressor)
    assert errs["mpjpe"].max() < 1e-3 and errs["pve"].max() < 1e-3
    scaled = mesh_errors_mm(true * 1.1, true, regressor)
    assert scaled["pa_mpjpe"].max() < 1e-2 < scaled["mpjpe"].min()


@pytest.mark.parametrize("args", [["--samples", "0"], ["--model", "/nonexistent/p.pt"]])
def test_eval_rejects_bad_arguments(args: list[str]) -> None:
    done = subprocess.run([sys.executable, "-m", "studio", "eval", "pointhmr", "--no-photos",
                           *args], capture_output=True, text=True)
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0 and done.stderr.strip()


WEIGHTS = Path(__file__).resolve().parents[1] / "models" / "pointhmr" / "pointhmr.pt"
needs_weights = pytest.mark.skipif(not WEIGHTS.is_file(), reason=f"{WEIGHTS} not built")


@needs_weights
def test_shipped_weights_hold_their_card_figures(body: BodyModel) -> None:
    """The model card's 71.0 mm PA-MPJPE and 112.2 mm PVE (2,000 people) within noise on
    64 of them (72.1 / 113.8 there; the same run at 4,300 steps, 84.4 / 130.7, at 2,300,
    91.3 / 141.5, and the first file, 104.6 / 165.1, fail both bounds)."""
    from studio.train.pointhmr_eval import evaluate_meshes

    net = pointhmr_builtin.load(WEIGHTS, body)
    data = SyntheticPeople(body, "proxy", pointhmr_builtin.INPUT_SIZE, 4)
    with torch.inference_mode():
        errs = evaluate_meshes({"p": lambda x: net(x, fine_heatmaps=False)["vertices_full"]},
                               data, pointhmr_builtin.vertex_regressor(body, "h36m17"),
                               "test", 0, 64, 32)["p"]
    assert errs["pa_mpjpe"] < 78 and errs["pve"] < 121, errs


@needs_weights
def test_builtin_pointhmr_runs_as_a_model_choice() -> None:
    from studio.nets.model_registry import load_model
    from studio.pipeline.people import PersonFinder
    from studio.pipeline.samples import SAMPLES
    from studio.pipeline.single_image import run_person

    model = load_model("builtin-pointhmr")
    image = SAMPLES["mannequin"]()
    with PersonFinder() as finder:
        person = finder.find(image, max_people=1)[0]
    result = run_person(model, image, person)
    assert result.iterations[-1].vertices.shape == (7000, 3)
    assert result.mask_iou > 0.6 and result.keypoint_error_px < 8  # card: 0.734, 5.2 px


PYMAF_PROXY = Path(__file__).resolve().parents[1] / "models" / "pymaf-proxy" / "pymaf-proxy.pt"


@pytest.mark.skipif(not PYMAF_PROXY.is_file(), reason=f"{PYMAF_PROXY} not built")
def test_encoder_starts_from_the_pymaf_proxy_file(body: BodyModel, batch) -> None:
    """The started backbone gives the PyMAF file's pyramid maps and keypoint readout."""
    from studio.nets.model_registry import load_builtin

    net = pointhmr_builtin.build(body).eval()
    keys = pointhmr_builtin.init_from_pymaf(net, PYMAF_PROXY)
    assert any(k.startswith("readout.") for k in keys)
    pymaf = load_builtin(PYMAF_PROXY)
    x = batch.inputs[:2]
    with torch.no_grad():
        high, low = net.backbone(x)
        feature = pymaf.feature_extractor(x)
        torch.testing.assert_close(low, torch.nn.functional.avg_pool2d(feature, 2))
        torch.testing.assert_close(high, pymaf.deconv_layers[:6](feature))
        torch.testing.assert_close(net.readout(x), pymaf.readout(x))
    hrnet = pointhmr_builtin.build(body, pointhmr_builtin.BUILTIN_HRNET)
    with pytest.raises(ValueError, match="HRNet backbone"):
        pointhmr_builtin.init_from_pymaf(hrnet, PYMAF_PROXY)


def test_frozen_encoder_stays_put(body: BodyModel, batch) -> None:
    from studio.train.pointhmr_train import _freeze_encoder

    net = pointhmr_builtin.build(body)
    _freeze_encoder(net, True)
    before = {k: v.clone() for k, v in net.backbone.state_dict().items()}
    opt = torch.optim.AdamW([p for p in net.parameters()], lr=1e-2)
    pointhmr_losses(net(batch.inputs, fine_heatmaps=False), batch,
                    mesh_targets(body))["total"].backward()
    opt.step()
    for k, v in net.backbone.state_dict().items():
        torch.testing.assert_close(v, before[k], msg=k)
    _freeze_encoder(net, False)
    assert net.backbone.training and all(p.requires_grad for p in net.backbone.parameters())


def test_version_1_files_load_and_unknown_versions_are_named(body: BodyModel, batch,
                                                             tmp_path: Path) -> None:
    """A first-format file (HRNet network, no encoder fields) still loads; a newer one
    is refused with its version."""
    net = pointhmr_builtin.build(body, pointhmr_builtin.BUILTIN_HRNET).eval()
    path = pointhmr_builtin.save(tmp_path / "v1.pt", net, "mannequin", {})
    content = torch.load(path, weights_only=True)
    content["version"] = 1
    for key in ("proxy_pyramid", "keypoint_readout"):
        del content["config"][key]
    torch.save(content, path)
    loaded = pointhmr_builtin.load(path, body)
    assert loaded.config == pointhmr_builtin.BUILTIN_HRNET
    with torch.no_grad():
        torch.testing.assert_close(loaded(batch.inputs[:1])["vertices_full"],
                                   net(batch.inputs[:1])["vertices_full"], atol=2e-3, rtol=1e-2)
    content["version"] = 3
    torch.save(content, path)
    with pytest.raises(ModelFileError, match="version 3, this studio reads versions 1, 2"):
        pointhmr_builtin.load(path, body)
