"""PyMAF frozen into a TorchScript graph for one crop at a time.

PyMAF's forward is about 1,500 small torch calls (three body-model passes, the feedback
steps), each dispatched from Python. Next to a busy UI thread that costs more than the
arithmetic: every call needs the interpreter lock back, and a live stream's net took
three times longer than alone. A traced, frozen graph runs the whole forward in C++
without the lock and with fewer, fused calls; :class:`TracedPyMAF` gives the same
:class:`~studio.nets.pymaf.PyMAFOutput` as the eager net (within float rounding).

A trace is only valid for the input shape and device it was made with; callers keep
the eager net for anything else.
"""
from __future__ import annotations

import warnings
from dataclasses import fields, is_dataclass
from typing import Any

import torch
from torch import nn

from studio.nets.pymaf import PyMAF, PyMAFOutput

WARM_UP_RUNS = 3


def _flatten(value: Any, tensors: list[torch.Tensor]) -> Any:
    """``value``'s tensors appended to ``tensors``; returns its shape with each tensor
    replaced by its index (dataclasses as (type, {field: spec}), dicts and lists kept)."""
    if isinstance(value, torch.Tensor):
        tensors.append(value)
        return len(tensors) - 1
    if is_dataclass(value):
        return (type(value), {f.name: _flatten(getattr(value, f.name), tensors)
                              for f in fields(value)})
    if isinstance(value, dict):
        return {k: _flatten(v, tensors) for k, v in value.items()}
    if isinstance(value, list):
        return [_flatten(v, tensors) for v in value]
    if value is None:
        return None
    raise TypeError(f"cannot trace an output holding {type(value).__name__}")


def _unflatten(spec: Any, tensors: tuple[torch.Tensor, ...]) -> Any:
    if isinstance(spec, int):
        return tensors[spec]
    if isinstance(spec, tuple):
        kind, members = spec
        return kind(**{k: _unflatten(v, tensors) for k, v in members.items()})
    if isinstance(spec, dict):
        return {k: _unflatten(v, tensors) for k, v in spec.items()}
    if isinstance(spec, list):
        return [_unflatten(v, tensors) for v in spec]
    return None


class _Flat(nn.Module):
    """The net with its output as a flat tuple of tensors, which tracing needs."""

    def __init__(self, net: PyMAF) -> None:
        super().__init__()
        self.net = net
        self.spec: Any = None

    def forward(self, crops: torch.Tensor) -> tuple[torch.Tensor, ...]:
        tensors: list[torch.Tensor] = []
        self.spec = _flatten(self.net(crops), tensors)
        return tuple(tensors)


class TracedPyMAF:
    """``net`` (in eval mode) traced on ``example`` crops and frozen; call it with crops of
    the same shape, dtype and device."""

    def __init__(self, net: PyMAF, example: torch.Tensor) -> None:
        if net.training:
            raise ValueError("trace the net in eval mode: dropout and batch norm would be frozen")
        flat = _Flat(net)
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # tracer warnings on Python values baked in
            graph = torch.jit.trace(flat, example, check_trace=False)
            self._graph = torch.jit.freeze(graph.eval())
            # TorchScript profiles a graph's first runs and optimises it after them:
            # done here, not on the first frames (slower, and memory allocated mid-stream)
            for _ in range(WARM_UP_RUNS):
                self._graph(example)
        self._spec = flat.spec
        self.shape = tuple(example.shape)
        self.device = example.device
        self.dtype = example.dtype

    def accepts(self, crops: torch.Tensor) -> bool:
        """Whether ``crops`` match the traced input (else run the eager net)."""
        return (tuple(crops.shape) == self.shape and crops.device == self.device
                and crops.dtype == self.dtype)

    def __call__(self, crops: torch.Tensor) -> PyMAFOutput:
        with torch.no_grad():
            return _unflatten(self._spec, self._graph(crops))
