"""Loading the official PyMAF checkpoint into :class:`studio.nets.pymaf.PyMAF`, strictly.

The checkpoint embeds everything the net needs (SMPL arrays, the 431 x 6890 downsampling
map, mean parameters), so the body model is built from its own arrays and no licensed
SMPL file is required. A file that does not fit says how, in a few grouped lines.
"""
from __future__ import annotations

import pickle
import warnings
from collections.abc import Mapping
from pathlib import Path

import torch

from studio.body.smpl_files import PYMAF_HINT, body_data_from_pymaf_state_dict
from studio.errors import ModelFileError
from studio.nets.pymaf import PyMAF

DMAP_KEY = "maf_extractor.1.Dmap"
REPORT_LIMIT = 6  # keys named per group; the rest are counted


def _name_some(keys: list[str]) -> str:
    shown = ", ".join(keys[:REPORT_LIMIT])
    return shown + (f", ... ({len(keys) - REPORT_LIMIT} more)" if len(keys) > REPORT_LIMIT else "")


def mismatch_report(expected: Mapping[str, tuple[int, ...]],
                    found: Mapping[str, tuple[int, ...]]) -> str | None:
    """Missing / unexpected / wrongly shaped keys as grouped lines, or None if they match."""
    missing = [k for k in expected if k not in found]
    unexpected = [k for k in found if k not in expected]
    wrong = [f"{k} {tuple(found[k])} != {tuple(expected[k])}"
             for k in expected if k in found and tuple(found[k]) != tuple(expected[k])]
    groups = [(f"missing keys ({len(missing)})", missing),
              (f"unexpected keys ({len(unexpected)})", unexpected),
              (f"wrongly shaped keys ({len(wrong)}, file != model)", wrong)]
    lines = [f"  {title}: {_name_some(keys)}" for title, keys in groups if keys]
    return "\n".join(lines) if lines else None


OFFICIAL_FILE = "the official PyMAF checkpoint (a torch file with the state dict under 'model')"


def _unreadable(path: Path, err: BaseException) -> str:
    """Why torch could not read ``path``, in a few words (torch's own message advises
    options that do not apply to a file that is no checkpoint at all)."""
    if isinstance(err, OSError):
        return f"cannot read the file: {err.strerror or err}"
    if "Unsupported global" in str(err):
        return "it holds Python objects, not only tensors and plain data"
    try:
        with open(path, "rb") as fh:
            start = fh.read(4)
    except OSError as read_err:
        return f"cannot read the file: {read_err.strerror or read_err}"
    if not start:
        return "the file is empty"
    if start == b"PK\x03\x04" or isinstance(err, EOFError):  # torch files are zip archives
        return "the file is damaged or cut short"
    return "not a torch file"


def read_torch_file(path: Path, expected: str) -> object:
    """The content of the torch file ``path`` (tensors and plain data only, never code);
    anything else is a ModelFileError saying that the file is not a model checkpoint
    and that ``expected`` was."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch's notes on pickle protocols
            return torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, OSError, ValueError, KeyError,
            TypeError, AttributeError, IndexError) as err:
        raise ModelFileError(f"{path}: not a model checkpoint ({_unreadable(path, err)}); "
                             f"expected {expected}") from err


def _read_state_dict(path: Path) -> Mapping[str, torch.Tensor]:
    if not path.is_file():
        raise ModelFileError(f"{path}: PyMAF checkpoint not found; {PYMAF_HINT}")
    ckpt = read_torch_file(path, OFFICIAL_FILE)
    state = ckpt.get("model") if isinstance(ckpt, Mapping) else None
    if not isinstance(state, Mapping):
        raise ModelFileError(f"{path}: not a PyMAF checkpoint (expected a dict with the state "
                             f"dict under 'model'); {PYMAF_HINT}")
    return state


def load_official(path: str | Path, device: str | torch.device = "cpu") -> PyMAF:
    """The official PyMAF (ResNet-50, RGB, SMPL) with the checkpoint's weights, in eval mode."""
    path = Path(path)
    state = _read_state_dict(path)
    body = body_data_from_pymaf_state_dict(state, source=str(path))
    dmap = state.get(DMAP_KEY)
    if dmap is not None and (dmap.ndim != 2 or dmap.shape[1] != body.num_vertices):
        dmap = None  # reported below as a wrongly shaped key
    model = PyMAF(body, backbone="resnet50", in_channels=3, dmap=dmap)
    report = mismatch_report({k: tuple(v.shape) for k, v in model.state_dict().items()},
                             {k: tuple(getattr(v, "shape", ())) for k, v in state.items()})
    if report:
        raise ModelFileError(f"{path}: does not match the PyMAF architecture:\n{report}")
    model.load_state_dict(state, strict=True)
    return model.to(device).eval()
