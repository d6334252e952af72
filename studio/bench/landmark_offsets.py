"""``studio bench landmarks``: where MediaPipe puts each landmark on the body model.

The refinement pulls the body's mediapipe33 keypoints onto MediaPipe's landmarks, so a
body-model landmark defined elsewhere than where MediaPipe puts it (an "ear" a few
centimetres off MediaPipe's ear) is an error no fit can remove. Two sources of views:

- ``renders``: the body model shaded before a plain wall (as
  :func:`studio.pipeline.samples.mannequin`) in seeded random shapes, arm and head poses
  and yaws; the body's own landmarks are the reference. MediaPipe takes a faceless
  mannequin for one turned away now and then (left and right swapped: those views are
  left out per group) and guesses its face with too little yaw, so renders speak for the
  body's landmarks, not the face's.
- ``photos``: real photos (each photo's largest person, the refined body of
  ``studio run``): the fitted body is the reference, so what the fit could not remove.

Per landmark (left and right pooled, as the mannequin's design points are mirrored) the
table gives the mean distance (px) between MediaPipe's point and the body's; the offset
``d`` (mm, in the rest frame of the joint the landmark rides on: head, wrist, ankle...)
that best explains all views, ``MediaPipe - body ~ k P R_joint d`` (``k`` px per metre,
``P`` the projection's axes, ``R_joint`` the joint's posed rotation, weighted by
MediaPipe's visibility) and the distance left after moving by ``d``; and, for landmarks
that are surface vertices, the vertex within SEARCH_RADIUS of the current one that lies
closest to MediaPipe's points over all views (mean distance in mm at the person's scale),
with its rest position: the design point to use.
"""
from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np

from studio.body import joint_sets as js
from studio.errors import StudioError
from studio.nets.smplr import world_rotations

SIDE = 512  # px of the square renders
FILL = 0.85
MIN_VISIBILITY = 0.5
SEARCH_RADIUS = 0.06  # metres around the current landmark vertex
NAMES = js.MEDIAPIPE33.names
# mediapipe33 index -> the SMPL joint whose frame its offset is expressed in.
FRAME_JOINT = {**{i: 15 for i in range(11)},
               11: 16, 12: 17, 13: 18, 14: 19, 15: 20, 16: 21,
               17: 20, 18: 21, 19: 20, 20: 21, 21: 20, 22: 21,
               23: 1, 24: 2, 25: 4, 26: 5, 27: 7, 28: 8, 29: 7, 30: 8, 31: 7, 32: 8}
# World axes to image axes: the renders' world is y up, a photo's camera frame y down.
RENDER_AXES = np.array([[1.0, 0.0, 0.0], [0.0, -1.0, 0.0]])
CAMERA_AXES = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])


def random_view(rng: np.random.Generator) -> dict[str, np.ndarray]:
    """One seeded body: betas [10], body pose (axis-angle [69]) and root rotation [3,3]:
    arms lowered, elbows, neck, head and spine bent a little, turned +-60 degrees."""
    from scipy.spatial.transform import Rotation

    pose = np.zeros((23, 3))
    for joint, side in ((16, -1.0), (17, 1.0)):  # shoulders
        pose[joint - 1] = (rng.uniform(-0.3, 0.3), 0.0, side * rng.uniform(0.9, 1.3))
    for joint, side in ((18, 1.0), (19, -1.0)):  # elbows
        pose[joint - 1, 1] = side * rng.uniform(-0.6, 0.6)
    for joint, spread in ((12, 0.25), (15, 0.35), (3, 0.1), (6, 0.1)):  # neck, head, spine
        pose[joint - 1] = Rotation.from_euler(
            "xyz", rng.uniform(-spread, spread, 3) * np.array([1.0, 1.0, 0.5])).as_rotvec()
    for joint in (1, 2):  # hips
        pose[joint - 1, 0] = rng.uniform(-0.3, 0.2)
    root = Rotation.from_euler("yx", [rng.uniform(-60, 60), rng.uniform(-8, 8)],
                               degrees=True).as_matrix()
    return {"pose": pose.reshape(69), "root": root,
            "betas": np.clip(rng.normal(0.0, 0.8, 10), -2.0, 2.0)}


