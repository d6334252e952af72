"""The models' thread count follows the cores and what else runs; waiting threads sleep."""
from __future__ import annotations

import json
import subprocess
import sys

from studio.pipeline.threads import choose_threads


def test_an_idle_machine_gets_every_core_but_the_reserved():
    assert choose_threads(cores=8, load=0.0).threads == 8
    assert choose_threads(cores=8, load=0.2, reserved=1).threads == 7


def test_a_busy_machine_gets_the_cores_left_and_never_none():
    assert choose_threads(cores=2, load=1.0).threads == 1
    assert choose_threads(cores=2, load=5.0).threads == 1
    assert choose_threads(cores=8, load=3.4).threads == 5
    assert choose_threads(cores=1, load=0.0, reserved=1).threads == 1


def test_a_requested_count_wins_and_the_choice_is_reported():
    choice = choose_threads(requested=3, cores=2, load=4.0)
    assert choice.threads == 3
    assert set(choice.as_dict()) == {"threads", "cores", "other_load", "reserved",
                                     "requested", "wait_policy"}


def test_the_cli_makes_waiting_threads_sleep_unless_told_otherwise():
    code = ("import os, studio.cli as c; c.main(['--version'])")
    env = {"PATH": "/usr/bin"}
    show = "; print(os.environ['OMP_WAIT_POLICY'])"
    for given, expected in ((None, "PASSIVE"), ("ACTIVE", "ACTIVE")):
        extra = {} if given is None else {"OMP_WAIT_POLICY": given}
        out = subprocess.run([sys.executable, "-c", f"import os\ntry:\n    {code}\n"
                              f"except SystemExit:\n    pass\n{show[2:]}"],
                             capture_output=True, text=True, env={**env, **extra}, check=True)
        assert out.stdout.strip().splitlines()[-1] == expected


def test_run_reports_the_thread_choice(capsys, tmp_path):
    import cv2
    import torch

    from studio import cli
    from studio.pipeline.samples import astronaut

    photo = tmp_path / "astronaut.png"
    cv2.imwrite(str(photo), cv2.cvtColor(astronaut(), cv2.COLOR_RGB2BGR))
    before = torch.get_num_threads()
    try:
        assert cli.main(["run", str(photo), "--json"]) == 0
        chosen = torch.get_num_threads()
    finally:
        torch.set_num_threads(before)
    info = json.loads(capsys.readouterr().out)["threads"]
    assert info["threads"] == chosen and info["requested"] == 0
    assert 1 <= info["threads"] <= info["cores"]
