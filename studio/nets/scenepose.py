"""Scene-aware pose generation (Yao et al., ACM MM 2023): which pose fits at a spot of a scene.

Three views of the scene go through one ResNet-18-style backbone (the full image, a square
crop of image height centred on the spot, a half-size crop); an upsampling path fuses
layer4, layer3 and layer2 into C x M x M maps (M = 28 at the paper's 224 input). From them:

- a compatibility classifier scores the K pose templates (k-means centres);
- the scale transformer (template queries over the three maps, 3 decoder layers) gives each
  template's scale in 0..2 (the pose's box side in half image heights);
- the offset transformer (joint queries over RoIAlign-ed features of the template's scaled
  box, written with ``grid_sample``) moves each template joint by at most +-0.5 box sides;
- a distillation teacher (the template's joint heatmaps over the RoI's pixels -> offsets)
  guides the offsets during training only.

Pose coordinates: a pose P is box-normalised (centre 0, box side 1); in the crop's
coordinates (centre 0, +-1 at the crop's edges) it lies at ``scale * P``.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from studio.nets.backbones import BasicBlock, ResNet

JOINTS = 16
MAX_OFFSET = 0.5
MAX_SCALE = 2.0


@dataclass(frozen=True)
class ScenePoseConfig:
    """Sizes of the net; the defaults are the light CPU configuration, :meth:`paper` the
    paper's (224 px inputs, ResNet-18 at full width, 28 x 28 maps)."""

    templates: int = 14
    input_size: int = 128
    widths: tuple[int, int, int, int] = (16, 32, 64, 128)
    channels: int = 64
    heads: int = 4
    scale_layers: int = 3
    offset_layers: int = 1
    roi_size: int = 7
    teacher_size: int = 32

    @classmethod
    def paper(cls, templates: int = 14) -> ScenePoseConfig:
        return cls(templates=templates, input_size=224, widths=(64, 128, 256, 512),
                   channels=256, heads=8)

    @property
    def map_size(self) -> int:
        return self.input_size // 8

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> ScenePoseConfig:
        return cls(**{**d, "widths": tuple(d["widths"])})


def roi_align(maps: torch.Tensor, boxes: torch.Tensor, size: int) -> torch.Tensor:
    """RoIAlign with ``grid_sample``: ``maps`` [B,C,H,W], ``boxes`` [B,R,4] (x0, y0, x1, y1
    in the maps' [-1, 1] coordinates) -> [B,R,C,size,size], bilinear at bin centres,
    zeros outside the map."""
    b, r = boxes.shape[:2]
    t = (torch.arange(size, device=maps.device, dtype=maps.dtype) + 0.5) / size
    x = boxes[..., 0:1] + (boxes[..., 2:3] - boxes[..., 0:1]) * t  # [B,R,S]
    y = boxes[..., 1:2] + (boxes[..., 3:4] - boxes[..., 1:2]) * t
    grid = torch.stack(torch.broadcast_tensors(x[:, :, None, :], y[:, :, :, None]), -1)
    grid = grid.reshape(b, r * size, size, 2)
    out = F.grid_sample(maps, grid, align_corners=False)  # [B,C,R*S,S]
    return out.reshape(b, -1, r, size, size).permute(0, 2, 1, 3, 4)


