"""Training data of the scene-pose generator: rendered scenes cached in npz shards, and the
pose templates (k-means over box-normalised poses) with the statistics the generator and
its baselines need.

A shard holds ``images`` [N,H,W,3] uint8 (the scene without the person), ``keypoints``
[N,16,2] (MPII order, pixels, -1 = missing), ``boxes`` [N,4] and ``pose_class`` [N].
"""
from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from studio.body.storage import atomic_write_bytes
from studio.errors import StudioError
from studio.nets.scenepose_views import MIRROR, box_aspect, box_frame, normalise

SHARD = 250
CACHE_ABOUT = "about.json"  # the first seed and size a scene folder was rendered with


@dataclass
class SceneSet:
    """Scenes with one person's pose each; ``images`` is one array when all have the same
    size, else a list."""

    images: np.ndarray | list[np.ndarray]
    keypoints: np.ndarray  # [N,16,2] float32, -1 = missing
    boxes: np.ndarray      # [N,4]
    pose_class: np.ndarray  # [N] str

    def __len__(self) -> int:
        return len(self.keypoints)

    def subset(self, index: np.ndarray) -> SceneSet:
        images = (self.images[index] if isinstance(self.images, np.ndarray)
                  else [self.images[i] for i in index])
        return SceneSet(images, self.keypoints[index], self.boxes[index], self.pose_class[index])

    def painted_out(self, seed: int) -> SceneSet:
        """The same scenes with each person's box painted out as the real evaluation
        photos' person was (:func:`studio.synth.scene_paint.paint_out_scenes`)."""
        from studio.synth.scene_paint import paint_out_scenes

        images = paint_out_scenes(self.images, self.boxes, seed)
        if isinstance(self.images, np.ndarray):
            images = np.stack(images)
        return SceneSet(images, self.keypoints, self.boxes, self.pose_class)

    def reframed(self, seed: int) -> SceneSet:
        """The same scenes, each re-cropped to a photo-like aspect around its person
        (:func:`studio.synth.scene_reframe.reframe`), seeded per scene like
        :meth:`painted_out`; images of several widths, so a list."""
        from studio.synth.scene_reframe import reframe

        moved = [reframe(im, kp, b, np.random.default_rng([seed, 1, i]))
                 for i, (im, kp, b) in enumerate(zip(self.images, self.keypoints, self.boxes))]
        return SceneSet([m[0] for m in moved], np.stack([m[1] for m in moved]),
                        np.stack([m[2] for m in moved]), self.pose_class)

    def heights(self) -> np.ndarray:
        if isinstance(self.images, np.ndarray):
            return np.full(len(self), self.images.shape[1], np.float64)
        return np.array([im.shape[0] for im in self.images], np.float64)


def check_cache_origin(folder: Path, seed: int, size: int) -> None:
    """Refuse a scene folder rendered from another first seed or size (its shards would be
    kept and silently used); a fresh folder records its own in ``about.json``. Folders
    made before the record existed are not checked."""
    folder.mkdir(parents=True, exist_ok=True)
    about = folder / CACHE_ABOUT
    if about.is_file():
        made = json.loads(about.read_text())
        if (made["first_seed"], made["size"]) != (seed, size):
            raise StudioError(f"{folder} holds scenes from seed {made['first_seed']} at "
                             f"{made['size']} px, not seed {seed} at {size} px: give that "
                             "seed or another folder")
    elif not any(folder.glob("shard-*.npz")):
        atomic_write_bytes(about, json.dumps({"first_seed": seed, "size": size}).encode())


def render_cache(folder: Path, count: int, seed: int, size: int = 256,
                 progress=None) -> list[int]:
    """Render scenes ``seed .. seed+count-1`` into ``folder/shard-XXXX.npz`` (shards that
    exist are kept, so an interrupted run resumes). A seed the scene generator fails on
    is skipped with its error reported; returns the skipped seeds."""
    check_cache_origin(folder, seed, size)
    skipped: list[int] = []
    for start in range(0, count, SHARD):
        path = folder / f"shard-{start // SHARD:04d}.npz"
        if path.exists():
            continue
        from studio.synth.scenes import make_scene_sample  # only when something is missing

        samples = []
        for s in range(seed + start, seed + min(start + SHARD, count)):
            try:
                samples.append(make_scene_sample(s, size=(size, size)))
            except (ValueError, RuntimeError) as err:
                print(f"scene seed {s} skipped: {err}", file=sys.stderr)
                skipped.append(s)
            if progress is not None:
                progress(s - seed + 1, count)
        tmp = path.with_suffix(".tmp.npz")
        np.savez(tmp, images=np.stack([s.image for s in samples]),
                 keypoints=np.stack([s.keypoints for s in samples]).astype(np.float32),
                 boxes=np.stack([s.box for s in samples]).astype(np.float32),
                 pose_class=np.array([s.pose_class for s in samples]))
        os.replace(tmp, path)
    return skipped


