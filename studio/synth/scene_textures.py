"""Procedural surface materials for synthetic scenes: colour as a function of the position
on a surface, in metres, so patterns keep their real size at any distance.

A scene-aware pose model must not learn that "people stand where the texture changes":
every surface, furniture included, gets a pattern drawn from the same families (plain
paint, noise, wood planks, tiles, stripes, checks, grass- and carpet-like grain), and the
colours are mostly plausible for the kind of surface with a share of random ones.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

KINDS = ("plain", "noise", "wood", "tiles", "stripes", "checker", "grain")
_LATTICE = 32  # side of the random lattice behind noise and per-cell tints


def to_linear(color: np.ndarray) -> np.ndarray:
    """Display colours (as palettes and eyes judge them) -> linear light for shading; the
    camera response (gamma about 2.2) turns them back."""
    return np.asarray(color, np.float32) ** np.float32(2.2)


@dataclass
class Material:
    """A surface pattern: ``kind`` from :data:`KINDS`, two colours, a cell size in metres
    and a grain strength."""

    kind: str
    color: np.ndarray  # [3] in [0,1]
    second: np.ndarray  # [3]
    scale: float
    grain: float
    emissive: bool = False  # lamps and windows: not shaded by the scene's lights


class Textures:
    """Texture lookups for one scene: a random lattice makes the noise and cell tints, so a
    scene's patterns are a pure function of its seed."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.lattice = rng.random((_LATTICE, _LATTICE)).astype(np.float32)
        self.flat = self.lattice.reshape(-1)

    def noise(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Smooth value noise in [0,1] with unit cells, tiled every 32 cells."""
        ia, ib = np.floor(a), np.floor(b)
        fa, fb = a - ia, b - ib
        fa, fb = fa * fa * (3 - 2 * fa), fb * fb * (3 - 2 * fb)
        mask = _LATTICE - 1  # a power of two: & wraps negative cells too
        i0, j0 = ia.astype(np.int32) & mask, ib.astype(np.int32) & mask
        r0, r1 = i0 * _LATTICE, ((i0 + 1) & mask) * _LATTICE
        j1 = (j0 + 1) & mask
        g = self.flat
        g00, g10 = g.take(r0 + j0), g.take(r1 + j0)
        top = g00 + (g10 - g00) * fa
        g01 = g.take(r0 + j1)
        bottom = g01 + (g.take(r1 + j1) - g01) * fa
        return top + (bottom - top) * fb

    def fbm(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Two octaves of noise, about [0,1]."""
        return 0.65 * self.noise(a, b) + 0.35 * self.noise(2.7 * a + 11.3, 2.7 * b + 5.1)

    def cell(self, i: np.ndarray, j: np.ndarray) -> np.ndarray:
        """A random value in [0,1] per integer cell (i, j)."""
        mask = _LATTICE - 1
        return self.flat.take((i.astype(np.int32) & mask) * _LATTICE
                              + ((j.astype(np.int32) * 7 + 3) & mask))

    def albedo(self, m: Material, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Colours [N,3] of material ``m`` at surface positions ``a``, ``b`` [N] (metres)."""
        s = np.float32(m.scale)
        u, v = a / s, b / s
        if m.kind == "plain":
            t = 0.5 + (self.fbm(u * 0.5, v * 0.5) - 0.5) * m.grain
        elif m.kind == "noise":
            t = self.fbm(u, v)
        elif m.kind == "wood":  # planks along a, each its own tint, with stretched grain
            plank = np.floor(v)
            grain = self.noise(u * 0.3 + plank * 3.1, v * 8.0)
            t = 0.55 * self.cell(plank, np.floor(u * 0.25 + plank * 0.37)) + 0.45 * grain
            t = np.where((v - plank) < 0.04, 0.0, t)
        elif m.kind == "tiles":
            fu, fv = u - np.floor(u), v - np.floor(v)
            grout = (fu < 0.04) | (fv < 0.04)
            t = np.where(grout, 1.0, 0.25 * self.cell(np.floor(u), np.floor(v)))
        elif m.kind == "stripes":
            t = (np.sin(2 * np.pi * u) > 0).astype(np.float32)
        elif m.kind == "checker":
            t = ((np.floor(u) + np.floor(v)) % 2).astype(np.float32)
        else:  # grain: grass, carpet, gravel: fine high-contrast noise over coarse patches
            t = 0.55 * self.noise(u * 6.0, v * 6.0) + 0.45 * self.fbm(u * 0.3, v * 0.3)
        t = t.astype(np.float32)
        out = m.color + (m.second - m.color) * t[:, None]
        if m.grain > 0:
            out = out * (1 + (self.noise(a * 40.0, b * 40.0)[:, None] - 0.5) * m.grain)
        return out


# Plausible colour ranges per surface role: (low, high) RGB, drawn uniformly between.
_PALETTES: dict[str, tuple[tuple[float, float, float], tuple[float, float, float]]] = {
    "wall": ((0.55, 0.52, 0.48), (0.95, 0.94, 0.92)),
    "floor_wood": ((0.30, 0.17, 0.08), (0.75, 0.55, 0.35)),
    "floor_stone": ((0.35, 0.35, 0.35), (0.85, 0.83, 0.80)),
    "carpet": ((0.15, 0.08, 0.08), (0.65, 0.55, 0.50)),
    "fabric": ((0.05, 0.05, 0.05), (0.85, 0.80, 0.75)),
    "wood": ((0.25, 0.13, 0.05), (0.70, 0.52, 0.32)),
    "metal": ((0.20, 0.20, 0.22), (0.75, 0.75, 0.78)),
    "grass": ((0.12, 0.25, 0.05), (0.45, 0.65, 0.25)),
    "asphalt": ((0.18, 0.18, 0.19), (0.50, 0.50, 0.50)),
    "sand": ((0.60, 0.52, 0.38), (0.92, 0.85, 0.70)),
    "snow": ((0.82, 0.85, 0.90), (0.98, 0.98, 1.00)),
    "dirt": ((0.30, 0.22, 0.13), (0.60, 0.48, 0.33)),
    "concrete": ((0.45, 0.44, 0.42), (0.80, 0.78, 0.75)),
    "foliage": ((0.05, 0.15, 0.04), (0.30, 0.45, 0.18)),
    "brick": ((0.40, 0.15, 0.08), (0.70, 0.40, 0.28)),
    "paint": ((0.05, 0.05, 0.06), (0.90, 0.90, 0.92)),
    "glass": ((0.08, 0.10, 0.14), (0.30, 0.35, 0.42)),
    "rubber": ((0.03, 0.03, 0.03), (0.12, 0.12, 0.12)),
    "props": ((0.05, 0.05, 0.05), (0.95, 0.95, 0.95)),
}
# Pattern families that suit each role, drawn uniformly.
_ROLE_KINDS = {
    "wall": ("plain", "plain", "plain", "noise", "stripes", "tiles"),
    "floor_wood": ("wood",), "floor_stone": ("tiles", "tiles", "noise", "checker"),
    "carpet": ("grain", "plain", "noise"), "fabric": ("plain", "grain", "stripes", "noise"),
    "wood": ("wood", "wood", "plain"), "metal": ("plain", "noise"),
    "grass": ("grain",), "asphalt": ("grain", "noise"), "sand": ("grain", "noise"),
    "snow": ("noise", "grain"), "dirt": ("grain", "noise"), "concrete": ("noise", "tiles", "plain"),
    "foliage": ("grain", "noise"), "brick": ("tiles",), "paint": ("plain",),
    "glass": ("plain", "noise"), "rubber": ("plain",), "props": ("plain", "stripes", "noise"),
}
_SCALES = {"plain": (0.5, 3.0), "noise": (0.3, 2.5), "wood": (0.08, 0.25),
           "tiles": (0.2, 0.8), "stripes": (0.1, 0.4), "checker": (0.2, 0.6),
           "grain": (0.2, 1.5)}
RANDOM_COLOUR_SHARE = 0.2


def random_material(rng: np.random.Generator, role: str) -> Material:
    """A material for a surface ``role`` (a key of the palettes): its usual patterns and
    colours, and now and then an arbitrary colour so no colour means "floor" or "seat"."""
    kind = str(rng.choice(_ROLE_KINDS[role]))
    lo, hi = (np.asarray(c, np.float32) for c in _PALETTES[role])
    tint = rng.random()
    color = lo + (hi - lo) * np.clip(tint + rng.normal(0, 0.08, 3), 0, 1)
    if rng.random() < (0.7 if role in ("paint", "props") else RANDOM_COLOUR_SHARE):
        color = rng.random(3) ** 1.3
    contrast = rng.uniform(0.1, 0.5) if kind in ("plain", "noise", "grain", "wood") else \
        rng.uniform(0.3, 0.9)
    second = np.clip(color * (1 - contrast) + rng.random(3) * contrast * rng.uniform(0.2, 1.0),
                     0, 1)
    if kind == "tiles":  # grout: light or dark
        second = np.full(3, rng.choice([0.15, 0.85])) + rng.normal(0, 0.03, 3)
    lo_s, hi_s = _SCALES[kind]
    return Material(kind, to_linear(color), to_linear(np.clip(second, 0, 1)),
                    float(np.exp(rng.uniform(np.log(lo_s), np.log(hi_s)))),
                    float(rng.uniform(0.1, 0.5)))


def emissive_material(color: np.ndarray) -> Material:
    """A light source's surface (window, lamp shade): its colour as it is, unshaded."""
    c = to_linear(color)
    return Material("plain", c, c, 1.0, 0.05, emissive=True)