def _posed(body, root: np.ndarray, pose: np.ndarray, betas: np.ndarray):
    """``body`` posed: root as a matrix [3,3] or axis-angle [3], body pose [69]."""
    import torch

    def batch(a: np.ndarray) -> torch.Tensor:
        return torch.as_tensor(np.asarray(a), dtype=torch.float32)[None]

    with torch.no_grad():
        return body(global_orient=batch(root)[:, None] if np.ndim(root) == 2 else batch(root),
                    body_pose=batch(pose), betas=batch(betas))


def render_view(body, view: dict[str, np.ndarray]) -> tuple[np.ndarray, dict]:
    """RGB [S,S,3] uint8 of one view, shaded like the mannequin sample, and the view's
    record without MediaPipe's part (see :func:`_record`)."""
    import torch

    from studio.synth.raster import front_view, interpolate, rasterize
    from studio.synth.shading import vertex_normals

    out = _posed(body, view["root"], view["pose"], view["betas"])
    verts, keypoints = out.vertices, out.keypoints("mediapipe33")
    with torch.no_grad():
        both = front_view(torch.cat([verts, keypoints], 1), reference=verts, fill=FILL)
        points = both[:, :verts.shape[1]]
        faces = torch.as_tensor(body.data.faces)
        frags = rasterize(points, faces, SIDE)
        facing = interpolate(frags, faces, vertex_normals(points, faces)[0])[0, ..., 2].abs()
    span = float((verts[0, :, :2].amax(0) - verts[0, :, :2].amin(0)).amax())
    covered = (frags.face_index[0] >= 0).numpy()
    photo = np.empty((SIDE, SIDE, 3), np.uint8)
    photo[:] = np.linspace(70, 140, SIDE)[None, :, None].astype(np.uint8)
    skin = (0.3 + 0.7 * facing.numpy())[..., None] * np.array([215.0, 170.0, 140.0])
    photo[covered] = skin[covered].astype(np.uint8)
    pixels = (both[0, :, :2].numpy().astype(np.float64) + 1) / 2 * (SIDE - 1)
    nv = verts.shape[1]
    return photo, _record(out, pixels[nv:], pixels[:nv],
                          FILL * 2 / span * (SIDE - 1) / 2, RENDER_AXES)


def _record(out, keypoints_px: np.ndarray, vertices_px: np.ndarray, px_per_m: float,
            axes: np.ndarray) -> dict:
    """What a view keeps of a posed body: its projected keypoints and vertices, px per
    metre, the axes and the joints' world rotations."""
    return {"model": keypoints_px, "vertices": vertices_px, "px_per_m": px_per_m,
            "axes": axes, "rotations": world_rotations(out.rotmats.double())[0].numpy()}


def swapped_sides(mediapipe: np.ndarray, model: np.ndarray) -> np.ndarray:
    """[33] bool: the landmarks of a group (face, body) that MediaPipe took with left and
    right swapped: the group's widest pairs lie closer to the body's with sides swapped."""
    flip = js.MEDIAPIPE33.flip_permutation()
    out = np.zeros(len(NAMES), bool)
    for group, judge in ((np.arange(0, 11), np.array([3, 6, 7, 8])),  # eye corners, ears
                         (np.arange(11, len(NAMES)), np.arange(11, len(NAMES)))):
        named = np.linalg.norm(mediapipe[judge] - model[judge], axis=1).mean()
        crossed = np.linalg.norm(mediapipe[flip[judge]] - model[judge], axis=1).mean()
        out[group] = crossed < named
    return out


def render_views(count: int, seed: int = 0) -> list[dict]:
    """``count`` seeded renders with MediaPipe's landmarks and visibility (0 where it
    swapped sides); renders where nobody is found are left out."""
    from studio.body.model import BodyModel
    from studio.body.registry import find_body_model
    from studio.pipeline.people import PersonFinder

    body = BodyModel(find_body_model("mannequin"))
    rng = np.random.default_rng(seed)
    views = []
    with PersonFinder() as finder:
        for _ in range(count):
            photo, view = render_view(body, random_view(rng))
            people = finder.find(photo, max_people=1)
            if people:
                found = people[0].landmarks.astype(np.float64)
                view["swapped"] = swapped_sides(found, view["model"])
                view["mediapipe"] = found
                view["visibility"] = people[0].visibility * ~view["swapped"]
                views.append(view)
    return views


