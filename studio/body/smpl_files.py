"""Official SMPL files (pickles, SMPL-X-style npz, PyMAF checkpoints) as :class:`BodyData`.

The official pickles were written by Python 2 with chumpy objects inside. chumpy does not
install on current Python, so the unpickler below swaps every chumpy class for a stand-in
that keeps the pickled state and turns it back into the plain array afterwards. Only the
globals a model file needs are allowed: a model file is data, and must not run code.
"""
from __future__ import annotations

import io
import pickle
import re
import warnings
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import scipy.sparse as sp
import torch
from smplx.vertex_ids import vertex_ids as SMPLX_VERTEX_IDS

from studio.body.downsample import build_downsampling
from studio.body.joint_sets import LANDMARK_NAMES, SMPL24_NAMES, SMPLX_VERTEX_KEYS
from studio.body.model import NUM_BETAS, NUM_JOINTS, BodyData
from studio.errors import ModelFileError

SMPL_SITE = "https://smpl.is.tue.mpg.de"
SMPL_HINT = f'download "SMPL for Python" from {SMPL_SITE} (free registration)'
PYMAF_HINT = "download the PyMAF checkpoint from the PyMAF project page"
SMPL_NUM_VERTICES = 6890
REQUIRED_KEYS = ("v_template", "shapedirs", "posedirs", "J_regressor", "weights",
                 "kintree_table", "f")
PYMAF_PREFIX = "regressor.0.smpl."
PYMAF_KEYS = ("v_template", "shapedirs", "posedirs", "J_regressor", "lbs_weights", "parents",
              "faces_tensor")
_NUM_POSE_BASIS = 9 * (NUM_JOINTS - 1)
_JOINT = {name: i for i, name in enumerate(SMPL24_NAMES)}


# ---------------------------------------------------------------- reading pickles

class _Stub:
    """Stand-in for a class we will not import; it only remembers its pickled state."""

    origin = ""

    def __new__(cls, *args: object, **kwargs: object) -> _Stub:
        obj = super().__new__(cls)
        obj.args, obj.state = args, None
        return obj

    def __setstate__(self, state: object) -> None:
        self.state = state


class _SparseStub(_Stub):
    """A scipy sparse matrix from any scipy version, rebuilt from its stored arrays."""

    def to_sparse(self) -> sp.spmatrix | None:
        s = self.state if isinstance(self.state, dict) else {}
        shape = tuple(int(n) for n in s.get("_shape", s.get("shape", ())))
        fmt = self.origin.rsplit(".", 1)[-1][:3]
        if fmt in ("csc", "csr") and {"data", "indices", "indptr"} <= s.keys():
            cls = sp.csc_matrix if fmt == "csc" else sp.csr_matrix
            return cls((s["data"], s["indices"], s["indptr"]), shape=shape)
        if fmt == "coo" and {"data", "row", "col"} <= s.keys():
            return sp.coo_matrix((s["data"], (s["row"], s["col"])), shape=shape).tocsr()
        return None


_NUMPY_NAMES = {"_reconstruct", "scalar", "ndarray", "dtype", "_frombuffer"}
_BUILTIN_NAMES = {"object", "set", "frozenset", "list", "dict", "tuple", "slice", "complex",
                  "bytearray", "bytes", "str", "int", "float", "bool"}


class _SmplUnpickler(pickle.Unpickler):
    """Unpickler for model files: chumpy and sparse classes become stubs, the rest is refused."""

    _stubs: dict[str, type[_Stub]] = {}

    def find_class(self, module: str, name: str) -> object:
        root = module.split(".")[0]
        if root == "chumpy" or (module.startswith("scipy.sparse") and
                                name.endswith(("_matrix", "_array"))):
            return self._stub(f"{module}.{name}", _Stub if root == "chumpy" else _SparseStub)
        allowed = ((root == "numpy" and name in _NUMPY_NAMES)
                   or (module in ("builtins", "__builtin__") and name in _BUILTIN_NAMES)
                   or (module in ("copyreg", "copy_reg") and name == "_reconstructor")
                   or (module == "_codecs" and name == "encode"))  # bytes under protocol 2
        if not allowed:
            raise pickle.UnpicklingError(f"it references {module}.{name}, which a model file "
                                         "has no reason to contain")
        return super().find_class(module, name)

    def _stub(self, origin: str, base: type[_Stub]) -> type[_Stub]:
        if origin not in self._stubs:
            self._stubs[origin] = type(origin.rsplit(".", 1)[-1], (base,), {"origin": origin})
        return self._stubs[origin]


