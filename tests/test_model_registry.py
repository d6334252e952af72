"""Model registry: built-in weights files, the official checkpoint search, names and paths."""
from __future__ import annotations

import copy

import pytest
import torch

from pymaf_fixtures import load_manifest, official_state_dict, save_official
from studio.body.registry import find_body_model
from studio.errors import ModelFileError, StudioError
from studio.nets import model_registry as mr
from studio.nets.pymaf import PyMAF

ARCH = {"backbone": "small", "pyramid_channels": 32}
INPUT = {"kind": "rgb", "size": 128}


@pytest.fixture(scope="module")
def small_net() -> PyMAF:
    torch.manual_seed(0)
    return PyMAF(find_body_model("mannequin"), **ARCH).eval()


@pytest.fixture(scope="module")
def saved(small_net, tmp_path_factory):
    return mr.save_builtin(tmp_path_factory.mktemp("builtin") / "sub" / "net.pt", small_net,
                           ARCH, INPUT, {"steps": 3, "data": "synthetic"})


@pytest.fixture
def search_dirs(tmp_path, monkeypatch):
    """$STUDIO_MODELS and ~ pointing at empty folders, so only files a test puts are found."""
    repo_folder = mr.official_search_dirs()[0]
    if any((repo_folder / name).is_file() for name in mr.OFFICIAL_FILE_NAMES):
        pytest.skip(f"an official checkpoint is installed in {repo_folder}")
    env = tmp_path / "models"
    env.mkdir()
    monkeypatch.setenv(mr.ENV_VAR, str(env))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    return env


def test_builtin_round_trip_is_small_and_exact_up_to_float16(small_net, saved) -> None:
    content = torch.load(saved, weights_only=True)
    assert content["format"] == "human-mesh-studio/pymaf-builtin" and content["version"] == 1
    assert content["body"] == "mannequin" and content["arch"] == ARCH
    assert content["input"] == INPUT and content["meta"]["steps"] == 3
    stored = content["state_dict"]
    assert not [k for k in stored if ".smpl." in k or k.endswith("Dmap")]
    assert set(stored) == set(mr.stored_state_dict(small_net))
    assert all(v.dtype in (torch.float16, torch.int64) for v in stored.values())
    numel = sum(v.numel() for v in stored.values())
    assert saved.stat().st_size < 2 * numel + 1_000_000  # float16 plus a little framing

    loaded = mr.load_builtin(saved)
    assert not loaded.training
    assert all(v.dtype != torch.float16 for v in loaded.state_dict().values())
    # The same net with its weights rounded to float16 must give the same outputs.
    rounded = copy.deepcopy(small_net)
    with torch.no_grad():
        for key, value in mr.stored_state_dict(rounded).items():
            if value.is_floating_point():
                value.copy_(value.half().float())
    crops = torch.randn(2, 3, 128, 128, generator=torch.Generator().manual_seed(0))
    with torch.inference_mode():
        expected, got, original = rounded(crops), loaded(crops), small_net(crops)
    for e, g, o in zip(expected.iterations, got.iterations, original.iterations, strict=True):
        torch.testing.assert_close(g.vertices, e.vertices, rtol=0, atol=1e-6)
        torch.testing.assert_close(g.theta, e.theta, rtol=0, atol=1e-5)
        torch.testing.assert_close(g.vertices, o.vertices, rtol=0, atol=1e-3)
    torch.testing.assert_close(got.final.dense["u"], expected.final.dense["u"])


def test_load_model_by_path_reports_how_to_feed_it(saved) -> None:
    model = mr.load_model(saved)
    assert (model.name, model.input_kind, model.input_size) == ("net", "rgb", 128)
    assert model.body_name == "mannequin" and model.source == saved
    assert model.meta == {"steps": 3, "data": "synthetic"}
    with pytest.raises(StudioError, match="goes with a model name"):
        mr.load_model(saved, checkpoint=saved)


def test_arch_keywords_pass_through(tmp_path) -> None:
    net = PyMAF(find_body_model("mannequin"), backbone="small", pyramid_channels=32,
                dense_head=False, in_channels=5)
    arch = {**ARCH, "dense_head": False, "in_channels": 5}
    path = mr.save_builtin(tmp_path / "proxy.pt", net, arch, {"kind": "proxy", "size": 96}, {})
    model = mr.load_model(path)
    assert model.net.dp_head is None and model.net.feature_extractor.conv1.in_channels == 5
    assert (model.input_kind, model.input_size) == ("proxy", 96)


def test_save_refuses_what_would_not_load_back(small_net, tmp_path) -> None:
    with pytest.raises(ValueError, match="input_spec"):
        mr.save_builtin(tmp_path / "a.pt", small_net, ARCH, {"kind": "depth", "size": 1}, {})
    with pytest.raises(ValueError, match="plain JSON"):
        mr.save_builtin(tmp_path / "b.pt", small_net, ARCH, INPUT, {"path": tmp_path})
    assert not list(tmp_path.iterdir())


