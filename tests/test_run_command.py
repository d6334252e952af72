"""``studio run``: people found in photos, exports per person, overlay and label mask,
JSON, exit codes, and every kind of bad input.

Small nets with random weights keep it fast; the photos are real ones shipped with
scikit-image and matplotlib. How good the meshes are is tests/test_people.py's business.
"""
from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
import torch
import trimesh
from PIL import Image

from pymaf_fixtures import load_manifest, official_state_dict, save_official
from studio import cli
from studio.body.registry import find_body_model
from studio.nets import geometry
from studio.nets.model_registry import save_builtin
from studio.nets.pymaf import PyMAF
from torch_threads import one_torch_thread  # noqa: F401 (autouse fixture)

ARCH = {"backbone": "small", "pyramid_channels": 32}
STAGES = ["decode", "load_model", "load_detector", "detect", "crop", "net",
          "fit", "refine", "overlay", "export"]  # photos are refined unless --no-refine




@pytest.fixture
def run(capsys, monkeypatch):
    """``studio run ARGS`` -> (exit code, stdout, stderr). Only ``run`` is registered, so
    these tests neither import nor depend on the other commands."""
    monkeypatch.setattr(cli, "COMMAND_MODULES", ("run",))

    def call(*argv: object) -> tuple[int, str, str]:
        code = cli.main(["run", *map(str, argv)])
        out, err = capsys.readouterr()
        return code, out, err

    return call


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    torch.manual_seed(0)
    net = PyMAF(find_body_model("mannequin"), **ARCH)
    return save_builtin(tmp_path_factory.mktemp("model") / "small.pt", net, ARCH,
                        {"kind": "rgb", "size": 96}, {})


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    """The astronaut (one person) and a group of two: her and a smaller Grace Hopper."""
    from skimage import data

    cbook = pytest.importorskip("matplotlib.cbook")
    folder = tmp_path_factory.mktemp("photos")
    astronaut = data.astronaut()
    Image.fromarray(astronaut).save(folder / "astronaut.png")
    hopper = np.asarray(Image.open(cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)))
    group = np.full((600, 1200, 3), 200, np.uint8)
    group[88:600, 0:512] = astronaut
    group[300:600, 900:1156] = cv2.resize(hopper, (256, 300), interpolation=cv2.INTER_AREA)
    Image.fromarray(group).save(folder / "group.png")
    return {"astronaut": folder / "astronaut.png", "group": folder / "group.png",
            "pixels": astronaut}


def test_cli_lists_run_and_bench() -> None:
    assert {"run", "bench"} <= set(cli.COMMAND_MODULES)