def _plain(obj: object) -> object:
    """Replace stubs (recursively) with arrays: a chumpy ``Ch`` keeps its value under 'x'."""
    if isinstance(obj, dict):
        return {k: _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_plain(v) for v in obj)
    if isinstance(obj, _SparseStub):
        matrix = obj.to_sparse()
        return obj if matrix is None else matrix
    if isinstance(obj, _Stub) and isinstance(obj.state, dict) and "x" in obj.state:
        return np.asarray(_plain(obj.state["x"]))
    return obj


def read_smpl_pickle(path: str | Path) -> dict[str, object]:
    """The dict stored in an official SMPL pickle, chumpy objects turned into arrays."""
    path = Path(path)
    try:
        payload = path.read_bytes()
    except OSError as err:
        raise ModelFileError(f"{path}: cannot read the SMPL model ({err.strerror or err}); "
                             f"{SMPL_HINT}") from err
    try:
        content = _SmplUnpickler(io.BytesIO(payload), encoding="latin1").load()
    except Exception as err:  # noqa: BLE001 - any decoding failure means a bad file
        raise ModelFileError(f"{path}: the file is corrupt or not an SMPL model ({err})") from err
    if not isinstance(content, dict):
        raise ModelFileError(f"{path}: the file is not an SMPL model (it holds a "
                             f"{type(content).__name__}, not a dict of arrays)")
    content = _plain(content)
    missing = [k for k in REQUIRED_KEYS if k not in content]
    if missing:
        raise ModelFileError(f"{path}: not an SMPL model, missing keys: {', '.join(missing)}")
    return content


# ---------------------------------------------------------------- landmarks

def _part_vertices(weights: np.ndarray, joints: tuple[str, ...]) -> np.ndarray:
    """Vertices mostly skinned to any of ``joints``; every vertex when there are none."""
    part = np.flatnonzero(np.isin(weights.argmax(axis=1), [_JOINT[j] for j in joints]))
    return part if len(part) else np.arange(len(weights))


def _nearest(v: np.ndarray, candidates: np.ndarray, target: np.ndarray) -> int:
    return int(candidates[np.argmin(np.linalg.norm(v[candidates] - target, axis=1))])


# smplx landmark key -> (parts searched, anchor joint, offset in metres for a 1.7 m body).
# Rest pose, y up, facing +z, the body's left at +x; the right side mirrors x.
_LEFT_TARGETS = {
    "leye": (("head",), "head", (0.03, 0.04, 0.25)),
    "lear": (("head",), "head", (0.25, 0.0, 0.0)),
    "LBigToe": (("left_foot",), "left_foot", (-0.02, 0.0, 0.2)),
    "LSmallToe": (("left_foot",), "left_foot", (0.05, 0.0, 0.15)),
    "LHeel": (("left_ankle", "left_foot"), "left_ankle", (0.0, -0.1, -0.2)),
    "lthumb": (("left_wrist", "left_hand"), "left_wrist", (0.1, -0.03, 0.15)),
    "lindex": (("left_wrist", "left_hand"), "left_hand", (0.2, 0.0, 0.05)),
    "lmiddle": (("left_wrist", "left_hand"), "left_hand", (0.25, 0.0, 0.0)),
    "lring": (("left_wrist", "left_hand"), "left_hand", (0.2, 0.0, -0.03)),
    "lpinky": (("left_wrist", "left_hand"), "left_hand", (0.17, 0.0, -0.06)),
}


def _mirror_key(key: str) -> str:
    return {"l": "r", "L": "R"}[key[0]] + key[1:]


def _mirror_target(rule: tuple) -> tuple:
    parts, anchor, (x, y, z) = rule
    return (tuple(p.replace("left", "right") for p in parts), anchor.replace("left", "right"),
            (-x, y, z))


_TARGETS = {"nose": (("head",), "head", (0.0, 0.0, 0.25)), **_LEFT_TARGETS,
            **{_mirror_key(k): _mirror_target(r) for k, r in _LEFT_TARGETS.items()}}


