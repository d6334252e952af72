"""Training: the loss falls, resuming is exact, the weights file loads, eval reports."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from studio.body.model import BodyModel
from studio.body.registry import find_body_model
from studio.cli import main
from studio.errors import ModelFileError
from studio.nets.model_registry import load_builtin, load_model, stored_state_dict
from studio.synth.dataset import SyntheticPeople
from studio.train.losses import pymaf_losses
from studio.train.metrics import procrustes_align
from studio.train.pymaf_train import TrainConfig, build_network, train

TINY = dict(size=32, batch_size=4, val_every=2, val_samples=4, checkpoint_every=2, hidden=64,
            pyramid_channels=16, lr=1e-3)


def test_a_few_steps_on_one_batch_lower_the_loss() -> None:
    torch.manual_seed(0)
    config = TrainConfig(**TINY)
    net = build_network(config)
    data = SyntheticPeople(BodyModel(find_body_model("mannequin")), "proxy", 32, 16)
    batch = data.batch("train", 0, 0, 8)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    totals = []
    for _ in range(25):
        loss = pymaf_losses(net(batch.inputs), batch)["total"]
        opt.zero_grad()
        loss.backward()
        opt.step()
        totals.append(loss.item())
    assert sum(totals[-3:]) / 3 < 0.7 * totals[0]


def _weights(run_dir: Path) -> dict[str, torch.Tensor]:
    return torch.load(run_dir / "checkpoint.pt", weights_only=False)["model"]


def test_resume_restores_step_and_optimizer_and_matches_one_run(tmp_path: Path) -> None:
    config = TrainConfig(steps=4, **TINY)
    train(config, tmp_path / "straight", progress=False)
    train(config, tmp_path / "sliced", progress=False, stop_after=2)
    ckpt = torch.load(tmp_path / "sliced" / "checkpoint.pt", weights_only=False)
    assert ckpt["step"] == 2 and ckpt["optimizer"]["state"]
    state = train(config, tmp_path / "sliced", progress=False)
    assert state.step == 4
    straight, sliced = _weights(tmp_path / "straight"), _weights(tmp_path / "sliced")
    for key, value in straight.items():
        torch.testing.assert_close(sliced[key], value, msg=key)
    log = (tmp_path / "sliced" / "log.csv").read_text().splitlines()
    assert log[0].startswith("step,") and len(log) == 3  # header and the two validations


def test_weights_file_loads_and_eval_reports_every_iteration(tmp_path: Path, capsys) -> None:
    out = tmp_path / "tiny.pt"
    train(TrainConfig(steps=2, **TINY), tmp_path / "run", out, progress=False)
    loaded = load_model(out)
    assert loaded.input_kind == "proxy" and loaded.input_size == 32
    assert main(["eval", "pymaf", "--model", str(out), "--samples", "6", "--batch-size", "3",
                 "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["samples"] == 6 and len(report["iterations"]) == 4
    assert all(v > 0 for it in report["iterations"] for v in it.values())


def test_procrustes_undoes_a_similarity_transform() -> None:
    gen = torch.Generator().manual_seed(0)
    points = torch.randn(3, 17, 3, generator=gen)
    q, _ = torch.linalg.qr(torch.randn(3, 3, 3, generator=gen))
    q = q * torch.linalg.det(q).sign()[:, None, None]  # proper rotations
    moved = 1.7 * points @ q + torch.tensor([0.1, -0.2, 0.3])
    torch.testing.assert_close(procrustes_align(moved, points), points, atol=1e-4, rtol=0)


def test_a_resumed_run_takes_the_new_rate_and_length(tmp_path: Path) -> None:
    """The checkpoint's scheduler holds the rate it started with; a resume with another
    --lr or --steps follows the new ones from its first step."""
    from studio.train.pymaf_train import _lr_factor

    train(TrainConfig(steps=4, **TINY), tmp_path / "run", progress=False, stop_after=2)
    config = TrainConfig(steps=6, **(TINY | {"lr": 1e-4}))
    train(config, tmp_path / "run", progress=False, stop_after=1)
    ckpt = torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=False)
    assert ckpt["step"] == 3 and ckpt["config"]["lr"] == 1e-4
    group = ckpt["optimizer"]["param_groups"][0]
    assert group["lr"] == 1e-4 * _lr_factor(3, 6) and group["initial_lr"] == 1e-4
    assert ckpt["scheduler"]["base_lrs"] == [1e-4]


def test_a_warm_start_with_a_new_readout_answers_like_its_source(tmp_path: Path) -> None:
    """--init-from a file without the keypoint readout: the new inputs start at zero, so
    the started net gives the file's answers; the flag round-trips through the CLI."""
    from studio.cli import build_parser
    from studio.train.pymaf_train import warm_start

    source = tmp_path / "plain.pt"
    train(TrainConfig(steps=2, **TINY), tmp_path / "plain", source, progress=False)
    config = TrainConfig(steps=2, keypoint_readout=True, init_from=str(source), **TINY)
    net = build_network(config)
    warm_start(net, source)
    data = SyntheticPeople(net.body, "proxy", 32, 16)
    crops = data.batch("val", 0, 0, 3).inputs
    with torch.no_grad():
        torch.testing.assert_close(net.eval()(crops).final.vertices,
                                   load_model(source).net(crops).final.vertices)
    state = train(config, tmp_path / "readout", tmp_path / "readout.pt", progress=False)
    assert state.step == 2 and load_model(tmp_path / "readout.pt").net.readout is not None

    parser = build_parser()
    args = parser.parse_args(["train", "pymaf", "--run-dir", "r", "--keypoint-readout"])
    assert args.keypoint_readout is True and args.init_from == ""
    assert parser.parse_args(["train", "pymaf", "--run-dir", "r"]).keypoint_readout is False
    bigger = build_network(TrainConfig(**(TINY | {"hidden": 32})))
    with pytest.raises(ModelFileError, match="fc1.weight has shape"):
        warm_start(bigger, source)
    with pytest.raises(ValueError, match="--input proxy"):
        TrainConfig(input="rgb", keypoint_readout=True)


