"""Which torch device a run uses: ``device=auto`` picks CUDA when torch sees a GPU, else the CPU.

One function, :func:`resolve_device`, called where a run builds its networks (the SB3 agents; the causal prior's
dynamics model and the inverse model follow the policy's device). Resolution happens at build time and is not
written back to the config, so a run saved with ``device=auto`` resumes on whatever the next machine has.
"""

from __future__ import annotations

import re

import torch

from causal_priors.errors import ConfigError

DEVICE_PATTERN = r"cpu|auto|mps|cuda(:\d+)?"
"""What a ``device`` key accepts (``cuda`` is ``cuda:0``)."""


def resolve_device(name: str, key: str = "device") -> torch.device:
    """The torch device for the config value ``name`` (``auto``, ``cpu``, ``cuda``, ``cuda:<n>``, ``mps``).

    ``auto`` is CUDA (device 0) when ``torch.cuda.is_available()``, otherwise the CPU (never MPS: its kernels
    differ; ask for it by name).

    Raises:
        ConfigError: ``name`` is not one of the forms above, or names a device this machine does not have
            (the message names ``key``).
    """
    text = str(name).strip().lower()
    if not re.fullmatch(DEVICE_PATTERN, text):
        raise ConfigError(f"{key}: expected 'auto', 'cpu', 'cuda', 'cuda:<n>' or 'mps', got '{name}'")
    if text == "auto":
        return torch.device("cuda", 0) if torch.cuda.is_available() else torch.device("cpu")
    if text.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ConfigError(f"{key}={name}: torch sees no CUDA device here (use device=auto or device=cpu)")
        index = int(text.split(":")[1]) if ":" in text else 0
        if index >= torch.cuda.device_count():
            raise ConfigError(f"{key}={name}: only {torch.cuda.device_count()} CUDA device(s) here")
        return torch.device("cuda", index)
    if text == "mps" and not torch.backends.mps.is_available():
        raise ConfigError(f"{key}=mps: torch sees no MPS device here (use device=auto or device=cpu)")
    return torch.device(text)