def test_missing_builtin_says_it_is_not_built_yet(tmp_path, monkeypatch) -> None:
    absent = tmp_path / "pymaf-rgb.pt"
    monkeypatch.setitem(mr.BUILTIN_MODELS, "builtin-pymaf-rgb",
                        mr.BuiltinModel(absent, "rgb", "test entry"))
    with pytest.raises(ModelFileError) as err:
        mr.load_model("builtin-pymaf-rgb")
    message = str(err.value)
    assert "not built yet" in message and str(absent) in message
    assert "studio train pymaf --input rgb" in message and f"--out {absent}" in message
    assert "\n" not in message
    info = {i.name: i for i in mr.available_models()}["builtin-pymaf-rgb"]
    assert (info.found, info.path) == (False, absent)


def test_wrong_files_are_refused_with_the_reason(small_net, saved, tmp_path) -> None:
    text = tmp_path / "notes.pt"
    text.write_text("not a torch file")
    with pytest.raises(ModelFileError, match="not a model checkpoint .not a torch file.; expected a built-in"):
        mr.load_model(text)
    other = tmp_path / "other.pt"
    torch.save({"weights": torch.zeros(3)}, other)
    with pytest.raises(ModelFileError, match="not a model checkpoint; expected a built-in weights file"):
        mr.load_model(other)
    with pytest.raises(ModelFileError, match="not a built-in PyMAF weights file"):
        mr.load_builtin(other)
    with pytest.raises(ModelFileError, match="model file not found"):
        mr.load_model(tmp_path / "absent.pt")

    content = torch.load(saved, weights_only=True)
    future = tmp_path / "future.pt"
    torch.save({**content, "version": 2}, future)
    with pytest.raises(ModelFileError, match="version 2"):
        mr.load_builtin(future)

    state = dict(content["state_dict"])
    del state["regressor.2.deccam.bias"]
    state["regressor.0.fc2.weight"] = torch.zeros(3, 3, dtype=torch.float16)
    state["extra.weight"] = torch.zeros(1)
    damaged = tmp_path / "damaged.pt"
    torch.save({**content, "state_dict": state}, damaged)
    with pytest.raises(ModelFileError) as err:
        mr.load_model(damaged)
    lines = str(err.value).splitlines()
    assert "do not match their architecture" in lines[0]
    assert lines[1:] == [
        "  missing keys (1): regressor.2.deccam.bias",
        "  unexpected keys (1): extra.weight",
        "  wrongly shaped keys (1, file != model): regressor.0.fc2.weight (3, 3) != (1024, 1024)"]

    unknown_arch = tmp_path / "arch.pt"
    torch.save({**content, "arch": {**ARCH, "wings": 2}}, unknown_arch)
    with pytest.raises(ModelFileError, match="cannot build the architecture"):
        mr.load_model(unknown_arch)


def test_names_defaults_and_devices(search_dirs) -> None:
    with pytest.raises(ModelFileError, match="unknown model 'pymaf'.*official-pymaf"):
        mr.load_model("pymaf")
    assert mr.default_model_name("rgb") == "builtin-pymaf-rgb"
    assert mr.default_model_name("proxy") == "builtin-pymaf-proxy"
    with pytest.raises(ValueError):
        mr.default_model_name("depth")
    assert mr.registered_input_kind("builtin-pymaf-proxy") == "proxy"
    assert mr.registered_input_kind("some/file.pt") is None
    if not torch.cuda.is_available():
        with pytest.raises(StudioError, match="CUDA is not available"):
            mr.resolve_device("cuda")
    with pytest.raises(StudioError, match="unknown device"):
        mr.resolve_device("gpu")


def test_missing_official_says_where_it_looked(search_dirs) -> None:
    with pytest.raises(ModelFileError) as err:
        mr.load_model("official-pymaf")
    message = str(err.value)
    assert "\n" not in message
    for folder in (search_dirs, search_dirs / "pymaf", mr.REPO_ROOT / "models" / "pymaf"):
        assert str(folder) in message
    assert "PyMAF_model_checkpoint.pt" in message and "--checkpoint" in message
    assert "$STUDIO_MODELS" in message
    assert not {i.name: i for i in mr.available_models()}["official-pymaf"].found


def test_a_state_dict_under_model_is_read_as_official(tmp_path) -> None:
    path = tmp_path / "checkpoint.pt"
    torch.save({"model": {"regressor.0.fc1.weight": torch.zeros(1)}}, path)
    with pytest.raises(ModelFileError, match="not a PyMAF checkpoint with an SMPL model"):
        mr.load_model(path)


def test_official_checkpoint_found_through_studio_models(search_dirs) -> None:
    folder = search_dirs / "pymaf"
    folder.mkdir()
    path = save_official(official_state_dict(load_manifest()),
                         folder / "PyMAF_model_checkpoint.pt")
    assert mr.find_official_checkpoint() == path
    assert mr.default_model_name("rgb") == "official-pymaf"
    info = {i.name: i for i in mr.available_models()}["official-pymaf"]
    assert (info.found, info.path) == (True, path)
    model = mr.load_model("official-pymaf")
    assert (model.name, model.input_kind, model.input_size) == ("official-pymaf", "rgb", 224)
    assert model.body_name == "smpl-neutral" and model.source == path
    assert model.net.body.data.num_vertices == 6890 and not model.net.training
