"""Reading and writing PoseAug's official checkpoint files.

Layouts read (see ``poseaug_api.md``): an estimator pretraining file
``{"state_dict", "epoch"}``, a PoseAug estimator file ``{"epoch", "model_pos"}``, a
training-state file with any of ``model_pos``/``model_G``/``model_d3d``/``model_d2d``, or
a bare state dict. The architecture and its sizes come from the keys and shapes; loading
is strict, and a mismatch names the missing, unexpected and mis-shaped keys.
"""
from __future__ import annotations

import re
from pathlib import Path

import torch
from torch import nn

from studio.errors import ModelFileError
from studio.nets.poseaug_augmentor import PoseAugmentor
from studio.nets.poseaug_discriminators import PoseDiscriminator2D, PoseDiscriminator3D
from studio.nets.poseaug_estimators import SemGCN, SimpleBaseline, VideoPose1f
from studio.nets.poseaug_stgcn import STGCN

PARTS = ("pose", "augmentor", "d3d", "d2d")
ENTRY_OF_PART = {"augmentor": "model_G", "d3d": "model_d3d", "d2d": "model_d2d"}
POSE_ENTRIES = ("state_dict", "model_pos")
ESTIMATOR_KINDS = ("mlp", "videopose", "gcn", "stgcn")


class PoseAugFileError(ModelFileError, ValueError):
    """A file that is not (or does not hold) the PoseAug module asked for."""


def _is_state_dict(obj: object) -> bool:
    return isinstance(obj, dict) and bool(obj) and all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in obj.items())


def file_parts(obj: object) -> dict[str, dict[str, torch.Tensor]]:
    """The modules a loaded file holds, by part name."""
    if _is_state_dict(obj):
        return {_part_of_keys(obj): obj}
    if not isinstance(obj, dict):
        return {}
    found = {}
    for entry in POSE_ENTRIES:
        if _is_state_dict(obj.get(entry)):
            found.setdefault("pose", obj[entry])
    for part, entry in ENTRY_OF_PART.items():
        if _is_state_dict(obj.get(entry)):
            found[part] = obj[entry]
    return found


def _part_of_keys(sd: dict) -> str:
    kind = detect_kind(sd)
    return kind if kind in ("augmentor", "d3d", "d2d") else "pose"


def detect_kind(sd: dict[str, torch.Tensor]) -> str:
    """The module kind of a state dict, from its keys."""
    keys = set(sd)
    if any(k.startswith("BAprocess.") for k in keys):
        return "augmentor"
    if any(k.startswith("kcs_path_") for k in keys):
        return "d3d"
    if "pose_layer_1.weight" in keys:
        return "d2d"
    if any(k.startswith("stgcn.") for k in keys):
        return "stgcn"
    if "gconv_output.W" in keys:
        return "gcn"
    if "expand_conv.weight" in keys:
        return "videopose"
    if "w1.weight" in keys and "w2.weight" in keys:
        return "mlp"
    raise PoseAugFileError("not a PoseAug state dict: its keys match no module "
                           f"(first keys: {', '.join(list(sd)[:4])})")


def _count(keys: set[str], pattern: str) -> int:
    found = {int(m.group(1)) for k in keys if (m := re.match(pattern, k))}
    return max(found) + 1 if found else 0


def build_module(kind: str, sd: dict[str, torch.Tensor]) -> nn.Module:
    """An untrained module of ``kind`` sized from ``sd``'s shapes."""
    keys = set(sd)
    if kind == "augmentor":
        return PoseAugmentor(width=sd["BAprocess.w1.weight"].shape[0],
                             num_stage=_count(keys, r"BAprocess\.linear_stages\.(\d+)\."))
    if kind == "d3d":
        w = sd["kcs_path_1.kcs_layer_1.weight"]
        return PoseDiscriminator3D(w.shape[0], sd["kcs_path_1.layer_last.weight"].shape[0])
    if kind == "d2d":
        return PoseDiscriminator2D(width=sd["pose_layer_1.weight"].shape[0])
    if kind == "mlp":
        return SimpleBaseline(sd["w1.weight"].shape[0], _count(keys, r"linear_stages\.(\d+)\."))
    if kind == "videopose":
        return VideoPose1f(sd["expand_conv.weight"].shape[0],
                           _count(keys, r"layers_conv\.(\d+)\.") // 2)
    if kind == "gcn":
        return SemGCN(sd["gconv_output.W"].shape[1], _count(keys, r"gconv_layers\.(\d+)\."))
    if kind == "stgcn":
        return STGCN()
    raise PoseAugFileError(f"unknown PoseAug module kind {kind!r}")


def load_state(module: nn.Module, sd: dict[str, torch.Tensor], where: str) -> None:
    """Strict load; a mismatch raises PoseAugFileError naming every bad key."""
    own = module.state_dict()
    missing = sorted(set(own) - set(sd))
    unexpected = sorted(set(sd) - set(own))
    shapes = sorted(f"{k} {tuple(sd[k].shape)} (expected {tuple(own[k].shape)})"
                    for k in set(own) & set(sd) if sd[k].shape != own[k].shape)
    if missing or unexpected or shapes:
        parts = [f"{label}: {', '.join(items[:6])}{' ...' if len(items) > 6 else ''}"
                 for label, items in (("missing keys", missing), ("unexpected keys", unexpected),
                                      ("mis-shaped keys", shapes)) if items]
        raise PoseAugFileError(f"{where}: does not match the official "
                               f"{getattr(module, 'kind', 'module')} layout ("
                               + "; ".join(parts) + ")")
    module.load_state_dict({k: v.float() if v.is_floating_point() else v
                            for k, v in sd.items()}, strict=True)


def read_file(path: str | Path) -> object:
    """``torch.load`` of a pre-1.6 or zip file, CUDA tensors mapped to the CPU."""
    path = Path(path)
    if not path.is_file():
        raise PoseAugFileError(f"{path}: no such file")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - any unpickling failure means "not a checkpoint"
        raise PoseAugFileError(f"{path}: not a readable torch checkpoint ({err})") from None


def load_official(path: str | Path, part: str | None = None, device: str = "cpu"
                  ) -> nn.Module:
    """The PoseAug module in ``path`` (``part``: "pose", "augmentor", "d3d" or "d2d";
    None when the file holds one module), on ``device``, in eval mode, with ``kind``."""
    if part is not None and part not in PARTS:
        raise ValueError(f"unknown part {part!r} (use {', '.join(PARTS)})")
    found = file_parts(read_file(path))
    if not found:
        raise PoseAugFileError(f"{path}: holds no PoseAug module (expected a state dict or "
                               "a dict with state_dict, model_pos, model_G, model_d3d or "
                               "model_d2d)")
    if part is None:
        if len(found) > 1:
            raise PoseAugFileError(f"{path}: holds several modules ({', '.join(found)}); "
                                   "choose one with part=")
        part = next(iter(found))
    if part not in found:
        raise PoseAugFileError(f"{path}: has no {part!r} module (it holds: "
                               f"{', '.join(found)})")
    sd = found[part]
    kind = detect_kind(sd)
    if (part == "pose") != (kind in ESTIMATOR_KINDS) or (part != "pose" and kind != part):
        raise PoseAugFileError(f"{path}: its {part!r} entry holds a {kind} state dict")
    module = build_module(kind, sd)
    load_state(module, sd, f"{path} ({part})")
    return module.to(device).eval()


def save_official(path: str | Path, payload: dict) -> None:
    """``torch.save`` ``payload`` (official layout dict) atomically."""
    from studio.body.storage import atomic_torch_save

    atomic_torch_save(payload, path)
