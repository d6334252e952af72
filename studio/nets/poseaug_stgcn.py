"""ST-GCN for one frame as PoseAug trains it (official ``WrapSTGCN``; Cai et al. 2019):
graph convolutions on the 17-joint Human3.6M graph, max-pooling to five parts and back,
a non-local block. The 16 input joints gain a Neck/Nose node (the Thorax-Head midpoint)
and lose it again at the output; all 16 joints are regressed (joint 0 too)."""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

INTER_CHANNELS = (128, 128, 256)
FC_UNIT = 512
FC_OUT = INTER_CHANNELS[-1]
# The 17-node graph (0-based): skeleton edges, left/right symmetry edges, each node's
# distance to the centre (the Spine), and the five parts the pooling uses.
GRAPH17_EDGES = ((0, 1), (2, 1), (3, 2), (4, 0), (5, 4), (6, 5), (7, 0), (8, 7), (9, 8),
                 (10, 9), (11, 8), (12, 11), (13, 12), (14, 8), (15, 14), (16, 15))
GRAPH17_SYMMETRY = ((6, 3), (5, 2), (4, 1), (11, 14), (12, 15), (13, 16))
GRAPH17_CENTRE_DISTANCE = (1, 2, 3, 4, 2, 3, 4, 0, 1, 2, 3, 2, 3, 4, 2, 3, 4)
PARTS17 = ((11, 12, 13), (14, 15, 16), (4, 5, 6), (1, 2, 3), (0, 7, 8, 9, 10))
# The pooled graph: four limbs around the torso.
GRAPH5_EDGES = ((0, 4), (1, 4), (2, 4), (3, 4))
GRAPH5_SYMMETRY = ((0, 1), (2, 3))
GRAPH5_CENTRE_DISTANCE = (1, 1, 1, 1, 0)


def spatial_adjacency(num_node: int, edges: tuple, symmetry: tuple, distance: tuple
                      ) -> np.ndarray:
    """[4,V,V] ST-GCN's 'spatial' partition (one hop): self, closer-to-centre,
    farther-from-centre and symmetric neighbours, columns normalised by degree."""
    links = [(i, i) for i in range(num_node)] + list(edges) + list(symmetry)
    adj = np.zeros((num_node, num_node))
    for i, j in links:
        adj[i, j] = adj[j, i] = 1.0
    degree = adj.sum(0)
    norm = adj / np.where(degree > 0, degree, 1.0)[None, :]
    sym = set(symmetry) | {(j, i) for i, j in symmetry}
    a = np.zeros((4, num_node, num_node))
    for i in range(num_node):
        for j in range(num_node):
            if i == j:
                a[0, j, i] = norm[j, i]
            elif adj[j, i] and (j, i) in sym:
                a[3, j, i] = norm[j, i]
            elif adj[j, i] and distance[j] > distance[i]:
                a[1, j, i] = norm[j, i]
            elif adj[j, i] and distance[j] < distance[i]:
                a[2, j, i] = norm[j, i]
    return a


