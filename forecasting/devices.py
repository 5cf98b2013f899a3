"""Which torch device a forecasting command runs on, and where a method's tensors live.

``forecast train`` resolves the ``device`` key once, where it builds the method
(:func:`causal_priors.devices.resolve_device`: ``auto`` is CUDA when torch sees a GPU, else the CPU), moves the
method there and every batch to it (:meth:`forecasting.batch.SceneBatch.to`). Commands that load a finished run
(``evaluate``, ``adapt``, ``mcc``) use :func:`loading_device`: a run trained with ``device=cuda`` loads on
``auto`` with a warning on a machine without one (its files hold tensors read with ``map_location="cpu"``).

What stays on the host: the scene data sets (numpy; one batch is copied to the device per step), the ORCA
mechanism of ``orca_style`` / ``orca_residual`` (numpy; see :mod:`forecasting.models.orca_residual`), and the
metrics, read back once per logging step (:class:`forecasting.step_metrics.StepMetrics`) and once per
evaluation (:func:`forecasting.evaluate.per_scene_metrics`).
"""

from __future__ import annotations

import warnings
from typing import Any

import torch
from torch import nn

from causal_priors.devices import resolve_device
from causal_priors.errors import ConfigError

__all__ = ["cuda_rng_state", "loading_device", "method_device", "restore_cuda_rng", "training_device"]


def _forecast_device(name: str) -> torch.device:
    device = resolve_device(name, key="device")
    if device.type == "mps":
        raise ConfigError(
            "device=mps: the forecasters compute in float64 in places (energy score, ORCA styles), which MPS lacks; "
            "use device=auto, cpu or cuda"
        )
    return device


def training_device(cfg: Any) -> torch.device:
    """The device of ``cfg.device`` for a command that trains.

    Raises:
        ConfigError: a device this machine lacks, or ``mps`` (no float64 there).
    """
    return _forecast_device(cfg.device)


def loading_device(cfg: Any) -> torch.device:
    """The device to load a finished run on: ``cfg.device``, or ``auto`` with a warning when it is missing here."""
    try:
        return _forecast_device(cfg.device)
    except ConfigError:
        fallback = resolve_device("auto")
        warnings.warn(f"device={cfg.device} is not available here: loading on {fallback}", stacklevel=2)
        return fallback


def method_device(module: nn.Module) -> torch.device:
    """The device of a method's first parameter or buffer (the CPU for a module that holds none)."""
    for tensor in module.parameters():
        return tensor.device
    for tensor in module.buffers():
        return tensor.device
    return torch.device("cpu")


def cuda_rng_state(device: torch.device) -> dict[str, torch.Tensor]:
    """``{"cuda_rng": state}`` of ``device``'s generator for a checkpoint (empty off CUDA: nothing to save).

    GCRL draws its posterior samples on the method's device, so an exact resume on a GPU needs that
    generator's state besides the CPU one (:func:`causal_priors.checkpoints.snapshot_global_rng`).
    """
    if device.type != "cuda":
        return {}
    return {"cuda_rng": torch.cuda.get_rng_state(device)}


def restore_cuda_rng(tensors: dict[str, Any], device: torch.device) -> None:
    """Inverse of :func:`cuda_rng_state` (skipped when the run resumes off CUDA or was saved without one)."""
    if device.type == "cuda" and "cuda_rng" in tensors:
        torch.cuda.set_rng_state(tensors["cuda_rng"].cpu(), device)