def approximate_vertex_ids(v_template: np.ndarray, joints: np.ndarray,
                           weights: np.ndarray) -> dict[str, int]:
    """smplx's 21 landmark vertices for a mesh that does not have SMPL's topology.

    Each is the vertex of its body part nearest a point placed relative to a joint; this
    is approximate, and only used for SMPL-like models with a different vertex count.
    """
    scale = float(np.ptp(v_template[:, 1])) / 1.7
    return {key: _nearest(v_template, _part_vertices(weights, parts),
                          joints[_JOINT[anchor]] + scale * np.asarray(offset))
            for key, (parts, anchor, offset) in _TARGETS.items()}


def _frontal(v: np.ndarray, candidates: np.ndarray, x: float, y: float) -> int:
    """The candidate vertex seen at (x, y) when looking at the face from the front."""
    return int(candidates[np.argmin(np.hypot(v[candidates, 0] - x, v[candidates, 1] - y))])


def locate_extra_landmarks(v_template: np.ndarray, joints: np.ndarray, weights: np.ndarray,
                           known: dict[str, int]) -> dict[str, int]:
    """Vertices of the studio landmarks SMPL's vertex ids do not name (eye corners, mouth
    corners, head top, chin and the thumb/index/pinky knuckles).

    They are found geometrically on the rest-pose template from the joints and the known
    landmarks (nose, eyes, finger tips), so for SMPL they are approximate: good enough for
    keypoint losses and overlays, not anatomical ground truth.
    """
    v = np.asarray(v_template, np.float64)
    head = joints[_JOINT["head"]]
    head_part = _part_vertices(weights, ("head",))
    face = head_part[v[head_part, 2] > head[2]]
    face = face if len(face) else head_part
    nose, leye, reye = (v[known[n]] for n in ("nose", "left_eye", "right_eye"))
    mid_x, half_gap = nose[0], abs(leye[0] - reye[0]) / 2
    midline = face[np.abs(v[face, 0] - mid_x) < max(half_gap, 1e-6)]
    midline = midline if len(midline) else face
    chin = int(midline[np.argmin(v[midline, 1])])
    mouth_y = nose[1] + 0.45 * (v[chin, 1] - nose[1])
    found = {"head_top": int(head_part[np.argmax(v[head_part, 1])]), "chin": chin}
    for side, sign, eye in (("left", 1.0, leye), ("right", -1.0, reye)):
        found[f"{side}_eye_inner"] = _frontal(v, face, eye[0] - sign * 0.4 * half_gap, eye[1])
        found[f"{side}_eye_outer"] = _frontal(v, face, eye[0] + sign * 0.4 * half_gap, eye[1])
        found[f"mouth_{side}"] = _frontal(v, face, mid_x + sign * 0.75 * half_gap, mouth_y)
        hand = _part_vertices(weights, (f"{side}_wrist", f"{side}_hand"))
        wrist = joints[_JOINT[f"{side}_wrist"]]
        # Knuckles as MediaPipe names them: index/pinky MCP, thumb IP, as a fraction of the
        # wrist-to-tip distance.
        for finger, frac in (("thumb", 0.75), ("index", 0.5), ("pinky", 0.5)):
            tip = v[known[f"{side}_{finger}_tip"]]
            found[f"{side}_{finger}_knuckle"] = _nearest(v, hand, wrist + frac * (tip - wrist))
    return {k: found[k] for k in LANDMARK_NAMES if k not in known}


# ---------------------------------------------------------------- assembling BodyData

def _dense(a: object) -> np.ndarray:
    return np.asarray(a.toarray() if sp.issparse(a) else a)


def _check_shapes(source: str, arrays: dict[str, np.ndarray], expected: dict[str, tuple]) -> None:
    """Raise one message listing every array whose shape is not what SMPL's layout needs."""
    wrong = [f"{k} has shape {tuple(arrays[k].shape)}, expected {shape}"
             for k, shape in expected.items()
             if arrays[k].ndim != len(shape)
             or any(e is not None and e != n for e, n in zip(shape, arrays[k].shape))]
    if wrong:
        raise ModelFileError(f"{source}: not a usable SMPL model: {'; '.join(wrong)}")


