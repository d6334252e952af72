"""``studio body``: info, export, build --check and snapshot, run in-process."""
from __future__ import annotations

import json
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pytest
import trimesh

import studio.body
from studio import cli
from studio.body import registry, smpl_files, storage
from test_smpl_files import synthetic_smpl_arrays


@pytest.fixture(scope="module")
def body():
    return smpl_files.body_data_from_smpl_arrays(synthetic_smpl_arrays(), name="synthetic",
                                                 source="test")


@pytest.fixture(scope="module")
def model_path(body, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("model") / "synthetic.npz"
    storage.save_body_npz(body, path)
    return path


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_info_json(capsys, body, model_path) -> None:
    code, out, _ = run(capsys, "body", "info", "--model", str(model_path), "--json")
    info = json.loads(out)
    assert code == 0
    assert info["vertices"] == body.num_vertices and info["faces"] == len(body.faces)
    assert len(info["joints"]) == 24 and info["joints"][0] == "pelvis"
    assert info["shape_components"] == 10 and info["landmarks"] == len(body.landmarks)
    assert info["downsampling"] == [642, 161, 41]
    assert info["source"] == str(model_path) and info["gender"] == "neutral"


def test_info_text(capsys, model_path) -> None:
    code, out, _ = run(capsys, "body", "info", "--model", str(model_path))
    assert code == 0 and "vertices: 642" in out and "downsampling: 642, 161, 41" in out


@pytest.mark.parametrize("suffix", [".obj", ".ply", ".glb"])
def test_export_formats(capsys, tmp_path, body, model_path, suffix: str) -> None:
    out = tmp_path / f"body{suffix}"
    code, _, _ = run(capsys, "body", "export", str(out), "--model", str(model_path),
                     "--betas", "1.5,-0.5")
    mesh = trimesh.load(out, force="mesh", process=False)
    assert code == 0 and len(mesh.vertices) == body.num_vertices
    assert len(mesh.faces) == len(body.faces)


def _exported(capsys, tmp_path: Path, model_path: Path, pose: str) -> np.ndarray:
    out = tmp_path / f"{Path(pose).stem}.ply"
    code, _, _ = run(capsys, "body", "export", str(out), "--model", str(model_path), "--pose", pose)
    assert code == 0
    return np.asarray(trimesh.load(out, process=False).vertices)


def test_pose_changes_vertices(capsys, tmp_path, body, model_path) -> None:
    rest = _exported(capsys, tmp_path, model_path, "rest")
    walk = _exported(capsys, tmp_path, model_path, "walk")
    np.testing.assert_allclose(rest, body.v_template, atol=1e-5)
    assert np.abs(walk - rest).max() > 0.05


def test_pose_from_npy(capsys, tmp_path, model_path) -> None:
    pose = np.zeros(72, np.float32)
    pose[3 * 16 + 2] = -1.0  # lower the left shoulder
    np.save(tmp_path / "pose.npy", pose)
    moved = _exported(capsys, tmp_path, model_path, str(tmp_path / "pose.npy"))
    rest = _exported(capsys, tmp_path, model_path, "rest")
    assert np.abs(moved - rest).max() > 0.01
    np.save(tmp_path / "short.npy", pose[:10])
    code, _, err = run(capsys, "body", "export", str(tmp_path / "x.obj"), "--model",
                       str(model_path), "--pose", str(tmp_path / "short.npy"))
    assert code == 2 and "72" in err and not (tmp_path / "x.obj").exists()


def test_unwritable_path(capsys, tmp_path, model_path) -> None:
    (tmp_path / "file.txt").write_text("in the way")
    out = tmp_path / "file.txt" / "body.obj"
    code, _, err = run(capsys, "body", "export", str(out), "--model", str(model_path))
    assert code == 2 and len(err.strip().splitlines()) == 1 and "file.txt is not a folder" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file.txt"]


@pytest.mark.parametrize("argv, code, text", [
    (["--betas", "1,x"], 2, "--betas"), (["--pose", "cartwheel"], 2, "cartwheel"),
    (["--model", "/nonexistent/model.pkl"], 3, "not found"),
])
def test_bad_arguments_one_line(capsys, tmp_path, model_path, argv, code, text) -> None:
    argv = ["--model", str(model_path), *argv] if "--model" not in argv else argv
    got, _, err = run(capsys, "body", "export", str(tmp_path / "b.obj"), *argv)
    assert got == code and text in err and len(err.strip().splitlines()) == 1


@pytest.fixture
def fake_mannequin(monkeypatch, body):
    module = types.SimpleNamespace(build_mannequin=lambda: body)
    monkeypatch.setitem(sys.modules, "studio.body.mannequin", module)
    monkeypatch.setattr(studio.body, "mannequin", module, raising=False)
    return module


def test_build_and_check(capsys, tmp_path, monkeypatch, body, fake_mannequin) -> None:
    monkeypatch.setattr(registry, "MANNEQUIN_PATH", tmp_path / "models" / "mannequin.npz")
    assert run(capsys, "body", "build")[0] == 0
    assert registry.MANNEQUIN_PATH.read_bytes() == storage.encode_body_npz(body)
    code, out, _ = run(capsys, "body", "build", "--check")
    assert code == 0 and out.startswith("identical") and "numpy dispatch" in out
    assert registry.find_body_model("mannequin").num_vertices == body.num_vertices

    changed = storage.load_body_npz(registry.MANNEQUIN_PATH)
    changed.v_template = changed.v_template + 0.01
    storage.save_body_npz(changed, registry.MANNEQUIN_PATH)
    code, out, _ = run(capsys, "body", "build", "--check")
    differ = next(line for line in out.splitlines() if line.startswith("arrays that differ"))
    assert code == 1 and "v_template" in differ and "weights" not in differ
    assert "NOT equivalent" in out and "height 0.00 mm" in out
    code, out, _ = run(capsys, "body", "build", "--check", "--json")
    report = json.loads(out)
    assert code == 1 and not report["identical"] and not report["geometry"]["equivalent"]
    assert report["geometry"]["joints_m"] == pytest.approx(0.01, abs=1e-4)
    assert set(report["environment"]["packages"]) >= {"numpy", "vtk", "pyvista"}


def test_build_out_path(capsys, tmp_path, body, fake_mannequin) -> None:
    out = tmp_path / "copy.npz"
    assert run(capsys, "body", "build", "--out", str(out))[0] == 0
    assert storage.is_studio_npz(out)
    assert run(capsys, "body", "build", "--out", str(out), "--check")[0] == 0


def test_snapshot_calls_renderer(capsys, tmp_path, monkeypatch, model_path) -> None:
    calls = []
    module = types.SimpleNamespace(
        render_body_grid=lambda data, out_path, size: calls.append((data.name, out_path, size)))
    monkeypatch.setitem(sys.modules, "studio.ui.body.snapshot", module)
    out = str(tmp_path / "grid.png")
    assert run(capsys, "body", "snapshot", out, "--model", str(model_path))[0] == 0
    assert calls == [("synthetic", out, (1600, 1200))]


def test_module_help() -> None:
    done = subprocess.run([sys.executable, "-m", "studio", "--help"], capture_output=True,
                          text=True, timeout=120, cwd=Path(__file__).resolve().parents[1])
    assert done.returncode == 0 and "body" in done.stdout
