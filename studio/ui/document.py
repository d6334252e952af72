"""What the studio window shows, without Qt: the open photo, its result, the chosen person
and feedback iteration, and the numbers the views draw from them.

Views never compute geometry themselves; they ask the document, so the 2D and 3D views
always agree and the derived numbers can be tested without a window.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from studio.pipeline.results import FrameResult, MeshIteration, PersonResult

MM_PER_M = 1000.0


def iteration_name(index: int, refined: bool = False, kept: bool = True) -> str:
    """What the scrubber calls step ``index``: 0 is PyMAF's mean-parameter start;
    ``refined``: the step is the refinement after the iterations; not ``kept``: the
    refinement was no better, so that step shows the start again."""
    if refined:
        return "refined" if kept else "refined (start kept)"
    return "initial estimate" if index == 0 else f"feedback iteration {index}"


@dataclass
class StudioDocument:
    """One open photo. ``result`` is None until the worker has answered."""

    image: np.ndarray  # [H,W,3] uint8 RGB at full resolution
    path: Path | None = None  # None for built-in samples
    title: str = ""
    result: FrameResult | None = None
    person: int = 0
    iteration: int = 0
    _largest_step: dict[int, float] = field(default_factory=dict, repr=False)

    def set_result(self, result: FrameResult) -> None:
        """Take the worker's answer; show the largest person's final iteration."""
        self.result = result
        self.person = 0
        self.iteration = len(result.people[0].steps()) - 1
        self._largest_step.clear()

    @property
    def has_result(self) -> bool:
        return self.result is not None and bool(self.result.people)

    @property
    def people_count(self) -> int:
        return len(self.result.people) if self.result is not None else 0

    @property
    def current_person(self) -> PersonResult:
        if self.result is None:
            raise LookupError("no result yet")
        return self.result.people[self.person]

    @property
    def iteration_count(self) -> int:
        return len(self.current_person.steps()) if self.has_result else 0

    @property
    def has_refined(self) -> bool:
        """Whether the current person's last step is the refined one."""
        return self.has_result and self.current_person.refined is not None

    def step_name(self, index: int | None = None) -> str:
        """What step ``index`` (default: the current one) is called."""
        index = self.iteration if index is None else index
        return iteration_name(index, self.has_refined and index == self.iteration_count - 1,
                              self.refined_kept)

    @property
    def refined_kept(self) -> bool:
        """False when the current person's refinement lost to its start (shown instead)."""
        refine = self.current_person.refine if self.has_result else None
        return refine is None or refine.kept

    @property
    def current(self) -> MeshIteration:
        return self.current_person.steps()[self.iteration]

    def select_person(self, index: int) -> bool:
        """Choose person ``index``; False (and nothing changes) when there is no such person."""
        if not 0 <= index < self.people_count or index == self.person:
            return False
        self.person = index
        self.iteration = min(self.iteration, self.iteration_count - 1)
        return True

    def select_iteration(self, index: int) -> bool:
        """Choose iteration ``index`` (clamped); False when it was already shown."""
        index = int(np.clip(index, 0, max(self.iteration_count - 1, 0)))
        if index == self.iteration:
            return False
        self.iteration = index
        return True

    def boxes(self) -> list[tuple[float, float, float, float]]:
        """Each person's extent on the image, largest first."""
        if self.result is None:
            return []
        return [p.person.extent for p in self.result.people]

    def projected(self, iteration: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Vertices of ``iteration`` (default: the current one) as image points [V,2] and
        their depth [V] in metres from the image camera; each iteration keeps its own, as
        scrubbing revisits (:meth:`MeshIteration.projected`)."""
        index = self.iteration if iteration is None else iteration
        return self.current_person.steps()[index].projected()

    def project_joints(self) -> np.ndarray:
        """The current iteration's skeleton joints [24,2] on the image."""
        return self.current.image_camera.project(self.current.joints)

    def sample_points(self) -> np.ndarray | None:
        """The points the current iteration sampled [N,2] on the image; None at 0."""
        points = self.current.sample_points
        return None if points is None else self.current_person.crop.to_image(points)

    def displacement_mm(self, iteration: int | None = None) -> np.ndarray | None:
        """How far each vertex moved [V] (mm) from the previous iteration, in the body's own
        frame (pose and shape change; the camera's change of depth is left out, since it
        would swamp them). None for the initial estimate."""
        index = self.iteration if iteration is None else iteration
        if index == 0:
            return None
        its = self.current_person.steps()
        moved = np.linalg.norm(its[index].vertices - its[index - 1].vertices, axis=1)
        return (moved * MM_PER_M).astype(np.float32)

    def max_displacement_mm(self) -> float:
        """The largest step any vertex takes over all iterations: one colour scale for the
        whole scrub, so colours compare across iterations."""
        if self.person not in self._largest_step:
            steps = [self.displacement_mm(i) for i in range(1, self.iteration_count)]
            self._largest_step[self.person] = float(max((s.max() for s in steps),
                                                        default=1.0)) or 1.0
        return self._largest_step[self.person]
