"""A torch dispatch mode that records the device of every tensor an op touches (shared by the device tests)."""

from __future__ import annotations

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten


class DeviceLog(TorchDispatchMode):
    """Every device of every tensor an op reads or writes, with the op's name (``seen[device] = {op, ...}``)."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: dict[str, set[str]] = {}

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for value in tree_flatten((args, kwargs, out))[0]:
            if isinstance(value, torch.Tensor):
                self.seen.setdefault(str(value.device), set()).add(str(func))
        return out
