"""HRNet for PointHMR, with the official release's module layout and key names.

The official PointHMR backbone is HRNet-W32 (stem of two stride-2 3x3 convs, ``layer1`` of
four bottlenecks, stages 2/3/4 with 1/4/3 modules of four basic blocks per branch, branch
widths 32/64/128/256) and returns the stride-4 map of the first branch and the stride-32
map of the last. :class:`HRNet` builds that layout for any widths, block counts and module
counts, so a lighter variant of the same architecture shares the code; the key names
(``transition1.1.0.0.weight``, ``stage4.2.fuse_layers.3.0.0.0.weight``, ...) follow the
official modules so checkpoints load key for key.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from studio.nets.backbones import BasicBlock, BottleneckBlock, small
from studio.nets.pymaf import _deconv_block


@dataclass(frozen=True)
class HRNetConfig:
    """Branch widths, basic blocks per branch and modules per stage (stages 2, 3, 4)."""

    widths: tuple[int, ...] = (32, 64, 128, 256)
    blocks: int = 4
    modules: tuple[int, ...] = (1, 4, 3)
    stem_blocks: int = 4
    in_channels: int = 3


W32 = HRNetConfig()
# A lighter HRNet of the same shape: half the widths, one block per branch, one module
# per stage (about a twentieth of W32's multiply-adds).
SMALL = HRNetConfig(widths=(16, 32, 64, 128), blocks=1, modules=(1, 1, 1), stem_blocks=1)


def _conv_bn(cin: int, cout: int, kernel: int, stride: int, relu: bool) -> nn.Sequential:
    layers: list[nn.Module] = [nn.Conv2d(cin, cout, kernel, stride, kernel // 2, bias=False),
                               nn.BatchNorm2d(cout)]
    if relu:
        layers.append(nn.ReLU(inplace=True))
    return nn.Sequential(*layers)


class HRModule(nn.Module):
    """One multi-resolution module: a chain of basic blocks per branch, then every output
    branch sums all branches (1x1 conv + BN + nearest up-sampling from lower resolutions,
    strided 3x3 convs from higher ones) and applies ReLU.

    ``outputs`` restricts which fused branches :meth:`forward` computes (the others keep
    their weights, as the official checkpoint holds them); ``None`` computes all.
    """

    def __init__(self, widths: Sequence[int], blocks: int) -> None:
        super().__init__()
        self.branches = nn.ModuleList(
            nn.Sequential(*[BasicBlock(w, w) for _ in range(blocks)]) for w in widths)
        n = len(widths)
        fuse = []
        for i in range(n):
            row: list[nn.Module | None] = []
            for j in range(n):
                if j > i:
                    row.append(nn.Sequential(nn.Conv2d(widths[j], widths[i], 1, bias=False),
                                             nn.BatchNorm2d(widths[i]),
                                             nn.Upsample(scale_factor=2 ** (j - i),
                                                         mode="nearest")))
                elif j == i:
                    row.append(None)
                else:
                    steps = [_conv_bn(widths[j], widths[j], 3, 2, relu=True)
                             for _ in range(i - j - 1)]
                    steps.append(_conv_bn(widths[j], widths[i], 3, 2, relu=False))
                    row.append(nn.Sequential(*steps))
            fuse.append(nn.ModuleList(row))
        self.fuse_layers = nn.ModuleList(fuse)
        self.relu = nn.ReLU(inplace=True)
        self.outputs: tuple[int, ...] | None = None

    def forward(self, xs: list[torch.Tensor]) -> list[torch.Tensor | None]:
        xs = [branch(x) for branch, x in zip(self.branches, xs)]
        wanted = range(len(xs)) if self.outputs is None else self.outputs
        out: list[torch.Tensor | None] = [None] * len(xs)
        for i in wanted:
            row = self.fuse_layers[i]
            y = xs[0] if i == 0 else row[0](xs[0])
            for j in range(1, len(xs)):
                y = y + (xs[j] if i == j else row[j](xs[j]))
            out[i] = self.relu(y)
        return out


def _transition(before: Sequence[int], after: Sequence[int]) -> nn.ModuleList:
    """Width changes of existing branches and the new lowest-resolution branch."""
    layers: list[nn.Module | None] = []
    for i, width in enumerate(after):
        if i < len(before):
            layers.append(None if before[i] == width
                          else _conv_bn(before[i], width, 3, 1, relu=True))
        else:
            steps = [_conv_bn(before[-1], width if k == i - len(before) else before[-1], 3, 2,
                              relu=True) for k in range(i + 1 - len(before))]
            layers.append(nn.Sequential(*steps))
    return nn.ModuleList(layers)


class HRNet(nn.Module):
    """Returns (stride-4 map of branch 0, stride-32 map of the last branch)."""

    def __init__(self, config: HRNetConfig = W32) -> None:
        super().__init__()
        self.config = config
        self.conv1 = nn.Conv2d(config.in_channels, 64, 3, stride=2, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.conv2 = nn.Conv2d(64, 64, 3, stride=2, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.layer1 = nn.Sequential(*[BottleneckBlock(64 if k == 0 else 256, 64)
                                      for k in range(config.stem_blocks)])
        before: list[int] = [256]
        for stage, count in enumerate(config.modules, start=2):
            widths = list(config.widths[:stage])
            setattr(self, f"transition{stage - 1}", _transition(before, widths))
            setattr(self, f"stage{stage}",
                    nn.Sequential(*[HRModule(widths, config.blocks) for _ in range(count)]))
            before = widths
        last: HRModule = getattr(self, f"stage{len(config.modules) + 1}")[-1]
        last.outputs = (0, len(config.widths) - 1)  # the only two the network reads
        self.high_channels = config.widths[0]
        self.low_channels = config.widths[-1]

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.layer1(self.relu(self.bn2(self.conv2(x))))
        ys: list[torch.Tensor] = [x]
        for stage in range(2, len(self.config.modules) + 2):
            transition = getattr(self, f"transition{stage - 1}")
            # As in the official code, every transition reads the lowest-resolution output.
            xs = [ys[i] if layer is None else layer(ys[-1]) for i, layer in enumerate(transition)]
            ys = getattr(self, f"stage{stage}")(xs)
        return ys[0], ys[-1]


class ProxyPyramid(nn.Module):
    """The built-in PyMAF proxy model's encoder as a PointHMR backbone: its small ResNet
    (stride 16) and the first two levels of its deconv pyramid (stride 16 -> 4), with
    PyMAF's key names (``feature_extractor.*``, ``deconv_layers.0-5.*``) so the shipped
    PyMAF file's trained weights start it (:func:`studio.nets.pointhmr_builtin.init_from_pymaf`).

    Returns (stride-4 pyramid map, stride-32 map: the ResNet's output average-pooled x2),
    the two maps PointHMR reads from its HRNet.
    """

    LEVELS = 2

    def __init__(self, in_channels: int, channels: int) -> None:
        super().__init__()
        self.feature_extractor = small(in_channels)
        widths = [self.feature_extractor.out_channels] + [channels] * self.LEVELS
        self.deconv_layers = nn.Sequential(*[m for i in range(self.LEVELS)
                                             for m in _deconv_block(widths[i], widths[i + 1])])
        self.high_channels = channels
        self.low_channels = self.feature_extractor.out_channels

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        low = self.feature_extractor(x)
        return self.deconv_layers(low), F.avg_pool2d(low, 2)