def photo_views(model, photos: list[tuple[str, np.ndarray]]) -> list[dict]:
    """Each photo's largest person through ``studio run``'s path with refinement: the
    final body (refined, or the start where that was kept) against MediaPipe's seen
    landmarks."""
    from studio.pipeline.people import PersonFinder
    from studio.pipeline.refine import refine_body
    from studio.pipeline.single_image import run_person, seen_landmarks

    body = refine_body(model)
    views = []
    with PersonFinder() as finder:
        for _, image in photos:
            people = finder.find(image, max_people=1)
            if not people:
                continue
            result = run_person(model, image, people[0], refine=True)
            final = result.refined
            out = _posed(body, final.pose[:3], final.pose[3:], final.betas)
            cam = final.image_camera
            points = out.keypoints("mediapipe33")[0].double().numpy()
            depth = float(points[:, 2].mean() + cam.translation[2])
            view = _record(out, cam.project(points),
                           cam.project(out.vertices[0].double().numpy()),
                           cam.focal / depth, CAMERA_AXES)
            size = (image.shape[1], image.shape[0])
            view["mediapipe"] = people[0].landmarks.astype(np.float64)
            view["visibility"] = people[0].visibility * seen_landmarks(people[0], size)
            views.append(view)
    return views


def _mirror(index: int) -> np.ndarray:
    """Multiplier taking a right landmark's offset to its left twin's (x mirrored)."""
    return np.array([-1.0, 1.0, 1.0]) if "right" in NAMES[index] else np.ones(3)


def _members(left: int) -> list[int]:
    """``left`` and its right twin (mediapipe33 indices)."""
    twin = NAMES.index(js.mirror_name(NAMES[left]))
    return [left] if twin == left else [left, twin]


def _seen(views: list[dict], index: int) -> list[dict]:
    return [v for v in views if v["visibility"][index] >= MIN_VISIBILITY]


def solve_offset(views: list[dict], left: int) -> dict | None:
    """The offset ``d`` of one landmark pair and the mean px before and after it."""
    cases = []
    for i in _members(left):
        for v in _seen(views, i):
            a = v["px_per_m"] * v["axes"] @ v["rotations"][FRAME_JOINT[i]] @ np.diag(_mirror(i))
            cases.append((a, v["mediapipe"][i] - v["model"][i], np.sqrt(v["visibility"][i])))
    if not cases:
        return None
    a = np.concatenate([w * a for a, _, w in cases])
    b = np.concatenate([w * r for _, r, w in cases])
    d = np.linalg.lstsq(a, b, rcond=None)[0]
    return {"views": len(cases),
            "before_px": float(np.mean([np.linalg.norm(r) for _, r, _ in cases])),
            "after_px": float(np.mean([np.linalg.norm(r - a @ d) for a, r, _ in cases])),
            "offset_mm": [round(1000 * float(x), 1) for x in d]}


def best_vertex(views: list[dict], left: int, rest: np.ndarray, current: int) -> dict | None:
    """The rest vertex within SEARCH_RADIUS of ``current`` whose projections (its mirror
    twin's for the right landmark) lie closest to MediaPipe's points, visibility-weighted
    mean distance in mm at each view's scale; and the current vertex's."""
    from scipy.spatial import cKDTree

    candidates = np.flatnonzero(np.linalg.norm(rest - rest[current], axis=1) < SEARCH_RADIUS)
    twins = cKDTree(rest).query(rest[candidates] * np.array([-1.0, 1.0, 1.0]))[1]
    score, weight = np.zeros(len(candidates)), 0.0
    for i in _members(left):
        ids = twins if "right" in NAMES[i] else candidates
        for v in _seen(views, i):
            w = v["visibility"][i]
            score += w * np.linalg.norm(v["vertices"][ids] - v["mediapipe"][i], axis=1) \
                / v["px_per_m"] * 1000
            weight += w
    if weight == 0:
        return None
    score /= weight
    best = int(np.argmin(score))
    return {"vertex": int(candidates[best]), "mm": round(float(score[best]), 1),
            "rest": [round(float(x), 3) for x in rest[candidates[best]]],
            "current_mm": round(float(score[candidates == current][0]), 1)}


