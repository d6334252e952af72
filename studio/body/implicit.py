"""Signed-distance primitives and smooth unions, evaluated on numpy point arrays [N,3].

The mannequin is described as an implicit surface built from these pieces; an implicit
description gives a closed, manifold, self-intersection-free surface by construction.
Distances are exact for spheres and round cones and close bounds for ellipsoids and
rounded boxes, which is all marching cubes and surface projection need.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

Field = Callable[[np.ndarray], np.ndarray]


def smooth_min(a: np.ndarray, b: np.ndarray, k: float) -> np.ndarray:
    """Polynomial smooth minimum: a union whose crease is rounded over a width ~k."""
    if k <= 0:
        return np.minimum(a, b)
    h = np.maximum(k - np.abs(a - b), 0.0) / k
    return np.minimum(a, b) - h * h * k * 0.25


@dataclass(frozen=True)
class Ellipsoid:
    center: tuple[float, float, float]
    radii: tuple[float, float, float]

    def __call__(self, p: np.ndarray) -> np.ndarray:
        r = np.asarray(self.radii)
        q = p - np.asarray(self.center)
        k0 = np.linalg.norm(q / r, axis=-1)
        k1 = np.linalg.norm(q / (r * r), axis=-1)
        return k0 * (k0 - 1.0) / np.maximum(k1, 1e-12)


@dataclass(frozen=True)
class RoundCone:
    """A capsule whose radius changes linearly from ``ra`` at ``a`` to ``rb`` at ``b``."""

    a: tuple[float, float, float]
    b: tuple[float, float, float]
    ra: float
    rb: float

    def __call__(self, p: np.ndarray) -> np.ndarray:
        a, b = np.asarray(self.a), np.asarray(self.b)
        ba = b - a
        l2 = float(ba @ ba)
        rr = self.ra - self.rb
        a2 = l2 - rr * rr
        il2 = 1.0 / l2
        pa = p - a
        y = pa @ ba
        z = y - l2
        xv = pa * l2 - y[:, None] * ba
        x2 = np.einsum("ij,ij->i", xv, xv)
        y2 = y * y * l2
        z2 = z * z * l2
        k = np.sign(rr) * rr * rr * x2
        out = (np.sqrt(x2 * a2 * il2) + y * rr) * il2 - self.ra
        top = np.sign(z) * a2 * z2 > k
        out = np.where(top, np.sqrt(np.maximum(x2 + z2, 0.0)) * il2 - self.rb, out)
        bottom = np.sign(y) * a2 * y2 < k
        return np.where(bottom, np.sqrt(np.maximum(x2 + y2, 0.0)) * il2 - self.ra, out)


@dataclass(frozen=True)
class RoundBox:
    """A box with rounded edges, axis-aligned after rotating by ``yaw`` about y (radians)."""

    center: tuple[float, float, float]
    half: tuple[float, float, float]
    rounding: float
    yaw: float = 0.0

    def __call__(self, p: np.ndarray) -> np.ndarray:
        q = p - np.asarray(self.center)
        c, s = np.cos(self.yaw), np.sin(self.yaw)
        q = np.stack([c * q[:, 0] - s * q[:, 2], q[:, 1], s * q[:, 0] + c * q[:, 2]], axis=1)
        d = np.abs(q) - np.asarray(self.half)
        outside = np.linalg.norm(np.maximum(d, 0.0), axis=1)
        inside = np.minimum(d.max(axis=1), 0.0)
        return outside + inside - self.rounding


def gradient(field: Field, p: np.ndarray, eps: float = 1e-4) -> np.ndarray:
    """Central-difference gradient of a field at points [N,3]."""
    g = np.empty_like(p)
    for i in range(3):
        d = np.zeros(3)
        d[i] = eps
        g[:, i] = (field(p + d) - field(p - d)) / (2 * eps)
    return g


def project_to_surface(field: Field, p: np.ndarray, steps: int = 4) -> np.ndarray:
    """Move points onto the zero level set by Newton steps along the gradient."""
    for _ in range(steps):
        f = field(p)
        g = gradient(field, p)
        p = p - (f / np.maximum(np.einsum("ij,ij->i", g, g), 1e-12))[:, None] * g
    return p
