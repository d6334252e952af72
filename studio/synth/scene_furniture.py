"""Box-built furniture: seats, beds, tables, counters, stairs, walls and clutter.

Builders take explicit sizes (a seat fitted under a sitting person takes that person's
hip height and thigh length); :func:`random_piece` draws everyday sizes for the objects a
room holds besides the one a person uses. Each piece is in its own frame: x across,
y up from the floor, its front (where one sits, the open side of a shelf) towards +z.
"""
from __future__ import annotations

import numpy as np

from studio.synth.scene_layout import Part, Piece

# Material role of each slot, per piece kind (slots without an entry are "frame").
_ROLES = {
    "chair": {"frame": "wood", "top": "wood", "cushion": "fabric"},
    "stool": {"frame": "metal", "top": "wood"},
    "bench": {"frame": "wood", "top": "wood"},
    "sofa": {"frame": "fabric", "cushion": "fabric", "accent": "wood"},
    "bed": {"frame": "wood", "cushion": "fabric", "accent": "fabric"},
    "table": {"frame": "wood", "top": "wood", "props": "props"},
    "counter": {"frame": "wood", "top": "floor_stone", "props": "props"},
    "wall": {"frame": "wall"},
    "low_wall": {"frame": "concrete", "top": "concrete"},
    "stairs": {"frame": "concrete"},
    "shelf": {"frame": "wood", "accent": "props"},
    "cabinet": {"frame": "wood", "accent": "metal", "props": "props"},
    "tv": {"frame": "metal", "accent": "metal"},
    "plant": {"frame": "fabric", "accent": "foliage"},
    "lamp": {"frame": "metal", "accent": "fabric"},
    "crate": {"frame": "wood"},
    "bin": {"frame": "metal"},
    "post": {"frame": "metal", "accent": "metal"},
    "tree": {"frame": "dirt", "accent": "foliage"},
    "building": {"frame": "brick", "accent": "metal"},
    "rug": {"frame": "carpet"},
    "fence": {"frame": "wood"},
    "door": {"frame": "wood", "accent": "metal"},
    "picture": {"frame": "wood", "accent": "fabric"},
    "window": {"frame": "wall", "accent": "window"},
    "car": {"frame": "paint", "accent": "glass", "wheel": "rubber"},
    "hedge": {"frame": "foliage"},
    "baseboard": {"frame": "wood"},
    "light": {"frame": "lamp"},
}
INDOOR_CLUTTER = ("chair", "chair", "sofa", "table", "table", "shelf", "cabinet", "tv", "plant",
                  "lamp", "crate", "bed", "counter", "stool", "rug", "bin", "stairs")
OUTDOOR_CLUTTER = ("bench", "bench", "low_wall", "post", "post", "tree", "tree", "tree", "bin",
                   "table", "stairs", "fence", "crate", "plant", "building", "building",
                   "car", "car", "hedge")
WALL_DECOR = ("door", "picture", "picture", "window", "window")


def piece(kind: str, parts: list[Part]) -> Piece:
    """A piece of ``kind`` whose slots get that kind's material roles."""
    roles = _ROLES.get(kind, {})
    return Piece(kind, parts, roles={p.slot: roles.get(p.slot, "wood") for p in parts})


def _legs(x0: float, x1: float, z0: float, z1: float, top: float, t: float,
          slot: str = "frame") -> list[Part]:
    return [Part((x, 0.0, z), (x + t, top, z + t), slot)
            for x in (x0, x1 - t) for z in (z0, z1 - t)]


