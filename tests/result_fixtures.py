"""A real :class:`FrameResult` for tests of views and exporters: the astronaut photo
through MediaPipe and the built-in proxy model, computed once per test session."""
from __future__ import annotations

from functools import lru_cache

import numpy as np
import torch

from studio.nets.model_registry import load_model
from studio.pipeline.people import shared_finder
from studio.pipeline.results import FrameResult
from studio.pipeline.single_image import run_image


def astronaut_image() -> np.ndarray:
    from skimage import data

    return data.astronaut()


@lru_cache(maxsize=1)
def astronaut_result() -> FrameResult:
    """The astronaut's result with the default model (about 2 s the first time)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return run_image(load_model("builtin-pymaf-proxy", "cpu", None), astronaut_image(),
                         shared_finder())
    finally:
        torch.set_num_threads(before)
