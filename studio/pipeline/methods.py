"""Model methods: registered models that are not PyMAF-style crop nets.

A crop net (:class:`~studio.nets.model_registry.LoadedModel`) is fed a crop and returns
its feedback iterations; everything around it (finding people, cropping, refitting the
camera to MediaPipe's landmarks, refinement, overlays, mask IoU and keypoint error,
exports, the window and live capture) is :mod:`studio.pipeline.single_image`'s. A model
method reuses all of that and replaces only the middle: given the photo, one found
:class:`~studio.pipeline.people.Person`, the person's crop transform and the crop's proxy
maps, it returns the meshes (:class:`MethodOutput`).

Registering one (e.g. PointHMR, a PoseAug lifter, a PyMAF variant):

1. write a module with ``load(device: str, checkpoint: str | None) -> LoadedMethod``
   (raise :class:`~studio.errors.ModelFileError` naming the missing file and where it
   was looked for). Its ``run`` is a :class:`PersonMethod`;
2. add one entry to :data:`studio.nets.model_names.METHOD_MODELS`: the module's dotted
   name, the files it needs, a one-line description.

``studio run/capture --model NAME``, the window's Model menu and live capture then offer
it (:func:`studio.nets.model_registry.load_model` imports the module when the name is
asked for). :mod:`studio.pipeline.keypoint_method` (``keypoint-fit``) is the example.

What ``run`` must return, per person:
- ``iterations``: at least one :class:`~studio.pipeline.results.MeshIteration` (the last
  is the answer), vertices in the camera's axes (x right, y down, z away) around the
  body's root, ``cam`` the crop camera (s, tx, ty) that places them
  (:mod:`studio.pipeline.camera_fit` explains it) and ``image_camera`` made from it;
- ``keypoints``: [n_iterations, 33, 3] each iteration's mediapipe33 points in the
  same frame as its vertices: the camera refit, the overlays and the keypoint error use
  them.
The body model (``LoadedMethod.body``) gives the faces, skeleton and part colours and
is what refinement optimises, so the iterations' ``pose`` and ``betas`` must be that
body's.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np
import torch

from studio.body.model import BodyModel
from studio.pipeline.crops import CropTransform
from studio.pipeline.people import Person
from studio.pipeline.results import DenseMaps, MeshIteration


@dataclass
class MethodOutput:
    """A method's meshes for one person (see the module docstring)."""

    iterations: list[MeshIteration]
    keypoints: np.ndarray  # [n_iterations, 33, 3] mediapipe33, same frame as the vertices
    dense: DenseMaps | None = None


class PersonMethod(Protocol):
    """``run(image, person, transform, maps)``: RGB uint8 photo [H,W,3], one found person,
    their crop (full-image <-> crop coordinates) and the crop's proxy maps [1,34,S,S]
    (person mask and MediaPipe landmark maps at ``LoadedMethod.input_size``, made once by
    the pipeline for its views: a method that reads them takes these) -> the person's
    meshes."""

    def __call__(self, image: np.ndarray, person: Person, transform: CropTransform,
                 maps: torch.Tensor) -> MethodOutput: ...


@dataclass
class LoadedMethod:
    """A model method ready to run; the fields a :class:`LoadedModel` also has keep the
    commands, the worker and the reports alike for both."""

    name: str
    run: PersonMethod
    body: BodyModel
    input_kind: str  # what it reads, for reports (e.g. "landmarks")
    input_size: int  # side of the person's square crop (the crop view, the landmark maps)
    source: Path  # the main file it loaded
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    meta: dict = field(default_factory=dict)
    traced: bool = False  # set by long-running callers; a method may ignore it

    @property
    def body_name(self) -> str:
        return self.body.data.name