def template_boxes(extents: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """Crop-coordinate boxes [B,K,4] of templates whose boxes measure ``extents`` [K,2]
    (box sides) at ``scale`` [B,K]."""
    half = extents / 2
    return torch.cat([-half, half], -1)[None] * scale[..., None]


def joint_heatmaps(points: torch.Tensor, box: torch.Tensor, size: int,
                   sigma: float = 1.5) -> torch.Tensor:
    """Gaussian maps [N,16,size,size] of ``points`` [N,16,2] inside ``box`` [N,4] (same
    coordinates); NaN points give empty maps."""
    u = (points - box[:, None, :2]) / (box[:, None, 2:] - box[:, None, :2]).clamp_min(1e-6)
    u = u * size - 0.5
    g = torch.arange(size, device=points.device, dtype=points.dtype)
    dx = (g[None, None, None, :] - u[..., 0, None, None]) ** 2
    dy = (g[None, None, :, None] - u[..., 1, None, None]) ** 2
    return torch.exp(-(dx + dy) / (2 * sigma ** 2)).nan_to_num(0.0)


class FusedBackbone(nn.Module):
    """ResNet-18 (width from the config) with an upsampling path: layer4 x2 + layer3, x2 +
    layer2, giving C x (input/8) x (input/8)."""

    def __init__(self, config: ScenePoseConfig) -> None:
        super().__init__()
        self.resnet = ResNet(BasicBlock, (2, 2, 2, 2), widths=config.widths)
        c = config.channels
        self.lateral = nn.ModuleList(nn.Conv2d(w, c, 1) for w in config.widths[1:])
        self.smooth = nn.Sequential(nn.Conv2d(c, c, 3, padding=1), nn.BatchNorm2d(c),
                                    nn.ReLU(inplace=True))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        r = self.resnet
        x = r.maxpool(r.relu(r.bn1(r.conv1(x))))
        c2 = r.layer2(r.layer1(x))
        c3 = r.layer3(c2)
        c4 = r.layer4(c3)
        y = self.lateral[2](c4)
        y = F.interpolate(y, size=c3.shape[-2:], mode="bilinear", align_corners=False)
        y = F.interpolate(y + self.lateral[1](c3), size=c2.shape[-2:], mode="bilinear",
                          align_corners=False)
        return self.smooth(y + self.lateral[0](c2))


def _decoder(config: ScenePoseConfig, layers: int) -> nn.TransformerDecoder:
    layer = nn.TransformerDecoderLayer(config.channels, config.heads, 2 * config.channels,
                                       dropout=0.0, batch_first=True, norm_first=True)
    return nn.TransformerDecoder(layer, layers)


def _mlp(cin: int, hidden: int, cout: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(cin, hidden), nn.ReLU(inplace=True), nn.Linear(hidden, cout))


class OffsetTeacher(nn.Module):
    """The distillation teacher: the RoI's pixels and the template's 16 joint heatmaps in
    that RoI -> offsets; trained on the ground truth, its offsets guide the student's."""

    def __init__(self) -> None:
        super().__init__()
        w = 32
        layers: list[nn.Module] = []
        cin = 3 + JOINTS
        for _ in range(3):
            layers += [nn.Conv2d(cin, w, 3, stride=2, padding=1), nn.BatchNorm2d(w),
                       nn.ReLU(inplace=True)]
            cin, w = w, w * 2
        self.convs = nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.head = _mlp(cin + 2 * JOINTS, 256, 2 * JOINTS)

    def forward(self, pixels: torch.Tensor, heatmaps: torch.Tensor,
                template: torch.Tensor) -> torch.Tensor:
        f = self.convs(torch.cat([pixels, heatmaps], 1))
        out = self.head(torch.cat([f, template.nan_to_num(0.0).flatten(1)], 1))
        return MAX_OFFSET * torch.tanh(out).view(-1, JOINTS, 2)


@dataclass
class ScenePoseOutput:
    logits: torch.Tensor   # [B,K] compatibility
    scale: torch.Tensor    # [B,K] in 0..2
    offsets: torch.Tensor | None  # [B,R,16,2] in +-0.5 for the asked templates


class ScenePoseNet(nn.Module):
    """The generator. ``templates`` [K,16,2] (box-normalised, NaN for joints no member
    of the cluster shows) and ``extents`` [K,2] (their members' mean box width and height)
    are buffers saved with the weights."""

    def __init__(self, config: ScenePoseConfig, templates: torch.Tensor,
                 extents: torch.Tensor) -> None:
        super().__init__()
        self.config = config
        c, k, m = config.channels, config.templates, config.map_size
        if templates.shape != (k, JOINTS, 2):
            raise ValueError(f"templates must be [{k},16,2], not {list(templates.shape)}")
        self.register_buffer("templates", templates.float())
        self.register_buffer("extents", extents.float())
        self.backbone = FusedBackbone(config)
        self.stream = nn.Parameter(torch.zeros(3, c))
        self.pos = nn.Parameter(torch.randn(m * m, c) * 0.02)
        self.compat = _mlp(3 * c, c, k)
        self.template_embed = _mlp(2 * JOINTS, c, c)
        self.template_query = nn.Parameter(torch.randn(k, c) * 0.02)
        self.scale_decoder = _decoder(config, config.scale_layers)
        self.scale_head = _mlp(c, c, 1)
        self.roi_pos = nn.Parameter(torch.randn(config.roi_size ** 2, c) * 0.02)
        self.joint_query = nn.Parameter(torch.randn(JOINTS, c) * 0.02)
        self.joint_embed = nn.Linear(2, c)
        self.offset_decoder = _decoder(config, config.offset_layers)
        self.offset_head = _mlp(c, c, 2)
        self.teacher = OffsetTeacher()

    def features(self, full: torch.Tensor, crop: torch.Tensor,
                 half: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The crop's map [B,C,M,M] and the three maps' tokens [B,3*M*M,C]."""
        b = full.shape[0]
        maps = self.backbone(torch.cat([full, crop, half], 0))
        maps = maps.view(3, b, *maps.shape[1:])
        tokens = maps.flatten(3).permute(1, 0, 3, 2)  # [B,3,M*M,C]
        tokens = tokens + self.pos[None, None] + self.stream[None, :, None]
        return maps[1], tokens.flatten(1, 2)

    def _template_tokens(self) -> torch.Tensor:
        return self.template_query + self.template_embed(self.templates.nan_to_num(0.0).flatten(1))

    def offsets(self, crop_map: torch.Tensor, boxes: torch.Tensor,
                templates: torch.Tensor) -> torch.Tensor:
        """Offsets [B,R,16,2] of ``templates`` [B,R,16,2] placed in ``boxes`` [B,R,4]
        (crop coordinates)."""
        b, r = boxes.shape[:2]
        roi = roi_align(crop_map, boxes, self.config.roi_size)  # [B,R,C,S,S]
        keys = roi.flatten(3).transpose(2, 3).flatten(0, 1) + self.roi_pos
        query = self.joint_query + self.joint_embed(templates.nan_to_num(0.0)).flatten(0, 1)
        out = self.offset_head(self.offset_decoder(query, keys))
        return MAX_OFFSET * torch.tanh(out).view(b, r, JOINTS, 2)

    def forward(self, full: torch.Tensor, crop: torch.Tensor, half: torch.Tensor,
                which: torch.Tensor | None = None,
                boxes: torch.Tensor | None = None) -> ScenePoseOutput:
        """Scores and scales of every template; offsets of templates ``which`` [B,R]
        (all when None) in ``boxes`` [B,R,4] (each template's predicted scaled box when
        None: the point setting)."""
        crop_map, tokens = self.features(full, crop, half)
        b = full.shape[0]
        pooled = tokens.view(b, 3, -1, tokens.shape[-1]).mean(2).flatten(1)
        logits = self.compat(pooled)
        query = self._template_tokens().expand(b, -1, -1)
        scale = MAX_SCALE * torch.sigmoid(self.scale_head(self.scale_decoder(query, tokens)))[..., 0]
        if which is None:
            which = torch.arange(self.config.templates, device=full.device).expand(b, -1)
        if boxes is None:
            boxes = template_boxes(self.extents, scale).gather(
                1, which[..., None].expand(-1, -1, 4))
        templates = self.templates[which]
        return ScenePoseOutput(logits, scale, self.offsets(crop_map, boxes, templates))