def solve_offsets(views: list[dict], body_data=None) -> dict:
    """Per landmark pair (named without 'left_'): :func:`solve_offset`'s figures and,
    with ``body_data`` and for surface landmarks, :func:`best_vertex`'s."""
    rows = {}
    for left in (i for i in range(len(NAMES)) if "right" not in NAMES[i]):
        row = solve_offset(views, left)
        if row is None:
            continue
        source = js.SOURCE_NAMES[int(np.argmax(js.mapping_matrix("mediapipe33")[left]))]
        if body_data is not None and source in body_data.landmarks:
            row["best_vertex"] = best_vertex(views, left, body_data.v_template,
                                             body_data.landmarks[source])
        rows[NAMES[left].replace("left_", "")] = row
    return rows


def landmark_offsets(source: str, views: list[dict], body_data) -> dict:
    """The bench's document for ``views`` from ``source`` ("renders N" or "photos")."""
    return {"source": source, "views": len(views),
            "sides_swapped": int(sum(bool(v.get("swapped", np.zeros(1)).any()) for v in views)),
            "landmarks": solve_offsets(views, body_data)}


def offsets_table(doc: dict) -> str:
    """The readable form of :func:`landmark_offsets`' document."""
    lines = [f"{doc['source']}: {doc['views']} views with a person ({doc['sides_swapped']} "
             "with a group's sides swapped, left out); left/right pooled",
             f"{'landmark':<12}{'seen':>5}{'px':>6}{'after d':>8}{'d mm (x left, y up, z fwd)':>28}"
             f"{'vertex mm: now':>16}{'best':>6}  best vertex rest (m)"]
    for name, r in doc["landmarks"].items():
        d = ", ".join(f"{x:.0f}" for x in r["offset_mm"])
        line = f"{name:<12}{r['views']:>5}{r['before_px']:>6.1f}{r['after_px']:>8.1f}{d:>28}"
        best = r.get("best_vertex")
        if best is not None:
            line += f"{best['current_mm']:>16.1f}{best['mm']:>6.1f}  {tuple(best['rest'])}"
        lines.append(line)
    return "\n".join(lines)


def add_bench_landmarks(sub: argparse._SubParsersAction,
                        common: Callable[[argparse.ArgumentParser], None],
                        apply_common: Callable[[argparse.Namespace], object]) -> None:
    """Register ``studio bench landmarks`` (``common``/``apply_common``: bench's
    --device, --threads and --json)."""
    parser = sub.add_parser(
        "landmarks",
        description="Where MediaPipe puts each mediapipe33 landmark relative to the body "
                    "model's: on seeded renders of the mannequin, or on photos after "
                    "refinement; per landmark the mean distance, the offset that explains "
                    "it and the best surface vertex.")
    common(parser)
    parser.add_argument("--renders", type=int, default=48, metavar="N",
                        help="number of seeded renders (default 48)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--photos", type=Path, default=None, metavar="DIR",
                        help="instead of renders: this folder's photos (and, unless "
                             "--no-samples, the built-in samples) after refinement")
    parser.add_argument("--no-samples", dest="samples", action="store_false",
                        help="with --photos: leave out the built-in samples")
    parser.add_argument("--model", default=None,
                        help="with --photos: the model whose meshes are refined "
                             "(default: studio run's)")

    def run(args: argparse.Namespace) -> int:
        from studio.body.registry import find_body_model

        device = apply_common(args)
        if args.renders < 1:
            raise StudioError("--renders must be at least 1")
        if args.photos is None:
            source = f"renders {args.renders} (seed {args.seed})"
            views, body_data = render_views(args.renders, args.seed), \
                find_body_model("mannequin")
        else:
            from studio.bench.refine_eval import photo_set
            from studio.commands.run import default_model
            from studio.nets.model_registry import load_model

            source = f"photos {args.photos}" + (" and samples" if args.samples else "")
            photos = photo_set(args.photos, args.samples)
            model = load_model(args.model or default_model(), device)
            views = photo_views(model, photos)
            body_data = model.body.data
        doc = landmark_offsets(source, views, body_data)
        print(json.dumps(doc, indent=2) if args.json else offsets_table(doc))
        return 0

    parser.set_defaults(func=run)
