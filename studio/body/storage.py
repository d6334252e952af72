"""Reading and writing body models: the studio's npz format and SMPL's pickle layout.

The npz writer is byte-deterministic (fixed zip timestamps, sorted keys), so a model
regenerated from code can be compared with the shipped file byte for byte.
"""
from __future__ import annotations

import io
import json
import os
import pickle
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from studio.body.model import BodyData

FORMAT = "studio-body-1"
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)


def atomic_write_bytes(path: str | os.PathLike, payload: bytes) -> None:
    """Write a file so that readers see either the old or the complete new content.

    The file gets the permissions a plain ``open`` would give (0666 less the umask), not
    the owner-only mode of the temporary file it is written through.
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    umask = os.umask(0)
    os.umask(umask)
    try:
        os.fchmod(fd, 0o666 & ~umask)
        with os.fdopen(fd, "wb") as fh:
            fh.write(payload)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_torch_save(obj: object, path: str | os.PathLike, make_folders: bool = False) -> Path:
    """``torch.save`` through :func:`atomic_write_bytes`: weights files and checkpoints are
    never seen half-written; ``make_folders`` creates the missing folders first."""
    import torch

    path = Path(path)
    if make_folders:
        path.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    atomic_write_bytes(path, buffer.getvalue())
    return path


def _sparse_entries(prefix: str, mats: list[sp.csr_matrix]) -> dict[str, np.ndarray]:
    out: dict[str, np.ndarray] = {}
    for k, m in enumerate(mats):
        m = sp.csr_matrix(m)
        m.sort_indices()
        out[f"{prefix}{k}_data"] = m.data.astype(np.float32)
        out[f"{prefix}{k}_indices"] = m.indices.astype(np.int32)
        out[f"{prefix}{k}_indptr"] = m.indptr.astype(np.int32)
        out[f"{prefix}{k}_shape"] = np.asarray(m.shape, np.int64)
    return out


def _sparse_read(prefix: str, z: dict[str, np.ndarray]) -> list[sp.csr_matrix]:
    mats = []
    k = 0
    while f"{prefix}{k}_data" in z:
        mats.append(sp.csr_matrix((z[f"{prefix}{k}_data"], z[f"{prefix}{k}_indices"],
                                   z[f"{prefix}{k}_indptr"]), shape=tuple(z[f"{prefix}{k}_shape"])))
        k += 1
    return mats


def body_to_arrays(data: BodyData) -> dict[str, np.ndarray]:
    """Every array of a body model under the npz key it is stored with."""
    meta = {"format": FORMAT, "name": data.name, "gender": data.gender,
            "vertex_ids": data.vertex_ids, "landmarks": data.landmarks}
    arrays: dict[str, np.ndarray] = {
        "meta": np.frombuffer(json.dumps(meta, sort_keys=True).encode(), np.uint8),
        "v_template": data.v_template.astype(np.float32),
        "shapedirs": data.shapedirs.astype(np.float32),
        "J_regressor": np.asarray(data.J_regressor, np.float32),
        "weights": np.asarray(data.weights, np.float32),
        "parents": data.parents.astype(np.int64),
        "f": data.faces.astype(np.int32),
        "part_labels": np.asarray(data.part_labels, np.int8),
    }
    if data.J_regressor_extra is not None:
        arrays["J_regressor_extra"] = np.asarray(data.J_regressor_extra, np.float32)
    if data.uv is not None:
        arrays["uv"] = np.asarray(data.uv, np.float32)
    if data.posedirs is not None:
        arrays["posedirs"] = np.asarray(data.posedirs, np.float32)
    arrays.update(_sparse_entries("down", data.downsampling))
    arrays.update(_sparse_entries("up", data.upsampling))
    return arrays


def encode_body_npz(data: BodyData) -> bytes:
    """The npz file content for a body model, identical for identical arrays."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for key, arr in sorted(body_to_arrays(data).items()):
            info = zipfile.ZipInfo(f"{key}.npy", date_time=_ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            payload = io.BytesIO()
            np.lib.format.write_array(payload, np.ascontiguousarray(arr), allow_pickle=False)
            zf.writestr(info, payload.getvalue(), compresslevel=9)
    return buf.getvalue()


def save_body_npz(data: BodyData, path: str | os.PathLike) -> None:
    atomic_write_bytes(path, encode_body_npz(data))


def is_studio_npz(path: str | os.PathLike) -> bool:
    try:
        with np.load(path, allow_pickle=False) as z:
            return "meta" in z.files and json.loads(bytes(z["meta"]).decode())["format"] == FORMAT
    except Exception:  # noqa: BLE001 - any unreadable file is simply "not ours"
        return False


def load_body_npz(path: str | os.PathLike, source: str | None = None) -> BodyData:
    """Load a body model written by :func:`save_body_npz`."""
    with np.load(path, allow_pickle=False) as npz:
        z = {k: npz[k] for k in npz.files}
    meta = json.loads(bytes(z["meta"]).decode())
    if meta.get("format") != FORMAT:
        raise ValueError(f"{path}: not a studio body model (format {meta.get('format')!r})")
    return BodyData(
        name=meta["name"], source=source or str(path), gender=meta["gender"],
        v_template=z["v_template"], shapedirs=z["shapedirs"], J_regressor=z["J_regressor"],
        weights=z["weights"], parents=z["parents"], faces=z["f"].astype(np.int64),
        vertex_ids={k: int(v) for k, v in meta["vertex_ids"].items()},
        landmarks={k: int(v) for k, v in meta["landmarks"].items()},
        posedirs=z.get("posedirs"), J_regressor_extra=z.get("J_regressor_extra"),
        part_labels=z["part_labels"].astype(np.int64), uv=z.get("uv"),
        downsampling=_sparse_read("down", z), upsampling=_sparse_read("up", z),
    )


def save_smpl_pickle(data: BodyData, path: str | os.PathLike) -> None:
    """Write the model as an SMPL-layout pickle that ``smplx.SMPL(model_path=path)`` loads."""
    s = data.smpl_struct()
    payload = {k: getattr(s, k) for k in
               ("v_template", "shapedirs", "posedirs", "J_regressor", "weights", "kintree_table", "f")}
    payload["J"] = data.rest_joints()
    payload["bs_style"] = "lbs"
    payload["bs_type"] = "lrotmin"
    atomic_write_bytes(path, pickle.dumps(payload, protocol=2))
