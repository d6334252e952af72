"""The registered models: names, files and descriptions, without torch.

:mod:`studio.nets.model_registry` loads them; the command line lists them in its help
from here, so ``studio run --help`` does not wait for torch.

Two kinds: PyMAF-style crop nets (the official checkpoint and :data:`BUILTIN_MODELS`,
loaded as :class:`~studio.nets.model_registry.LoadedModel`) and *model methods*
(:data:`METHOD_MODELS`): anything else that turns a found person into meshes (a keypoint
fit, another paper's net), loaded by its own module as a
:class:`~studio.pipeline.methods.LoadedMethod`. Registering a method is one entry in
:data:`METHOD_MODELS` plus that module; :mod:`studio.pipeline.methods` says what the
module provides.
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


@dataclass(frozen=True)
class MethodModel:
    """A model method: the module whose ``load(device, checkpoint)`` makes it, the files
    it needs (found = all present; the first is where the window says to look) and what
    it does."""

    module: str
    files: tuple[Path, ...]
    description: str


SMPLR_3D_FILE = MODELS_DIR / "smplr" / "smplr-3d.pt"  # every method that ends in a keypoint fit
POINTHMR_FILE = MODELS_DIR / "pointhmr" / "pointhmr.pt"
METHOD_MODELS = {
    "keypoint-fit": MethodModel(
        "studio.pipeline.keypoint_method", (SMPLR_3D_FILE,),
        "MediaPipe's 3D world landmarks fitted by the keypoint fit (SMPLR), placed on the "
        "photo by a camera fitted to the 2D landmarks"),
    "builtin-pymaf-proxy-kpstart": MethodModel(
        "studio.pipeline.pymaf_kpstart", (BUILTIN_MODELS["builtin-pymaf-proxy"].path,
                                          SMPLR_3D_FILE),
        "the built-in proxy PyMAF with its feedback loop started from the keypoint fit's "
        "body instead of the mean parameters (tried; measured in its model card)"),
    "builtin-pointhmr": MethodModel(
        "studio.pipeline.pointhmr_method", (POINTHMR_FILE, SMPLR_3D_FILE),
        "built-in PointHMR on person-mask and keypoint maps: vertex heat-maps, k-hop masked "
        "transformer, mesh regressed directly (pose for refinement from the keypoint fit)"),
    "poseaug-lifter": MethodModel(
        "studio.pipeline.poseaug_lift", (MODELS_DIR / "poseaug" / "mlp-poseaug.pth.tar",
                                         SMPLR_3D_FILE),
        "MediaPipe's 2D landmarks lifted to a 3D skeleton by the PoseAug-trained estimator "
        "(--checkpoint: an official PoseAug file), body through the keypoint fit"),
}


def is_registered(name: str) -> bool:
    """Whether ``name`` is a registered model name (not a file)."""
    return name == OFFICIAL or name in BUILTIN_MODELS or name in METHOD_MODELS


def model_names() -> str:
    """Every registered name, comma-separated, for help texts."""
    return ", ".join([OFFICIAL, *BUILTIN_MODELS, *METHOD_MODELS])
