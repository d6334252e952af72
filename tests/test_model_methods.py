"""Model methods (studio.pipeline.methods): the ``keypoint-fit`` model through ``studio
run`` and ``studio capture`` on the built-in samples, and a new method registered with
one table entry and its own module."""
from __future__ import annotations

import json
import sys
import types

import numpy as np
import pytest
import trimesh
from PIL import Image

from studio import cli
from studio.body.registry import load_body_model
from studio.nets import model_names, model_registry
from studio.pipeline import samples
from studio.pipeline.methods import LoadedMethod, MethodOutput
from torch_threads import one_torch_thread  # noqa: F401 (autouse fixture)

SAMPLES = ("astronaut", "grace_hopper", "mannequin")


@pytest.fixture
def studio(capsys, monkeypatch):
    """``studio COMMAND ARGS`` -> (exit code, stdout, stderr)."""
    monkeypatch.setattr(cli, "COMMAND_MODULES", ("run", "capture"))

    def call(*argv: object) -> tuple[int, str, str]:
        code = cli.main([*map(str, argv)])
        out, err = capsys.readouterr()
        return code, out, err

    return call


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    folder = tmp_path_factory.mktemp("samples")
    for name in SAMPLES:
        Image.fromarray(getattr(samples, name)()).save(folder / f"{name}.png")
    return folder


def test_keypoint_fit_is_registered_and_found() -> None:
    assert "keypoint-fit" in model_names.model_names()
    assert model_names.is_registered("keypoint-fit")
    info = {i.name: i for i in model_registry.available_models()}["keypoint-fit"]
    assert info.found and info.path.name == "smplr-3d.pt"
    model = model_registry.load_model("keypoint-fit")
    assert isinstance(model, LoadedMethod) and model.body_name == "mannequin"
    assert model.input_kind == "landmarks" and str(model.device) == "cpu"


@pytest.mark.parametrize("name", SAMPLES)
def test_run_places_the_fit_on_each_sample(studio, photos, tmp_path, name) -> None:
    export = tmp_path / f"{name}.obj"
    code, out, err = studio("run", photos / f"{name}.png", "--model", "keypoint-fit",
                            "--no-refine", "--export", export, "--json")
    assert code == 0, err
    info = json.loads(out)
    assert info["model"]["name"] == "keypoint-fit"
    [person] = info["people"]
    assert len(person["iterations"]) == 1
    # the mesh lies on the person: MediaPipe's mask and landmarks agree with it
    assert person["mask_iou"] > 0.55, person["mask_iou"]
    assert person["keypoint_error_px"] < 25, person["keypoint_error_px"]
    mesh = trimesh.load(export, force="mesh", process=False)
    assert len(mesh.vertices) == load_body_model("mannequin").data.num_vertices


def test_capture_with_keypoint_fit_exports_a_track(studio, tmp_path) -> None:
    clip = samples.write_sample_clip(tmp_path / "clip.avi", size=(320, 240))
    out = tmp_path / "track.npz"
    code, stdout, err = studio("capture", "--source", f"video:{clip}", "--frames", "4",
                               "--model", "keypoint-fit", "--export", out, "--json")
    assert code == 0, err
    info = json.loads(stdout)
    assert info["model"]["name"] == "keypoint-fit"
    data = np.load(out)
    assert data["poses"].shape[1] == 72 and len(data["poses"]) >= 3
    assert np.isfinite(data["poses"]).all()


def test_a_method_registers_with_one_entry_and_its_module(studio, photos, tmp_path,
                                                          monkeypatch) -> None:
    """A new method: a module with ``load`` and an entry in METHOD_MODELS; here the
    keypoint fit's body in the rest pose, centred on the crop."""
    from studio.pipeline.crops import image_camera
    from studio.pipeline.results import MeshIteration

    body = load_body_model("mannequin")
    rest = body()
    vertices = rest.vertices[0].numpy()
    points = rest.keypoints("mediapipe33")[0].double().numpy()
    called = []

    def run(image, person, transform, maps):
        called.append(person.landmarks.shape)
        cam = np.array([0.9, 0.0, 0.0], np.float32)
        flip = np.array([1.0, -1.0, -1.0], np.float32)  # y up -> the camera's y down
        it = MeshIteration(vertices=vertices * flip, joints=rest.joints[0].numpy() * flip,
                           cam=cam, image_camera=image_camera(cam, transform.box),
                           betas=np.zeros(10, np.float32), pose=np.zeros(72, np.float32),
                           keypoints_2d=np.zeros((49, 2), np.float32), sample_points=None,
                           pyramid_map=None)
        return MethodOutput(iterations=[it], keypoints=(points * flip)[None])

    module = types.ModuleType("rest_pose_method")
    module.load = lambda device, checkpoint: LoadedMethod(
        name="rest-pose", run=run, body=body, input_kind="none", input_size=96,
        source=tmp_path / "none")
    monkeypatch.setitem(sys.modules, "rest_pose_method", module)
    monkeypatch.setitem(model_names.METHOD_MODELS, "rest-pose",
                        model_names.MethodModel("rest_pose_method", (), "test"))
    code, out, err = studio("run", photos / "mannequin.png", "--model", "rest-pose",
                            "--json")
    assert code == 0, err
    info = json.loads(out)
    assert called and info["model"] == {"name": "rest-pose", "source": str(tmp_path / "none"),
                                        "input_kind": "none", "input_size": 96,
                                        "body": "mannequin"}
    person = info["people"][0]
    assert person["iterations"][0]["fitted_cam"] is not None  # the camera refit ran
    assert person["mask_iou"] > 0.3


def test_bench_live_measures_several_models_in_one_run(monkeypatch, capsys) -> None:
    """``--model A,B`` runs the live bench once per model, in order, and reports their fps
    side by side (the bench itself is tested in test_live_window.py)."""
    from studio.bench import live_speed

    ran = []

    def fake(source, frames, model, **options):
        ran.append((model, frames, options["in_flight"]))
        return {"model": model, "processed_fps": 2.0 if model == "a" else 7.0}

    monkeypatch.setattr(live_speed, "live_speed", fake)
    monkeypatch.setattr(live_speed, "live_table", lambda doc: f"table {doc['model']}")
    assert cli.main(["bench", "live", "--frames", "3", "--in-flight", "1", "--model", "a,b",
                     "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert ran == [("a", 3, 1), ("b", 3, 1)]
    assert doc["processed_fps"] == {"a": 2.0, "b": 7.0} and len(doc["runs"]) == 2
    assert cli.main(["bench", "live", "--frames", "3", "--model", "a,b"]) == 0
    assert capsys.readouterr().out.strip().endswith("processed fps, same run: a 2.0, b 7.0")
