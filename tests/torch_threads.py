"""A module-wide single torch thread, for test modules that time or run nets repeatedly.

On a small, busy machine two threads can stall for a second each time one waits on a
descheduled sibling, which makes timings erratic. Import ``one_torch_thread`` into a
test module to use it (it is autouse there).
"""
from __future__ import annotations

import pytest
import torch


@pytest.fixture(autouse=True, scope="module")
def one_torch_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
