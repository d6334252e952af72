"""Official SMPL files without chumpy, and the SMPL model embedded in PyMAF checkpoints."""
from __future__ import annotations

import importlib.util
import pickle
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
import torch
import trimesh

from studio.body import registry, smpl_files
from studio.body.joint_sets import LANDMARK_NAMES, SMPL24_PARENTS
from studio.body.model import BodyModel
from studio.errors import ModelFileError

# How chumpy pickles a Ch: default object reduction (so the stream names chumpy.ch.Ch) with
# a __getstate__ that drops the weak-reference caches and keeps the value under 'x'.
FAKE_CHUMPY = textwrap.dedent('''
    import numpy as np

    class Ch(object):
        def __init__(self, x):
            self.x = np.asarray(x, np.float64)
            self._dirty_vars = set()
            self._itr = None
            self._make_dense = False
            self._make_sparse = False
            self._depends_on_deps = {}
            self._parents = {}
            self._cache = {"r": None, "drs": {}}

        def __getstate__(self):
            state = dict(self.__dict__)
            del state["_parents"]
            del state["_cache"]
            return state
''')


def synthetic_smpl_arrays(num_shapes: int = 10, seed: int = 0) -> dict[str, np.ndarray]:
    """A small SMPL-like model: a body-sized ellipsoid, 24 joints, valid weights."""
    rng = np.random.default_rng(seed)
    sphere = trimesh.creation.icosphere(subdivisions=3)
    v = np.array(sphere.vertices) * [0.3, 0.85, 0.15] + [0.0, 0.9, 0.0]
    n = len(v)
    weights = rng.random((n, 24)) ** 6
    weights /= weights.sum(axis=1, keepdims=True)
    rows = np.repeat(np.arange(24), 8)
    cols = rng.choice(n, size=24 * 8)
    regressor = sp.csc_matrix((np.full(24 * 8, 1 / 8), (rows, cols)), shape=(24, n))
    kintree = np.stack([SMPL24_PARENTS, np.arange(24)]).astype(np.int64)
    kintree[0, 0] = 4294967295
    return {
        "v_template": v, "shapedirs": rng.normal(0, 0.01, (n, 3, num_shapes)),
        "posedirs": rng.normal(0, 0.001, (n, 3, 207)), "J_regressor": regressor,
        "weights": weights, "kintree_table": kintree, "f": np.array(sphere.faces, np.uint32),
    }


@pytest.fixture(scope="module")
def pickle_chumpy(tmp_path_factory: pytest.TempPathFactory):
    """Pickle objects as the official files do, with a stand-in chumpy importable only here."""
    root = tmp_path_factory.mktemp("fake_chumpy")
    (root / "chumpy").mkdir()
    (root / "chumpy" / "__init__.py").write_text("from .ch import Ch\n")
    (root / "chumpy" / "ch.py").write_text(FAKE_CHUMPY)

    def dump(model: dict[str, np.ndarray], chumpy_keys: tuple[str, ...],
             protocol: int = 2) -> bytes:
        sys.path.insert(0, str(root))
        try:
            from chumpy.ch import Ch
            payload = {k: Ch(a) if k in chumpy_keys else a for k, a in model.items()}
            payload.update(bs_style="lbs", bs_type="lrotmin")
            return pickle.dumps(payload, protocol=protocol)
        finally:
            sys.path.remove(str(root))
            for name in [m for m in sys.modules if m.split(".")[0] == "chumpy"]:
                del sys.modules[name]

    return dump


@pytest.fixture(scope="module")
def smpl_pickle(pickle_chumpy, tmp_path_factory) -> tuple[Path, dict[str, np.ndarray]]:
    arrays = synthetic_smpl_arrays()
    path = tmp_path_factory.mktemp("smpl") / "SMPL_NEUTRAL.pkl"
    path.write_bytes(pickle_chumpy(arrays, ("v_template", "shapedirs", "weights")))
    return path, arrays


def test_reads_chumpy_pickle_without_chumpy(smpl_pickle) -> None:
    path, arrays = smpl_pickle
    assert b"chumpy.ch" in path.read_bytes()
    assert importlib.util.find_spec("chumpy") is None
    content = smpl_files.read_smpl_pickle(path)
    for key in ("v_template", "shapedirs", "weights", "posedirs", "kintree_table", "f"):
        assert isinstance(content[key], np.ndarray), key
        np.testing.assert_array_equal(content[key], arrays[key])
    assert sp.issparse(content["J_regressor"])
    np.testing.assert_array_equal(content["J_regressor"].toarray(), arrays["J_regressor"].toarray())
    assert content["bs_style"] == "lbs"


