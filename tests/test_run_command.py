"""``studio run``: image reading, the centred crop, exports, JSON and its error cases."""
from __future__ import annotations

import json

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
from studio.pipeline.single_image import (CropBox, centre_square_box, crop_image, read_image,
                                          to_input)

ARCH = {"backbone": "small", "pyramid_channels": 32}
STAGES = ["load_model", "decode", "crop", "net", "export"]


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
def image_file(tmp_path_factory):
    """160 x 120 with a bright square in the middle, so the crop has something to see."""
    pixels = np.full((120, 160, 3), 40, np.uint8)
    pixels[30:90, 50:110] = (220, 180, 120)
    path = tmp_path_factory.mktemp("image") / "person.png"
    Image.fromarray(pixels).save(path)
    return path


def test_cli_lists_run_and_bench() -> None:
    assert {"run", "bench"} <= set(cli.COMMAND_MODULES)


def test_run_writes_iterations_mesh_and_json(run, tmp_path, model_file, image_file) -> None:
    out_obj, folder = tmp_path / "final.obj", tmp_path / "iters"
    code, out, err = run(image_file, "--model", model_file, "--export", out_obj,
                          "--iterations-dir", folder, "--json")
    assert code == 0, err
    info = json.loads(out)
    assert info["model"] == {"name": "small", "source": str(model_file), "input_kind": "rgb",
                             "input_size": 96, "body": "mannequin"}
    assert info["image"] == {"path": str(image_file), "width": 160, "height": 120}
    assert info["crop"] == {"x": 20, "y": 0, "size": 120, "method": "centre-square"}
    iterations = info["iterations"]
    assert [it["index"] for it in iterations] == [0, 1, 2, 3]
    assert [it["sample_points"] for it in iterations] == [0, 441, 438, 438]
    for it in iterations:
        assert len(it["cam"]) == 3 and len(it["betas"]) == 10 and len(it["pose"]) == 72
    assert iterations[0]["cam"] == pytest.approx([0.9, 0.0, 0.0], abs=1e-3)  # float16 file
    assert iterations[0]["pose"][:3] == pytest.approx([np.pi, 0.0, 0.0], abs=1e-5)
    assert list(info["timings_ms"]) == STAGES
    assert all(v >= 0 for v in info["timings_ms"].values())
    assert info["outputs"] == [str(folder / f"iter{i}.obj") for i in range(4)] + [str(out_obj)]

    meshes = [trimesh.load(folder / f"iter{i}.obj", process=False) for i in range(4)]
    final = trimesh.load(out_obj, process=False)
    assert all(m.vertices.shape == (7000, 3) for m in meshes + [final])
    np.testing.assert_allclose(final.vertices, meshes[3].vertices, atol=1e-6)
    assert np.abs(meshes[3].vertices - meshes[0].vertices).max() > 1e-4
    assert not [p for p in tmp_path.rglob("*.part")]

    code, out, _ = run(image_file, "--model", model_file)
    assert code == 0 and "centred square crop 120 px at (20, 0)" in out


def test_other_export_types(run, tmp_path, model_file, image_file) -> None:
    for suffix in (".ply", ".glb"):
        code, _, err = run(image_file, "--model", model_file,
                            "--export", tmp_path / f"out{suffix}")
        assert code == 0, err
        mesh = trimesh.load(tmp_path / f"out{suffix}", force="mesh", process=False)
        assert mesh.vertices.shape == (7000, 3)
    code, out, err = run(image_file, "--model", model_file,
                          "--export", tmp_path / "out.npz", "--json")
    assert code == 0, err
    final = json.loads(out)["iterations"][-1]
    with np.load(tmp_path / "out.npz") as npz:
        assert npz["poses"].shape == (1, 72) and npz["betas"].shape == (10,)
        assert npz["trans"].shape == (1, 3) and str(npz["gender"]) == "neutral"
        assert str(npz["body_model"]) == "mannequin"
        assert npz["vertices"].shape == (7000, 3) and npz["faces"].shape[1] == 3
        np.testing.assert_allclose(npz["poses"][0], final["pose"], atol=1e-5)
        np.testing.assert_allclose(npz["betas"], final["betas"], atol=1e-5)
        trans = geometry.weak_perspective_to_translation(torch.tensor([final["cam"]]))
        np.testing.assert_allclose(npz["trans"], trans.numpy(), rtol=1e-4)
        assert npz["trans"][0, 2] == pytest.approx(2 * 5000 / (224 * final["cam"][0]), rel=1e-4)


