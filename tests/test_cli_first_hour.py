"""The command line as a new user first meets it (issue 24): quick help and usage errors
(no torch, OpenCV or Qt imported for them), every output path refused before any work
(and never a traceback or a window that cannot close), several outputs written all or
none, a corrupt model file named as such, huge photos read downscaled, overlays at a
sensible size, and help texts with their defaults."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from PIL import Image

from studio import cli
from studio.errors import StudioError
from studio.io.output import check_output_file, write_outputs
from studio.pipeline.images import decode_image_sized, read_image_sized

HEAVY = ("torch", "cv2", "PySide6", "mediapipe", "pyvista", "scipy", "trimesh", "skimage")
PROC = Path("/proc")
needs_proc = pytest.mark.skipif(not (PROC / "self").exists(), reason="needs Linux's /proc")


def _python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)


def _heavy_after(call: str) -> tuple[list[str], int, str]:
    """Run ``call`` (Python using ``studio.cli``) in a fresh interpreter: the heavy
    modules it imported, the exit code it returned and its stderr."""
    done = _python(
        "import sys, studio.cli\n"
        f"code = {call}\n"
        f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))\n"
        "print(code)\n")
    lines = done.stdout.strip().splitlines()
    return json.loads(lines[-2].replace("'", '"')), int(lines[-1]), done.stderr


@pytest.fixture(scope="module")
def model_file(tmp_path_factory) -> Path:
    from studio.body.registry import find_body_model
    from studio.nets.model_registry import save_builtin
    from studio.nets.pymaf import PyMAF

    arch = {"backbone": "small", "pyramid_channels": 32}
    torch.manual_seed(0)
    net = PyMAF(find_body_model("mannequin"), **arch)
    return save_builtin(tmp_path_factory.mktemp("model") / "small.pt", net, arch,
                        {"kind": "rgb", "size": 96}, {})


@pytest.fixture(scope="module")
def astronaut(tmp_path_factory) -> Path:
    from skimage import data

    path = tmp_path_factory.mktemp("photo") / "astronaut.png"
    Image.fromarray(data.astronaut()).save(path)
    return path


def _studio(capsys, *argv: object) -> tuple[int, str, str]:
    code = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


# ------------------------------------------------------------------ item 8: quick CLI

def test_help_and_version_import_nothing_heavy() -> None:
    heavy, code, _ = _heavy_after("studio.cli.build_parser() and 0")
    assert heavy == [] and code == 0
    done = subprocess.run([sys.executable, "-m", "studio", "--help"], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0
    for command in ("gui", "run", "capture", "body", "train", "eval", "bench"):
        assert f"\n    {command} " in done.stdout
    done = subprocess.run([sys.executable, "-m", "studio", "--version"], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.startswith("studio ")
    assert done.stdout.split()[1][0].isdigit()


@needs_proc
def test_usage_errors_and_bad_outputs_fail_before_any_heavy_import(tmp_path) -> None:
    """Refused before torch, OpenCV or Qt load: so at once, and a window that would never
    close (a screenshot it cannot save) is never opened."""
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(b"not looked at")
    cases = [
        (["run", photo, "--export", "/proc/x.obj"], "cannot write into /proc"),
        (["run", photo, "--overlay", "/proc/x.png", "--export", tmp_path / "x.obj"],
         "--overlay /proc/x.png"),
        (["run", photo, "--export", tmp_path / "missing" / "x.obj"],
         f"the folder {tmp_path / 'missing'} does not exist"),
        (["run", photo, "--max-people", "0"], "--max-people"),
        (["gui", photo, "--screenshot", "/proc/x.png", "--quit"], "--screenshot /proc/x.png"),
        (["gui", "--screenshot", tmp_path / "x.gif"], "unsupported type"),
        (["gui", "--checkpoint", tmp_path / "c.pt"], "--checkpoint goes with"),
        (["body", "view", "--screenshot", "/proc/x.png", "--quit"], "cannot write into /proc"),
        (["body", "snapshot", "/proc/x.png"], "cannot write into /proc"),
        (["body", "export", tmp_path / "missing" / "b.obj"], "does not exist"),
    ]
    for argv, message in cases:
        heavy, code, err = _heavy_after(f"studio.cli.main({[str(a) for a in argv]!r})")
        assert code == 2 and message in err, (argv, err)
        assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
        assert not {"torch", "cv2", "PySide6", "mediapipe"} & set(heavy), (argv, heavy)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["photo.jpg"]


def test_light_constants_match_the_modules_they_stand_for() -> None:
    from studio.body.model import NUM_BETAS
    from studio.commands import body, run
    from studio.io.export import EXPORT_TYPES
    from studio.io.images import IMAGE_TYPES
    from studio.pipeline.people import MAX_PEOPLE

    assert (run.MAX_PEOPLE, run.EXPORT_TYPES, run.IMAGE_TYPES, body.NUM_BETAS) == \
        (MAX_PEOPLE, EXPORT_TYPES, IMAGE_TYPES, NUM_BETAS)


def _help(capsys, *argv: str) -> str:
    with pytest.raises(SystemExit) as stop:
        cli.main([*argv, "--help"])
    assert stop.value.code == 0
    return capsys.readouterr().out


def _option_entries(text: str) -> dict[str, str]:
    """``--help`` output -> each option's first flag: its whole entry on one line."""
    entries: dict[str, str] = {}
    flag = None
    for line in text.split("options:")[1].splitlines():
        if line.lstrip().startswith("-"):
            flag = line.split()[0].rstrip(",")
            entries[flag] = " ".join(line.split())
        elif flag is not None and line.strip():
            entries[flag] += " " + " ".join(line.split())
    return entries


