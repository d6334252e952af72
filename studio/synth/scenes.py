"""Synthetic scenes with one placed person, for scene-aware pose generation.

Each sample is a procedural indoor room or outdoor place (floor or ground, walls, steps and
stairs, chairs, sofas, benches, beds, tables, counters, clutter; random materials, lights,
camera heights and fields of view) with the built-in mannequin placed where and how people
fit (:mod:`studio.synth.scene_people`), rendered twice by the project's rasterizer with one
depth test: the scene without the person (the model's input) and with it (for looking).
The label is the person's 16 MPII keypoints projected from the body and the silhouette box.

What synthetic rooms can teach about real ones: where supports are and what they afford
(seat tops at hip height, bed and sofa tops for lying, table edges for leaning, free floor
for standing), how a person's image size follows depth and camera height on a ground plane,
and that furniture in front hides a person. What they cannot: real clutter, lighting and
materials (boxes, procedural textures, shadows that fall on the ground only),
semantics beyond geometry (a desk chair and a throne look alike here), how real people
choose spots (here uniform over what fits), clothing and body variety beyond the mannequin,
and the inpainting traces that real person-removed photos carry (a smooth blob where the
person was: a real model may learn to find it; this generator leaves the scene clean).
"""
from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np
import torch

from studio.synth import scene_furniture as furn
from studio.synth import scene_people
from studio.synth.dataset import clothing_colors
from studio.synth.scene_layout import Part, Piece, pieces_mesh
from studio.synth.scene_render import (Camera, Decal, GroundShadows, Lights, Plane, Surfaces,
                                       contact_shade, ground_pixels, paint_ground, render_person,
                                       shade_surfaces, trace_boxes, trace_planes)
from studio.synth.scene_textures import (Material, Textures, emissive_material, random_material,
                                         to_linear)

OUTDOOR_SHARE = 0.4
BOX_PAD = 0.05  # the person's box is the silhouette's, padded by this share per side


@dataclass
class SceneSample:
    """One rendered scene and its person's labels (pixels of this image)."""

    image: np.ndarray  # [H,W,3] uint8, the scene without the person
    with_person: np.ndarray  # [H,W,3] uint8, the same view with the mannequin rendered in
    keypoints: np.ndarray  # [16,2] float32 MPII order; outside the image: (-1, -1)
    box: np.ndarray  # [4] float32 x0, y0, x1, y1: silhouette box padded 5% per side
    pose_class: str  # one of scene_people.POSE_CLASSES
    focal_length: float  # pixels; camera looks along +z, y down
    scene_kind: str  # "indoor" / "outdoor"


@dataclass
class Scene:
    """Everything of a sample before rendering, kept for tests and inspection."""

    person: scene_people.Person
    camera: Camera
    pieces: list[Piece]
    outdoor: bool