def seat(rng: np.random.Generator, kind: str, top: float, x0: float, x1: float, z0: float,
         z1: float, back_z: float | None = None, back_top: float = 0.0) -> Piece:
    """A chair, stool, bench or sofa whose seat top is at ``top`` over [x0,x1] x [z0,z1];
    with ``back_z`` a backrest whose front face is at z = back_z, up to ``back_top``."""
    parts: list[Part] = []
    if kind == "sofa":
        base = top - rng.uniform(0.08, 0.16)
        parts += [Part((x0, 0.08, z0), (x1, base, z1), "frame"),
                  Part((x0, base, z0), (x1, top, z1), "cushion")]
        bz = z0 if back_z is None else back_z
        parts.append(Part((x0, 0.08, bz - rng.uniform(0.15, 0.25)), (x1, back_top or top + 0.4,
                                                                         bz), "frame"))
        arm_w, arm_h = rng.uniform(0.1, 0.22), top + rng.uniform(0.1, 0.25)
        for ax in ((x0 - arm_w, x0), (x1, x1 + arm_w)):
            parts.append(Part((ax[0], 0.08, parts[-1].lo[2]), (ax[1], arm_h, z1), "frame"))
        parts += _legs(x0 - arm_w, x1 + arm_w, parts[2].lo[2], z1, 0.08, 0.05, "accent")
        return piece(kind, parts)
    thick = rng.uniform(0.03, 0.08)
    parts.append(Part((x0, top - thick, z0), (x1, top, z1), "top"))
    if kind == "bench" and rng.random() < 0.6:
        t = rng.uniform(0.04, 0.1)
        inset = rng.uniform(0.0, 0.25) * (x1 - x0) / 2
        parts += [Part((x, 0.0, z0 + 0.03), (x + t, top - thick, z1 - 0.03), "frame")
                  for x in (x0 + inset, x1 - inset - t)]
    else:
        t = rng.uniform(0.025, 0.05)
        parts += _legs(x0, x1, z0, z1, top - thick, t)
    if back_z is not None:
        bt = rng.uniform(0.02, 0.05)
        low = top + rng.uniform(0.0, 0.15)
        parts.append(Part((x0, low, back_z - bt), (x1, back_top, back_z), "top"))
        post = min(0.04, (x1 - x0) / 6)
        parts += [Part((x, top, back_z - bt), (x + post, low + 0.02, back_z), "frame")
                  for x in (x0, x1 - post)]
    return piece(kind, parts)


def bed(rng: np.random.Generator, top: float, x0: float, x1: float, z0: float, z1: float,
        head_at_x1: bool = True, pillow: bool = False) -> Piece:
    """A bed with its mattress top at ``top`` over [x0,x1] x [z0,z1], lengthwise along x,
    the headboard at the head end."""
    mat = rng.uniform(0.12, 0.25)
    parts = [Part((x0, 0.0, z0), (x1, top - mat, z1), "frame"),
             Part((x0 + 0.01, top - mat, z0 + 0.01), (x1 - 0.01, top, z1 - 0.01), "cushion")]
    hx = (x1, x1 + 0.06) if head_at_x1 else (x0 - 0.06, x0)
    parts.append(Part((hx[0], 0.0, z0), (hx[1], top + rng.uniform(0.25, 0.7), z1), "frame"))
    if pillow:
        px = (x1 - 0.55, x1 - 0.1) if head_at_x1 else (x0 + 0.1, x0 + 0.55)
        parts.append(Part((px[0], top, z0 + 0.1), (px[1], top + 0.12, z1 - 0.1), "accent"))
    return piece("bed", parts)


def table(rng: np.random.Generator, kind: str, top: float, x0: float, x1: float, z0: float,
          z1: float) -> Piece:
    """A table (legs) or counter (a solid block under an overhanging top), top at ``top``."""
    thick = rng.uniform(0.025, 0.06)
    parts = [Part((x0, top - thick, z0), (x1, top, z1), "top")]
    if kind == "counter":
        over = rng.uniform(0.02, 0.08)
        parts.append(Part((x0 + over, 0.0, z0 + over), (x1 - over, top - thick, z1 - over),
                          "frame"))
    else:
        t = rng.uniform(0.03, 0.07)
        inset = rng.uniform(0.0, 0.1)
        parts += _legs(x0 + inset, x1 - inset, z0 + inset, z1 - inset, top - thick, t)
    return piece(kind, parts)


def panel(kind: str, x0: float, x1: float, z0: float, z1: float, height: float) -> Piece:
    """A wall, low wall or partition: one box."""
    return piece(kind, [Part((x0, 0.0, z0), (x1, height, z1), "frame")])


