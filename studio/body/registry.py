"""Choosing a body model by name or path: the built-in mannequin, SMPL, or a file.

Specs: ``mannequin``; ``smpl`` / ``smpl-male`` / ``smpl-female`` (searched for in
:data:`SMPL_SEARCH_DIRS`); or a path to a .pkl, .npz (studio or SMPL-X format) or PyMAF
checkpoint. With no spec the neutral SMPL model is used when present, else the mannequin.
"""
from __future__ import annotations

import os
from pathlib import Path

from studio.body import smpl_files, storage
from studio.body.model import BodyData, BodyModel
from studio.errors import ModelFileError

REPO_ROOT = Path(__file__).resolve().parents[2]
MANNEQUIN_PATH = REPO_ROOT / "models" / "mannequin" / "mannequin.npz"
ENV_VAR = "STUDIO_MODELS"
# Where SMPL files are looked for, in order; "$STUDIO_MODELS" stands for each of its folders.
SMPL_SEARCH_DIRS = (
    str(REPO_ROOT / "models" / "smpl"),
    f"${ENV_VAR}",
    f"${ENV_VAR}/smpl",
    "~/.cache/human-mesh-studio/smpl",
)
SMPL_FILE_NAMES = {
    "neutral": ("SMPL_NEUTRAL.pkl", "SMPL_NEUTRAL.npz",
                "basicModel_neutral_lbs_10_207_0_v1.0.0.pkl",
                "basicmodel_neutral_lbs_10_207_0_v1.1.0.pkl"),
    "male": ("SMPL_MALE.pkl", "SMPL_MALE.npz", "basicModel_m_lbs_10_207_0_v1.0.0.pkl",
             "basicmodel_m_lbs_10_207_0_v1.1.0.pkl"),
    "female": ("SMPL_FEMALE.pkl", "SMPL_FEMALE.npz", "basicModel_f_lbs_10_207_0_v1.0.0.pkl",
               "basicmodel_f_lbs_10_207_0_v1.1.0.pkl"),
}
SMPL_SPECS = {"smpl": "neutral", "smpl-neutral": "neutral", "smpl-male": "male",
              "smpl-female": "female"}
CHECKPOINT_SUFFIXES = (".pt", ".pth", ".tar", ".ckpt")


def expand_search_dirs(entries: tuple[str, ...]) -> list[Path]:
    """Folders to search: ``entries`` with ``$STUDIO_MODELS`` (one folder per path in it)
    and ``~`` expanded, in order."""
    env = [p for p in os.environ.get(ENV_VAR, "").split(os.pathsep) if p]
    dirs: list[Path] = []
    for entry in entries:
        if entry.startswith(f"${ENV_VAR}"):
            dirs += [Path(p + entry[len(ENV_VAR) + 1:]).expanduser() for p in env]
        else:
            dirs.append(Path(entry).expanduser())
    return dirs


def smpl_search_dirs() -> list[Path]:
    """:data:`SMPL_SEARCH_DIRS`, expanded."""
    return expand_search_dirs(SMPL_SEARCH_DIRS)


def find_smpl_file(gender: str = "neutral") -> Path | None:
    """The first SMPL file of ``gender`` in the search folders, or None."""
    for folder in smpl_search_dirs():
        for name in SMPL_FILE_NAMES[gender]:
            if (folder / name).is_file():
                return folder / name
    return None


def _missing_smpl_message(gender: str) -> str:
    searched = ", ".join(str(d) for d in smpl_search_dirs()) or "(no folders)"
    return (f"SMPL {gender} model not found: looked for {' / '.join(SMPL_FILE_NAMES[gender])} "
            f"in {searched} (set ${ENV_VAR} to add folders, '{os.pathsep}'-separated); "
            f"{smpl_files.SMPL_HINT} and put the file in one of those folders")


def load_mannequin() -> BodyData:
    """The built-in body model shipped in ``models/``."""
    if not MANNEQUIN_PATH.is_file():
        raise ModelFileError(f"{MANNEQUIN_PATH}: built-in body model not found; "
                             "run `studio body build` to generate it")
    return _load_studio_npz(MANNEQUIN_PATH, source=f"mannequin ({MANNEQUIN_PATH})")


def _load_studio_npz(path: Path, source: str | None = None) -> BodyData:
    try:
        return storage.load_body_npz(path, source=source)
    except Exception as err:  # noqa: BLE001 - any decoding failure means a bad file
        raise ModelFileError(f"{path}: the body model file is corrupt ({err})") from err


def _load_path(path: Path) -> BodyData:
    if not path.is_file():
        raise ModelFileError(f"{path}: body model file not found")
    suffix = path.suffix.lower()
    if suffix == ".npz" and storage.is_studio_npz(path):
        return _load_studio_npz(path)
    if suffix in (".pkl", ".npz"):
        return smpl_files.load_smpl_file(path)
    if suffix in CHECKPOINT_SUFFIXES:
        return smpl_files.load_pymaf_checkpoint_body(path)
    raise ModelFileError(f"{path}: unknown body model file type {suffix!r} (expected .pkl, "
                         f".npz or a PyMAF checkpoint: {', '.join(CHECKPOINT_SUFFIXES)})")


def find_body_model(spec: str | None = None) -> BodyData:
    """The body model ``spec`` names; ``.source`` says where it came from."""
    if spec is None:
        found = find_smpl_file()
        return smpl_files.load_smpl_file(found) if found else load_mannequin()
    if spec == "mannequin":
        return load_mannequin()
    if spec in SMPL_SPECS:
        gender = SMPL_SPECS[spec]
        found = find_smpl_file(gender)
        if found is None:
            raise ModelFileError(_missing_smpl_message(gender))
        return smpl_files.load_smpl_file(found)
    return _load_path(Path(spec).expanduser())


def load_body_model(spec: str | None = None, batch_size: int = 1) -> BodyModel:
    """A ready-to-run :class:`BodyModel` for ``spec`` (see :func:`find_body_model`)."""
    return BodyModel(find_body_model(spec), batch_size=batch_size)