def test_run_writes_iterations_mesh_and_json(run, tmp_path, model_file, photos) -> None:
    out_obj, folder = tmp_path / "final.obj", tmp_path / "iters"
    code, out, err = run(photos["astronaut"], "--model", model_file, "--export", out_obj,
                          "--iterations-dir", folder, "--json")
    assert code == 0, err
    info = json.loads(out)
    assert info["model"] == {"name": "small", "source": str(model_file), "input_kind": "rgb",
                             "input_size": 96, "body": "mannequin"}
    assert info["image"] == {"path": str(photos["astronaut"]), "width": 512, "height": 512,
                             "width_on_disk": 512, "height_on_disk": 512, "scale": 1.0}
    [person] = info["people"]
    x0, y0, x1, y1 = person["box"]
    assert 0 <= x0 < 60 and 0 <= y0 < 60 and 330 < x1 <= 512 and y1 > 480
    crop = person["crop"]
    assert crop["size"] == pytest.approx(1.25 * max(x1 - x0, y1 - y0), abs=0.02)
    assert crop["input_size"] == 96 and crop["align_corners"] is True
    keypoints = person["keypoints"]
    assert keypoints["layout"] == "mediapipe33"
    assert all(len(keypoints[k]) == 33 for k in ("image", "visibility", "world", "model"))
    assert person["keypoint_error_px"] > 0 and 0 <= person["mask_iou"] <= 1
    iterations = person["iterations"]
    assert [it["index"] for it in iterations] == [0, 1, 2, 3]
    assert [it["sample_points"] for it in iterations] == [0, 441, 438, 438]
    for it in iterations:
        assert len(it["cam"]) == 3 and len(it["betas"]) == 10 and len(it["pose"]) == 72
        assert it["fitted_cam"] is None or len(it["fitted_cam"]) == 3
        camera = it["image_camera"]
        assert camera["focal"] == pytest.approx(5000 * crop["size"] / 224, rel=1e-4)
        assert camera["centre"] == pytest.approx([crop["x"] + crop["size"] / 2,
                                                  crop["y"] + crop["size"] / 2], abs=0.01)
    assert iterations[0]["cam"] == pytest.approx([0.9, 0.0, 0.0], abs=1e-3)  # float16 file
    assert iterations[0]["pose"][:3] == pytest.approx([np.pi, 0.0, 0.0], abs=1e-5)
    assert list(info["timings_ms"]) == STAGES
    assert list(person["timings_ms"]) == ["crop", "net", "fit", "refine", "overlay"]
    assert all(v >= 0 for v in info["timings_ms"].values())
    assert info["outputs"] == [str(folder / f"iter{i}.obj") for i in range(4)] \
        + [str(folder / "refined.obj"), str(out_obj)]

    meshes = [trimesh.load(folder / f"{stem}.obj", process=False)
              for stem in ("iter0", "iter1", "iter2", "iter3", "refined")]
    final = trimesh.load(out_obj, process=False)
    assert all(m.vertices.shape == (7000, 3) for m in meshes + [final])
    np.testing.assert_allclose(final.vertices, meshes[4].vertices, atol=1e-6)  # the refined
    assert np.abs(meshes[3].vertices - meshes[0].vertices).max() > 1e-4
    assert not [p for p in tmp_path.rglob("*.part")]

    code, out, _ = run(photos["astronaut"], "--model", model_file)
    assert code == 0 and "1 person found" in out and "person 0: box (" in out

    code, out, err = run(photos["astronaut"], "--model", model_file, "--no-fit-camera", "--json")
    assert code == 0, err
    plain = json.loads(out)
    [unfitted] = plain["people"]
    assert "fit" not in plain["timings_ms"] and "fit" not in unfitted["timings_ms"]
    for it, net in zip(unfitted["iterations"], iterations):
        assert it["fitted_cam"] is None and it["cam"] == net["cam"]
        trans = geometry.weak_perspective_to_translation(torch.tensor([it["cam"]]))[0]
        assert it["image_camera"]["translation"] == pytest.approx(trans.tolist(), rel=1e-5)


def test_other_export_types(run, tmp_path, model_file, photos) -> None:
    for suffix in (".ply", ".glb"):
        code, _, err = run(photos["astronaut"], "--model", model_file,
                            "--export", tmp_path / f"out{suffix}")
        assert code == 0, err
        mesh = trimesh.load(tmp_path / f"out{suffix}", force="mesh", process=False)
        assert mesh.vertices.shape == (7000, 3)
    code, out, err = run(photos["astronaut"], "--model", model_file,
                          "--export", tmp_path / "out.npz", "--json")
    assert code == 0, err
    person = json.loads(out)["people"][0]
    final = person["refined"] or person["iterations"][-1]  # the refined step is the answer
    with np.load(tmp_path / "out.npz") as npz:
        assert npz["poses"].shape == (1, 72) and npz["betas"].shape == (10,)
        assert npz["trans"].shape == (1, 3) and str(npz["gender"]) == "neutral"
        assert str(npz["body_model"]) == "mannequin"
        assert npz["vertices"].shape == (7000, 3) and npz["faces"].shape[1] == 3
        np.testing.assert_allclose(npz["poses"][0], final["pose"], atol=1e-5)
        np.testing.assert_allclose(npz["betas"], final["betas"], atol=1e-5)
        placed = final["fitted_cam"] or final["cam"]  # the camera that places the mesh
        trans = geometry.weak_perspective_to_translation(torch.tensor([placed]))
        np.testing.assert_allclose(npz["trans"], trans.numpy(), rtol=1e-4)
        np.testing.assert_allclose(npz["trans"][0], final["image_camera"]["translation"],
                                   rtol=1e-4)