def stairs(rng: np.random.Generator, steps: int, rise: float, run: float, x0: float,
           x1: float, front: float) -> Piece:
    """``steps`` steps rising away from ``front`` (towards -z); step i's top at i * rise."""
    parts = [Part((x0, 0.0, front - (i + 1) * run), (x1, (i + 1) * rise, front - i * run),
                  "frame") for i in range(steps)]
    landing = rng.uniform(0.3, 1.5)
    last = parts[-1]
    parts[-1] = Part((x0, 0.0, last.lo[2] - landing), last.hi, "frame")
    return piece("stairs", parts)


def _u(rng: np.random.Generator, lo: float, hi: float) -> float:
    return float(rng.uniform(lo, hi))


def _props(rng: np.random.Generator, x0: float, x1: float, z0: float, z1: float,
           top: float) -> list[Part]:
    """Up to five small boxes (books, cups, boxes, a screen) standing on a top surface."""
    parts = []
    for _ in range(int(rng.integers(0, 6))):
        w, d, h = _u(rng, 0.05, 0.4), _u(rng, 0.05, 0.3), _u(rng, 0.03, 0.35)
        if x1 - x0 <= w + 0.02 or z1 - z0 <= d + 0.02:
            continue
        x, z = _u(rng, x0 + 0.01, x1 - w - 0.01), _u(rng, z0 + 0.01, z1 - d - 0.01)
        parts.append(Part((x, top, z), (x + w, top + h, z + d), "props"))
    return parts


