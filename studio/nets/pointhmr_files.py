"""Reading PointHMR's official files without the official code.

- Checkpoints (:func:`read_checkpoint`): the flat ``{key: tensor}`` state dict the official
  trainer writes (``state_dict.bin``, ``PointHMR_h36m.bin``), with or without a
  ``module.`` prefix; or a whole pickled model (the trainer's ``model.bin``), whose
  tensors are collected by a restricted unpickler that turns every class outside torch,
  numpy and a few builtins into an inert stub (nothing from the file is executed).
- The mesh matrices (:func:`read_official_matrices`): ``smpl_431_adjmat_{indices,values,
  size}.pt`` and GraphCMR's ``mesh_downsampling.npz``, from a folder the user gives. They
  derive from SMPL, so the studio never bundles them.
"""
from __future__ import annotations

import io
import os
import pickle
import types
import zipfile
from collections import OrderedDict
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import scipy.sparse as sp
import torch

from studio.errors import ModelFileError

PREFIX = "module."
ADJACENCY_FILES = tuple(f"smpl_431_adjmat_{part}.pt" for part in ("indices", "values", "size"))
DOWNSAMPLING_FILE = "mesh_downsampling.npz"
WHERE = ("they are in the official repository (github.com/DCVL-3D/PointHMR_release) under "
         "src/modeling/data/; give that folder")


class CheckpointMismatchError(ModelFileError, ValueError):
    """The checkpoint's keys or shapes differ from the model's (exit status 3)."""


class Stub:
    """Stands in for a class the restricted unpickler will not import."""

    stub_name = "?"

    def __init__(self, *args: object, **kwargs: object) -> None:
        self.args, self.state = args, None

    def __setstate__(self, state: object) -> None:
        self.state = state

    def __repr__(self) -> str:
        return f"<stub {self.stub_name}>"


def _stub(module: str, name: str) -> type:
    return type(name, (Stub,), {"stub_name": f"{module}.{name}"})


def _reconstructor(cls: type, base: object, state: object = None) -> object:
    return cls() if isinstance(cls, type) and issubclass(cls, Stub) else object.__new__(cls)


_SAFE = {("collections", "OrderedDict"), ("builtins", "set"), ("builtins", "frozenset"),
         ("builtins", "slice"), ("builtins", "complex"), ("torch", "Size"),
         ("torch", "device"), ("numpy", "dtype"), ("numpy", "ndarray"),
         ("numpy.core.multiarray", "_reconstruct"), ("numpy.core.multiarray", "scalar"),
         ("numpy._core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "scalar"),
         ("torch.nn.parameter", "Parameter"), ("torch._tensor", "_rebuild_from_type_v2")}


_PY2_MODULES = {"__builtin__": "builtins", "copy_reg": "copyreg"}


class RestrictedUnpickler(pickle.Unpickler):
    """Imports only tensor/array rebuilders and plain containers; everything else is a
    :class:`Stub` that records its constructor arguments and pickled state."""

    def find_class(self, module: str, name: str) -> object:
        module = _PY2_MODULES.get(module, module)  # protocol-2 pickles name Python 2's
        if (module, name) in _SAFE or (module == "torch._utils" and name.startswith("_rebuild")) \
                or (module == "torch" and name.endswith("Storage")):
            return super().find_class(module, name)
        if (module, name) == ("copyreg", "_reconstructor"):
            return _reconstructor
        return _stub(module, name)


# torch.load's ``pickle_module``: its Unpickler is the restricted one.
restricted_pickle = types.SimpleNamespace(Unpickler=RestrictedUnpickler, load=pickle.load,
                                          __name__="restricted_pickle")


def _module_tensors(obj: Stub, prefix: str, out: dict[str, torch.Tensor]) -> None:
    """A pickled ``nn.Module``'s state-dict entries, in ``state_dict()`` order."""
    state = obj.state if isinstance(obj.state, dict) else {}
    skip = state.get("_non_persistent_buffers_set") or set()
    for group in ("_parameters", "_buffers"):
        for name, value in (state.get(group) or {}).items():
            if isinstance(value, torch.Tensor) and not (group == "_buffers" and name in skip):
                out[prefix + name] = value
    for name, child in (state.get("_modules") or {}).items():
        if isinstance(child, Stub):
            _module_tensors(child, f"{prefix}{name}.", out)


def _is_module(obj: object) -> bool:
    return isinstance(obj, Stub) and isinstance(obj.state, dict) and "_modules" in obj.state


def describe(obj: object) -> str:
    """What a loaded checkpoint object is, in words."""
    if isinstance(obj, Stub):
        return f"a pickled object of class {obj.stub_name}"
    if isinstance(obj, Mapping):
        keys = list(obj)[:6]
        if {"state", "param_groups"} <= set(obj):
            return "an optimizer state (the trainer's op_state_dict.bin), not model weights"
        return f"a dict with keys {keys}{' ...' if len(obj) > 6 else ''} that are not all tensors"
    return f"a {type(obj).__name__}"


def read_checkpoint(path: str | os.PathLike) -> tuple[dict[str, torch.Tensor], str]:
    """(state dict, what the file was). Raises ModelFileError saying what the file is when
    it holds no model weights."""
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"{path}: PointHMR checkpoint not found")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
        kind = "a state dict"
    except pickle.UnpicklingError:
        try:
            obj = torch.load(path, map_location="cpu", weights_only=False,
                             pickle_module=restricted_pickle)
        except Exception as err:  # noqa: BLE001 - any decoding failure means a bad file
            raise ModelFileError(f"{path}: not a readable torch file ({err})") from err
        kind = describe(obj)
    except Exception as err:  # noqa: BLE001
        raise ModelFileError(f"{path}: not a readable torch file ({err})") from err
    if _is_module(obj):
        state: dict[str, torch.Tensor] = OrderedDict()
        _module_tensors(obj, "", state)
        return state, f"a whole pickled model ({obj.stub_name}), {len(state)} tensors read"
    if isinstance(obj, Mapping) and obj and all(isinstance(k, str) and isinstance(v, torch.Tensor)
                                                for k, v in obj.items()):
        return dict(obj), kind
    raise ModelFileError(f"{path}: {describe(obj)}; expected PointHMR weights (a flat "
                         "state dict such as PointHMR_h36m.bin, or a whole pickled model)")