def test_help_texts_and_defaults(capsys) -> None:
    from dataclasses import fields

    from studio.train.pymaf_train import TrainConfig

    assert "where the mesh regressor runs" in _help(capsys, "run")
    entries = _option_entries(_help(capsys, "train", "pymaf"))
    for f in fields(TrainConfig):
        flag = f"--{f.name.replace('_', '-')}"
        shown = (flag if f.default else f"--no-{flag[2:]}") if isinstance(f.default, bool) \
            else str(f.default)
        assert entries[flag].endswith(f"(default: {shown})"), (flag, entries[flag])
    evaluation = _option_entries(_help(capsys, "eval", "pymaf"))
    assert evaluation["--samples"].endswith("evaluate on (default: 1000)")
    assert evaluation["--seed"].endswith("(default: 0)")
    for bench in ("gui", "render"):
        assert "--json" in _help(capsys, "bench", bench)
    gui = " ".join(_help(capsys, "gui").split())
    for flag in ("--checkpoint PATH", "--max-people N", "--threads N"):
        assert flag in gui


def test_render_bench_prints_a_table_without_json(capsys) -> None:
    code, out, _ = _studio(capsys, "bench", "render", "--sizes", "32", "--batch", "2",
                           "--repeats", "1")
    assert code == 0 and out.startswith("rasterizer: batch 2")
    assert out.splitlines()[2].split()[0] == "32"


def test_gui_flags_reach_the_window(monkeypatch, tmp_path, model_file) -> None:
    import studio.ui.app as app

    seen = {}
    monkeypatch.setattr(app, "run_studio", lambda **kw: seen.update(kw) or 0)
    code = cli.main(["gui", "--model", "builtin-pymaf-rgb", "--checkpoint", str(model_file),
                     "--max-people", "2", "--threads", "1"])
    assert code == 0
    assert (seen["model"], seen["checkpoint"], seen["max_people"], seen["threads"]) == \
        ("builtin-pymaf-rgb", model_file, 2, 1)


@pytest.mark.gui
def test_the_window_runs_the_checkpoint_with_the_asked_people_and_threads(
        qtbot, tmp_path, monkeypatch, model_file, astronaut) -> None:
    import studio.ui.app as app
    from PySide6.QtCore import QSettings

    QSettings.setPath(QSettings.Format.NativeFormat, QSettings.Scope.UserScope, str(tmp_path))
    monkeypatch.setattr(app, "FIRST_RENDER_DELAY_MS", 50)
    seen = {}

    def hook(window) -> None:
        def shown() -> None:
            seen["source"] = window.worker._model.source
            seen["people"] = len(window.document.result.people)
        window.result_shown.connect(shown)
        seen["window"] = window

    previous = torch.get_num_threads()
    try:
        assert app.run_studio(image=astronaut, model="builtin-pymaf-rgb",
                              checkpoint=model_file, max_people=1, threads=1,
                              script=app.Script(quit_after=True), window_hook=hook) == 0
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(previous)
    window = seen["window"]
    assert seen["source"] == model_file and seen["people"] == 1
    assert window.worker.max_people == 1 and window.worker.threads == 1
    window.set_model("builtin-pymaf-proxy", rerun=False)  # the file went with the other name
    assert window._choice().checkpoint is None


# ------------------------------------------------------------------ items 2 and 5: outputs

@needs_proc
def test_output_checks_say_what_is_wrong(tmp_path) -> None:
    with pytest.raises(StudioError, match="the folder .*missing does not exist"):
        check_output_file(tmp_path / "missing" / "a.obj", (".obj",), "--export")
    check_output_file(tmp_path / "missing" / "a.png", (".png",), make_folders=True)
    with pytest.raises(StudioError, match="cannot write into /proc"):
        check_output_file(PROC / "x.png", (".png",), make_folders=True)
    (tmp_path / "file").write_text("x")
    with pytest.raises(StudioError, match="is not a folder"):
        check_output_file(tmp_path / "file" / "a.obj", (".obj",))
    with pytest.raises(StudioError, match="unsupported type"):
        check_output_file(tmp_path / "a.stl", (".obj",))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]  # no probe left behind


