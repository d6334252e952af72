"""``studio bench pymaf``: JSON schema, table, equality with the reference forward."""
from __future__ import annotations

import json

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from studio import cli
from studio.bench import pymaf_reference, pymaf_speed
from studio.body.registry import find_body_model
from studio.commands import bench
from studio.nets.pymaf import PyMAF

RESULT_KEYS = {"variant", "backbone", "pyramid_channels", "input_size", "batch", "body",
               "body_vertices", "sampled_vertices", "parameters_m", "ms_per_crop",
               "reference_ms_per_crop", "ratio", "max_abs_diff", "outputs_equal",
               "traced_ms_per_crop", "traced_ratio", "traced_max_abs_diff",
               "traced_outputs_equal", "busy_thread_ms_per_crop",
               "traced_busy_thread_ms_per_crop"}


@pytest.fixture
def studio(capsys, monkeypatch):
    """``studio ARGS`` with only ``bench`` registered -> (exit code, stdout, stderr)."""
    monkeypatch.setattr(cli, "COMMAND_MODULES", ("bench",))
    threads = torch.get_num_threads()

    def call(*argv: str) -> tuple[int, str, str]:
        code = cli.main(list(argv))
        out, err = capsys.readouterr()
        return code, out, err

    yield call
    torch.set_num_threads(threads)  # --threads changes the whole process


def test_tiny_pymaf_bench_prints_its_schema(studio) -> None:
    code, out, err = studio("bench", "pymaf", "--variants", "small-32,small-64",
                            "--input-sizes", "128", "--batch-sizes", "1", "--repeats", "1",
                            "--threads", "1", "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["benchmark"] == "pymaf" and doc["torch"] == torch.__version__
    assert doc["device"] == "cpu" and doc["threads"] == 1
    assert doc["repeats"] == 1 and isinstance(doc["method"], str) and doc["notes"] == []
    results = doc["results"]
    assert [(r["variant"], r["input_size"], r["batch"]) for r in results] == [
        ("small-32", 128, 1), ("small-64", 128, 1)]
    for r, channels in zip(results, (32, 64), strict=True):
        assert set(r) == RESULT_KEYS
        assert (r["backbone"], r["pyramid_channels"]) == ("small", channels)
        assert (r["body"], r["body_vertices"], r["sampled_vertices"]) == ("mannequin", 7000, 438)
        assert r["ms_per_crop"] > 0 and r["reference_ms_per_crop"] > 0 and r["ratio"] > 0
        assert r["outputs_equal"] is True and r["max_abs_diff"] <= pymaf_speed.TOLERANCE
        assert r["traced_ms_per_crop"] > 0 and r["traced_ratio"] > 0
        assert r["traced_outputs_equal"] is True
        assert r["busy_thread_ms_per_crop"] > 0 and r["traced_busy_thread_ms_per_crop"] > 0
    assert "bench pymaf" in err  # the progress bar goes to stderr

    table = bench.pymaf_table(doc)
    assert table.splitlines()[0].startswith(f"PyMAF speed: torch {torch.__version__}, cpu")
    assert len(table.splitlines()) == 2 + len(results)


def test_bad_bench_arguments(studio) -> None:
    code, _, err = studio("bench", "pymaf", "--variants", "small-32,huge")
    assert code == 2 and "unknown huge" in err
    code, _, err = studio("bench", "pymaf", "--variants", "official-r50", "--input-sizes", "128")
    assert code == 2 and "none of [128] is an input size of official-r50" in err
    code, _, err = studio("bench", "pymaf", "--repeats", "0")
    assert code == 2 and "--repeats must be at least 1" in err
    with pytest.raises(SystemExit) as exc:
        studio("bench", "pymaf", "--batch-sizes", "0")
    assert exc.value.code == 2
    assert studio("bench")[0] == 2  # no benchmark named: help and a usage exit code
    if not torch.cuda.is_available():  # said before any window opens
        code, _, err = studio("bench", "live", "--device", "cuda", "--frames", "2")
        assert code == 2 and "CUDA is not available" in err


def test_reference_forward_matches_ours_with_a_weighted_downsampling() -> None:
    """A downsampling that averages vertices (not one vertex per row) still agrees."""
    body = find_body_model("mannequin")
    rows = np.repeat(np.arange(body.downsampling[0].shape[0]), 2)
    cols = rows + np.tile([0, 1], len(rows) // 2)  # row r: mean of vertices r and r + 1
    body.downsampling[0] = sp.csr_matrix((np.full(len(rows), 0.5), (rows, cols)),
                                         shape=body.downsampling[0].shape)
    torch.manual_seed(0)
    net = PyMAF(body, backbone="small", pyramid_channels=32, dense_head=False).eval()
    assert ((net.maf_extractor[1].Dmap > 0).sum(1) == 2).all()
    crops = torch.randn(2, 3, 96, 96)
    with torch.inference_mode():
        ours, theirs = net(crops), pymaf_reference.ReferencePyMAF(net)(crops)
    assert theirs[1] is None
    assert pymaf_reference.max_difference(ours, theirs) < 1e-5


def test_reference_forward_matches_ours_with_keypoint_readout_and_relu_regressors() -> None:
    torch.manual_seed(0)
    net = PyMAF(find_body_model("mannequin"), backbone="small", in_channels=34,
                pyramid_channels=16, hidden=64, keypoint_readout=33,
                regressor_relu=True).eval()
    crops = torch.rand(2, 34, 64, 64)
    with torch.inference_mode():
        ours, theirs = net(crops), pymaf_reference.ReferencePyMAF(net)(crops)
    assert pymaf_reference.max_difference(ours, theirs) < 1e-5


def test_official_variant_notes_its_stand_in_body() -> None:
    chosen, notes = pymaf_speed.bodies(["official-r50", "small-32"])
    if chosen["official-r50"].num_vertices == pymaf_speed.SMPL_VERTICES:
        assert notes == []
    else:
        assert len(notes) == 1 and "stands in for SMPL's 6890" in notes[0]
    assert chosen["small-32"].name == "mannequin"
    assert pymaf_speed.configs(["small-32", "resnet18-64"], [4], [128]) == [
        pymaf_speed.Config("small-32", 128, 4)]
    assert pymaf_speed.configs(["official-r50", "small-64"], [1, 16]) == [
        pymaf_speed.Config("official-r50", 224, 1), pymaf_speed.Config("official-r50", 224, 16),
        pymaf_speed.Config("small-64", 128, 1), pymaf_speed.Config("small-64", 128, 16),
        pymaf_speed.Config("small-64", 224, 1), pymaf_speed.Config("small-64", 224, 16)]


def test_synth_bench_reports_samples_per_second(studio) -> None:
    code, out, _ = studio("bench", "synth", "--sizes", "32", "--inputs", "proxy,rgb",
                          "--batch", "2", "--batches", "1", "--threads", "1", "--json")
    assert code == 0
    doc = json.loads(out)
    assert [(r["input"], r["size"]) for r in doc["results"]] == [("proxy", 32), ("rgb", 32)]
    assert all(r["samples_per_s"] > 0 for r in doc["results"])


def test_render_bench_reports_each_size(studio) -> None:
    code, out, _ = studio("bench", "render", "--sizes", "32", "--batch", "2", "--repeats", "1",
                          "--json")
    assert code == 0
    doc = json.loads(out)
    assert doc["32"]["wall"]["samples_per_s"] > 0
