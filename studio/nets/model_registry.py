"""Models by name: the official PyMAF checkpoint, the built-in weights and the model
methods (:mod:`studio.pipeline.methods`, e.g. ``keypoint-fit``).

Commands and the GUI ask for a model by name (or a file path) and get back the net plus
what feeding it needs (input kind and size), so adding a model touches the tables of
:mod:`studio.nets.model_names` only (and a method its own module).

Built-in weights use a small file format of their own: the body model's arrays and the
downsampling map are rebuilt from the named body model on loading instead of being
stored, and weights are stored as float16, so the shipped files stay small.
"""
from __future__ import annotations

import importlib
import json
import os
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from studio.body.registry import ENV_VAR, REPO_ROOT, expand_search_dirs, find_body_model
from studio.body.smpl_files import PYMAF_HINT
from studio.body.storage import atomic_torch_save
from studio.errors import ModelFileError, StudioError
from studio.nets.model_names import (  # noqa: F401 (BuiltinModel: the registry's API)
    BUILTIN_MODELS, METHOD_MODELS, OFFICIAL, OFFICIAL_DESCRIPTION, BuiltinModel)
from studio.nets.pymaf import PyMAF, PyMAFOutput
from studio.nets.pymaf_official import (OFFICIAL_FILE, load_official, mismatch_report,
                                        read_torch_file)
from studio.nets.traced import TracedPyMAF

if TYPE_CHECKING:
    from studio.body.model import BodyModel
    from studio.pipeline.methods import LoadedMethod

BUILTIN_FORMAT = "human-mesh-studio/pymaf-builtin"
BUILTIN_VERSION = 1
OFFICIAL_FILE_NAMES = ("PyMAF_model_checkpoint.pt", "pymaf.pt")
OFFICIAL_INPUT_SIZE = 224
# Where the official checkpoint is looked for, in order; "$STUDIO_MODELS" stands for each
# of its folders.
OFFICIAL_SEARCH_DIRS = (
    str(REPO_ROOT / "models" / "pymaf"),
    f"${ENV_VAR}",
    f"${ENV_VAR}/pymaf",
    "~/.cache/human-mesh-studio/pymaf",
)
TRAIN_HINT = "build them with `studio train pymaf` (see `studio train pymaf --help`)"
INPUT_KINDS = ("rgb", "proxy")
# State-dict entries rebuilt from the body model when loading, so never stored.
_REBUILT_KEY = re.compile(r"^(regressor\.\d+\.smpl\.|maf_extractor\.\d+\.Dmap$)")




@dataclass
class LoadedModel:
    """A mesh regressor ready to run (eval mode, on its device) and how to feed it."""

    name: str
    net: PyMAF
    input_kind: str  # "rgb" (ImageNet-normalised crops) or "proxy" (mask + keypoint maps)
    input_size: int  # square crop side in pixels
    body_name: str
    source: Path
    meta: dict = field(default_factory=dict)  # the built-in file's training record
    # Run single crops through a frozen TorchScript trace (made at the first one, about
    # 0.3 s): long-running callers such as the GUI's worker turn this on.
    traced: bool = False
    _trace: TracedPyMAF | None = field(default=None, init=False, repr=False)
    _trace_failed: bool = field(default=False, init=False, repr=False)

    @property
    def body(self) -> BodyModel:
        """The body model the net's meshes are made of (as a method's ``body``)."""
        return self.net.body

    @property
    def device(self) -> torch.device:
        return next(self.net.parameters()).device

    def infer(self, crops: torch.Tensor) -> PyMAFOutput:
        """The net's forward on ``crops`` (on its device), traced where :attr:`traced` says
        so and the crops fit the trace; eager otherwise, and if tracing fails (reported
        once on stderr: a net that cannot be traced still runs)."""
        if not self.traced or crops.shape[0] != 1 or self._trace_failed:
            return self.net(crops)
        if self._trace is None:
            try:
                self._trace = TracedPyMAF(self.net, crops)
            except Exception as err:  # noqa: BLE001 (eager still works; say why it is slower)
                self._trace_failed = True
                print(f"studio: {self.name} cannot be traced, running it eagerly: "
                      f"{type(err).__name__}: {err}", file=sys.stderr)
                return self.net(crops)
        return self._trace(crops) if self._trace.accepts(crops) else self.net(crops)


@dataclass
class ModelInfo:
    """One entry of :func:`available_models`."""

    name: str
    description: str
    found: bool
    path: Path  # where it was found, or where it would be looked for first


def resolve_device(name: str | torch.device) -> torch.device:
    """``name`` as a torch device, or a StudioError when this machine cannot use it."""
    try:
        device = torch.device(name)
    except RuntimeError as err:
        raise StudioError(f"unknown device {name!r} (use cpu or cuda)") from err
    if device.type == "cuda" and not torch.cuda.is_available():
        raise StudioError(f"device {name!r}: CUDA is not available to torch {torch.__version__}")
    return device


# ---------------------------------------------------------------- official checkpoint

