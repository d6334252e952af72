"""One interface for every body model (official SMPL files and the built-in mannequin).

Both kinds are stored as a :class:`BodyData` (plain numpy arrays in SMPL's layout plus
the metadata the studio needs) and run through :class:`BodyModel`, a subclass of
``smplx.SMPL``: skinning is smplx's, and the module's buffers have exactly SMPL's names,
so a PyMAF regressor holding one as ``.smpl`` loads official checkpoints strictly. The
forward pass composes smplx's skinning parts in :mod:`studio.body.skinning`, which skips
the mannequin's absent pose correctives.
"""
from __future__ import annotations

import contextlib
import io
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp
import smplx
import torch
from smplx.utils import Struct

from studio.body import joint_sets
from studio.body.skinning import kinematic_levels, skin

NUM_BETAS = 10
NUM_JOINTS = 24


@dataclass
class BodyData:
    """Arrays of a body model in SMPL's layout, plus studio metadata.

    ``vertex_ids`` uses smplx's key names (nose, reye, ..., LBigToe, ..., lthumb, ...) so
    smplx's vertex-joint selector works unchanged; ``landmarks`` maps the studio's
    landmark names (``joint_sets.LANDMARK_NAMES``) to vertex indices.
    """

    name: str
    source: str
    v_template: np.ndarray  # [V,3] float32, metres, y up, facing +z
    shapedirs: np.ndarray  # [V,3,10]
    J_regressor: np.ndarray  # [24,V] dense
    weights: np.ndarray  # [V,24] skinning weights
    parents: np.ndarray  # [24] int64, parents[0] == -1
    faces: np.ndarray  # [F,3] int64
    vertex_ids: dict[str, int]
    landmarks: dict[str, int]
    posedirs: np.ndarray | None = None  # [V,3,207]; None means no pose correctives
    J_regressor_extra: np.ndarray | None = None  # [9,V], SPIN's extra joints
    part_labels: np.ndarray | None = None  # [V] int, 0..23; default argmax of weights
    uv: np.ndarray | None = None  # [V,2] per-part UV in [0,1]
    downsampling: list[sp.csr_matrix] = field(default_factory=list)  # D_k: [V_{k+1}, V_k]
    upsampling: list[sp.csr_matrix] = field(default_factory=list)  # U_k: [V_k, V_{k+1}]
    gender: str = "neutral"

    def __post_init__(self) -> None:
        self.v_template = np.asarray(self.v_template, np.float32)
        self.faces = np.asarray(self.faces, np.int64)
        self.parents = np.asarray(self.parents, np.int64).copy()
        self.parents[0] = -1
        self.shapedirs = np.asarray(self.shapedirs, np.float32)[:, :, :NUM_BETAS]
        if self.part_labels is None:
            self.part_labels = np.asarray(self.weights).argmax(axis=1).astype(np.int64)

    @property
    def num_vertices(self) -> int:
        return int(self.v_template.shape[0])

    def smpl_struct(self) -> Struct:
        """The arrays under SMPL's pickle key names, as smplx.SMPL reads them."""
        v = self.num_vertices
        posedirs = self.posedirs
        if posedirs is None:
            posedirs = np.zeros((v, 3, 9 * (NUM_JOINTS - 1)), np.float32)
        kintree = np.stack([self.parents, np.arange(NUM_JOINTS)]).astype(np.int64)
        kintree[0, 0] = 4294967295  # the value official SMPL files store for the root
        return Struct(
            v_template=self.v_template,
            shapedirs=self.shapedirs,
            posedirs=np.asarray(posedirs, np.float32),
            J_regressor=sp.csc_matrix(np.asarray(self.J_regressor, np.float64)),
            weights=np.asarray(self.weights, np.float32),
            kintree_table=kintree,
            f=self.faces,
        )

    def rest_joints(self) -> np.ndarray:
        """Joint positions [24,3] of the mean shape in the rest pose."""
        return np.asarray(self.J_regressor, np.float64) @ self.v_template.astype(np.float64)


@dataclass
class BodyOutput:
    """What a body model returns for a batch of poses and shapes."""

    vertices: torch.Tensor  # [B,V,3]
    joints: torch.Tensor  # [B,24,3] SMPL joints
    landmarks: torch.Tensor  # [B,L,3] in joint_sets.LANDMARK_NAMES order
    extra_joints: torch.Tensor  # [B,9,3] SPIN's regressed extra joints
    rotmats: torch.Tensor  # [B,24,3,3] local joint rotations

    def points(self) -> torch.Tensor:
        """All keypoint sources [B,S,3] in ``joint_sets.SOURCE_NAMES`` order."""
        return torch.cat([self.joints, self.landmarks, self.extra_joints], dim=1)

    def keypoints(self, layout: str) -> torch.Tensor:
        """Keypoints [B,K,3] of a named layout (``coco17``, ``mediapipe33``, ...)."""
        m = torch.as_tensor(joint_sets.mapping_matrix(layout), dtype=self.joints.dtype,
                            device=self.joints.device)
        return torch.einsum("ks,bsd->bkd", m, self.points())


