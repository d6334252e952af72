"""PointHMR's transformer: pre-norm encoder blocks with distance-masked attention.

Four blocks of two layers each; the vertex-to-vertex attention of block 1, 2, 3, 4 is
limited to 7, 5, 3, 1 hops on the coarse mesh (masks from
:func:`studio.nets.pointhmr_mesh.attention_masks`). Blocks 1-2 work at the token width
(640 officially), then a linear layer reduces to 128 for blocks 3-4; a final LayerNorm
follows blocks 2 and 4 only. Module and key names follow the official release.
"""
from __future__ import annotations

import copy
import math

import torch
from torch import nn
from torch.nn import functional as F


def sine_position_encoding(channels: int, height: int, width: int,
                           device: torch.device | None = None) -> torch.Tensor:
    """[channels, H, W]: normalised 2-D sine encoding (DETR style, scale 2 pi,
    temperature 10000), the y half then the x half."""
    feats = channels // 2
    ones = torch.ones(1, height, width, device=device)
    y = ones.cumsum(1)
    x = ones.cumsum(2)
    eps, scale = 1e-6, 2 * math.pi
    y = y / (y[:, -1:, :] + eps) * scale
    x = x / (x[:, :, -1:] + eps) * scale
    dim_t = torch.arange(feats, dtype=torch.float32, device=device)
    dim_t = 10000 ** (2 * (dim_t // 2) / feats)

    def interleave(pos: torch.Tensor) -> torch.Tensor:
        pos = pos[:, :, :, None] / dim_t
        return torch.stack((pos[..., 0::2].sin(), pos[..., 1::2].cos()), dim=4).flatten(3)

    return torch.cat((interleave(y), interleave(x)), dim=3).permute(0, 3, 1, 2)[0]


class EncoderLayer(nn.Module):
    """Pre-norm self-attention and ReLU feed-forward, each with a residual (seq-first)."""

    def __init__(self, dim: int, heads: int, feedforward: int, dropout: float = 0.1) -> None:
        super().__init__()
        self.self_attn = nn.MultiheadAttention(dim, heads, dropout=dropout)
        self.linear1 = nn.Linear(dim, feedforward)
        self.dropout = nn.Dropout(dropout)
        self.linear2 = nn.Linear(feedforward, dim)
        self.norm1 = nn.LayerNorm(dim)
        self.norm2 = nn.LayerNorm(dim)
        self.dropout1 = nn.Dropout(dropout)
        self.dropout2 = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, mask: torch.Tensor,
                keep_attention: bool = False) -> tuple[torch.Tensor, torch.Tensor | None]:
        h = self.norm1(x)
        h, weights = self.self_attn(h, h, h, attn_mask=mask, need_weights=keep_attention)
        x = x + self.dropout1(h)
        h = self.linear2(self.dropout(F.relu(self.linear1(self.norm2(x)))))
        return x + self.dropout2(h), weights


class EncoderBlock(nn.Module):
    """``layers`` copies of one layer, then an optional LayerNorm."""

    def __init__(self, layer: EncoderLayer, layers: int, norm: nn.LayerNorm | None) -> None:
        super().__init__()
        self.norm = norm
        self.layers = nn.ModuleList(copy.deepcopy(layer) for _ in range(layers))

    def forward(self, x: torch.Tensor, mask: torch.Tensor,
                attention: list[torch.Tensor] | None = None) -> torch.Tensor:
        for layer in self.layers:
            x, weights = layer(x, mask, keep_attention=attention is not None)
            if attention is not None:
                attention.append(weights)
        return x if self.norm is None else self.norm(x)


class MeshRegressor(nn.Module):
    """Tokens [B, T, wide] -> camera [B, 3] and coordinates [B, T - 1 - grid, 3].

    ``masks`` is the list of four [T, T] bool masks (True: may not attend) in block order,
    held as additive float buffers outside the state dict, as in the official model.
    """

    def __init__(self, wide: int, narrow: int, heads: int, feedforward: tuple[int, int],
                 layers_per_block: int, masks: list[torch.Tensor], grid_tokens: int,
                 dropout: float = 0.1) -> None:
        super().__init__()
        layer1 = EncoderLayer(wide, heads, feedforward[0], dropout)
        layer2 = EncoderLayer(narrow, heads, feedforward[1], dropout)
        self.transformer_1 = EncoderBlock(layer1, layers_per_block, None)
        self.transformer_2 = EncoderBlock(layer1, layers_per_block, nn.LayerNorm(wide))
        self.transformer_3 = EncoderBlock(layer2, layers_per_block, None)
        self.transformer_4 = EncoderBlock(layer2, layers_per_block, nn.LayerNorm(narrow))
        self.dim_reduce = nn.Linear(wide, narrow)
        self.xyz_regressor = nn.Linear(narrow, 3)
        self.cam_predictor = nn.Linear(narrow, 3)
        self.grid_tokens = grid_tokens
        self.set_masks(masks)

    def set_masks(self, masks: list[torch.Tensor]) -> None:
        if len(masks) != 4:
            raise ValueError(f"expected 4 attention masks, got {len(masks)}")
        for i, mask in enumerate(masks):
            # additive (0 / -inf): a fifth faster than a bool mask in the attention kernels
            additive = torch.zeros(mask.shape).masked_fill(mask.to(torch.bool), float("-inf"))
            self.register_buffer(f"mask_{i + 1}", additive, persistent=False)

    def forward(self, tokens: torch.Tensor, attention: list[torch.Tensor] | None = None
                ) -> tuple[torch.Tensor, torch.Tensor]:
        x = tokens.transpose(0, 1)
        x = self.transformer_1(x, self.mask_1, attention)
        x = self.transformer_2(x, self.mask_2, attention)
        x = self.dim_reduce(x)
        x = self.transformer_3(x, self.mask_3, attention)
        x = self.transformer_4(x, self.mask_4, attention)
        camera = self.cam_predictor(x[0])
        coords = self.xyz_regressor(x[1 + self.grid_tokens:].transpose(0, 1))
        return camera, coords
