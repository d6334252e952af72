"""The built-in PointHMR: the paper's architecture sized for this CPU, and its weights file.

It eats what the built-in PyMAF proxy model eats (person mask + 33 MediaPipe keypoint
maps at 64 px, :mod:`studio.synth.proxy`), so real photos reach it through MediaPipe.
Same parts as the official net (HRNet, one heat-map per coarse vertex, features sampled
by each heat-map, k-hop masked transformer 7/5/3/1, coarse -> mid -> full up-sampling),
on the mannequin's 438 / 1750 / 7000-vertex meshes, with a small HRNet, a 64-channel
heat-map head, narrow tokens and one layer per transformer block (the attention over
457 tokens is half of a training step). Each vertex token also gets its heat-map's
expected position (``vertex_coords``).

The file (``human-mesh-studio/pointhmr-builtin``) stores the configuration, the body
model's name and the float16 weights; the mesh matrices are rebuilt from the body.
"""
from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import torch

from studio.body.joint_sets import mapping_matrix
from studio.body.model import BodyModel
from studio.body.storage import atomic_torch_save
from studio.errors import ModelFileError
from studio.nets.pointhmr import PointHMR, PointHMRConfig
from studio.nets.pointhmr_backbone import HRNetConfig, ProxyPyramid
from studio.nets.pointhmr_mesh import mannequin_matrices
from studio.synth.proxy import PROXY_CHANNELS

FORMAT = "human-mesh-studio/pointhmr-builtin"
VERSION = 2
READABLE_VERSIONS = (1, 2)  # 1: the HRNet network only; 2 adds the PyMAF encoder
INPUT_SIZE = 64
TRAIN_HINT = "build it with `studio train pointhmr` (see `studio train pointhmr --help`)"
# The first shipped file's network (version 1 files): a small HRNet trained from scratch.
BUILTIN_HRNET = PointHMRConfig(
    vertices=(438, 1750, 7000), input_size=INPUT_SIZE,
    backbone=HRNetConfig(widths=(32, 64, 96, 128), blocks=1, modules=(1, 1, 1),
                         stem_blocks=1, in_channels=PROXY_CHANNELS),
    model_dim=64, position_dim=16, reduced_dim=32, heads=4, feedforward=(128, 64),
    layers_per_block=1, dropout=0.0, heatmap_width=64, vertex_coords=True)
# The built-in: the same PointHMR parts on the PyMAF proxy model's encoder (its small
# ResNet and 32-channel deconv pyramid to stride 4) and keypoint readout, which the
# shipped PyMAF file (trained on 480k synthetic people) starts.
BUILTIN = dataclasses.replace(BUILTIN_HRNET, backbone=HRNetConfig(in_channels=PROXY_CHANNELS),
                              proxy_pyramid=32, keypoint_readout=PROXY_CHANNELS - 1)
BACKBONES = {"pymaf-small": BUILTIN, "hrnet": BUILTIN_HRNET}
# PyMAF keys that the BUILTIN network shares: backbone, two pyramid levels, readout.
_PYMAF_PREFIXES = {"feature_extractor.": "backbone.feature_extractor.",
                   "readout.": "readout."}


def config_from_dict(values: Mapping) -> PointHMRConfig:
    """A :class:`PointHMRConfig` from its ``dataclasses.asdict`` form (lists for tuples)."""
    values = dict(values)
    backbone = HRNetConfig(**{k: tuple(v) if isinstance(v, list) else v
                              for k, v in values.pop("backbone").items()})
    return PointHMRConfig(backbone=backbone, **{k: tuple(v) if isinstance(v, list) else v
                                                for k, v in values.items()})


def build(body: BodyModel, config: PointHMRConfig = BUILTIN) -> PointHMR:
    """A PointHMR on ``body``'s own mesh matrices (random weights, train mode)."""
    m = mannequin_matrices(body.data)
    net = PointHMR(config, m["adjacency"], m["upsample_coarse_to_mid"], m["upsample_mid_to_full"])
    with torch.no_grad():  # start the camera near a typical crop's scale
        net.transformer.cam_predictor.bias.copy_(torch.tensor([0.9, 0.0, 0.0]))
    return net