def _as_rotmats(pose: torch.Tensor, count: int) -> torch.Tensor:
    """[B, count*3] axis-angle or [B, count, 3, 3] / [B, count*9] matrices -> [B,count,3,3]."""
    b = pose.shape[0]
    if pose.dim() >= 3 and pose.shape[-2:] == (3, 3):  # [B,3,3] or [B,count,3,3]
        return pose.reshape(b, count, 3, 3)
    flat = pose.reshape(b, -1)
    if flat.shape[1] == count * 9:
        return flat.reshape(b, count, 3, 3)
    if flat.shape[1] == count * 3:
        return smplx.lbs.batch_rodrigues(flat.reshape(-1, 3)).reshape(b, count, 3, 3)
    raise ValueError(f"pose of shape {tuple(pose.shape)} is neither {count} axis-angles "
                     f"nor {count} rotation matrices")


def derived_extra_regressor(data: BodyData) -> np.ndarray:
    """Approximate SPIN's 9 extra joints [9,V] from the joint regressor and landmarks.

    Official SMPL pickles come without SPIN's ``J_regressor_extra.npy``; these convex
    combinations of SMPL joints and surface landmarks stand in for it, so the PyMAF-49,
    H36M, MPII and PoseAug layouts stay meaningful (to within a few centimetres).
    """
    j = np.asarray(data.J_regressor, np.float64)
    idx = {n: i for i, n in enumerate(joint_sets.SMPL24_NAMES)}

    def vertex(name: str) -> np.ndarray:
        row = np.zeros(data.num_vertices)
        row[data.landmarks[name]] = 1.0
        return row

    pelvis = 0.5 * (j[idx["left_hip"]] + j[idx["right_hip"]])
    thorax = (j[idx["neck"]] + j[idx["left_collar"]] + j[idx["right_collar"]]) / 3
    rows = {
        "right_hip_lsp": j[idx["right_hip"]], "left_hip_lsp": j[idx["left_hip"]],
        "neck_lsp": 0.5 * (j[idx["neck"]] + j[idx["head"]]), "head_top_lsp": vertex("head_top"),
        "pelvis_mpii": pelvis, "thorax_mpii": thorax, "spine_h36m": 0.5 * (pelvis + thorax),
        "jaw_h36m": 0.5 * (vertex("chin") + j[idx["head"]]),
        "head_h36m": 0.5 * (vertex("head_top") + j[idx["head"]]),
    }
    return np.stack([rows[n] for n in joint_sets.EXTRA_JOINT_NAMES]).astype(np.float32)


class BodyModel(smplx.SMPL):
    """A body model running on smplx's skinning, with the studio's metadata in ``.data``.

    ``forward`` takes axis-angle or rotation matrices and returns a :class:`BodyOutput`.
    """

    def __init__(self, data: BodyData, batch_size: int = 1, create_transl: bool = False) -> None:
        with contextlib.redirect_stdout(io.StringIO()):  # smplx prints a 10-betas warning
            super().__init__(model_path="", data_struct=data.smpl_struct(), num_betas=NUM_BETAS,
                             batch_size=batch_size, create_transl=create_transl,
                             vertex_ids=data.vertex_ids, gender=data.gender)
        self.data = data
        extra = data.J_regressor_extra
        if extra is None:
            extra = derived_extra_regressor(data)
        self.register_buffer("J_regressor_extra", torch.as_tensor(np.asarray(extra, np.float32)))
        self._landmark_idx = torch.as_tensor(
            [data.landmarks[n] for n in joint_sets.LANDMARK_NAMES], dtype=torch.long)
        self._levels = kinematic_levels(self.parents)
        self._pose_correctives = data.posedirs is not None

    def forward(self, global_orient: torch.Tensor | None = None,
                body_pose: torch.Tensor | None = None,
                betas: torch.Tensor | None = None,
                transl: torch.Tensor | None = None, **_: object) -> BodyOutput:
        """Pose and shape the body. Missing inputs default to zeros (rest pose, mean shape)."""
        ref = next(t for t in (global_orient, body_pose, betas, transl, self.v_template)
                   if t is not None)
        b = ref.shape[0] if ref is not self.v_template else 1
        dev, dt = self.v_template.device, self.v_template.dtype
        go = (torch.eye(3, device=dev, dtype=dt).expand(b, 1, 3, 3) if global_orient is None
              else _as_rotmats(global_orient.to(dev, dt), 1))
        bp = (torch.eye(3, device=dev, dtype=dt).expand(b, NUM_JOINTS - 1, 3, 3)
              if body_pose is None else _as_rotmats(body_pose.to(dev, dt), NUM_JOINTS - 1))
        be = torch.zeros(b, NUM_BETAS, device=dev, dtype=dt) if betas is None else betas.to(dev, dt)
        rotmats = torch.cat([go, bp], dim=1)
        if self._levels and self._levels[0][0].device != dev:  # the module moved
            self._levels = [(j.to(dev), p.to(dev)) for j, p in self._levels]
        verts, joints = skin(be.expand(b, -1), rotmats, self.v_template, self.shapedirs,
                             self.posedirs if self._pose_correctives else None,
                             self.J_regressor, self.parents, self._levels, self.lbs_weights)
        if transl is None:
            transl = getattr(self, "transl", None)
        if transl is not None:
            shift = transl.to(dev, dt).unsqueeze(1)
            verts, joints = verts + shift, joints + shift
        extra = torch.einsum("jv,bvd->bjd", self.J_regressor_extra, verts)
        landmarks = verts[:, self._landmark_idx.to(dev)]
        return BodyOutput(vertices=verts, joints=joints, landmarks=landmarks,
                          extra_joints=extra, rotmats=rotmats)