def test_several_outputs_are_written_all_or_none(tmp_path) -> None:
    first, second = tmp_path / "a.obj", tmp_path / "gone" / "b.png"
    with pytest.raises(StudioError, match="no output was written"):
        write_outputs([(first, b"a"), (second, b"b")])
    assert sorted(p.name for p in tmp_path.iterdir()) == []
    first.write_bytes(b"old")
    assert write_outputs([(first, b"new"), (tmp_path / "c.png", b"c")]) == \
        [first, tmp_path / "c.png"]
    assert first.read_bytes() == b"new" and sorted(p.name for p in tmp_path.iterdir()) == \
        ["a.obj", "c.png"]


def test_run_with_one_bad_output_writes_nothing(capsys, tmp_path, model_file, astronaut) -> None:
    code, _, err = _studio(capsys, "run", astronaut, "--model", model_file,
                           "--export", tmp_path / "x.obj", "--overlay", tmp_path / "o.gif")
    assert code == 2 and "--overlay" in err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.gui
@needs_proc
def test_body_snapshot_into_proc_is_one_line(capsys) -> None:
    code, out, err = _studio(capsys, "body", "snapshot", "/proc/x.png")
    assert code == 2 and err.startswith("studio: error: /proc/x.png: cannot write into /proc")
    assert len(err.strip().splitlines()) == 1 and out == ""


# ------------------------------------------------------------------ item 6: messages

def test_a_corrupt_model_file_is_named_as_such(capsys, tmp_path, astronaut) -> None:
    corrupt = tmp_path / "corrupt.pt"
    corrupt.write_bytes(b"PK\x03\x04 a zip that stops here")
    for argv in (["--model", corrupt], ["--model", "official-pymaf", "--checkpoint", corrupt]):
        code, _, err = _studio(capsys, "run", astronaut, *argv)
        assert code == 3, err
        assert f"{corrupt}: not a model checkpoint (the file is damaged or cut short)" in err
        assert "expected" in err and "weights_only" not in err and "issue" not in err
    text = tmp_path / "notes.pt"
    text.write_text("hello")
    code, _, err = _studio(capsys, "run", astronaut, "--model", text)
    assert code == 3 and "not a model checkpoint (not a torch file)" in err


def test_huge_photos_are_read_downscaled(tmp_path) -> None:
    """A 12000x9000 JPEG (108 megapixels, past Pillow's bomb warning) decodes at half
    size; a PNG over the cap is shrunk to it; both report the size on disk."""
    picture = Image.new("RGB", (12000, 9000), (120, 130, 140))
    picture.paste((10, 200, 30), (0, 0, 6000, 9000))
    picture.save(tmp_path / "huge.jpg", quality=80)
    del picture
    rgb, size = read_image_sized(tmp_path / "huge.jpg")
    assert size == (12000, 9000) and rgb.shape == (4500, 6000, 3)
    assert abs(int(rgb[2000, 1000, 1]) - 200) < 8 and abs(int(rgb[2000, 5000, 2]) - 140) < 8
    small = np.zeros((300, 400, 3), np.uint8)
    ok, png = cv2.imencode(".png", small)
    rgb, size = decode_image_sized(png.tobytes(), "x.png", max_pixels=30_000)
    assert size == (400, 300) and rgb.shape[0] * rgb.shape[1] <= 30_000
    assert abs(rgb.shape[1] / rgb.shape[0] - 4 / 3) < 0.02


def test_run_reports_both_sizes_of_a_huge_photo(capsys, tmp_path, model_file,
                                                 monkeypatch, astronaut) -> None:
    """Past the pixel cap (lowered here so the photo stays small) the JSON gives the
    picture's size, the size on disk and the scale; the overlay is capped at 2048 px
    unless --overlay-full-size."""
    from studio.commands import run as run_command
    from studio.pipeline import images

    photo = cv2.resize(np.asarray(Image.open(astronaut)), (3000, 3000),
                       interpolation=cv2.INTER_NEAREST)
    Image.fromarray(photo).save(tmp_path / "big.jpg", quality=90)
    code, out, err = _studio(capsys, "run", tmp_path / "big.jpg", "--model", model_file,
                             "--overlay", tmp_path / "o.jpg", "--json")
    assert code == 0, err
    assert json.loads(out)["image"]["scale"] == 1.0
    assert Image.open(tmp_path / "o.jpg").size == (2048, 2048)
    code, _, err = _studio(capsys, "run", tmp_path / "big.jpg", "--model", model_file,
                           "--overlay", tmp_path / "full.jpg", "--overlay-full-size")
    assert code == 0, err
    assert Image.open(tmp_path / "full.jpg").size == (3000, 3000)
    assert run_command.OVERLAY_MAX_SIDE == 2048
    defaults = list(images.read_image_sized.__defaults__)
    monkeypatch.setattr(images.read_image_sized, "__defaults__", (2_250_000,))
    code, out, err = _studio(capsys, "run", tmp_path / "big.jpg", "--model", model_file,
                             "--json")
    assert code == 0, err
    shown = json.loads(out)["image"]
    assert (shown["width_on_disk"], shown["height_on_disk"]) == (3000, 3000)
    assert (shown["width"], shown["height"], shown["scale"]) == (1500, 1500, 0.5)
    assert defaults == [images.MAX_PIXELS]