def test_options_that_do_not_go_together_are_a_clear_error(tmp_path: Path, capsys) -> None:
    assert main(["train", "pymaf", "--input", "rgb", "--keypoint-readout", "--run-dir",
                 str(tmp_path / "run")]) == 2
    assert "studio: error: --keypoint-readout needs --input proxy" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def test_batches_made_by_worker_processes_train_the_same_weights(tmp_path: Path) -> None:
    """--data-workers only moves batch making into other processes: the same batches in
    the same order, and the dropout masks (the global generator) untouched. Workers run
    one torch thread, so this process does too, or float sums would round differently."""
    from studio.synth.stream import batches

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        data = SyntheticPeople(BodyModel(find_body_model("mannequin")), "proxy", 32, 16)
        here = list(batches(data, "train", 0, 2, range(3, 6)))
        made = list(batches(data, "train", 0, 2, range(3, 6), workers=2))
        for a, b in zip(here, made, strict=True):
            assert torch.equal(b.inputs, a.inputs) and torch.equal(b.vertices, a.vertices)
        assert torch.equal(here[0].inputs, data.batch("train", 0, 3, 2).inputs)
        train(TrainConfig(steps=3, dropout=0.5, **TINY), tmp_path / "here", progress=False)
        config = TrainConfig(steps=3, dropout=0.5, data_workers=1, **TINY)
        train(config, tmp_path / "workers", progress=False, stop_after=2)
        train(config, tmp_path / "workers", progress=False)
    finally:
        torch.set_num_threads(threads)
    workers = _weights(tmp_path / "workers")
    for key, value in _weights(tmp_path / "here").items():
        assert torch.equal(workers[key], value), key


def test_torchrun_trains_through_ddp_with_the_same_command(tmp_path: Path) -> None:
    """Under ``torchrun`` (here two CPU processes, gloo) the unchanged command trains one
    model: rank 0 writes the run folder and the weights, and the second process's
    batches take part, so the weights differ from a one-process run of the command."""
    tiny = [arg for key, value in TINY.items()
            for arg in (f"--{key.replace('_', '-')}", str(value))]

    def command(name: str) -> list[str]:
        return ["train", "pymaf", *tiny, "--steps", "2", "--threads", "1", "--no-progress",
                "--run-dir", str(tmp_path / name), "--out", str(tmp_path / f"{name}.pt")]

    env = {k: v for k, v in os.environ.items()
           if k not in ("WORLD_SIZE", "RANK", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")}
    done = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone",
                           "--nproc_per_node", "2", "-m", "studio", *command("ddp")],
                          capture_output=True, text=True, timeout=600, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.count("step 2: validation") == 1  # rank 0 alone validates
    assert main(command("one")) == 0
    ddp = stored_state_dict(load_builtin(tmp_path / "ddp.pt"))
    one = stored_state_dict(load_builtin(tmp_path / "one.pt"))
    assert ddp.keys() == one.keys()
    assert any(not torch.equal(ddp[k], one[k]) for k in ddp)
    log = (tmp_path / "ddp" / "log.csv").read_text().splitlines()
    assert len(log) == 2 and log[1].startswith("2,")