def _assemble(name: str, source: str, gender: str, arrays: dict[str, np.ndarray],
              extra_idx: np.ndarray | None = None,
              J_regressor_extra: np.ndarray | None = None) -> BodyData:
    """BodyData from SMPL-layout arrays (keys as in the pickle, ``parents`` for the tree)."""
    a = {k: np.asarray(v, np.float32) for k, v in arrays.items() if k not in ("parents", "f")}
    a["parents"], a["f"] = np.asarray(arrays["parents"], np.int64), np.asarray(arrays["f"])
    v = a["v_template"].shape[0] if a["v_template"].ndim == 2 else None
    _check_shapes(source, a, {"v_template": (None, 3), "shapedirs": (v, 3, None),
                              "posedirs": (v, 3, _NUM_POSE_BASIS),
                              "J_regressor": (NUM_JOINTS, v), "weights": (v, NUM_JOINTS),
                              "parents": (NUM_JOINTS,), "f": (None, 3)})
    shapedirs = a["shapedirs"][:, :, :NUM_BETAS]
    if shapedirs.shape[2] < NUM_BETAS:  # fewer components: the missing ones do nothing
        shapedirs = np.pad(shapedirs, ((0, 0), (0, 0), (0, NUM_BETAS - shapedirs.shape[2])))
    joints = a["J_regressor"].astype(np.float64) @ a["v_template"].astype(np.float64)
    if extra_idx is not None and len(extra_idx) == len(SMPLX_VERTEX_KEYS):
        vertex_ids = {k: int(i) for k, i in zip(SMPLX_VERTEX_KEYS, extra_idx)}
    elif v == SMPL_NUM_VERTICES:
        vertex_ids = {k: int(SMPLX_VERTEX_IDS["smplh"][k]) for k in SMPLX_VERTEX_KEYS}
    else:
        vertex_ids = approximate_vertex_ids(a["v_template"], joints, a["weights"])
    landmarks = {SMPLX_VERTEX_KEYS[k]: i for k, i in vertex_ids.items()}
    landmarks.update(locate_extra_landmarks(a["v_template"], joints, a["weights"], landmarks))
    down, up = build_downsampling(a["v_template"], a["f"])
    return BodyData(name=name, source=source, gender=gender, v_template=a["v_template"],
                    shapedirs=shapedirs, posedirs=a["posedirs"], J_regressor=a["J_regressor"],
                    weights=a["weights"], parents=a["parents"], faces=a["f"],
                    vertex_ids=vertex_ids, landmarks=landmarks,
                    J_regressor_extra=J_regressor_extra, downsampling=down, upsampling=up)


def body_data_from_smpl_arrays(arrays: Mapping[str, object], name: str, source: str,
                               gender: str = "neutral") -> BodyData:
    """BodyData from the arrays of an SMPL pickle or npz (300 shape components become 10)."""
    missing = [k for k in REQUIRED_KEYS if k not in arrays]
    if missing:
        raise ModelFileError(f"{source}: not an SMPL model, missing keys: {', '.join(missing)}")
    bad = [k for k in REQUIRED_KEYS
           if not (isinstance(arrays[k], np.ndarray) or sp.issparse(arrays[k]))]
    if bad:
        raise ModelFileError(f"{source}: {', '.join(bad)} could not be read as arrays (they "
                             "are chumpy expressions, not stored values)")
    plain = {k: _dense(arrays[k]) for k in REQUIRED_KEYS if k != "kintree_table"}
    plain["parents"] = _dense(arrays["kintree_table"])[0].astype(np.int64)
    plain["parents"][0] = -1
    return _assemble(name, source, gender, plain)


def gender_from_name(path: str | Path) -> str:
    """'male', 'female' or 'neutral' from a file name such as basicModel_f_lbs_... or SMPL_MALE."""
    tokens = set(re.split(r"[^a-z]+", Path(path).stem.lower()))
    if tokens & {"f", "female"}:
        return "female"
    if tokens & {"m", "male"}:
        return "male"
    return "neutral"