def random_piece(rng: np.random.Generator, kind: str) -> Piece:
    """An everyday-sized piece of ``kind`` (see :data:`INDOOR_CLUTTER`, ``OUTDOOR_CLUTTER``)."""
    if kind in ("chair", "stool"):
        w, d, top = _u(rng, 0.4, 0.55), _u(rng, 0.4, 0.5), _u(rng, 0.42, 0.5)
        if kind == "stool":
            top = _u(rng, 0.45, 0.78)
        back = -d / 2 if kind == "chair" else None
        return seat(rng, kind, top, -w / 2, w / 2, -d / 2, d / 2, back, top + _u(rng, 0.35, 0.55))
    if kind == "sofa":
        w, d = _u(rng, 1.2, 2.4), _u(rng, 0.5, 0.65)
        return seat(rng, kind, _u(rng, 0.4, 0.48), -w / 2, w / 2, -d / 2, d / 2, -d / 2,
                    _u(rng, 0.8, 0.95))
    if kind == "bench":
        w, d = _u(rng, 1.0, 2.2), _u(rng, 0.3, 0.45)
        back = -d / 2 if rng.random() < 0.4 else None
        return seat(rng, kind, _u(rng, 0.4, 0.48), -w / 2, w / 2, -d / 2, d / 2, back,
                    _u(rng, 0.8, 0.95))
    if kind == "bed":
        length, w = _u(rng, 1.9, 2.2), _u(rng, 0.9, 1.8)
        return bed(rng, _u(rng, 0.4, 0.65), -length / 2, length / 2, -w / 2, w / 2,
                   pillow=True)
    if kind in ("table", "counter"):
        w, d = _u(rng, 0.6, 1.8), _u(rng, 0.5, 0.9)
        top = _u(rng, 0.7, 0.78) if kind == "table" else _u(rng, 0.86, 1.05)
        if kind == "table" and rng.random() < 0.3:  # coffee table
            top = _u(rng, 0.35, 0.5)
        made = table(rng, kind, top, -w / 2, w / 2, -d / 2, d / 2)
        return piece(kind, made.parts + _props(rng, -w / 2, w / 2, -d / 2, d / 2, top))
    if kind == "shelf":
        w, d, h = _u(rng, 0.6, 1.4), _u(rng, 0.25, 0.45), _u(rng, 1.2, 2.2)
        n = int(rng.integers(3, 6))
        parts = [Part((-w / 2, 0, -d / 2), (-w / 2 + 0.03, h, d / 2), "frame"),
                 Part((w / 2 - 0.03, 0, -d / 2), (w / 2, h, d / 2), "frame"),
                 Part((-w / 2, 0, -d / 2), (w / 2, h, -d / 2 + 0.02), "frame")]
        parts += [Part((-w / 2, i * h / n, -d / 2), (w / 2, i * h / n + 0.025, d / 2), "frame")
                  for i in range(n + 1)]
        parts += [Part((-w / 2 + 0.05 + j * w / 5, i * h / n + 0.025, -d / 2 + 0.03),
                       (-w / 2 + 0.03 + (j + 0.7) * w / 5, i * h / n + _u(rng, 0.1, h / n - 0.03),
                        d / 2 - 0.05), "accent")
                  for i in range(n) for j in range(5) if rng.random() < 0.5]
        return piece(kind, parts)
    if kind == "cabinet":
        w, d, h = _u(rng, 0.5, 1.6), _u(rng, 0.35, 0.6), _u(rng, 0.5, 1.9)
        return piece(kind, [Part((-w / 2, 0, -d / 2), (w / 2, h, d / 2), "frame"),
                            Part((-0.02, h * 0.6, d / 2), (0.02, h * 0.6 + 0.12, d / 2 + 0.02),
                                 "accent")] + _props(rng, -w / 2, w / 2, -d / 2, d / 2, h))
    if kind == "tv":
        w, h = _u(rng, 0.8, 1.5), _u(rng, 0.4, 0.5)
        stand = table(rng, "counter", _u(rng, 0.4, 0.6), -w / 2 - 0.1, w / 2 + 0.1, -0.22, 0.22)
        top = stand.height()
        parts = stand.parts + [Part((-w / 2, top + 0.05, -0.03), (w / 2, top + 0.05 + w * 0.56,
                                                                  0.03), "accent")]
        return piece(kind, parts)
    if kind == "plant":
        r, h = _u(rng, 0.15, 0.3), _u(rng, 0.5, 1.6)
        return piece(kind, [Part((-r, 0, -r), (r, _u(rng, 0.2, 0.45), r), "frame"),
                            Part((-r * 1.6, 0.3, -r * 1.6), (r * 1.6, h, r * 1.6), "accent")])
    if kind == "lamp":
        h = _u(rng, 1.2, 1.8)
        return piece(kind, [Part((-0.15, 0, -0.15), (0.15, 0.03, 0.15), "frame"),
                            Part((-0.015, 0, -0.015), (0.015, h, 0.015), "frame"),
                            Part((-0.2, h - 0.05, -0.2), (0.2, h + 0.25, 0.2), "accent")])
    if kind in ("crate", "bin"):
        s, h = _u(rng, 0.3, 0.7), _u(rng, 0.3, 0.9)
        return piece(kind, [Part((-s / 2, 0, -s / 2), (s / 2, h, s / 2), "frame")])
    if kind == "rug":
        w, d = _u(rng, 1.0, 3.0), _u(rng, 0.8, 2.2)
        return piece(kind, [Part((-w / 2, 0, -d / 2), (w / 2, 0.012, d / 2), "frame")])
    if kind == "stairs":
        n, w = int(rng.integers(2, 9)), _u(rng, 0.9, 3.0)
        return stairs(rng, n, _u(rng, 0.14, 0.2), _u(rng, 0.26, 0.36), -w / 2, w / 2, 0.0)
    if kind == "low_wall":
        w, d, h = _u(rng, 1.0, 4.0), _u(rng, 0.2, 0.5), _u(rng, 0.4, 1.2)
        return panel(kind, -w / 2, w / 2, -d / 2, d / 2, h)
    if kind == "post":
        h = _u(rng, 2.5, 4.5)
        return piece(kind, [Part((-0.05, 0, -0.05), (0.05, h, 0.05), "frame"),
                            Part((-0.25, h, -0.12), (0.25, h + 0.1, 0.12), "accent")])
    if kind == "tree":
        h, r = _u(rng, 2.5, 6.0), _u(rng, 0.6, 1.8)
        t = _u(rng, 0.08, 0.2)
        return piece(kind, [Part((-t, 0, -t), (t, h * 0.45, t), "frame"),
                            Part((-r, h * 0.4, -r), (r, h, r), "accent"),
                            Part((-r * 0.7, h * 0.3, -r * 0.7), (r * 0.7, h * 1.1, r * 0.7),
                                 "accent")])
    if kind == "fence":
        w, h = _u(rng, 2.0, 6.0), _u(rng, 0.8, 1.6)
        n = int(w / _u(rng, 0.12, 0.4))
        parts = [Part((-w / 2 + i * w / n, 0, -0.02), (-w / 2 + i * w / n + 0.06, h, 0.02),
                      "frame") for i in range(n)]
        parts.append(Part((-w / 2, h * 0.7, 0.02), (w / 2, h * 0.7 + 0.08, 0.05), "frame"))
        return piece(kind, parts)
    if kind == "car":
        length, w = _u(rng, 3.8, 4.9), _u(rng, 1.65, 1.9)
        body_top, roof = _u(rng, 0.9, 1.1), _u(rng, 1.35, 1.6)
        parts = [Part((-w / 2, 0.3, -length / 2), (w / 2, body_top, length / 2), "frame"),
                 Part((-w / 2 + 0.08, body_top, -length * 0.3), (w / 2 - 0.08, roof,
                                                                 length * 0.15), "accent")]
        parts += [Part((x, 0.0, z), (x + 0.22, 0.62, z + 0.62), "wheel")
                  for x in (-w / 2 - 0.01, w / 2 - 0.21)
                  for z in (-length / 2 + 0.45, length / 2 - 1.05)]
        return piece(kind, parts)
    if kind == "hedge":
        w, d, h = _u(rng, 1.5, 8.0), _u(rng, 0.5, 1.2), _u(rng, 0.5, 1.8)
        return panel(kind, -w / 2, w / 2, -d / 2, d / 2, h)
    if kind == "building":
        w, d, h = _u(rng, 6.0, 20.0), _u(rng, 4.0, 12.0), _u(rng, 4.0, 15.0)
        parts = [Part((-w / 2, 0, -d / 2), (w / 2, h, d / 2), "frame")]
        rows, cols = int(h / 3), int(w / 2.5)
        parts += [Part((-w / 2 + (j + 0.3) * w / cols, (i + 0.35) * h / rows, d / 2),
                       (-w / 2 + (j + 0.7) * w / cols, (i + 0.8) * h / rows, d / 2 + 0.05),
                       "accent") for i in range(rows) for j in range(cols)]
        return piece(kind, parts)
    raise ValueError(f"unknown piece kind {kind!r}")


