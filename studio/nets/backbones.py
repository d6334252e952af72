"""Image backbones written in the project (torchvision is not a dependency).

The ResNets keep torchvision's module layout and names (``conv1``, ``bn1``, ``layer1-4``,
``downsample.0/1``; stride on the 3x3 conv) so official checkpoints load key for key. Every
backbone returns its final feature map (stride 32) and reports its channels.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import nn


# The input normalisation of ImageNet-trained backbones (RGB order), which official
# PyMAF weights expect and the built-in RGB net is trained with.
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def _conv3x3(cin: int, cout: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False)


def _shortcut(cin: int, cout: int, stride: int) -> nn.Sequential | None:
    """1x1 projection when the residual changes shape (the ``downsample`` of torchvision)."""
    if stride == 1 and cin == cout:
        return None
    return nn.Sequential(nn.Conv2d(cin, cout, 1, stride=stride, bias=False), nn.BatchNorm2d(cout))


class BasicBlock(nn.Module):
    """Two 3x3 convs with a residual (ResNet-18/34)."""

    expansion = 1

    def __init__(self, cin: int, width: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = _conv3x3(cin, width, stride)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = _conv3x3(width, width)
        self.bn2 = nn.BatchNorm2d(width)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = _shortcut(cin, width, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        y = self.relu(self.bn1(self.conv1(x)))
        return self.relu(self.bn2(self.conv2(y)) + identity)


class BottleneckBlock(nn.Module):
    """1x1 reduce, 3x3 (strided), 1x1 expand by 4, with a residual (ResNet-50 v1.5)."""

    expansion = 4

    def __init__(self, cin: int, width: int, stride: int = 1) -> None:
        super().__init__()
        cout = width * self.expansion
        self.conv1 = nn.Conv2d(cin, width, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = _conv3x3(width, width, stride)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = nn.Conv2d(width, cout, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = _shortcut(cin, cout, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        y = self.relu(self.bn1(self.conv1(x)))
        y = self.relu(self.bn2(self.conv2(y)))
        return self.relu(self.bn3(self.conv3(y)) + identity)


class ResNet(nn.Module):
    """Stem (7x7/2 conv, 3x3/2 max-pool) and four stages; no pooling head or fc.

    ``stride`` is the output's downsampling factor: 32 with the standard stem, 16 with
    ``light_stem`` (a 3x3/2 conv and no max-pool), which suits many-channel proxy inputs
    at low resolution, where a 7x7 stem would cost more than all the stages together.
    """

    def __init__(self, block: type[BasicBlock] | type[BottleneckBlock], depths: Sequence[int],
                 widths: Sequence[int] = (64, 128, 256, 512), in_channels: int = 3,
                 light_stem: bool = False) -> None:
        super().__init__()
        kernel = 3 if light_stem else 7
        self.conv1 = nn.Conv2d(in_channels, widths[0], kernel, stride=2, padding=kernel // 2,
                               bias=False)
        self.bn1 = nn.BatchNorm2d(widths[0])
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.Identity() if light_stem else nn.MaxPool2d(3, stride=2, padding=1)
        self.stride = 16 if light_stem else 32
        cin = widths[0]
        for i, (depth, width) in enumerate(zip(depths, widths)):
            blocks = []
            for j in range(depth):
                blocks.append(block(cin, width, stride=2 if i > 0 and j == 0 else 1))
                cin = width * block.expansion
            setattr(self, f"layer{i + 1}", nn.Sequential(*blocks))
        self.out_channels = cin
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        return self.layer4(self.layer3(self.layer2(self.layer1(x))))


def resnet50(in_channels: int = 3) -> ResNet:
    """The official PyMAF encoder: 2048 x 7 x 7 from a 224 crop."""
    return ResNet(BottleneckBlock, (3, 4, 6, 3), in_channels=in_channels)


def resnet18(in_channels: int = 3) -> ResNet:
    """512 x 7 x 7 from a 224 crop, about a fifth of ResNet-50's cost."""
    return ResNet(BasicBlock, (2, 2, 2, 2), in_channels=in_channels)


def small(in_channels: int = 3) -> ResNet:
    """256 x S/16 x S/16: one narrow block per stage and a light stem, for CPU real time
    on small crops (4 x 4 features from a 64 x 64 proxy crop)."""
    return ResNet(BasicBlock, (1, 1, 1, 1), widths=(32, 64, 128, 256), in_channels=in_channels,
                  light_stem=True)


BACKBONES: dict[str, Callable[[int], ResNet]] = {
    "resnet50": resnet50, "resnet18": resnet18, "small": small}


def build_backbone(name: str, in_channels: int = 3) -> ResNet:
    """A backbone by name (one of :data:`BACKBONES`)."""
    if name not in BACKBONES:
        raise ValueError(f"unknown backbone {name!r}; choose one of {', '.join(BACKBONES)}")
    return BACKBONES[name](in_channels)
