"""PyMAF: a mesh regressor corrected by features sampled where its own mesh projects.

Module and attribute names mirror the official implementation so its checkpoint loads
with ``strict=True`` (see ``shared/reference/pymaf_state_dict.json``). Every feedback
iteration is returned, because the studio shows how the mesh moves from one to the next.
The same class builds the built-in variants: other backbones, proxy-map inputs and body
models with another vertex count.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from studio.body.model import NUM_BETAS, NUM_JOINTS, BodyData, BodyModel, BodyOutput
from studio.nets.backbones import build_backbone
from studio.nets.geometry import project_to_crop, rot6d_to_rotmat, rotmat_to_axis_angle

NUM_LEVELS = 3
GRID_SIZE = 21
PYRAMID_CHANNELS = 256
MAF_CHANNELS = (128, 64, 5)
HIDDEN = 1024
READOUT_HIDDEN = 256
POSE_DIM = 6 * NUM_JOINTS
PARAM_DIM = POSE_DIM + NUM_BETAS + 3
OFFICIAL_SMPL_BATCH = 64  # the unused smplx parameters in official checkpoints have batch 64
DENSE_CHANNELS = {"uv_index": 25, "ann_index": 15, "u": 25, "v": 25}


@dataclass
class PyMAFIteration:
    """One estimate: the mean-parameter start (index 0) or one feedback level's result."""

    vertices: torch.Tensor  # [B,V,3]
    theta: torch.Tensor  # [B,85]: cam (3), betas (10), axis-angle pose (72)
    rotmat: torch.Tensor  # [B,24,3,3]
    pose6d: torch.Tensor  # [B,144]
    betas: torch.Tensor  # [B,10]
    cam: torch.Tensor  # [B,3] weak perspective [s, tx, ty]
    keypoints_3d: torch.Tensor  # [B,49,3] pymaf49 layout
    keypoints_2d: torch.Tensor  # [B,49,2] crop coordinates in [-1, 1]
    sample_points: torch.Tensor | None  # [B,N,2] points sampled to make it; None at index 0
    dense: dict[str, torch.Tensor] | None  # 56x56 maps; only on the final iteration
    feature: torch.Tensor | None = None  # [B,C,h,w] pyramid level it sampled; None at 0
    body: BodyOutput | None = None  # the posed body, for keypoints of other layouts


@dataclass
class PyMAFOutput:
    """All iterations of one forward pass, the last being the final answer."""

    iterations: list[PyMAFIteration]

    @property
    def final(self) -> PyMAFIteration:
        return self.iterations[-1]


def make_points_grid(size: int = GRID_SIZE) -> torch.Tensor:
    """[1,2,size*size]: point k = (t[k // size], t[k % size]), t = linspace(-1, 1, size)."""
    t = torch.linspace(-1, 1, size, dtype=torch.float32)
    rows, cols = torch.meshgrid(t, t, indexing="ij")
    return torch.stack([rows.reshape(-1), cols.reshape(-1)])[None]


def mean_params() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """A neutral start for models without SMPL's mean file: rest pose turned to face the
    camera (pi about x), mean shape, camera [0.9, 0, 0] as in SMPL's mean parameters."""
    pose = torch.tensor([1.0, 0.0, 0.0, 1.0, 0.0, 0.0]).repeat(NUM_JOINTS)
    pose[:6] = torch.tensor([1.0, 0.0, 0.0, -1.0, 0.0, 0.0])
    return pose[None], torch.zeros(1, NUM_BETAS), torch.tensor([[0.9, 0.0, 0.0]])


def downsampling_map(body: BodyData) -> torch.Tensor:
    """Dense [V_coarse, V] product of the body's downsampling matrices (431 x 6890 for SMPL)."""
    if not body.downsampling:
        raise ValueError(f"body model {body.name!r} has no downsampling matrices")
    product = body.downsampling[0]
    for d in body.downsampling[1:]:
        product = d @ product
    return torch.as_tensor(product.toarray(), dtype=torch.float32)