def test_bad_images_are_input_errors(run, tmp_path, model_file) -> None:
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8 not really a jpeg")
    code, _, err = run(broken, "--model", model_file)
    assert code == 2 and "not an image OpenCV can decode" in err
    code, _, err = run(tmp_path / "absent.jpg", "--model", model_file)
    assert code == 2 and "cannot read the image" in err


def test_unwritable_destinations_leave_nothing(run, tmp_path, model_file, image_file) -> None:
    blocker = tmp_path / "file.txt"
    blocker.write_text("a file, not a folder")
    code, _, err = run(image_file, "--model", model_file,
                        "--export", blocker / "out.obj")
    assert code == 2 and "not a writable folder" in err
    code, _, err = run(image_file, "--model", model_file,
                        "--iterations-dir", blocker / "iters")
    assert code == 2 and "cannot create the folder" in err
    code, _, err = run(image_file, "--model", model_file, "--export", tmp_path / "a.stl")
    assert code == 2 and "unsupported type" in err
    # The write itself fails (the name is taken by a folder) after the net has run.
    taken = tmp_path / "taken.obj"
    taken.mkdir()
    code, _, err = run(image_file, "--model", model_file, "--export", taken)
    assert code == 2 and "cannot write the file" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file.txt", "taken.obj"]
    assert not list(taken.iterdir())


def test_proxy_models_need_the_photo_pipeline(run, tmp_path, image_file) -> None:
    code, _, err = run(image_file, "--model", "builtin-pymaf-proxy")
    assert code == 2 and "needs keypoints and a person mask" in err and "rgb model" in err
    net = PyMAF(find_body_model("mannequin"), in_channels=5, **ARCH)
    path = save_builtin(tmp_path / "proxy.pt", net, {**ARCH, "in_channels": 5},
                        {"kind": "proxy", "size": 96}, {})
    code, _, err = run(image_file, "--model", path)
    assert code == 2 and "needs keypoints and a person mask" in err


def test_official_checkpoint_by_flag(run, tmp_path, image_file) -> None:
    checkpoint = save_official(official_state_dict(load_manifest()), tmp_path / "official.pt")
    code, out, err = run(image_file, "--model", "official-pymaf", "--checkpoint",
                          checkpoint, "--export", tmp_path / "smpl.npz", "--json")
    assert code == 0, err
    info = json.loads(out)
    assert info["model"]["name"] == "official-pymaf" and info["model"]["body"] == "smpl-neutral"
    assert info["model"]["input_size"] == 224
    assert [it["sample_points"] for it in info["iterations"]] == [0, 441, 431, 431]
    with np.load(tmp_path / "smpl.npz") as npz:
        assert npz["vertices"].shape == (6890, 3) and npz["poses"].shape == (1, 72)


# ---------------------------------------------------------------- reading and cropping

def test_read_image_turns_exif_grey_and_alpha_into_upright_rgb(tmp_path) -> None:
    pixels = np.zeros((20, 40, 3), np.uint8)
    pixels[:, :10] = 255  # a white band on the left
    exif = Image.Exif()
    exif[0x0112] = 6  # stored rotated: turn 90 degrees clockwise to view
    Image.fromarray(pixels).save(tmp_path / "turned.jpg", exif=exif, quality=95)
    upright = read_image(tmp_path / "turned.jpg")
    assert upright.shape == (40, 20, 3) and upright.dtype == np.uint8
    assert upright[:10].mean() > 200 and upright[-10:].mean() < 50  # the band is now on top
    Image.fromarray(np.full((5, 7), 128, np.uint8)).save(tmp_path / "grey.png")
    assert read_image(tmp_path / "grey.png").shape == (5, 7, 3)
    rgba = np.zeros((5, 7, 4), np.uint8)
    rgba[..., 0] = 200
    Image.fromarray(rgba).save(tmp_path / "rgba.png")
    assert read_image(tmp_path / "rgba.png")[0, 0].tolist() == [200, 0, 0]


def test_centre_square_crop_and_normalisation() -> None:
    assert centre_square_box(160, 120) == CropBox(x=20, y=0, size=120)
    box = centre_square_box(101, 300)
    assert (box.x, box.y, box.size) == (0, 99, 101)
    image = np.zeros((300, 101, 3), np.uint8)
    image[99:200] = (124, 116, 104)  # ImageNet's mean colour inside the box only
    crop = crop_image(image, box, 64)
    assert crop.shape == (64, 64, 3) and (crop == (124, 116, 104)).all()
    x = to_input(crop, torch.device("cpu"))
    assert x.shape == (1, 3, 64, 64) and x.abs().max() < 0.01