def wall_decor(rng: np.random.Generator, kind: str) -> Piece:
    """A door, picture or window: a thin box whose back is at z = 0, for a wall's face."""
    if kind == "door":
        w, h = _u(rng, 0.8, 1.0), _u(rng, 2.0, 2.2)
        return piece(kind, [Part((-w / 2, 0, 0), (w / 2, h, 0.04), "frame"),
                            Part((w / 2 - 0.12, 1.0, 0.04), (w / 2 - 0.05, 1.04, 0.08),
                                 "accent")])
    if kind == "picture":
        w, h, y = _u(rng, 0.3, 1.2), _u(rng, 0.3, 0.9), _u(rng, 1.2, 1.6)
        return piece(kind, [Part((-w / 2, y, 0), (w / 2, y + h, 0.02), "frame"),
                            Part((-w / 2 + 0.04, y + 0.04, 0.02), (w / 2 - 0.04, y + h - 0.04,
                                                                  0.03), "accent")])
    w, h, y = _u(rng, 0.8, 2.0), _u(rng, 0.9, 1.6), _u(rng, 0.7, 1.1)
    return piece(kind, [Part((-w / 2 - 0.06, y - 0.06, 0), (w / 2 + 0.06, y + h + 0.06, 0.03),
                             "frame"),
                        Part((-w / 2, y, 0.03), (w / 2, y + h, 0.035), "accent")])