def sample_features(feature_map: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
    """Bilinear features [B,C,N] of map [B,C,H,W] at points [B,N,2] (x, y in [-1, 1];
    corners are the centres of the corner pixels, as ``align_corners=True`` says)."""
    return F.grid_sample(feature_map, points[:, :, None, :], align_corners=True)[..., 0]


class MAFExtractor(nn.Module):
    """Mesh-aligned features: a per-point 1x1-conv MLP that squeezes 256 channels to 5.

    Each later layer also sees the sampled feature again (skip input); the output is
    flattened channel-major, [B, 5*N], which is the order the regressor was trained on.
    """

    def __init__(self, dmap: torch.Tensor, in_channels: int = PYRAMID_CHANNELS) -> None:
        super().__init__()
        self.register_buffer("Dmap", dmap.float())
        c0, c1, c2 = MAF_CHANNELS
        self.conv0 = nn.Conv1d(in_channels, c0, 1)
        self.conv1 = nn.Conv1d(c0 + in_channels, c1, 1)
        self.conv2 = nn.Conv1d(c1 + in_channels, c2, 1)

    def reduce(self, sampled: torch.Tensor) -> torch.Tensor:
        """[B,256,N] -> [B,5*N]."""
        y = F.leaky_relu(self.conv0(sampled))
        y = F.leaky_relu(self.conv1(torch.cat([y, sampled], 1)))
        y = F.relu(self.conv2(torch.cat([y, sampled], 1)))
        return y.flatten(1)

    def downsample(self, vertices: torch.Tensor) -> torch.Tensor:
        """Vertices [B,V,3] -> [B,N,3] through ``Dmap``, as a gather of each row's few
        non-zeros (one for farthest-point sampling, a handful for SMPL's).

        The dense product spends almost all its time on zeros, and a sparse one cannot be
        traced (:mod:`studio.nets.traced`); the gather is rebuilt whenever the buffer
        changes (loading weights, moving devices).
        """
        key = (self.Dmap.data_ptr(), self.Dmap.device, self.Dmap._version)
        if getattr(self, "_gather_key", None) != key:
            width = max(1, int((self.Dmap != 0).sum(1).max()))
            _, columns = self.Dmap.abs().topk(width, dim=1)
            self._gather = (columns, self.Dmap.gather(1, columns))
            self._gather_key = key
        columns, weights = self._gather
        return (vertices[:, columns] * weights[None, :, :, None]).sum(2)

    def mesh_points(self, vertices: torch.Tensor, cam: torch.Tensor) -> torch.Tensor:
        """Downsampled vertices [B,N,3] projected by camera [B,3] -> points [B,N,2]."""
        return project_to_crop(self.downsample(vertices), cam)


class Regressor(nn.Module):
    """One residual step from the current parameters, then the body model on the result.

    The body model may be shared by all regressors; its unused smplx parameters are frozen.
    """

    def __init__(self, feature_dim: int, smpl: BodyModel, init_pose: torch.Tensor,
                 init_shape: torch.Tensor, init_cam: torch.Tensor, hidden: int = HIDDEN,
                 dropout: float = 0.5, relu: bool = False) -> None:
        super().__init__()
        self.register_buffer("init_pose", init_pose.reshape(1, POSE_DIM).float().clone())
        self.register_buffer("init_shape", init_shape.reshape(1, NUM_BETAS).float().clone())
        self.register_buffer("init_cam", init_cam.reshape(1, 3).float().clone())
        self.fc1 = nn.Linear(feature_dim + PARAM_DIM, hidden)
        self.act = nn.ReLU() if relu else nn.Identity()
        self.drop1 = nn.Dropout(dropout)
        self.fc2 = nn.Linear(hidden, hidden)
        self.drop2 = nn.Dropout(dropout)
        self.decpose = nn.Linear(hidden, POSE_DIM)
        self.decshape = nn.Linear(hidden, NUM_BETAS)
        self.deccam = nn.Linear(hidden, 3)
        for head in (self.decpose, self.decshape, self.deccam):
            nn.init.xavier_uniform_(head.weight, gain=0.01)
        self.smpl = smpl

    def initial(self, batch: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        return (self.init_pose.expand(batch, -1), self.init_shape.expand(batch, -1),
                self.init_cam.expand(batch, -1))

    def step(self, feature: torch.Tensor, pose: torch.Tensor, shape: torch.Tensor,
             cam: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Parameters plus the predicted residual; input order [feature, pose, shape, cam]."""
        h = self.drop1(self.act(self.fc1(torch.cat([feature, pose, shape, cam], 1))))
        h = self.drop2(self.act(self.fc2(h)))
        return pose + self.decpose(h), shape + self.decshape(h), cam + self.deccam(h)

    def mesh(self, pose: torch.Tensor, shape: torch.Tensor, cam: torch.Tensor,
             sample_points: torch.Tensor | None = None) -> PyMAFIteration:
        """Pose the body with 6D pose [B,144], betas [B,10] and look at it with cam [B,3]."""
        batch = pose.shape[0]
        rotmat = rot6d_to_rotmat(pose).reshape(batch, NUM_JOINTS, 3, 3)
        out = self.smpl(global_orient=rotmat[:, :1], body_pose=rotmat[:, 1:], betas=shape)
        kp3d = out.keypoints("pymaf49")
        axis_angle = rotmat_to_axis_angle(rotmat).reshape(batch, 3 * NUM_JOINTS)
        return PyMAFIteration(
            vertices=out.vertices, theta=torch.cat([cam, shape, axis_angle], 1), rotmat=rotmat,
            pose6d=pose, betas=shape, cam=cam, keypoints_3d=kp3d,
            keypoints_2d=project_to_crop(kp3d, cam), sample_points=sample_points, dense=None,
            body=out)


class DensePredictor(nn.Module):
    """Auxiliary dense-correspondence (IUV) head on the 56x56 pyramid level."""

    def __init__(self, in_channels: int = PYRAMID_CHANNELS) -> None:
        super().__init__()
        for name, channels in DENSE_CHANNELS.items():
            self.add_module(f"predict_{name}", nn.Conv2d(in_channels, channels, 3, padding=1))

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        return {name: getattr(self, f"predict_{name}")(x) for name in DENSE_CHANNELS}


class KeypointReadout(nn.Module):
    """Keypoint positions read off the input's heatmap channels, embedded for the regressors.

    A small backbone learns only slowly to turn Gaussian blobs into coordinates; on proxy
    maps the coordinates are known exactly, so they are read out (centroid and peak of
    each heatmap: position and visibility) and passed through a small MLP, the same
    vector at every iteration. It pays off with ``regressor_relu``: an affine regressor
    cannot lift 2D positions to joint rotations (see the proxy model card).
    """

    def __init__(self, channels: int, hidden: int = READOUT_HIDDEN) -> None:
        super().__init__()
        self.channels = channels
        self.mlp = nn.Sequential(nn.Linear(3 * channels, hidden), nn.ReLU(inplace=True),
                                 nn.Linear(hidden, hidden), nn.ReLU(inplace=True))

    @property
    def out_dim(self) -> int:
        return self.mlp[-2].out_features

    @staticmethod
    def read(heatmaps: torch.Tensor) -> torch.Tensor:
        """Heatmaps [B,K,H,W] -> [B,K,3]: centroid in crop coordinates ([-1, 1], corners
        aligned) and peak height; an empty map reads as (0, 0, 0)."""
        h, w = heatmaps.shape[-2:]
        weights = heatmaps.clamp(min=0)
        mass = weights.sum(dim=(2, 3)).clamp(min=1e-6)
        ys = torch.linspace(-1, 1, h, device=heatmaps.device, dtype=heatmaps.dtype)
        xs = torch.linspace(-1, 1, w, device=heatmaps.device, dtype=heatmaps.dtype)
        x = (weights.sum(dim=2) * xs).sum(dim=2) / mass
        y = (weights.sum(dim=3) * ys).sum(dim=2) / mass
        peak = weights.amax(dim=(2, 3))
        return torch.stack([x, y, peak], dim=2)

    def forward(self, crops: torch.Tensor) -> torch.Tensor:
        points = self.read(crops[:, -self.channels:])
        return self.mlp(points.flatten(1))


def _deconv_block(cin: int, cout: int) -> list[nn.Module]:
    return [nn.ConvTranspose2d(cin, cout, 4, stride=2, padding=1, bias=False),
            nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]


FEEDBACK = ("maf", "ief")


class PyMAF(nn.Module):
    """Backbone -> 3-level deconv pyramid -> 3 mesh-alignment feedback steps.

    ``forward(crops [B,C,224,224])`` (ImageNet-normalised RGB, or proxy maps) returns a
    :class:`PyMAFOutput` with 4 iterations: the mean-parameter mesh, then one per level.
    Official weights need the defaults; ``pyramid_channels`` below 256 makes the deconv
    pyramid and dense head (most of the cost behind a small backbone) cheaper, and
    ``hidden`` narrows the regressors (``dropout`` is their dropout rate: the paper's
    0.5 guards against overfitting real datasets; endless synthetic data needs less).
    ``feedback="ief"`` is the paper's baseline:
    every step regresses from the same global (pooled backbone) feature, as iterative
    error feedback does, instead of features sampled where the current mesh projects.
    ``keypoint_readout`` > 0 says the input's last that many channels are keypoint
    heatmaps, whose positions every regressor also gets (:class:`KeypointReadout`).
    """

    def __init__(self, body: BodyData, backbone: str = "resnet50", in_channels: int = 3,
                 dmap: torch.Tensor | None = None, dense_head: bool = True,
                 pyramid_channels: int = PYRAMID_CHANNELS,
                 smpl_batch_size: int = OFFICIAL_SMPL_BATCH, hidden: int = HIDDEN,
                 feedback: str = "maf", dropout: float = 0.5,
                 keypoint_readout: int = 0, regressor_relu: bool = False) -> None:
        super().__init__()
        if feedback not in FEEDBACK:
            raise ValueError(f"feedback must be one of {FEEDBACK}, not {feedback!r}")
        self.feedback = feedback
        self.register_buffer("points_grid", make_points_grid())
        self.feature_extractor = build_backbone(backbone, in_channels)
        chans = [self.feature_extractor.out_channels] + [pyramid_channels] * NUM_LEVELS
        self.deconv_layers = nn.Sequential(
            *[m for i in range(NUM_LEVELS) for m in _deconv_block(chans[i], chans[i + 1])])
        smpl = BodyModel(body, batch_size=smpl_batch_size)
        for p in smpl.parameters():
            p.requires_grad_(False)
        init = mean_params()
        if feedback == "maf":
            dmap = downsampling_map(body) if dmap is None else torch.as_tensor(dmap)
            self.maf_extractor = nn.ModuleList(
                MAFExtractor(dmap, pyramid_channels) for _ in range(NUM_LEVELS))
            dims = [MAF_CHANNELS[-1] * n
                    for n in [GRID_SIZE ** 2] + [dmap.shape[0]] * (NUM_LEVELS - 1)]
        else:
            self.maf_extractor = None
            dims = [self.feature_extractor.out_channels] * NUM_LEVELS
        self.readout = KeypointReadout(keypoint_readout) if keypoint_readout else None
        if self.readout is not None:
            dims = [d + self.readout.out_dim for d in dims]
        self.regressor = nn.ModuleList(Regressor(d, smpl, *init, hidden=hidden, dropout=dropout,
                                                 relu=regressor_relu)
                                       for d in dims)
        self.dp_head = DensePredictor(pyramid_channels) if dense_head else None

    @property
    def body(self) -> BodyModel:
        return self.regressor[0].smpl

    def dense_size(self, input_size: int) -> int:
        """Side of the top pyramid level (where the dense head works) for square crops of
        ``input_size``: the backbone's stride down, then one 2x step per level up."""
        return input_size * 2 ** NUM_LEVELS // self.feature_extractor.stride

    def pyramid_levels(self) -> list[nn.Sequential]:
        """Deconv block per level: 7 -> 14, 14 -> 28, 28 -> 56."""
        return [self.deconv_layers[3 * i:3 * i + 3] for i in range(NUM_LEVELS)]

    def forward(self, crops: torch.Tensor,
                start: tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None = None
                ) -> PyMAFOutput:
        """The feedback iterations on ``crops``, from the mean parameters or ``start``:
        6D pose [B,144], betas [B,10] and crop camera [B,3] (e.g. a keypoint fit's body,
        :mod:`studio.pipeline.pymaf_kpstart`)."""
        batch = crops.shape[0]
        feature = self.feature_extractor(crops)
        global_feature = feature.mean(dim=(2, 3)) if self.feedback == "ief" else None
        readout = self.readout(crops) if self.readout is not None else None
        pose, shape, cam = self.regressor[0].initial(batch) if start is None else start
        current = self.regressor[0].mesh(pose, shape, cam)
        iterations = [current]
        for level, (block, reg) in enumerate(zip(self.pyramid_levels(), self.regressor)):
            feature = block(feature)
            pose, shape, cam = (t.detach() for t in (current.pose6d, current.betas, current.cam))
            points = None
            if global_feature is not None:
                step_input = global_feature
            else:
                maf = self.maf_extractor[level]
                points = (self.points_grid.transpose(1, 2).expand(batch, -1, -1) if level == 0
                          else maf.mesh_points(current.vertices.detach(), cam))
                step_input = maf.reduce(sample_features(feature, points))
            if readout is not None:
                step_input = torch.cat([step_input, readout], 1)
            current = reg.mesh(*reg.step(step_input, pose, shape, cam), sample_points=points)
            current.feature = feature
            iterations.append(current)
        if self.dp_head is not None:
            current.dense = self.dp_head(feature)
        return PyMAFOutput(iterations=iterations)