def strip_prefix(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Drop ``module.`` when every key carries it (weights saved from DataParallel)."""
    if state and all(k.startswith(PREFIX) for k in state):
        return {k[len(PREFIX):]: v for k, v in state.items()}
    return dict(state)


def load_strict(model: torch.nn.Module, state: Mapping[str, torch.Tensor], source: str) -> None:
    """Load every tensor; name every missing, unexpected and mis-shaped key at once."""
    state = strip_prefix(state)
    expected = model.state_dict()
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    shapes = [f"{k} {list(state[k].shape)} (expected {list(v.shape)})"
              for k, v in expected.items() if k in state and state[k].shape != v.shape]
    problems = [f"{label} ({len(keys)}): {', '.join(keys)}" for label, keys in (
        ("missing keys", missing), ("unexpected keys", unexpected),
        ("mis-shaped keys", shapes)) if keys]
    if problems:
        raise CheckpointMismatchError(f"{source}: does not match the official PointHMR; "
                                      + "; ".join(problems))
    model.load_state_dict(state, strict=True)


def read_official_adjacency(folder: str | os.PathLike) -> sp.csr_matrix:
    """The [431, 431] adjacency from ``smpl_431_adjmat_{indices,values,size}.pt``."""
    folder = Path(folder)
    _require(folder, ADJACENCY_FILES)
    parts = [torch.load(folder / name, map_location="cpu", weights_only=True)
             for name in ADJACENCY_FILES]
    indices, values, size = parts[0].numpy(), parts[1].double().numpy(), tuple(parts[2])
    return sp.csr_matrix((values, (indices[0], indices[1])), shape=size)


def _to_sparse(obj: object) -> sp.csr_matrix:
    """A scipy sparse matrix pickled by any scipy version (a stub here) as CSR."""
    if sp.issparse(obj):
        return sp.csr_matrix(obj)
    state = obj.state if isinstance(obj, Stub) and isinstance(obj.state, dict) else None
    if state is None:
        raise ValueError(f"not a sparse matrix: {obj!r}")
    shape = tuple(int(s) for s in state.get("_shape", state.get("shape")))
    kind = obj.stub_name.rsplit(".", 1)[-1][:3]
    if kind in ("csc", "csr"):
        cls = sp.csc_matrix if kind == "csc" else sp.csr_matrix
        return sp.csr_matrix(cls((state["data"], state["indices"], state["indptr"]), shape=shape))
    if kind == "coo":
        return sp.csr_matrix((state["data"], (state["row"], state["col"])), shape=shape)
    raise ValueError(f"unknown sparse matrix class {obj.stub_name}")


def read_npz_objects(path: Path, key: str) -> np.ndarray:
    """Member ``key`` of an ``.npz`` of pickled (Python 2) objects, unpickled restricted."""
    with zipfile.ZipFile(path) as archive, archive.open(f"{key}.npy") as member:
        data = io.BytesIO(member.read())
    version = np.lib.format.read_magic(data)
    np.lib.format._check_version(version)
    _, _, dtype = np.lib.format._read_array_header(data, version)
    if not dtype.hasobject:
        data.seek(0)
        return np.lib.format.read_array(data)
    return RestrictedUnpickler(data, encoding="latin1").load()


def read_mesh_downsampling(path: str | os.PathLike) -> dict[str, list[sp.csr_matrix]]:
    """GraphCMR's ``mesh_downsampling.npz``: ``A`` (3), ``U`` (2), ``D`` (2) as CSR.
    ``U[1]`` up-samples 431 -> 1723 and ``U[0]`` 1723 -> 6890; ``M`` is not read."""
    path = Path(path)
    _require(path.parent, (path.name,))
    try:
        return {key: [_to_sparse(m) for m in read_npz_objects(path, key)]
                for key in ("A", "U", "D")}
    except (KeyError, ValueError, pickle.UnpicklingError, zipfile.BadZipFile) as err:
        raise ModelFileError(f"{path}: not GraphCMR's mesh_downsampling.npz ({err})") from err


def read_official_matrices(folder: str | os.PathLike) -> dict[str, sp.csr_matrix]:
    """The three matrices :func:`studio.nets.pointhmr.load_official` takes, by its
    argument names, from a folder holding the official data files."""
    folder = Path(folder)
    _require(folder, (*ADJACENCY_FILES, DOWNSAMPLING_FILE))
    down = read_mesh_downsampling(folder / DOWNSAMPLING_FILE)
    return {"adjacency_431": read_official_adjacency(folder),
            "upsample_431_to_1723": down["U"][1], "upsample_1723_to_6890": down["U"][0]}


def _require(folder: Path, names: tuple[str, ...]) -> None:
    missing = [n for n in names if not (folder / n).is_file()]
    if missing:
        raise ModelFileError(f"PointHMR mesh data not found: {', '.join(missing)} in {folder}; "
                             f"{WHERE} (they derive from SMPL, so the studio does not ship them)")
