"""The registered mesh regressors: names, files and descriptions, without torch.

:mod:`studio.nets.model_registry` loads them; the command line lists them in its help
from here, so ``studio run --help`` does not wait for torch.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

MODELS_DIR = Path(__file__).resolve().parents[2] / "models"
OFFICIAL = "official-pymaf"
OFFICIAL_DESCRIPTION = "official PyMAF checkpoint (ResNet-50, RGB crops, SMPL)"


@dataclass(frozen=True)
class BuiltinModel:
    """A built-in model: where its weights file lives and what it was trained on."""

    path: Path
    input_kind: str
    description: str


BUILTIN_MODELS = {
    "builtin-pymaf-proxy": BuiltinModel(
        MODELS_DIR / "pymaf-proxy" / "pymaf-proxy.pt", "proxy",
        "built-in PyMAF on person-mask and keypoint maps (real photos via MediaPipe)"),
    "builtin-pymaf-rgb": BuiltinModel(
        MODELS_DIR / "pymaf-rgb" / "pymaf-rgb.pt", "rgb",
        "built-in PyMAF on RGB crops, trained on synthetic mannequin renders"),
}


def model_names() -> str:
    """Every registered name, comma-separated, for help texts."""
    return ", ".join([OFFICIAL, *BUILTIN_MODELS])