def load_cache(folder: Path) -> SceneSet:
    """Every shard in ``folder``, in order."""
    paths = sorted(folder.glob("shard-*.npz"))
    if not paths:
        raise FileNotFoundError(f"no scene shards in {folder}")
    parts = [np.load(p) for p in paths]
    return SceneSet(np.concatenate([p["images"] for p in parts]),
                    np.concatenate([p["keypoints"] for p in parts]),
                    np.concatenate([p["boxes"] for p in parts]),
                    np.concatenate([p["pose_class"] for p in parts]))


def mirror_poses(poses: np.ndarray) -> np.ndarray:
    """Box-normalised poses [...,16,2] mirrored left-right (x negated, sides swapped)."""
    out = poses[..., MIRROR, :].copy()
    out[..., 0] *= -1
    return out


def pose_distance(poses: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """Mean squared joint distance [N,K] over the joints both show (NaN = missing); inf
    when they share none."""
    d = ((poses[:, None] - centres[None]) ** 2).sum(-1)  # [N,K,16]
    seen = np.isfinite(d)
    n = seen.sum(-1)
    total = np.where(seen, d, 0.0).sum(-1)
    return np.where(n > 0, total / np.maximum(n, 1), np.inf)


def kmeans_poses(poses: np.ndarray, k: int, seed: int, iterations: int = 60) -> np.ndarray:
    """k-means (k-means++ start, seeded) of poses [N,16,2] with missing joints (NaN)
    masked out of distances and means; returns centres [k,16,2] (NaN where no member
    shows a joint)."""
    if len(poses) < k:
        raise ValueError(f"{len(poses)} poses cannot make {k} templates")
    rng = np.random.default_rng(seed)
    centres = [poses[rng.integers(len(poses))]]
    for _ in range(1, k):
        d = pose_distance(poses, np.stack(centres)).min(1)
        d = np.where(np.isfinite(d), d, 0.0)
        centres.append(poses[rng.choice(len(poses), p=d / d.sum())])
    centres = np.stack(centres)
    for _ in range(iterations):
        label = pose_distance(poses, centres).argmin(1)
        new = centres.copy()
        for j in range(k):
            members = poses[label == j]
            if len(members):
                new[j] = _nanmean(members)
        if np.allclose(np.nan_to_num(new), np.nan_to_num(centres)):
            break
        centres = new
    return centres


def _nanmean(x: np.ndarray) -> np.ndarray:
    """Mean over the first axis ignoring NaN; NaN where every entry is."""
    seen = np.isfinite(x)
    n = seen.sum(0)
    return np.where(n > 0, np.where(seen, x, 0.0).sum(0) / np.maximum(n, 1), np.nan)


@dataclass
class TemplateSet:
    """The K templates and what the generator and the baselines need of them."""

    poses: np.ndarray        # [K,16,2] box-normalised, NaN = no member shows it
    extents: np.ndarray      # [K,2] members' mean box width, height (box sides)
    aspect: np.ndarray       # [K,2] mean and std of members' log(width/height)
    mean_scale: float        # mean box side in half image heights
    mean_template: int       # the template nearest the mean pose
    # per template, its training members' pose classes and their shares, largest first
    # (empty for files made before they were kept)
    classes: list[dict[str, float]] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"poses": self.poses.tolist(), "extents": self.extents.tolist(),
                "aspect": self.aspect.tolist(), "mean_scale": self.mean_scale,
                "mean_template": self.mean_template, "classes": self.classes}

    @classmethod
    def from_dict(cls, d: dict) -> TemplateSet:
        return cls(np.array(d["poses"], np.float64), np.array(d["extents"], np.float64),
                   np.array(d["aspect"], np.float64), float(d["mean_scale"]),
                   int(d["mean_template"]), list(d.get("classes", [])))

    def names(self, template: int) -> list[str]:
        """The classes a template is named by: its members' class when it makes up
        ``MAJORITY`` of them, else their two commonest when together they do; none for a
        mixed template (the catch-all near the mean pose, which a class chooser should
        not offer as, say, sitting) or a file without classes."""
        if not self.classes:
            return []
        shares = list(self.classes[template].items())
        if shares[0][1] >= MAJORITY:
            return [shares[0][0]]
        return [n for n, _ in shares[:2]] if sum(v for _, v in shares[:2]) >= MAJORITY else []

    def describe(self, template: int) -> str:
        """:meth:`names` for people: "sitting", "standing or walking", "mixed (sitting,
        leaning, walking)" (its three commonest), or "" for a file without classes."""
        names = self.names(template)
        if names or not self.classes:
            return " or ".join(names)
        return f"mixed ({', '.join(list(self.classes[template])[:3])})"

    def of_class(self, pose_class: str) -> np.ndarray:
        """[K] whether each template is named by ``pose_class`` (alone or as one of two)."""
        return np.array([pose_class in self.names(k) for k in range(len(self.poses))], bool)

    def class_names(self) -> list[str]:
        """Every class some template is named by, sorted (none for older files)."""
        return sorted({name for k in range(len(self.poses)) for name in self.names(k)})

    def assign(self, poses: np.ndarray) -> np.ndarray:
        """Nearest template [N] of box-normalised poses [N,16,2]."""
        return pose_distance(poses, self.poses).argmin(1)

    def aspect_loglik(self, boxes: np.ndarray) -> np.ndarray:
        """log p(box aspect | template) [N,K] under each template's normal in log aspect."""
        a = box_aspect(boxes)[..., None]
        mu, sd = self.aspect[:, 0], self.aspect[:, 1]
        return -0.5 * ((a - mu) / sd) ** 2 - np.log(sd)