def official_search_dirs() -> list[Path]:
    """:data:`OFFICIAL_SEARCH_DIRS`, expanded."""
    return expand_search_dirs(OFFICIAL_SEARCH_DIRS)


def find_official_checkpoint() -> Path | None:
    """The first official PyMAF checkpoint in the search folders, or None."""
    for folder in official_search_dirs():
        for name in OFFICIAL_FILE_NAMES:
            if (folder / name).is_file():
                return folder / name
    return None


def _missing_official_message() -> str:
    searched = ", ".join(str(d) for d in official_search_dirs())
    return (f"{OFFICIAL}: no {' / '.join(OFFICIAL_FILE_NAMES)} in {searched} (set ${ENV_VAR} "
            f"to add folders, '{os.pathsep}'-separated, or pass --checkpoint PATH); "
            f"{PYMAF_HINT} and put it in one of those folders")


def _official(path: Path, device: torch.device) -> LoadedModel:
    net = load_official(path, device)
    return LoadedModel(name=OFFICIAL, net=net, input_kind="rgb",
                       input_size=OFFICIAL_INPUT_SIZE, body_name=net.body.data.name,
                       source=path)


# ---------------------------------------------------------------- built-in weights

def stored_state_dict(net: PyMAF) -> dict[str, torch.Tensor]:
    """The entries of ``net.state_dict()`` a built-in file stores (not the rebuilt ones)."""
    return {k: v for k, v in net.state_dict().items() if not _REBUILT_KEY.match(k)}


def save_builtin(path: str | os.PathLike, net: PyMAF, arch: dict, input_spec: dict,
                 meta: dict) -> Path:
    """Write ``net`` as a built-in weights file, atomically; returns the path.

    ``arch`` holds the PyMAF keyword arguments that rebuild the net on its body model,
    ``input_spec`` says what it eats (``{"kind": "rgb" | "proxy", "size": 224}``) and
    ``meta`` is the training record (command, data, steps, metrics) for the model card.
    """
    if input_spec.get("kind") not in INPUT_KINDS or not isinstance(input_spec.get("size"), int):
        raise ValueError(f"input_spec must be {{'kind': one of {INPUT_KINDS}, 'size': int}}, "
                         f"not {input_spec!r}")
    try:  # plain values only: they must load with weights_only and go into model cards
        json.dumps({"arch": arch, "input": input_spec, "meta": meta})
    except (TypeError, ValueError) as err:
        raise ValueError(f"arch, input_spec and meta must hold plain JSON values ({err})") \
            from err
    state = {}
    for key, value in stored_state_dict(net).items():
        value = value.detach().cpu()
        if value.is_floating_point():
            half = value.half()
            if not torch.isfinite(half).all() and torch.isfinite(value).all():
                raise ValueError(f"{key}: values beyond float16's range cannot be stored")
            value = half
        state[key] = value.clone()  # a view would save its whole underlying storage
    payload = {"format": BUILTIN_FORMAT, "version": BUILTIN_VERSION,
               "body": net.body.data.name, "arch": dict(arch), "input": dict(input_spec),
               "meta": dict(meta), "state_dict": state}
    return atomic_torch_save(payload, path, make_folders=True)


MODEL_FILES = (f"a built-in weights file ({BUILTIN_FORMAT}, written by `studio train pymaf "
               f"--out`) or {OFFICIAL_FILE}")


def _torch_file(path: Path) -> object:
    """A model file's content (tensors and plain data only)."""
    return read_torch_file(path, MODEL_FILES)


def _is_builtin(content: object) -> bool:
    return isinstance(content, Mapping) and content.get("format") == BUILTIN_FORMAT


def read_builtin(path: str | os.PathLike) -> dict:
    """The checked content of a built-in weights file (see :func:`save_builtin`)."""
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"{path}: built-in weights not found; {TRAIN_HINT}")
    return _checked_builtin(_torch_file(path), path)


def _checked_builtin(content: object, path: Path) -> dict:
    if not _is_builtin(content):
        raise ModelFileError(f"{path}: not a built-in PyMAF weights file (format "
                             f"{BUILTIN_FORMAT!r} expected); {TRAIN_HINT}")
    if content.get("version") != BUILTIN_VERSION:
        raise ModelFileError(f"{path}: built-in weights version {content.get('version')!r}, "
                             f"this studio reads version {BUILTIN_VERSION}; {TRAIN_HINT}")
    kinds = {"arch": dict, "input": dict, "meta": dict, "state_dict": Mapping, "body": str}
    bad = [k for k, kind in kinds.items() if not isinstance(content.get(k), kind)]
    if bad or content["input"].get("kind") not in INPUT_KINDS:
        raise ModelFileError(f"{path}: damaged built-in weights file (bad or missing "
                             f"{', '.join(bad) or 'input kind'})")
    return dict(content)


