"""The 2D-to-3D estimators PoseAug trains (official key names): SimpleBaseline
(``mlp``), single-frame VideoPose3D (``videopose``) and SemGCN (``gcn``); ST-GCN is in
:mod:`studio.nets.poseaug_stgcn`. Input [B,16,2] normalized screen coordinates, output
[B,16,3] metres, root-relative (``mlp``/``videopose`` output joint 0 as exactly 0)."""
from __future__ import annotations

import math

import torch
from torch import nn

from studio.nets.poseaug_skeleton import NUM_JOINTS, PARENTS


def _pad_root(y: torch.Tensor) -> torch.Tensor:
    return torch.cat([torch.zeros_like(y[:, :3]), y], 1).view(-1, NUM_JOINTS, 3)


class ResidualBlock(nn.Module):
    """SimpleBaseline's block: (Linear-BN-ReLU-Dropout) x 2 plus the input."""

    def __init__(self, width: int, dropout: float) -> None:
        super().__init__()
        self.w1 = nn.Linear(width, width)
        self.batch_norm1 = nn.BatchNorm1d(width)
        self.w2 = nn.Linear(width, width)
        self.batch_norm2 = nn.BatchNorm1d(width)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.dropout(torch.relu(self.batch_norm1(self.w1(x))))
        y = self.dropout(torch.relu(self.batch_norm2(self.w2(y))))
        return x + y


class SimpleBaseline(nn.Module):
    """Martinez et al.'s MLP (official ``LinearModel(32, 45, width, stages)``)."""

    kind = "mlp"

    def __init__(self, width: int = 1024, stages: int = 2, dropout: float = 0.25) -> None:
        super().__init__()
        self.width, self.stages = width, stages
        self.w1 = nn.Linear(NUM_JOINTS * 2, width)
        self.batch_norm1 = nn.BatchNorm1d(width)
        self.linear_stages = nn.ModuleList(ResidualBlock(width, dropout) for _ in range(stages))
        self.w2 = nn.Linear(width, (NUM_JOINTS - 1) * 3)
        self.dropout = nn.Dropout(dropout)

    def forward(self, pose_2d: torch.Tensor) -> torch.Tensor:
        y = self.dropout(torch.relu(self.batch_norm1(self.w1(pose_2d.reshape(-1, 32)))))
        for stage in self.linear_stages:
            y = stage(y)
        return _pad_root(self.w2(y))


class VideoPose1f(nn.Module):
    """VideoPose3D for one frame (official ``TemporalModelOptimized1f`` with filter
    widths of 1): 1x1 convolutions, ``stages`` residual blocks."""

    kind = "videopose"

    def __init__(self, channels: int = 1024, stages: int = 4, dropout: float = 0.25) -> None:
        super().__init__()
        self.channels, self.stages = channels, stages
        self.expand_conv = nn.Conv1d(NUM_JOINTS * 2, channels, 1, bias=False)
        self.expand_bn = nn.BatchNorm1d(channels)
        self.layers_conv = nn.ModuleList(nn.Conv1d(channels, channels, 1, bias=False)
                                         for _ in range(2 * stages))
        self.layers_bn = nn.ModuleList(nn.BatchNorm1d(channels) for _ in range(2 * stages))
        self.shrink = nn.Conv1d(channels, (NUM_JOINTS - 1) * 3, 1)
        self.drop = nn.Dropout(dropout)

    def forward(self, pose_2d: torch.Tensor) -> torch.Tensor:
        x = pose_2d.reshape(-1, 32, 1)
        x = self.drop(torch.relu(self.expand_bn(self.expand_conv(x))))
        for i in range(self.stages):
            y = self.drop(torch.relu(self.layers_bn[2 * i](self.layers_conv[2 * i](x))))
            x = x + self.drop(torch.relu(self.layers_bn[2 * i + 1](self.layers_conv[2 * i + 1](y))))
        return _pad_root(self.shrink(x)[..., 0])


def skeleton_mask() -> torch.Tensor:
    """[16,16] bool: the skeleton's edges both ways plus self loops (SemGCN's adjacency
    support; its nonzero entries, row-major, index the learned edge weights ``e``)."""
    mask = torch.eye(NUM_JOINTS, dtype=torch.bool)
    for child, parent in enumerate(PARENTS):
        if parent >= 0:
            mask[child, parent] = mask[parent, child] = True
    return mask


class SemGraphConv(nn.Module):
    """Semantic graph convolution (Zhao et al. 2019): softmax-normalised learned edge
    weights, separate transforms for a node itself (W[0]) and its neighbours (W[1])."""

    def __init__(self, in_features: int, out_features: int) -> None:
        super().__init__()
        mask = skeleton_mask()
        self.register_buffer("mask", mask, persistent=False)
        self.W = nn.Parameter(torch.zeros(2, in_features, out_features))
        nn.init.xavier_uniform_(self.W.data, gain=1.414)
        self.e = nn.Parameter(torch.ones(1, int(mask.sum())))
        self.bias = nn.Parameter(torch.empty(out_features).uniform_(
            -1 / math.sqrt(out_features), 1 / math.sqrt(out_features)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h0, h1 = torch.matmul(x, self.W[0]), torch.matmul(x, self.W[1])
        adj = torch.full(self.mask.shape, -9e15, dtype=x.dtype, device=x.device)
        adj = adj.masked_scatter(self.mask, self.e.to(x.dtype))
        adj = torch.softmax(adj, dim=1)
        eye = torch.eye(NUM_JOINTS, dtype=x.dtype, device=x.device)
        return torch.matmul(adj * eye, h0) + torch.matmul(adj * (1 - eye), h1) + self.bias


class GraphConvBlock(nn.Module):
    """SemGraphConv -> BatchNorm over features -> ReLU (dropout, when set, before a
    second ReLU, as the official code does)."""

    def __init__(self, in_features: int, out_features: int, dropout: float | None) -> None:
        super().__init__()
        self.gconv = SemGraphConv(in_features, out_features)
        self.bn = nn.BatchNorm1d(out_features)
        self.dropout = None if dropout is None else nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.bn(self.gconv(x).transpose(1, 2)).transpose(1, 2)
        if self.dropout is not None:
            x = self.dropout(torch.relu(x))
        return torch.relu(x)


class ResGraphBlock(nn.Module):
    def __init__(self, width: int, dropout: float | None) -> None:
        super().__init__()
        self.gconv1 = GraphConvBlock(width, width, dropout)
        self.gconv2 = GraphConvBlock(width, width, dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.gconv2(self.gconv1(x))


class SemGCN(nn.Module):
    """SemGCN without non-local layers (official ``SemGCN(adj, width, num_layers)``);
    regresses all 16 joints, joint 0 included."""

    kind = "gcn"

    def __init__(self, width: int = 128, stages: int = 4, dropout: float | None = 0.0) -> None:
        super().__init__()
        self.width, self.stages = width, stages
        self.gconv_input = nn.Sequential(GraphConvBlock(2, width, dropout))
        self.gconv_layers = nn.Sequential(*(ResGraphBlock(width, dropout)
                                            for _ in range(stages)))
        self.gconv_output = SemGraphConv(width, 3)

    def forward(self, pose_2d: torch.Tensor) -> torch.Tensor:
        x = pose_2d.reshape(-1, NUM_JOINTS, 2)
        return self.gconv_output(self.gconv_layers(self.gconv_input(x)))