class GraphConv(nn.Module):
    """1x1 convolution to K x C channels, then a sum over the K adjacency matrices."""

    def __init__(self, in_channels: int, out_channels: int, kernel: int) -> None:
        super().__init__()
        self.kernel = kernel
        self.conv = nn.Conv2d(in_channels, out_channels * kernel, kernel_size=1)

    def forward(self, x: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
        x = self.conv(x)
        n, kc, t, v = x.shape
        return torch.einsum("nkctv,kvw->nctw", x.view(n, self.kernel, kc // self.kernel, t, v), a)


class STGCNBlock(nn.Module):
    """Graph convolution, BN-ReLU-Dropout-Conv-BN-Dropout, a residual, ReLU."""

    def __init__(self, in_channels: int, out_channels: int, kernel: int, dropout: float,
                 residual: bool = True) -> None:
        super().__init__()
        self.gcn = GraphConv(in_channels, out_channels, kernel)
        self.tcn = nn.Sequential(
            nn.BatchNorm2d(out_channels), nn.ReLU(), nn.Dropout(dropout),
            nn.Conv2d(out_channels, out_channels, 1), nn.BatchNorm2d(out_channels),
            nn.Dropout(dropout))
        self.res_kind = "none" if not residual else \
            "identity" if in_channels == out_channels else "conv"
        if self.res_kind == "conv":
            self.residual = nn.Sequential(nn.Conv2d(in_channels, out_channels, 1),
                                          nn.BatchNorm2d(out_channels))

    def forward(self, x: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
        res = 0 if self.res_kind == "none" else x if self.res_kind == "identity" \
            else self.residual(x)
        return torch.relu(self.tcn(self.gcn(x, a)) + res)


class NonLocal2d(nn.Module):
    """Embedded-Gaussian non-local block without subsampling; W ends in BatchNorm."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        inter = channels // 2
        self.inter = inter
        self.g = nn.Conv2d(channels, inter, 1)
        self.theta = nn.Conv2d(channels, inter, 1)
        self.phi = nn.Conv2d(channels, inter, 1)
        self.W = nn.Sequential(nn.Conv2d(inter, channels, 1), nn.BatchNorm2d(channels))
        nn.init.zeros_(self.W[1].weight)
        nn.init.zeros_(self.W[1].bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b = x.shape[0]
        g = self.g(x).view(b, self.inter, -1).permute(0, 2, 1)
        theta = self.theta(x).view(b, self.inter, -1).permute(0, 2, 1)
        phi = self.phi(x).view(b, self.inter, -1)
        y = torch.matmul(torch.softmax(torch.matmul(theta, phi), dim=-1), g)
        y = y.permute(0, 2, 1).reshape(b, self.inter, *x.shape[2:])
        return self.W(y) + x


class STGCNCore(nn.Module):
    """The official ``Model`` for T = 1 frame and M = 1 person: [B,2,17] -> [B,3,17]."""

    def __init__(self, dropout: float) -> None:
        super().__init__()
        a = spatial_adjacency(17, GRAPH17_EDGES, GRAPH17_SYMMETRY, GRAPH17_CENTRE_DISTANCE)
        a_pool = spatial_adjacency(5, GRAPH5_EDGES, GRAPH5_SYMMETRY, GRAPH5_CENTRE_DISTANCE)
        self.register_buffer("A", torch.tensor(a, dtype=torch.float32), persistent=False)
        self.register_buffer("A_pool", torch.tensor(a_pool, dtype=torch.float32),
                             persistent=False)
        self.data_bn = nn.BatchNorm1d(2 * 17, eps=0.1)  # official BatchNorm1d(34, 0.1)
        c = INTER_CHANNELS
        self.st_gcn_networks = nn.ModuleList((
            STGCNBlock(2, c[0], 4, dropout, residual=False),
            STGCNBlock(c[0], c[1], 4, dropout), STGCNBlock(c[1], c[2], 4, dropout)))
        self.st_gcn_pool = nn.ModuleList((STGCNBlock(c[2], FC_UNIT, 4, dropout),
                                          STGCNBlock(FC_UNIT, FC_UNIT, 4, dropout)))
        self.conv4 = nn.Sequential(nn.Conv2d(FC_UNIT, FC_UNIT, 1), nn.BatchNorm2d(FC_UNIT),
                                   nn.ReLU(), nn.Dropout(dropout))
        self.conv2 = nn.Sequential(nn.Conv2d(FC_UNIT * 2, FC_OUT, 1), nn.BatchNorm2d(FC_OUT),
                                   nn.ReLU(), nn.Dropout(dropout))
        self.non_local = NonLocal2d(FC_OUT * 2)
        self.fcn = nn.Sequential(nn.Dropout(dropout), nn.Conv2d(c[2] + FC_OUT, 3, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n = x.shape[0]
        # BatchNorm channels are node-major (v * 2 + c), as the official permutes give.
        x = self.data_bn(x.transpose(1, 2).reshape(n, 34, 1))
        x = x.view(n, 17, 2).transpose(1, 2).reshape(n, 2, 1, 17)
        for block in self.st_gcn_networks:
            x = block(x, self.A)
        parts = torch.cat([x[..., list(p)].amax(dim=-1, keepdim=True) for p in PARTS17], -1)
        for block in self.st_gcn_pool:
            parts = block(parts, self.A_pool)
        whole = self.conv4(parts.amax(dim=-1, keepdim=True))
        parts = self.conv2(torch.cat((whole.expand(-1, -1, -1, 5), parts), 1))
        up = torch.zeros(n, FC_OUT, 1, 17, dtype=x.dtype, device=x.device)
        for i, p in enumerate(PARTS17):
            up[..., list(p)] = parts[..., i:i + 1].expand(-1, -1, -1, len(p))
        x = self.fcn(self.non_local(torch.cat((x, up), 1)))
        return x[:, :, 0, :]


class STGCN(nn.Module):
    """``est(pose_2d [B,16,2]) -> [B,16,3]`` (official key prefix ``stgcn.``)."""

    kind = "stgcn"

    def __init__(self, dropout: float = 0.0) -> None:
        super().__init__()
        self.stgcn = STGCNCore(dropout)

    def forward(self, pose_2d: torch.Tensor) -> torch.Tensor:
        x = pose_2d.reshape(-1, 16, 2)
        neck = 0.5 * (x[:, 8:9] + x[:, 9:10])
        x17 = torch.cat([x[:, :9], neck, x[:, 9:]], dim=1)  # [B,17,2]
        out = self.stgcn(x17.transpose(1, 2))  # [B,3,17]
        return torch.cat([out[:, :, :9], out[:, :, 10:]], dim=2).transpose(1, 2).contiguous()