def vertex_regressor(body: BodyModel, layout: str) -> torch.Tensor:
    """[K, V] keypoints of ``layout`` as linear combinations of posed vertices: the
    body's joint regressor, its landmark vertices and its extra-joint regressor, mixed
    as ``layout`` mixes them (how a mesh-only prediction gets joints)."""
    data = body.data
    v = data.num_vertices
    landmarks = np.zeros((len(body._landmark_idx), v), np.float32)
    landmarks[np.arange(len(landmarks)), body._landmark_idx.numpy()] = 1.0
    sources = np.concatenate([np.asarray(data.J_regressor, np.float32), landmarks,
                              body.J_regressor_extra.cpu().numpy()])
    return torch.from_numpy(mapping_matrix(layout).astype(np.float32) @ sources)


def save(path: str | os.PathLike, net: PointHMR, body_name: str, meta: dict) -> Path:
    """Write ``net`` (float16 weights) with its configuration, atomically."""
    json.dumps(meta)  # plain values only: they go into model cards
    state = {k: (v.detach().cpu().half() if v.is_floating_point() else v.detach().cpu()).clone()
             for k, v in net.state_dict().items()}
    payload = {"format": FORMAT, "version": VERSION, "body": body_name,
               "config": dataclasses.asdict(net.config),
               "input": {"kind": "proxy", "size": net.config.input_size},
               "meta": meta, "state_dict": state}
    return atomic_torch_save(payload, path, make_folders=True)


def read(path: str | os.PathLike) -> dict:
    """The checked content of a built-in PointHMR file."""
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"{path}: built-in PointHMR weights not found; {TRAIN_HINT}")
    try:
        content = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 (any unreadable file gets the same answer)
        raise ModelFileError(f"{path}: not a readable torch file ({err})") from err
    if not isinstance(content, Mapping) or content.get("format") != FORMAT:
        raise ModelFileError(f"{path}: not a built-in PointHMR file (format {FORMAT!r} "
                             f"expected); {TRAIN_HINT}")
    if content.get("version") not in READABLE_VERSIONS:
        raise ModelFileError(f"{path}: built-in PointHMR version {content.get('version')!r}, "
                             f"this studio reads versions "
                             f"{', '.join(map(str, READABLE_VERSIONS))}")
    return dict(content)


def load(path: str | os.PathLike, body: BodyModel,
         device: str | torch.device = "cpu") -> PointHMR:
    """The net a built-in PointHMR file describes, float32, eval mode, strictly loaded."""
    from studio.nets.pointhmr_files import load_strict

    content = read(path)
    if content["body"] != body.data.name:
        raise ModelFileError(f"{path}: trained on body {content['body']!r}, not "
                             f"{body.data.name!r}")
    net = build(body, config_from_dict(content["config"]))
    load_strict(net, {k: v.float() if v.is_floating_point() else v
                      for k, v in content["state_dict"].items()}, str(path))
    net.meta = content["meta"]
    return net.to(torch.device(device)).eval()


def _pymaf_key(key: str) -> str | None:
    """The BUILTIN network's name for a PyMAF state-dict key it shares, else None."""
    for prefix, into in _PYMAF_PREFIXES.items():
        if key.startswith(prefix):
            return into + key[len(prefix):]
    level, _, rest = key.removeprefix("deconv_layers.").partition(".")
    if key.startswith("deconv_layers.") and int(level) < 3 * ProxyPyramid.LEVELS:
        return f"backbone.deconv_layers.{level}.{rest}"
    return None


def init_from_pymaf(net: PointHMR, path: str | os.PathLike) -> list[str]:
    """Copy a built-in PyMAF proxy file's encoder, pyramid levels 1-2 and keypoint readout
    into ``net`` (a PointHMR with ``proxy_pyramid``, else ValueError); returns the keys set.
    Every shared key must be there with the same shape, else :class:`ModelFileError`
    names them."""
    from studio.nets.model_registry import read_builtin

    if not net.config.proxy_pyramid:
        raise ValueError("this PointHMR has an HRNet backbone: a PyMAF file cannot start it")
    state = read_builtin(path)["state_dict"]
    target = net.state_dict()
    pairs = {into: key for key in state if (into := _pymaf_key(key)) is not None}
    wanted = [k for k in target if k.startswith(("backbone.", "readout."))]
    missing = [k for k in wanted if k not in pairs]
    bad = [f"{k} {tuple(state[pairs[k]].shape)} != {tuple(target[k].shape)}"
           for k in wanted if k in pairs and state[pairs[k]].shape != target[k].shape]
    if missing or bad or len(pairs) != len(wanted):
        raise ModelFileError(f"{path}: not a PyMAF proxy file this PointHMR can start from "
                             f"(missing {missing[:5]}, mis-shaped {bad[:5]})")
    with torch.no_grad():
        for into, key in pairs.items():
            target[into].copy_(state[key].to(target[into].dtype))
    return sorted(pairs)