def _build_builtin(content: dict, path: Path, device: torch.device) -> PyMAF:
    try:
        net = PyMAF(find_body_model(content["body"]), **content["arch"])
    except (TypeError, ValueError) as err:
        raise ModelFileError(f"{path}: this studio cannot build the architecture "
                             f"{content['arch']} ({err})") from err
    expected = {k: tuple(v.shape) for k, v in stored_state_dict(net).items()}
    state = content["state_dict"]
    found = {k: tuple(v.shape) if isinstance(v, torch.Tensor) else ("not a tensor",)
             for k, v in state.items()}
    report = mismatch_report(expected, found)
    if report:
        raise ModelFileError(f"{path}: the weights do not match their architecture "
                             f"{content['arch']}:\n{report}")
    # Exactly the stored keys are checked above; the rest are the rebuilt body buffers.
    net.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in state.items()},
                        strict=False)
    return net.to(device).eval()


def load_builtin(path: str | os.PathLike, device: str | torch.device = "cpu") -> PyMAF:
    """The net a built-in weights file describes, with its weights as float32, in eval mode."""
    path = Path(path)
    return _build_builtin(read_builtin(path), path, resolve_device(device))


def _builtin(name: str, path: Path, content: dict, device: torch.device) -> LoadedModel:
    net = _build_builtin(content, path, device)
    spec = content["input"]
    return LoadedModel(name=name, net=net, input_kind=spec["kind"], input_size=int(spec["size"]),
                       body_name=content["body"], source=path, meta=content["meta"])


# ---------------------------------------------------------------- by name

def available_models() -> list[ModelInfo]:
    """Every registered model, whether its file is present, and where."""
    official = find_official_checkpoint()
    first = official_search_dirs()[0] / OFFICIAL_FILE_NAMES[0]
    infos = [ModelInfo(OFFICIAL, OFFICIAL_DESCRIPTION, official is not None, official or first)]
    infos += [ModelInfo(name, m.description, m.path.is_file(), m.path)
              for name, m in BUILTIN_MODELS.items()]
    for name, method in METHOD_MODELS.items():
        missing = [f for f in method.files if not f.is_file()]
        infos.append(ModelInfo(name, method.description, not missing,
                               (missing or method.files)[0]))
    return infos


def registered_input_kind(name: str) -> str | None:
    """What a registered model eats, known without loading it; None for other names."""
    if name == OFFICIAL:
        return "rgb"
    return BUILTIN_MODELS[name].input_kind if name in BUILTIN_MODELS else None


def default_model_name(input_kind: str) -> str:
    """The best model present for ``input_kind``: official weights first, for RGB crops."""
    if input_kind == "rgb":
        return OFFICIAL if find_official_checkpoint() else "builtin-pymaf-rgb"
    if input_kind == "proxy":
        return "builtin-pymaf-proxy"
    raise ValueError(f"unknown input kind {input_kind!r}; expected one of {INPUT_KINDS}")


def _load_path(path: Path, device: torch.device) -> LoadedModel:
    if not path.is_file():
        raise ModelFileError(f"{path}: model file not found")
    content = _torch_file(path)
    if _is_builtin(content):
        return _builtin(path.stem, path, _checked_builtin(content, path), device)
    if isinstance(content, Mapping) and "model" in content:
        del content  # load_official reads the file itself; do not hold two copies
        return _official(path, device)
    raise ModelFileError(f"{path}: not a model checkpoint; expected {MODEL_FILES}")


def load_model(name_or_path: str | os.PathLike, device: str | torch.device = "cpu",
               checkpoint: str | os.PathLike | None = None) -> LoadedModel | LoadedMethod:
    """A registered model by name, or the model in a .pt file; ``checkpoint`` replaces the
    file a name would find (e.g. an official checkpoint kept elsewhere). Model methods'
    names give their module's ``load(device, checkpoint)``."""
    dev = resolve_device(device)
    name = str(name_or_path)
    if name in METHOD_MODELS:
        module = importlib.import_module(METHOD_MODELS[name].module)
        return module.load(dev, None if checkpoint is None else Path(checkpoint).expanduser())
    if name == OFFICIAL:
        path = Path(checkpoint).expanduser() if checkpoint else find_official_checkpoint()
        if path is None:
            raise ModelFileError(_missing_official_message())
        return _official(path, dev)
    if name in BUILTIN_MODELS:
        path = Path(checkpoint).expanduser() if checkpoint else BUILTIN_MODELS[name].path
        if not checkpoint and not path.is_file():
            raise ModelFileError(
                f"{name}: the built-in weights are not built yet ({path} is missing); build "
                f"them with `studio train pymaf --input {BUILTIN_MODELS[name].input_kind} "
                f"--run-dir DIR --out {path}` (see `studio train pymaf --help`)")
        return _builtin(name, path, read_builtin(path), dev)
    path = Path(name).expanduser()
    if path.suffix or path.exists() or os.sep in name:
        if checkpoint:
            raise StudioError(f"{name}: a checkpoint goes with a model name, not a file")
        return _load_path(path, dev)
    raise ModelFileError(f"unknown model {name!r}: use one of "
                         f"{', '.join([OFFICIAL, *BUILTIN_MODELS, *METHOD_MODELS])} or a "
                         f"path to a .pt file")