def _aim(rng: np.random.Generator, person: scene_people.Person, focal: float, h: int, w: int,
         outdoor: bool) -> Camera:
    """A camera that sees the whole person at a random size and place in the frame."""
    lo, hi = person.vertices.min(0), person.vertices.max(0)
    centre = (lo + hi) / 2
    extent = float(np.linalg.norm(hi - lo))
    fraction = rng.uniform(0.3, 1.05)  # of the 3D diagonal: people fill up to ~90% of the height
    dist = extent * focal / (fraction * min(h, w))
    turn = rng.choice([0, 1, 2], p=[0.6, 0.3, 0.1])
    az = [rng.uniform(-50, 50), rng.choice([-1, 1]) * rng.uniform(50, 110),
          rng.uniform(110, 250)][turn] * math.pi / 180
    base = math.atan2(person.facing[0], person.facing[1]) + az
    height = rng.uniform(0.4, 3.5) if outdoor else rng.uniform(0.5, 2.6)
    if rng.random() < 0.5:
        height = rng.uniform(1.1, 1.8)  # eye level is the commonest
    if height - centre[1] > 0.8 * dist:  # steeper than ~50 degrees down: rare in photos
        height = float(centre[1] + 0.8 * dist * rng.uniform(0.3, 1.0))
    sample = person.vertices[:: max(1, len(person.vertices) // 600)]
    roll = float(np.clip(rng.normal(0, 1.5), -4, 4)) * math.pi / 180
    for attempt in range(6):
        drop = height - centre[1]
        flat = math.sqrt(max(dist * dist - drop * drop, 0.36))
        pos = np.array([centre[0] + flat * math.sin(base), height,
                        centre[2] + flat * math.cos(base)], np.float32)
        to = centre - pos
        spread = 0.0 if attempt >= 3 else 0.8 * (1 - fraction)
        yaw = rng.uniform(-1, 1) * spread * math.atan(w / (2 * focal))
        pitch = rng.uniform(-1, 1) * spread * math.atan(h / (2 * focal))
        fwd = to / np.linalg.norm(to)
        cam = Camera.look(pos, fwd, focal, h, w)
        fwd = cam.rotation.T @ np.array([math.tan(yaw), math.tan(pitch), 1.0], np.float32)
        cam = Camera.look(pos, fwd, focal, h, w, roll)
        uv, z = cam.project(sample)
        inside = (z.min() > 0.3 and uv[:, 0].min() >= 1 and uv[:, 1].min() >= 1
                  and uv[:, 0].max() <= w - 2 and uv[:, 1].max() <= h - 2)
        if inside:
            return cam
        dist *= 1.15
    return cam


def _rect_overlap(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether two convex quads [4,2] overlap (separating axis test)."""
    for poly in (a, b):
        for i in range(4):
            edge = poly[(i + 1) % 4] - poly[i]
            axis = np.array([-edge[1], edge[0]])
            pa, pb = a @ axis, b @ axis
            if pa.max() < pb.min() or pb.max() < pa.min():
                return False
    return True


def _segment_hits(quad: np.ndarray, p: np.ndarray, q: np.ndarray, width: float) -> bool:
    """Whether a quad [4,2] comes within ``width`` of the segment p-q (both [2])."""
    d = q - p
    length = float(np.linalg.norm(d))
    n = np.array([-d[1], d[0]]) / max(length, 1e-6)
    along = (quad - p) @ (d / max(length, 1e-6))
    across = (quad - p) @ n
    return bool(along.max() > 0 and along.min() < length and across.max() > -width
                and across.min() < width)


@dataclass
class Room:
    """An axis frame (yaw) and extents of an indoor room, in that frame."""

    yaw: float
    x0: float
    x1: float
    z0: float
    z1: float
    height: float

    def rotation(self) -> np.ndarray:
        c, s = math.cos(self.yaw), math.sin(self.yaw)
        return np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]], np.float32)


def _room(rng: np.random.Generator, person: scene_people.Person, camera: Camera,
          pieces: list[Piece]) -> Room:
    """A room around the person, its furniture and the camera, its walls parallel to the
    furniture, some of it pushed against a wall."""
    yaw = (pieces[0].yaw if pieces else math.atan2(person.facing[0], person.facing[1])) \
        + rng.integers(4) * math.pi / 2 + (0 if rng.random() < 0.8 else rng.normal(0, 0.3))
    r = Room(yaw, 0, 0, 0, 0, 0).rotation()
    pts = [person.vertices[:, [0, 2]]] + [p.footprint() for p in pieces]
    local = np.concatenate([np.concatenate(pts)[:, [0, 0, 1]] * [1, 0, 1]]) @ r
    cam = (camera.position * [1, 0, 1]) @ r
    lo = np.minimum(local.min(0), cam - 0.3)
    hi = np.maximum(local.max(0), cam + 0.3)
    m = rng.uniform(0.02, 3.0, 4) * (rng.random(4) < 0.8) + 0.02
    top = max(rng.uniform(2.4, 3.5), camera.position[1] + 0.3,
              max([p.height() for p in pieces], default=0) + 0.05,
              float(person.vertices[:, 1].max()) + 0.1)
    return Room(yaw, lo[0] - m[0], hi[0] + m[1], lo[2] - m[2], hi[2] + m[3], top)


def _room_planes(room: Room, mats: list[Material], rng: np.random.Generator) -> list[Plane]:
    r = room.rotation()
    ex, ey, ez = r[:, 0], r[:, 1], r[:, 2]
    floor = len(mats)
    mats.append(random_material(rng, str(rng.choice(["floor_wood", "floor_stone", "carpet"]))))
    mats.append(random_material(rng, "wall"))
    mats.append(random_material(rng, "wall") if rng.random() < 0.3 else mats[-1])
    mats.append(random_material(rng, "wall"))
    wall, wall2, ceiling = floor + 1, floor + 2, floor + 3
    planes = [Plane(ey, 0.0, floor, (ex, ez)), Plane(-ey, -room.height, ceiling, (ex, ez)),
              Plane(ex, room.x0, wall, (ez, ey)), Plane(-ex, -room.x1, wall2, (ez, ey)),
              Plane(ez, room.z0, wall2, (ex, ey)), Plane(-ez, -room.z1, wall, (ex, ey))]
    return planes


def _outdoor_planes(mats: list[Material], rng: np.random.Generator) -> list[Plane]:
    ground = len(mats)
    mats.append(random_material(rng, str(rng.choice(["grass", "grass", "asphalt", "sand",
                                                       "snow", "dirt", "concrete"]))))
    ex, ey, ez = np.eye(3, dtype=np.float32)
    return [Plane(ey, 0.0, ground, (ex, ez))]


def _place(rng: np.random.Generator, kind: str, room: Room | None, taken: list[np.ndarray],
           camera: Camera, person: scene_people.Person) -> Piece | None:
    """A clutter piece on free floor, mostly against a wall indoors; None if no spot."""
    target = person.vertices[:, [0, 2]].mean(0)
    cam = camera.position[[0, 2]]
    for _ in range(8):
        p = furn.random_piece(rng, kind)
        size = np.max([q.hi for q in p.parts], 0) - np.min([q.lo for q in p.parts], 0)
        if room is not None:
            r = room.rotation()
            side = int(rng.integers(4)) if rng.random() < 0.6 else -1
            lx = rng.uniform(room.x0, room.x1)
            lz = rng.uniform(room.z0, room.z1)
            turn = int(rng.integers(4))
            if side >= 0:  # back against wall ``side``, facing into the room
                turn = (2, 0, 1, 3)[side]
                half = size[2] / 2 + 0.02
                lx = (room.x0 + half, room.x1 - half, lx, lx)[side]
                lz = (lz, lz, room.z0 + half, room.z1 - half)[side]
            pos = r @ np.array([lx, 0, lz], np.float32)
            p.yaw = room.yaw + turn * math.pi / 2 + (0 if side >= 0 else rng.normal(0, 0.1))
        else:
            far = kind in ("building", "tree") and rng.random() < 0.7
            dist = rng.uniform(8, 40) if far else rng.uniform(0.8, 8)
            ang = rng.uniform(0, 2 * math.pi)
            pos = np.array([target[0] + dist * math.cos(ang), 0, target[1] + dist * math.sin(ang)])
            p.yaw = rng.uniform(-math.pi, math.pi)
        p.x, p.z = float(pos[0]), float(pos[2])
        fp = p.footprint()
        if any(_rect_overlap(fp, t) for t in taken):
            continue
        if np.min(np.linalg.norm(fp - cam, axis=1)) < 0.5 or _rect_overlap(
                fp, np.array([cam - 0.4, cam + [0.4, -0.4], cam + 0.4, cam + [-0.4, 0.4]])):
            continue
        if _segment_hits(fp, cam, target, 0.3) and (p.height() > 0.9 or rng.random() < 0.6):
            continue
        return p
    return None


def _inside(rng: np.random.Generator, lo: float, hi: float, margin: float) -> float:
    """A uniform position in [lo, hi] kept ``margin`` from both ends where there is room."""
    if hi - lo <= 2 * margin:
        return (lo + hi) / 2
    return float(rng.uniform(lo + margin, hi - margin))


def _wall_decor(rng: np.random.Generator, room: Room, count: int) -> list[Piece]:
    """Doors, pictures and windows flat on the walls."""
    out = []
    r = room.rotation()
    for _ in range(count):
        p = furn.wall_decor(rng, str(rng.choice(furn.WALL_DECOR)))
        side = int(rng.integers(4))
        lx, lz = _inside(rng, room.x0, room.x1, 0.6), _inside(rng, room.z0, room.z1, 0.6)
        lx = (room.x0, room.x1, lx, lx)[side]
        lz = (lz, lz, room.z0, room.z1)[side]
        pos = r @ np.array([lx, 0, lz], np.float32)
        p.yaw = room.yaw + (0.5, -0.5, 0.0, 1.0)[side] * math.pi
        p.x, p.z = float(pos[0]), float(pos[2])
        out.append(p)
    return out


def _materials(rng: np.random.Generator, pieces: list[Piece], mats: list[Material]
               ) -> dict[tuple[int, str], int]:
    """A material per piece slot; pieces of one kind often share them (a set of chairs)."""
    shared: dict[tuple[str, str], int] = {}
    slots: dict[tuple[int, str], int] = {}
    for i, p in enumerate(pieces):
        for slot, role in p.roles.items():
            key = (p.kind, slot)
            if key in shared and rng.random() < 0.7:
                slots[(i, slot)] = shared[key]
                continue
            if role == "window":
                sky = np.array([0.75, 0.85, 0.95]) * rng.uniform(0.8, 1.2)
                mats.append(emissive_material(np.clip(sky, 0, 1)))
            elif role == "lamp":
                mats.append(emissive_material(np.array([1.0, 0.97, rng.uniform(0.8, 0.95)])))
            else:
                mats.append(random_material(rng, role))
            slots[(i, slot)] = shared[key] = len(mats) - 1
    return slots


def _lights(rng: np.random.Generator, outdoor: bool, room: Room | None) -> Lights:
    if outdoor:
        elev, az = rng.uniform(15, 75) * math.pi / 180, rng.uniform(0, 2 * math.pi)
        overcast = rng.random() < 0.35
        sun = np.array([math.cos(elev) * math.cos(az), math.sin(elev),
                        math.cos(elev) * math.sin(az)], np.float32)
        high = np.array([0.25, 0.45, 0.85]) * rng.uniform(0.8, 1.1)
        low = np.array([0.75, 0.85, 0.95])
        if overcast:
            high = low = np.full(3, rng.uniform(0.6, 0.9))
        warm = np.array([1.0, rng.uniform(0.9, 1.0), rng.uniform(0.8, 0.95)])
        return Lights(sun, warm * rng.uniform(1.0, 1.3), rng.uniform(0.55, 0.8) if overcast
                      else rng.uniform(0.2, 0.45), [], to_linear(low), to_linear(high), 0.0 if overcast else rng.uniform(0, 0.6))
    assert room is not None
    main = np.array([rng.normal(0, 0.5), 1.0, rng.normal(0, 0.5)], np.float32)
    main /= np.linalg.norm(main)
    tint = np.array([1.0, rng.uniform(0.85, 1.0), rng.uniform(0.7, 1.0)], np.float32)
    lamps = []
    r = room.rotation()
    for _ in range(int(rng.integers(0, 4))):
        local = np.array([rng.uniform(room.x0, room.x1), room.height - 0.3,
                          rng.uniform(room.z0, room.z1)], np.float32)
        lamps.append((r @ local, float(rng.uniform(0.3, 2.0))))
    grey = to_linear(np.full(3, 0.8))
    return Lights(main, tint * rng.uniform(0.8, 1.3), rng.uniform(0.25, 0.55), lamps, grey, grey)


def _skyline(rng: np.random.Generator, camera: Camera, rays: np.ndarray, surf: Surfaces,
             mats: list[Material]) -> None:
    """Far hills or tree lines: sky pixels below a noisy horizon line become a far surface."""
    sky = np.nonzero(surf.material < 0)[0]
    if not len(sky) or rng.random() < 0.2:
        return
    d = rays[sky]
    az = np.arctan2(d[:, 0], d[:, 2])
    elev = np.arctan2(d[:, 1], np.linalg.norm(d[:, [0, 2]], axis=1))
    phase = rng.uniform(0, 2 * math.pi, 3)
    freq = rng.uniform(2, 25, 3)
    top = rng.uniform(0.01, 0.12) * (1.2 + np.sin(az * freq[0] + phase[0])
                                     + 0.5 * np.sin(az * freq[1] + phase[1])
                                     + 0.25 * np.sin(az * freq[2] + phase[2])) / 2.9
    below = elev < top
    hit = sky[below]
    mats.append(random_material(rng, str(rng.choice(["foliage", "foliage", "concrete",
                                                       "dirt"]))))
    surf.material[hit] = len(mats) - 1
    surf.depth[hit] = 500.0
    surf.normal[hit] = -d[below] / np.linalg.norm(d[below], axis=1, keepdims=True)
    surf.a[hit] = az[below] * 30
    surf.b[hit] = elev[below] * 30


_LUT_MAX = 4095


@functools.cache
def _radius2(h: int, w: int) -> np.ndarray:
    """[H,W] squared distance from the image centre over a quarter of the squared diagonal
    (shared: do not change)."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    return ((xx - w / 2) ** 2 + (yy - h / 2) ** 2) / np.float32(0.25 * (h * h + w * w))


class _Finish:
    """A random camera response (exposure, white balance, vignette, gamma, sensor noise,
    blur, JPEG), drawn once per scene and applied alike to both of its renders."""

    def __init__(self, rng: np.random.Generator, h: int, w: int) -> None:
        gain = rng.uniform(0.8, 1.5) * rng.uniform(0.9, 1.1, 3).astype(np.float32)
        self.gain = (1 - rng.uniform(0, 0.35) * _radius2(h, w))[..., None] * gain * _LUT_MAX
        # gamma through a 12-bit table: a power per pixel costs more than the rest
        self.curve = (np.linspace(0, 1, _LUT_MAX + 1, dtype=np.float32)
                      ** np.float32(1 / rng.uniform(1.8, 2.4)) * 255)
        # luminance noise (one draw per pixel: three cost more than the rest of this)
        self.noise = rng.standard_normal((h, w, 1), np.float32) * rng.uniform(0, 0.025) * 255
        self.sigma = rng.uniform(0, 1.0)
        self.quality = int(rng.integers(40, 96))

    def __call__(self, linear: np.ndarray) -> np.ndarray:
        index = np.clip(linear * self.gain, 0, _LUT_MAX).astype(np.int32)
        img = self.curve.take(index) + self.noise
        out = np.clip(img + 0.5, 0, 255).astype(np.uint8)
        if self.sigma > 0.6:
            out = cv2.GaussianBlur(out, (0, 0), self.sigma)
        ok, data = cv2.imencode(".jpg", out, [cv2.IMWRITE_JPEG_QUALITY, self.quality])
        return cv2.imdecode(data, cv2.IMREAD_UNCHANGED) if ok else out


def build_scene(seed: int, size: tuple[int, int] = (256, 256)) -> tuple[Scene, np.random.Generator]:
    """The scene of ``seed`` (person, camera, furniture), before rendering."""
    h, w = size
    rng = np.random.default_rng(np.random.SeedSequence([29, seed]))
    outdoor = bool(rng.random() < OUTDOOR_SHARE)
    person = scene_people.place_person(rng, outdoor)
    hfov = rng.uniform(40, 80) * math.pi / 180
    focal = (w / 2) / math.tan(hfov / 2)
    camera = _aim(rng, person, focal, h, w, outdoor)
    return Scene(person, camera, list(person.pieces), outdoor), rng


def _cast_shadows(rng: np.random.Generator, surf: Surfaces, lights: Lights,
                  pieces: list[Piece], person: scene_people.Person, outdoor: bool,
                  scene_rgb: np.ndarray, lit_rgb: np.ndarray) -> None:
    """Darken the ground where the main light is blocked (in place): by the furniture in
    both renders, by the person only in the render with the person. In shadow a floor
    pixel keeps its ambient share of the light; indoors (a diffuse main light) less so."""
    cos = max(float(lights.direction[1]), 0.05)
    lit = lights.ambient + (1 - lights.ambient) * cos
    depth = (1 - lights.ambient) * cos / lit * (rng.uniform(0.75, 0.95) if outdoor
                                                else rng.uniform(0.3, 0.6))
    ground = ground_pixels(surf)
    points = surf.point[ground]
    centre = person.vertices[:, [0, 2]].mean(0)
    furniture, body = (GroundShadows(centre, 10.0, lights.direction, 0.02 if outdoor else 0.12)
                       for _ in range(2))
    verts, _, _ = pieces_mesh(pieces, {(i, slot): 0 for i, p in enumerate(pieces)
                                       for slot in p.roles})
    furniture.add_boxes(verts.reshape(-1, 8, 3))
    body.add_points(person.vertices)
    amount = furniture.lookup(points)
    scene_rgb[ground] *= (1 - depth * amount)[:, None]
    lit_rgb[ground] *= (1 - depth * np.maximum(amount, body.lookup(points)))[:, None]


def _furnish(rng: np.random.Generator, scene: Scene, room: Room | None) -> list[Piece]:
    """The person's furniture and 3-10 more pieces on free floor (wall decor indoors)."""
    person, camera = scene.person, scene.camera
    taken = [person.footprint()] + [p.footprint() for p in scene.pieces]
    kinds = furn.INDOOR_CLUTTER if room is not None else furn.OUTDOOR_CLUTTER
    pieces = list(scene.pieces)
    for _ in range(int(rng.integers(3, 11))):
        p = _place(rng, str(rng.choice(kinds)), room, taken, camera, person)
        if p is not None:
            pieces.append(p)
            if p.kind != "rug":
                taken.append(p.footprint())
    if room is not None:
        pieces += _wall_decor(rng, room, int(rng.integers(0, 6)))
    return pieces


def _fixtures(rng: np.random.Generator, room: Room, lights: Lights) -> list[Piece]:
    """Baseboards along the walls and a glowing fitting at each ceiling lamp."""
    out = []
    if rng.random() < 0.7:
        h, t = rng.uniform(0.05, 0.14), 0.015
        x0, x1, z0, z1 = room.x0, room.x1, room.z0, room.z1
        for lo, hi in (((x0, z0), (x0 + t, z1)), ((x1 - t, z0), (x1, z1)),
                       ((x0, z0), (x1, z0 + t)), ((x0, z1 - t), (x1, z1))):
            board = furn.piece("baseboard", [Part((lo[0], 0.0, lo[1]), (hi[0], h, hi[1]),
                                                  "frame")])
            board.yaw = room.yaw  # the room's frame: its origin is the world's
            out.append(board)
    for pos, _ in lights.lamps:
        s = rng.uniform(0.15, 0.5)
        fitting = furn.piece("light", [Part((-s, room.height - 0.04, -s),
                                            (s, room.height, s), "frame")])
        fitting.yaw, fitting.x, fitting.z = room.yaw, float(pos[0]), float(pos[2])
        out.append(fitting)
    return out


def _paths(rng: np.random.Generator, person: scene_people.Person, mats: list[Material]
           ) -> list[Decal]:
    """0-2 paths or roads across the ground, one often under the person."""
    out = []
    centre = person.vertices[:, [0, 2]].mean(0)
    for i in range(int(rng.choice([0, 1, 1, 2]))):
        mats.append(random_material(rng, str(rng.choice(["asphalt", "concrete", "dirt",
                                                           "sand", "floor_stone"]))))
        through = centre + (rng.normal(0, 0.5, 2) if i == 0 and rng.random() < 0.5
                            else rng.uniform(-8, 8, 2))
        out.append(Decal(through.astype(np.float32), float(rng.uniform(0, math.pi)),
                         float(rng.uniform(0.6, 4.0)), len(mats) - 1))
    return out


def make_scene_sample(seed: int, size: tuple[int, int] = (256, 256)) -> SceneSample:
    """Render scene ``seed`` at ``size`` (height, width); a pure function of its arguments."""
    scene, rng = build_scene(seed, size)
    person, camera, outdoor = scene.person, scene.camera, scene.outdoor
    h, w = size
    mats: list[Material] = []
    room = None
    if outdoor:
        planes = _outdoor_planes(mats, rng)
    else:
        room = _room(rng, person, camera, scene.pieces)
        planes = _room_planes(room, mats, rng)
    lights = _lights(rng, outdoor, room)
    pieces = _furnish(rng, scene, room) + (_fixtures(rng, room, lights) if room else [])
    slots = _materials(rng, pieces, mats)
    textures = Textures(rng)

    rays = camera.rays()
    surf = trace_planes(camera, rays, planes)
    if outdoor:
        _skyline(rng, camera, rays, surf, mats)
        paint_ground(surf, _paths(rng, person, mats))
    trace_boxes(camera, rays, pieces, slots, surf)
    footprints = [p.footprint() for p in pieces
                  if p.kind not in ("rug", "picture", "window", "door")]
    shadows = [((f.min(0) + f.max(0)) / 2, (f.max(0) - f.min(0)) / 2, 0.35) for f in footprints]
    lo, hi = person.vertices[:, [0, 2]].min(0), person.vertices[:, [0, 2]].max(0)
    foot_shadow = [((lo + hi) / 2, (hi - lo) / 2 * 0.6, 0.45)]
    scene_rgb = shade_surfaces(surf, rays, mats, textures, lights)
    scene_rgb *= contact_shade(surf, shadows)[:, None]
    lit_rgb = scene_rgb * contact_shade(surf, foot_shadow)[:, None]
    _cast_shadows(rng, surf, lights, pieces, person, outdoor, scene_rgb, lit_rgb)

    body = scene_people.mannequin()
    faces = torch.as_tensor(body.data.faces)
    gen = torch.Generator().manual_seed(int(rng.integers(1 << 62)))
    colors = clothing_colors(gen, 1, torch.as_tensor(body.data.part_labels)) ** 2.2  # linear
    p_rgb, p_depth, p_mask = render_person(camera, person.vertices, faces, colors, lights)
    visible = (p_depth.reshape(-1) < surf.depth).reshape(h, w)
    with_person = lit_rgb.reshape(h, w, 3).copy()
    with_person[visible] = p_rgb[visible]

    uv, z = camera.project(person.keypoints)
    inside = (z > 0) & (uv[:, 0] >= 0) & (uv[:, 1] >= 0) & (uv[:, 0] <= w - 1) & \
        (uv[:, 1] <= h - 1)
    keypoints = np.where(inside[:, None], uv, -1.0).astype(np.float32)
    finish = _Finish(rng, h, w)
    return SceneSample(
        image=finish(scene_rgb.reshape(h, w, 3)), with_person=finish(with_person),
        keypoints=keypoints, box=_box(p_mask, keypoints[inside], h, w),
        pose_class=person.pose_class, focal_length=camera.focal,
        scene_kind="outdoor" if outdoor else "indoor")


def _box(mask: np.ndarray, points: np.ndarray, h: int, w: int) -> np.ndarray:
    """The box of the whole silhouette (hidden parts too) and the in-image keypoints,
    padded by :data:`BOX_PAD` of its size per side, clipped to the image."""
    ys, xs = np.nonzero(mask)
    xs = np.concatenate([xs, points[:, 0]]) if len(xs) else points[:, 0]
    ys = np.concatenate([ys, points[:, 1]]) if len(ys) else points[:, 1]
    if not len(xs):
        return np.array([-1, -1, -1, -1], np.float32)
    x0, x1, y0, y1 = xs.min() - 0.5, xs.max() + 0.5, ys.min() - 0.5, ys.max() + 0.5
    px, py = BOX_PAD * (x1 - x0), BOX_PAD * (y1 - y0)
    return np.array([max(x0 - px, 0), max(y0 - py, 0), min(x1 + px, w - 1),
                     min(y1 + py, h - 1)], np.float32)


def _worker_init() -> None:
    torch.set_num_threads(1)


def _make(args: tuple[int, tuple[int, int]]) -> SceneSample:
    return make_scene_sample(*args)


def make_scene_batch(seeds: Sequence[int], size: tuple[int, int] = (256, 256),
                     workers: int = 1) -> list[SceneSample]:
    """Samples for ``seeds``, in order; ``workers`` > 1 renders them in that many processes
    (each single-threaded), with the same results as one."""
    jobs = [(int(s), tuple(size)) for s in seeds]
    if workers <= 1 or len(jobs) < 2:
        return [_make(j) for j in jobs]
    import multiprocessing as mp

    ctx = mp.get_context("fork" if "fork" in mp.get_all_start_methods() else "spawn")
    with ctx.Pool(min(workers, len(jobs)), initializer=_worker_init) as pool:
        return pool.map(_make, jobs, chunksize=max(1, len(jobs) // (4 * workers)))
