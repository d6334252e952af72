"""PointHMR ("Sampling is Matter", CVPR 2023), compatible with the official release.

HRNet features at stride 4 give one heat-map per coarse-mesh vertex (spatial soft-max)
and a 512-d feature map with a sine position encoding; each vertex token is its heat-map
times the features. A camera token (a learned mix of the vertex tokens), 49 grid tokens
from the stride-32 map and 14 learned joint tokens join them, each with a learned 128-d
position embedding concatenated; the transformer (:mod:`studio.nets.pointhmr_transformer`)
regresses camera, joints and coarse vertices, which the given matrices up-sample to the
mid and full meshes.

:func:`load_official` builds the official configuration and loads the authors' weights
strictly (``reference/pointhmr_api.md``); :class:`PointHMRConfig` also describes lighter
variants of the same architecture (e.g. :data:`LIGHT`, the mannequin's 438-vertex mesh).
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field

import torch
from torch import nn
from torch.nn import functional as F

from studio.nets.backbones import BasicBlock
from studio.nets.pymaf import KeypointReadout
from studio.nets.pointhmr_backbone import SMALL, W32, HRNet, HRNetConfig, ProxyPyramid
from studio.nets.pointhmr_mesh import (BLOCK_HOPS, as_scipy, attention_masks, check_shape,
                                       sparse_float32, upsample)
from studio.nets.pointhmr_transformer import MeshRegressor, sine_position_encoding

NUM_JOINTS = 14
JOINT_NAMES = ("right ankle", "right knee", "right hip", "left hip", "left knee", "left ankle",
               "right wrist", "right elbow", "right shoulder", "left shoulder", "left elbow",
               "left wrist", "neck", "head")


@dataclass(frozen=True)
class PointHMRConfig:
    """Sizes of a PointHMR; the defaults are the official release's."""

    vertices: tuple[int, int, int] = (431, 1723, 6890)  # coarse, mid, full
    backbone: HRNetConfig = field(default=W32)
    input_size: int = 224
    model_dim: int = 512
    position_dim: int = 128
    reduced_dim: int = 128
    heads: int = 4
    feedforward: tuple[int, int] = (1024, 512)
    layers_per_block: int = 2
    dropout: float = 0.1
    # 0: the heat-map head's blocks are one channel per vertex wide (official); otherwise
    # this width, then a 1x1 conv to the vertices (the built-in's cheap head).
    heatmap_width: int = 0
    # Add each vertex heat-map's expected position (soft-argmax, a learned linear map of
    # its x, y) to the vertex's token: the built-in's keypoint-maps input has few textures
    # to sample, so where a vertex is seen matters more than what is there.
    vertex_coords: bool = False
    # 0: the HRNet of ``backbone``; otherwise the PyMAF proxy model's encoder (small ResNet
    # and two deconv levels of this many channels, :class:`ProxyPyramid`) on
    # ``backbone.in_channels`` inputs, so the trained PyMAF file can start it.
    proxy_pyramid: int = 0
    # >0: the input's last that many channels are keypoint maps; PyMAF's keypoint readout
    # of them (positions, peaks, an MLP) is added to the camera and joint tokens (not in
    # the paper: the tokens that regress the camera and joints get the keypoints directly).
    keypoint_readout: int = 0

    @property
    def grid_tokens(self) -> int:
        return (self.input_size // 32) ** 2

    @property
    def tokens(self) -> int:
        return 1 + self.grid_tokens + NUM_JOINTS + self.vertices[0]


OFFICIAL = PointHMRConfig()
# The same architecture on the mannequin's meshes with a small HRNet and narrower tokens.
LIGHT = PointHMRConfig(vertices=(438, 1750, 7000), backbone=SMALL, model_dim=256,
                       position_dim=64, reduced_dim=64, feedforward=(512, 256))


def _head(cin: int, width: int, blocks: int) -> nn.Sequential:
    """Basic blocks (the first with a 1x1 conv + BN shortcut) and a 1x1 conv, no bias."""
    layers: list[nn.Module] = [BasicBlock(cin if k == 0 else width, width) for k in range(blocks)]
    return nn.Sequential(*layers, nn.Conv2d(width, width, 1, bias=False))


def cell_centres(h: int, w: int, like: torch.Tensor) -> torch.Tensor:
    """[h*w, 2] crop coordinates (x, y in [-1, 1]) of the cells of an h x w map."""
    ys = (torch.arange(h, device=like.device, dtype=like.dtype) + 0.5) / h * 2 - 1
    xs = (torch.arange(w, device=like.device, dtype=like.dtype) + 0.5) / w * 2 - 1
    return torch.stack(torch.meshgrid(xs, ys, indexing="xy"), -1).reshape(-1, 2)


def _fine_heatmaps(logits: torch.Tensor) -> torch.Tensor:
    """The spatial soft-max of the logits after nearest x2 up-sampling (the official
    output: each cell's probability shared by its four sub-cells)."""
    b, v, h, w = logits.shape
    fine = F.interpolate(logits, scale_factor=2)  # nearest
    return F.softmax(fine.flatten(2), dim=-1).view(b, v, 2 * h, 2 * w)


class PointHMR(nn.Module):
    """``forward(images)`` -> dict of camera, joints, vertices at three levels, heatmaps.

    The three matrices (coarse adjacency, coarse -> mid and mid -> full up-sampling) are
    given at construction (scipy sparse, numpy or torch) and kept outside the state dict.
    """

    def __init__(self, config: PointHMRConfig, adjacency: object, upsample_coarse_to_mid: object,
                 upsample_mid_to_full: object) -> None:
        super().__init__()
        self.config = c = config
        v = c.vertices[0]
        self.backbone = (ProxyPyramid(c.backbone.in_channels, c.proxy_pyramid)
                         if c.proxy_pyramid else HRNet(c.backbone))
        self.feature_extract_layer = _head(self.backbone.high_channels, c.model_dim, 2)
        self.heatmap_layer = _head(self.backbone.high_channels, c.heatmap_width or v, 2)
        if c.heatmap_width:
            self.heatmap_layer.append(nn.Conv2d(c.heatmap_width, v, 1))
        self.vertex_coords = nn.Linear(2, c.model_dim) if c.vertex_coords else None
        self.readout = KeypointReadout(c.keypoint_readout) if c.keypoint_readout else None
        self.readout_tokens = (nn.Linear(self.readout.out_dim, (1 + NUM_JOINTS) * c.model_dim)
                               if self.readout is not None else None)
        self.grid_layer = _head(self.backbone.low_channels, c.model_dim, 1)
        self.cam_layer = nn.Linear(v, 1)
        # cam_token_embed and vertex_token_embed are in the official checkpoint but never
        # read by its forward; they stay so its keys load strictly.
        self.cam_token_embed = nn.Embedding(1, c.model_dim)
        self.joint_token_embed = nn.Embedding(NUM_JOINTS, c.model_dim)
        self.vertex_token_embed = nn.Embedding(v, c.model_dim)
        self.token_position_embed = nn.Embedding(c.tokens, c.position_dim)
        wide = c.model_dim + c.position_dim
        masks = attention_masks(self._checked(adjacency, (v, v), "adjacency"),
                                c.tokens - v, BLOCK_HOPS)
        self.transformer = MeshRegressor(wide, c.reduced_dim, c.heads, c.feedforward,
                                         c.layers_per_block, masks, c.grid_tokens, c.dropout)
        mid, full = c.vertices[1], c.vertices[2]
        self.register_buffer("upsample_coarse_to_mid", sparse_float32(
            self._checked(upsample_coarse_to_mid, (mid, v), "upsample_coarse_to_mid")),
            persistent=False)
        self.register_buffer("upsample_mid_to_full", sparse_float32(
            self._checked(upsample_mid_to_full, (full, mid), "upsample_mid_to_full")),
            persistent=False)

    @staticmethod
    def _checked(matrix: object, shape: tuple[int, int], name: str) -> object:
        csr = as_scipy(matrix, name)
        check_shape(csr, shape, name)
        return csr

    def forward(self, images: torch.Tensor, attention: list[torch.Tensor] | None = None,
                fine_heatmaps: bool = True) -> dict[str, torch.Tensor]:
        """``images`` [B, C, S, S] normalised crops. Pass a list as ``attention`` to get
        each transformer layer's head-averaged attention weights [B, T, T] appended.
        Training, which reads ``heatmap_logits``, skips the x2 ``heatmaps`` (a third of
        the built-in's step)."""
        high, low = self.backbone(images)
        b, _, h, w = high.shape
        logits = self.heatmap_layer(high)
        sampling = F.softmax(logits.flatten(2), dim=-1)  # [B, V, h*w]
        features = self.feature_extract_layer(high).flatten(2)
        features = features + sine_position_encoding(
            features.shape[1], h, w, high.device).flatten(1)
        grid = self.grid_layer(low)
        grid = grid.flatten(2) + sine_position_encoding(
            grid.shape[1], grid.shape[2], grid.shape[3], high.device).flatten(1)
        sampled = sampling @ features.transpose(1, 2)  # [B, V, C]
        if self.vertex_coords is not None:
            sampled = sampled + self.vertex_coords(sampling @ cell_centres(h, w, high))
        camera_token = self.cam_layer(sampled.transpose(1, 2)).transpose(1, 2)  # [B, 1, C]
        joints = self.joint_token_embed.weight.unsqueeze(0).expand(b, -1, -1)
        if self.readout is not None:
            read = self.readout_tokens(self.readout(images)).view(b, 1 + NUM_JOINTS, -1)
            camera_token, joints = camera_token + read[:, :1], joints + read[:, 1:]
        tokens = torch.cat([camera_token, grid.transpose(1, 2), joints, sampled], dim=1)
        position = self.token_position_embed.weight.unsqueeze(0).expand(b, -1, -1)
        camera, coords = self.transformer(torch.cat([tokens, position], dim=2), attention)
        coarse = coords[:, NUM_JOINTS:]
        mid = upsample(self.upsample_coarse_to_mid, coarse)
        full = upsample(self.upsample_mid_to_full, mid)
        v = self.config.vertices
        out = {"camera": camera, "joints": coords[:, :NUM_JOINTS], "heatmap_logits": logits,
               f"vertices_{v[0]}": coarse, f"vertices_{v[1]}": mid, f"vertices_{v[2]}": full,
               "vertices_coarse": coarse, "vertices_mid": mid, "vertices_full": full}
        if fine_heatmaps:
            out["heatmaps"] = _fine_heatmaps(logits)
        return out


def build_official(adjacency_431: object, upsample_431_to_1723: object,
                   upsample_1723_to_6890: object) -> PointHMR:
    """The official architecture with random weights (eval mode, CPU)."""
    return PointHMR(OFFICIAL, adjacency_431, upsample_431_to_1723, upsample_1723_to_6890).eval()


def load_official(checkpoint_path: str | os.PathLike, *, adjacency_431: object,
                  upsample_431_to_1723: object, upsample_1723_to_6890: object,
                  device: str | torch.device = "cpu") -> PointHMR:
    """The official PointHMR with the authors' weights, eval mode, float32, on ``device``.

    Loading is strict: every missing, unexpected or mis-shaped key is named in one
    :class:`~studio.nets.pointhmr_files.CheckpointMismatchError` (a ``ValueError`` and a
    ``ModelFileError``). A ``module.`` prefix on every key is stripped; a whole pickled
    model is read without the official code (see :func:`read_checkpoint`).
    """
    from studio.nets.pointhmr_files import load_strict, read_checkpoint

    model = build_official(adjacency_431, upsample_431_to_1723, upsample_1723_to_6890)
    state, _ = read_checkpoint(checkpoint_path)
    load_strict(model, state, str(checkpoint_path))
    return model.to(device=torch.device(device), dtype=torch.float32).eval()