def test_several_people_get_numbered_files_overlay_and_label_mask(run, tmp_path, model_file,
                                                                   photos) -> None:
    out, folder = tmp_path / "out.obj", tmp_path / "iters"
    overlay, mask = tmp_path / "overlay.png", tmp_path / "mask.png"
    code, stdout, err = run(photos["group"], "--model", model_file, "--export", out,
                            "--iterations-dir", folder, "--overlay", overlay, "--mask", mask,
                            "--json")
    assert code == 0, err
    info = json.loads(stdout)
    assert len(info["people"]) == 2
    assert info["people"][0]["box"][2] < 520 and info["people"][1]["box"][0] > 890
    expected = [folder / f"iter{i}.obj" for i in range(4)] + [folder / "refined.obj", out] \
        + [folder / f"iter{i}_1.obj" for i in range(4)] + [folder / "refined_1.obj",
                                                           tmp_path / "out_1.obj", overlay, mask]
    assert info["outputs"] == [str(p) for p in expected]
    assert all(p.is_file() for p in expected)
    labels = np.asarray(Image.open(mask))
    assert labels.shape == (600, 1200) and labels.dtype == np.uint8
    assert set(np.unique(labels)) == {0, 1, 2}
    assert (np.nonzero(labels == 1)[1] < 700).all() and (np.nonzero(labels == 2)[1] > 700).all()
    drawn, photo = np.asarray(Image.open(overlay)), np.asarray(Image.open(photos["group"]))
    assert drawn.shape == photo.shape
    changed = (drawn != photo).any(axis=2)
    assert not changed[labels == 0].any() and changed[labels > 0].mean() > 0.95

    code, stdout, _ = run(photos["group"], "--model", model_file, "--max-people", "1", "--json")
    assert code == 0 and len(json.loads(stdout)["people"]) == 1


def test_no_person_exits_4_and_writes_nothing(run, tmp_path, model_file) -> None:
    wall = tmp_path / "wall.png"
    Image.fromarray(np.full((480, 640, 3), 128, np.uint8)).save(wall)
    code, out, err = run(wall, "--model", model_file, "--export", tmp_path / "out.glb",
                          "--overlay", tmp_path / "o.png", "--mask", tmp_path / "m.png",
                          "--iterations-dir", tmp_path / "iters", "--json")
    assert code == 4 and "no person found" in err and out == ""
    assert [p.name for p in tmp_path.iterdir()] == ["wall.png"]