def _read_smpl_npz(path: Path) -> dict[str, np.ndarray]:
    """The SMPL arrays of an npz written by SMPL-X's tools (only the keys needed are read)."""
    try:
        with np.load(path, allow_pickle=False) as npz:
            missing = [k for k in REQUIRED_KEYS if k not in npz.files]
            if missing:
                raise ModelFileError(f"{path}: not an SMPL model, missing keys: "
                                     f"{', '.join(missing)}")
            return {k: npz[k] for k in REQUIRED_KEYS}
    except ModelFileError:
        raise
    except Exception as err:  # noqa: BLE001 - any decoding failure means a bad file
        raise ModelFileError(f"{path}: the file is corrupt or not an SMPL model ({err})") from err


def load_smpl_file(path: str | Path) -> BodyData:
    """An official SMPL model from a .pkl or SMPL-X-style .npz file."""
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"{path}: SMPL model file not found; {SMPL_HINT}")
    if path.suffix.lower() == ".npz":
        arrays: Mapping[str, object] = _read_smpl_npz(path)
    else:
        arrays = read_smpl_pickle(path)
    gender = gender_from_name(path)
    return body_data_from_smpl_arrays(arrays, name=f"smpl-{gender}", source=str(path),
                                      gender=gender)


# ---------------------------------------------------------------- PyMAF checkpoints

def _numpy(value: object) -> np.ndarray:
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().numpy()
    return np.asarray(value)


def body_data_from_pymaf_state_dict(state_dict: Mapping[str, object], source: str) -> BodyData:
    """The SMPL model a PyMAF state dict embeds under ``regressor.0.smpl.*``."""
    missing = [PYMAF_PREFIX + k for k in PYMAF_KEYS if PYMAF_PREFIX + k not in state_dict]
    if missing:
        raise ModelFileError(f"{source}: not a PyMAF checkpoint with an SMPL model, missing "
                             f"keys: {', '.join(missing)}; {PYMAF_HINT}")
    sd = {k: _numpy(state_dict[PYMAF_PREFIX + k]) for k in PYMAF_KEYS}
    v = sd["v_template"].shape[0]
    posedirs = sd["posedirs"]
    if posedirs.ndim == 2 and posedirs.shape == (_NUM_POSE_BASIS, v * 3):
        posedirs = posedirs.T.reshape(v, 3, _NUM_POSE_BASIS)  # smplx stores [207, V*3]
    arrays = {"v_template": sd["v_template"], "shapedirs": sd["shapedirs"],
              "posedirs": posedirs, "J_regressor": sd["J_regressor"],
              "weights": sd["lbs_weights"], "parents": sd["parents"], "f": sd["faces_tensor"]}
    extra = state_dict.get(PYMAF_PREFIX + "J_regressor_extra")
    idx = state_dict.get(PYMAF_PREFIX + "vertex_joint_selector.extra_joints_idxs")
    return _assemble("smpl-neutral", source, "neutral", arrays,
                     extra_idx=None if idx is None else _numpy(idx),
                     J_regressor_extra=None if extra is None else _numpy(extra))


def _torch_load(path: Path) -> object:
    """torch.load with tensors only; files holding other objects load fully, with a warning."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        pass
    except Exception as err:  # noqa: BLE001 - any decoding failure means a bad file
        raise ModelFileError(f"{path}: the checkpoint is corrupt or not a torch file "
                             f"({err})") from err
    warnings.warn(f"{path} holds objects besides tensors; loading it with full unpickling, "
                  "which runs code from the file: use only checkpoints you trust",
                  stacklevel=3)
    try:
        return torch.load(path, map_location="cpu", weights_only=False)
    except Exception as err:  # noqa: BLE001
        raise ModelFileError(f"{path}: the checkpoint is corrupt or not a torch file "
                             f"({err})") from err


def load_pymaf_checkpoint_body(path: str | Path) -> BodyData:
    """The SMPL model embedded in a PyMAF checkpoint (a dict with the state dict under 'model')."""
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"{path}: PyMAF checkpoint not found; {PYMAF_HINT}")
    ckpt = _torch_load(path)
    state = ckpt.get("model", ckpt) if isinstance(ckpt, Mapping) else None
    if not isinstance(state, Mapping):
        raise ModelFileError(f"{path}: not a PyMAF checkpoint (expected a dict with the "
                             f"state dict under 'model'); {PYMAF_HINT}")
    return body_data_from_pymaf_state_dict(state, source=str(path))
