"""The common interface of every forecasting method and the registry ``build_method``.

A method is an ``nn.Module`` with:

- ``loss(batch, step) -> (loss, metrics)``: the training objective at global ``step`` (staged methods
  switch terms on ``stage(step)``); ``metrics`` holds detached 0-dim tensors on the method's device (or plain
  floats) named without prefix; the trainer reads them on the host once per logging step
  (:class:`forecasting.step_metrics.StepMetrics`) and adds ``forecast/train/``.
- ``predict(batch, num_samples=None, reference=None)``: absolute positions, ``(B, K, P, 2)`` when
  ``num_samples`` is None (deterministic: the posterior mean for generative methods), else
  ``(num_samples, B, K, P, 2)``. ``reference`` holds labelled scenes of the batch's environments for
  methods that read complete reference trajectories (causal motion's style encoder); never the scored
  scenes themselves.
- ``adaptation_parameters()``: the parameters low-shot adaptation may change (what transfers per method).
- ``adaptation_loss(batch, step)``: the objective used while adapting on the new domain's few scenes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from forecasting.batch import SceneBatch
from forecasting.models.backbone import Backbone

#: a training metric as ``loss`` returns it: a detached 0-dim tensor on the method's device, or a float
Metric = torch.Tensor | float


class ForecastMethod(nn.Module):
    """Base class; subclasses implement :meth:`loss`, :meth:`predict` and :meth:`adaptation_parameters`."""

    name = "base"
    #: whether ``predict`` draws different samples (minADE_K differs from ADE)
    generative = False
    #: False for mechanism baselines without gradient training (``forecasting.untrained`` runs them)
    trainable = True

    def __init__(self, cfg: Any, domain_names: tuple[str, ...], extra_channels: int = 0, total_steps: int = 1):
        super().__init__()
        self.cfg = cfg
        self.domain_names = tuple(domain_names)
        self.extra_channels = extra_channels
        self.total_steps = max(int(total_steps), 1)

    def make_backbone(self, cond_dim: int = 0) -> Backbone:
        """A backbone built from the model config."""
        c = self.cfg
        return Backbone(
            hidden=c.hidden,
            embed=c.embed,
            extra_channels=self.extra_channels,
            attention=c.attention,
            decoder=c.decoder,
            decoder_hidden=c.decoder_hidden,
            cond_dim=cond_dim,
        )

    def prepare(self, train: Any) -> None:
        """Data-dependent set-up before training from the training scenes (default: nothing)."""

    def stage(self, step: int) -> str:
        """Name of the training stage at ``step`` (single-stage methods: ``"joint"``)."""
        return "joint"

    def loss(self, batch: SceneBatch, step: int) -> tuple[torch.Tensor, dict[str, Metric]]:
        raise NotImplementedError

    def predict(
        self, batch: SceneBatch, num_samples: int | None = None, reference: SceneBatch | None = None
    ) -> torch.Tensor:
        raise NotImplementedError

    def adaptation_parameters(self) -> list[nn.Parameter]:
        raise NotImplementedError

    def adaptation_loss(self, batch: SceneBatch, step: int) -> tuple[torch.Tensor, dict[str, Metric]]:
        """Default: the training loss at the final stage."""
        return self.loss(batch, self.total_steps)

    @staticmethod
    def repeat_samples(pred: torch.Tensor, num_samples: int | None) -> torch.Tensor:
        """A deterministic prediction as ``num_samples`` identical samples (or unchanged when None)."""
        if num_samples is None:
            return pred
        return pred.unsqueeze(0).expand(num_samples, *pred.shape)


_REGISTRY: dict[str, Callable[..., ForecastMethod]] = {}


def register(name: str) -> Callable[[type[ForecastMethod]], type[ForecastMethod]]:
    """Class decorator adding a method to the registry under ``name``."""

    def wrap(cls: type[ForecastMethod]) -> type[ForecastMethod]:
        _REGISTRY[name] = cls
        cls.name = name
        return cls

    return wrap


def available_methods() -> list[str]:
    """Registered method names."""
    _import_all()
    return sorted(_REGISTRY)


def _import_all() -> None:
    from forecasting.models import causal_motion, erm, gcrl, invariance, orca_residual, orca_style  # noqa: F401


def is_trainable(name: str) -> bool:
    """Whether method ``name`` is trained by gradient steps (False: ``orca_style``); unknown names: True."""
    _import_all()
    cls = _REGISTRY.get(name)
    return True if cls is None else bool(cls.trainable)


def build_method(
    name: str, cfg: Any, domain_names: tuple[str, ...], extra_channels: int = 0, total_steps: int = 1
) -> ForecastMethod:
    """Instantiate method ``name`` (``erm``, ``vrex``, ``irm``, ``causal_motion``, ``gcrl``, ``orca_style``,
    ``orca_residual``).

    Args:
        cfg: the model config (``forecasting.config.ModelConfig`` or its DictConfig).
        domain_names: training environments (GCRL's mixture has one component per environment).
        extra_channels: extra observed input channels (the spurious channel of the robustness protocol).
        total_steps: training length, for staged methods (stage boundaries are fractions of it).
    """
    from causal_priors.errors import ConfigError

    _import_all()
    if name not in _REGISTRY:
        raise ConfigError(f"model.name: unknown forecasting method '{name}'; expected one of {sorted(_REGISTRY)}")
    return _REGISTRY[name](cfg, domain_names, extra_channels, total_steps)
