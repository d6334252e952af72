"""The shipped PyMAF weights reproduce the evaluation stored next to their model card.

``models/pymaf-*/eval/*.json`` hold `studio eval pymaf --json` outputs; a short one
(200 test people) is re-run here, so a changed renderer, body model or metric shows up
as a changed figure rather than a silently stale card.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from studio.cli import main

MODELS = Path(__file__).resolve().parents[1] / "models"
CHECKS = sorted(MODELS.glob("pymaf-*/eval/check-*.json"))


def test_there_are_stored_checks() -> None:
    assert {p.name for p in CHECKS} >= {"check-pymaf-proxy.json", "check-maf-1600.json",
                                         "check-ief-1600.json", "check-pymaf-rgb.json"}


@pytest.mark.parametrize("stored", CHECKS, ids=lambda p: p.stem)
def test_eval_reproduces_the_stored_figures(stored: Path, capsys) -> None:
    expected = json.loads(stored.read_text())
    model = stored.parent.parent / Path(expected["source"]).name
    assert main(["eval", "pymaf", "--model", str(model), "--samples", str(expected["samples"]),
                 "--seed", str(expected["seed"]), "--batch-size", "50", "--json"]) == 0
    got = json.loads(capsys.readouterr().out)
    for mine, theirs in zip(got["iterations"], expected["iterations"], strict=True):
        for metric, value in theirs.items():
            assert mine[metric] == pytest.approx(value, abs=0.5), metric
