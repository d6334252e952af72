"""PoseAug modules against values of the official computation.

``poseaug_official_values.json`` holds outputs of a line-by-line transcription of the
official code (jfzhang95/PoseAug f469ce4; torchgeometry 0.1.2's angle-axis conversion;
SemGCN's graph convolution) for weights drawn from fixed seeds in the manifest's key
order, on fixed inputs, with the augmentor's noise drawn after ``torch.manual_seed(7)``.
The contract's tolerance: 1e-4 + 1e-4 |value|.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from poseaug_fixtures import manifest_state
from reference_files import reference_file
from studio.nets import poseaug

VALUES = json.loads((Path(__file__).parent / "poseaug_official_values.json").read_text())
MODULES = {"augmentor": ("augmentor", 10), "d3d": ("discriminator_3d", 11),
           "d2d": ("discriminator_2d", 12), "gcn": ("gcn", 13), "stgcn": ("stgcn", 14)}


def close(got: torch.Tensor, want: list) -> None:
    want = torch.tensor(want)
    assert got.shape == want.shape
    assert torch.all((got - want).abs() <= 1e-4 + 1e-4 * want.abs())


@pytest.fixture(scope="module")
def manifest() -> dict:
    return json.loads(reference_file("poseaug_state_dict.json").read_text())["modules"]


@pytest.mark.parametrize("kind", MODULES)
def test_outputs_match_the_official_computation(tmp_path, manifest, kind):
    name, seed = MODULES[kind]
    torch.save({"epoch": 1, "model_pos" if kind in ("gcn", "stgcn") else
                {"augmentor": "model_G", "d3d": "model_d3d", "d2d": "model_d2d"}[kind]:
                manifest_state(manifest[name], seed)}, tmp_path / "f.pth.tar")
    module = poseaug.load_official(tmp_path / "f.pth.tar")
    pose, pose_2d = torch.tensor(VALUES["pose"]), torch.tensor(VALUES["pose_2d"])
    with torch.no_grad():
        if kind == "augmentor":
            torch.manual_seed(7)
            out = module(pose)
            for key, want in VALUES["augmentor"].items():
                close(out[key], want)
        else:
            close(module(pose if kind == "d3d" else pose_2d), VALUES[kind])