def test_bad_images_are_input_errors(run, tmp_path, model_file, photos) -> None:
    whole = photos["astronaut"].read_bytes()
    cases = {
        "broken.jpg": (b"\xff\xd8 not really a jpeg", "not an image file"),
        "notes.png": (b"plain text", "not an image file"),
        "empty.jpg": (b"", "the file is empty"),
        "cut.png": (whole[:len(whole) // 3], "damaged or truncated"),
    }
    for name, (data, message) in cases.items():
        (tmp_path / name).write_bytes(data)
        code, _, err = run(tmp_path / name, "--model", model_file)
        assert code == 2 and message in err, (name, err)
    Image.fromarray(np.zeros((10, 12, 3), np.uint8)).save(tmp_path / "tiny.png")
    code, _, err = run(tmp_path / "tiny.png", "--model", model_file)
    assert code == 2 and "too small (12x10 px)" in err
    code, _, err = run(tmp_path / "absent.jpg", "--model", model_file)
    assert code == 2 and "cannot read the image" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([*cases, "tiny.png"])


def test_unusual_but_valid_photos_run(run, tmp_path, model_file, photos) -> None:
    grey16 = cv2.cvtColor(photos["pixels"], cv2.COLOR_RGB2GRAY).astype(np.uint16) * 257
    cv2.imwrite(str(tmp_path / "grey16.png"), grey16)
    rgba = np.dstack([photos["pixels"], np.full((512, 512), 255, np.uint8)])
    Image.fromarray(rgba).save(tmp_path / "rgba.png")
    for name in ("grey16.png", "rgba.png"):
        code, out, err = run(tmp_path / name, "--model", model_file, "--json")
        assert code == 0, err
        assert len(json.loads(out)["people"]) == 1


def test_unwritable_destinations_leave_nothing(run, tmp_path, model_file, photos) -> None:
    blocker = tmp_path / "file.txt"
    blocker.write_text("a file, not a folder")
    image = photos["astronaut"]
    code, _, err = run(image, "--model", model_file, "--export", blocker / "out.obj")
    assert code == 2 and "is not a folder" in err
    code, _, err = run(image, "--model", model_file, "--iterations-dir", blocker / "iters")
    assert code == 2 and "cannot create the folder" in err
    code, _, err = run(image, "--model", model_file, "--export", tmp_path / "a.stl")
    assert code == 2 and "unsupported type" in err
    code, _, err = run(image, "--model", model_file, "--mask", tmp_path / "m.jpg")
    assert code == 2 and "--mask" in err and "unsupported type" in err
    code, _, err = run(image, "--model", model_file, "--overlay", tmp_path / "o.gif")
    assert code == 2 and "--overlay" in err and "unsupported type" in err
    code, _, err = run(image, "--model", model_file, "--max-people", "0")
    assert code == 2 and "--max-people" in err
    # The name is taken by a folder: refused before the net runs.
    taken = tmp_path / "taken.obj"
    taken.mkdir()
    code, _, err = run(image, "--model", model_file, "--export", taken)
    assert code == 2 and "cannot write the file" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file.txt", "taken.obj"]
    assert not list(taken.iterdir())


def test_proxy_models_run_on_photos(run, tmp_path, photos) -> None:
    net = PyMAF(find_body_model("mannequin"), in_channels=34, **ARCH)
    path = save_builtin(tmp_path / "proxy.pt", net, {**ARCH, "in_channels": 34},
                        {"kind": "proxy", "size": 64}, {})
    code, out, err = run(photos["astronaut"], "--model", path, "--json")
    assert code == 0, err
    info = json.loads(out)
    assert info["model"]["input_kind"] == "proxy" and info["model"]["input_size"] == 64
    assert info["people"][0]["crop"]["input_size"] == 64


def test_official_checkpoint_by_flag(run, tmp_path, photos) -> None:
    checkpoint = save_official(official_state_dict(load_manifest()), tmp_path / "official.pt")
    code, out, err = run(photos["astronaut"], "--model", "official-pymaf", "--checkpoint",
                          checkpoint, "--export", tmp_path / "smpl.npz", "--json")
    assert code == 0, err
    info = json.loads(out)
    assert info["model"]["name"] == "official-pymaf" and info["model"]["body"] == "smpl-neutral"
    assert info["model"]["input_size"] == 224
    crop = info["people"][0]["crop"]
    assert crop["input_size"] == 224 and crop["align_corners"] is False  # SPIN's crop grid
    assert [it["sample_points"] for it in info["people"][0]["iterations"]] == [0, 441, 431, 431]
    with np.load(tmp_path / "smpl.npz") as npz:
        assert npz["vertices"].shape == (6890, 3) and npz["poses"].shape == (1, 72)


def test_bench_run_reports_every_stage(capsys, monkeypatch, model_file) -> None:
    monkeypatch.setattr(cli, "COMMAND_MODULES", ("bench",))
    code = cli.main(["bench", "run", "--model", str(model_file), "--repeats", "1",
                     "--threads", "1", "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    doc = json.loads(out)
    assert doc["image"]["width"] == 1280 and doc["image"]["height"] == 720
    assert doc["people"] == 1 and doc["threads"] == 1
    assert list(doc["stages_ms"]) == ["decode", "detect", "crop", "net", "fit", "refine",
                                      "overlay"]
    assert doc["total_ms"] == pytest.approx(sum(doc["stages_ms"].values()), abs=0.1)