@pytest.mark.parametrize("protocol", [0, 1, 2])
def test_python2_era_streams(pickle_chumpy, tmp_path, protocol: int) -> None:
    """Old protocols (copy_reg._reconstructor) and scipy's pre-1.8 module paths."""
    arrays = synthetic_smpl_arrays(seed=2)
    stream = pickle_chumpy(arrays, ("shapedirs",), protocol)
    stream = stream.replace(b"scipy.sparse._csc", b"scipy.sparse.csc")
    assert b"scipy.sparse.csc\n" in stream and b"chumpy.ch\n" in stream
    path = tmp_path / "basicModel_neutral_lbs_10_207_0_v1.0.0.pkl"
    path.write_bytes(stream)
    content = smpl_files.read_smpl_pickle(path)
    np.testing.assert_array_equal(content["J_regressor"].toarray(),
                                  arrays["J_regressor"].toarray())
    np.testing.assert_array_equal(content["shapedirs"], arrays["shapedirs"])


def test_body_data_from_pickle(smpl_pickle) -> None:
    path, arrays = smpl_pickle
    data = smpl_files.load_smpl_file(path)
    v = len(arrays["v_template"])
    assert data.gender == "neutral" and data.source == str(path)
    assert data.parents[0] == -1 and list(data.parents[1:]) == list(SMPL24_PARENTS[1:])
    assert data.J_regressor.shape == (24, v) and data.posedirs.shape == (v, 3, 207)
    assert set(data.landmarks) == set(LANDMARK_NAMES)
    assert all(0 <= i < v for i in data.landmarks.values())
    assert [d.shape[0] for d in data.downsampling] == [-(-v // 4), -(-v // 16)]
    assert data.J_regressor_extra is None


def test_300_components_become_10(pickle_chumpy, tmp_path) -> None:
    arrays = synthetic_smpl_arrays(num_shapes=300, seed=1)
    path = tmp_path / "basicmodel_neutral_lbs_10_207_0_v1.1.0.pkl"
    path.write_bytes(pickle_chumpy(arrays, ("shapedirs",)))
    data = smpl_files.load_smpl_file(path)
    assert data.shapedirs.shape[2] == 10
    np.testing.assert_allclose(data.shapedirs, arrays["shapedirs"][:, :, :10], rtol=1e-6)


@pytest.mark.parametrize("name, gender", [
    ("basicModel_m_lbs_10_207_0_v1.0.0.pkl", "male"),
    ("basicModel_f_lbs_10_207_0_v1.0.0.pkl", "female"),
    ("basicModel_neutral_lbs_10_207_0_v1.0.0.pkl", "neutral"),
    ("SMPL_FEMALE.pkl", "female"), ("SMPL_MALE.npz", "male"), ("SMPL_NEUTRAL.pkl", "neutral"),
])
def test_gender_from_file_name(name: str, gender: str) -> None:
    assert smpl_files.gender_from_name(name) == gender


def test_male_file_loads_as_male(smpl_pickle, tmp_path) -> None:
    path = tmp_path / "basicModel_m_lbs_10_207_0_v1.0.0.pkl"
    path.write_bytes(smpl_pickle[0].read_bytes())
    assert smpl_files.load_smpl_file(path).gender == "male"


def test_smpl_npz_matches_pickle(smpl_pickle, tmp_path) -> None:
    path, arrays = smpl_pickle
    npz = tmp_path / "SMPL_NEUTRAL.npz"
    np.savez(npz, **{**arrays, "J_regressor": arrays["J_regressor"].toarray()})
    a, b = smpl_files.load_smpl_file(npz), smpl_files.load_smpl_file(path)
    for key in ("v_template", "shapedirs", "posedirs", "J_regressor", "weights", "faces"):
        np.testing.assert_array_equal(getattr(a, key), getattr(b, key))
    assert a.landmarks == b.landmarks


def _pymaf_state_dict(arrays: dict[str, np.ndarray]) -> dict[str, torch.Tensor]:
    """The regressor.0.smpl.* buffers as smplx lays them out (posedirs as [207, V*3])."""
    v = len(arrays["v_template"])
    parents = torch.as_tensor(arrays["kintree_table"][0].astype(np.int64))
    parents[0] = -1
    smpl = {
        "v_template": arrays["v_template"], "shapedirs": arrays["shapedirs"],
        "posedirs": arrays["posedirs"].reshape(v * 3, 207).T,
        "J_regressor": arrays["J_regressor"].toarray(), "lbs_weights": arrays["weights"],
        "J_regressor_extra": np.full((9, v), 1 / v),
    }
    sd = {f"regressor.0.smpl.{k}": torch.as_tensor(np.ascontiguousarray(a), dtype=torch.float32)
          for k, a in smpl.items()}
    sd["regressor.0.smpl.parents"] = parents
    sd["regressor.0.smpl.faces_tensor"] = torch.as_tensor(arrays["f"].astype(np.int64))
    sd["regressor.0.init_shape"] = torch.zeros(1, 10)
    return sd


def test_checkpoint_body_matches_pickle(smpl_pickle, tmp_path) -> None:
    path, arrays = smpl_pickle
    ckpt = tmp_path / "PyMAF_model_checkpoint.pt"
    torch.save({"model": _pymaf_state_dict(arrays), "epoch": 3}, ckpt)
    from_ckpt = registry.find_body_model(str(ckpt))
    from_pickle = smpl_files.load_smpl_file(path)
    assert from_ckpt.J_regressor_extra.shape == (9, len(arrays["v_template"]))
    torch.manual_seed(0)
    pose, betas = 0.4 * torch.randn(3, 72), torch.randn(3, 10)
    # [B,1,3]: model.py reads a [3,3] global_orient as one rotation matrix when B == 3.
    outs = [BodyModel(d, batch_size=3)(global_orient=pose[:, None, :3], body_pose=pose[:, 3:],
                                       betas=betas) for d in (from_ckpt, from_pickle)]
    torch.testing.assert_close(outs[0].vertices, outs[1].vertices, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(outs[0].joints, outs[1].joints, rtol=1e-5, atol=1e-6)
    assert not torch.allclose(outs[0].vertices[0], outs[0].vertices[1])


def test_checkpoint_without_smpl_keys(tmp_path) -> None:
    ckpt = tmp_path / "other.pth"
    torch.save({"model": {"fc.weight": torch.zeros(2, 2)}}, ckpt)
    with pytest.raises(ModelFileError, match=r"regressor\.0\.smpl\.v_template"):
        smpl_files.load_pymaf_checkpoint_body(ckpt)


@pytest.mark.parametrize("content", [b"", b"\x80\x02}q\x00(X", b"not a pickle at all",
                                     pickle.dumps([1, 2, 3])])
def test_corrupt_pickle(tmp_path, content: bytes) -> None:
    path = tmp_path / "SMPL_NEUTRAL.pkl"
    path.write_bytes(content)
    with pytest.raises(ModelFileError, match="corrupt or not an SMPL model|not an SMPL model"):
        smpl_files.load_smpl_file(path)


def test_pickle_with_code_is_refused(tmp_path) -> None:
    marker = tmp_path / "ran"
    path = tmp_path / "SMPL_NEUTRAL.pkl"

    class Evil:
        def __reduce__(self):
            return (Path.touch, (marker,))

    path.write_bytes(pickle.dumps({"v_template": Evil()}))
    with pytest.raises(ModelFileError, match="pathlib"):
        smpl_files.read_smpl_pickle(path)
    assert not marker.exists()


def test_missing_keys_are_listed(pickle_chumpy, tmp_path) -> None:
    arrays = synthetic_smpl_arrays()
    del arrays["f"], arrays["weights"]
    path = tmp_path / "SMPL_NEUTRAL.pkl"
    path.write_bytes(pickle_chumpy(arrays, ("shapedirs",)))
    with pytest.raises(ModelFileError, match="missing keys: weights, f"):
        smpl_files.read_smpl_pickle(path)


def _search_in(monkeypatch, tmp_path) -> tuple[Path, Path]:
    repo_dir, env_dir = tmp_path / "repo" / "models" / "smpl", tmp_path / "env"
    monkeypatch.setattr(registry, "SMPL_SEARCH_DIRS",
                        (str(repo_dir), "$STUDIO_MODELS", "$STUDIO_MODELS/smpl"))
    monkeypatch.setenv("STUDIO_MODELS", str(env_dir))
    return repo_dir, env_dir


def test_missing_smpl_names_search_paths(monkeypatch, tmp_path) -> None:
    repo_dir, env_dir = _search_in(monkeypatch, tmp_path)
    with pytest.raises(ModelFileError) as err:
        registry.find_body_model("smpl")
    message = str(err.value)
    for expected in (str(repo_dir), str(env_dir), str(env_dir / "smpl"), "SMPL_NEUTRAL.pkl",
                     "https://smpl.is.tue.mpg.de"):
        assert expected in message


def test_smpl_found_through_env_var(monkeypatch, tmp_path, smpl_pickle) -> None:
    _, env_dir = _search_in(monkeypatch, tmp_path)
    (env_dir / "smpl").mkdir(parents=True)
    target = env_dir / "smpl" / "basicModel_f_lbs_10_207_0_v1.0.0.pkl"
    target.write_bytes(smpl_pickle[0].read_bytes())
    data = registry.find_body_model("smpl-female")
    assert data.source == str(target) and data.gender == "female"


def test_missing_mannequin_says_how_to_build(monkeypatch, tmp_path) -> None:
    monkeypatch.setattr(registry, "MANNEQUIN_PATH", tmp_path / "mannequin.npz")
    with pytest.raises(ModelFileError, match="studio body build"):
        registry.find_body_model("mannequin")