MAJORITY = 0.6  # a template is named by one class when at least this share of it has it


def template_classes(centres: np.ndarray, poses: np.ndarray, pose_class: np.ndarray
                     ) -> list[dict[str, float]]:
    """Per template (``centres`` [K,16,2]), the shares of ``pose_class`` [N] among the
    box-normalised ``poses`` [N,16,2] (and their mirror images) nearest to it, largest
    first."""
    both = np.concatenate([poses, mirror_poses(poses)])
    label = pose_distance(both, centres).argmin(1)
    names = np.concatenate([pose_class, pose_class]).astype(str)
    out = []
    for j in range(len(centres)):
        found, counts = np.unique(names[label == j], return_counts=True)
        order = np.argsort(-counts, kind="stable")
        out.append({str(found[i]): round(float(counts[i] / counts.sum()), 3) for i in order})
    return out


def build_templates(keypoints: np.ndarray, boxes: np.ndarray, heights: np.ndarray, k: int,
                    seed: int, pose_class: np.ndarray | None = None) -> TemplateSet:
    """Templates from training poses (pixels, -1 missing) and their boxes; poses are
    clustered together with their mirror images so both sides are covered. With
    ``pose_class`` [N] each template keeps its members' classes."""
    poses = normalise(keypoints, boxes)
    both = np.concatenate([poses, mirror_poses(poses)])
    centres = kmeans_poses(both, k, seed)
    label = pose_distance(both, centres).argmin(1)
    b = np.asarray(boxes, np.float64)
    _, side = box_frame(b)
    size = np.stack([b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]], -1) / side[:, None]
    size = np.concatenate([size, size])
    aspect = np.concatenate([box_aspect(b), box_aspect(b)])
    extents = np.stack([size[label == j].mean(0) for j in range(k)])
    stats = np.stack([[aspect[label == j].mean(), max(aspect[label == j].std(), 0.1)]
                      for j in range(k)])
    mean_pose = _nanmean(both)[None]
    return TemplateSet(centres, extents, stats,
                       float(np.mean(2 * side / np.asarray(heights, np.float64))),
                       int(pose_distance(mean_pose, centres).argmin(1)[0]),
                       [] if pose_class is None else template_classes(centres, poses,
                                                                      pose_class))
