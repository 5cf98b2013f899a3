"""ERM: the backbone trained with the squared position error, all environments pooled.

:class:`PooledRisk` also hosts an optional invariance penalty (see :mod:`forecasting.models.invariance`),
so V-REx and IRM are ERM plus one term.
"""

from __future__ import annotations

import torch
from torch import nn

from forecasting.batch import SceneBatch
from forecasting.losses import domain_risks, scene_risk
from forecasting.models.base import ForecastMethod, Metric, register


class PooledRisk(ForecastMethod):
    """Backbone + mean risk + ``penalty_weight * penalty`` (no penalty for plain ERM)."""

    def __init__(self, cfg, domain_names, extra_channels=0, total_steps=1):
        super().__init__(cfg, domain_names, extra_channels, total_steps)
        self.backbone = self.make_backbone()

    def penalty(self, batch: SceneBatch, pred: torch.Tensor, risk: torch.Tensor) -> torch.Tensor | None:
        """The invariance penalty (None: no penalty)."""
        return None

    def penalty_weight(self, step: int) -> float:
        """``model.penalty_weight`` once ``step >= model.penalty_anneal_steps``, else 0."""
        return float(self.cfg.penalty_weight) if step >= int(self.cfg.penalty_anneal_steps) else 0.0

    def risk_and_penalty(
        self, batch: SceneBatch, pred: torch.Tensor, step: int
    ) -> tuple[torch.Tensor, dict[str, Metric]]:
        """Mean risk plus the weighted penalty, with the metrics of both (device tensors)."""
        risk = scene_risk(pred, batch.future, batch.agent_mask)
        total = risk.mean()
        metrics: dict[str, Metric] = {"risk": total.detach()}
        risks = domain_risks(risk.detach(), batch.domain)
        metrics["risk_spread"] = risks.max() - risks.min()
        pen = self.penalty(batch, pred, risk)
        if pen is not None:
            w = self.penalty_weight(step)
            metrics["penalty"] = pen.detach()
            if w > 0:
                total = total + w * pen
        return total, metrics

    def loss(self, batch: SceneBatch, step: int) -> tuple[torch.Tensor, dict[str, Metric]]:
        pred = self.backbone(batch)
        total, metrics = self.risk_and_penalty(batch, pred, step)
        metrics["loss"] = total.detach()
        return total, metrics

    def predict(self, batch, num_samples=None, reference=None):
        return self.repeat_samples(self.backbone(batch), num_samples)

    def adaptation_parameters(self) -> list[nn.Parameter]:
        """The decoder: encoder and interaction (the shared mechanisms) stay frozen."""
        return list(self.backbone.decoder.parameters())


@register("erm")
class ERM(PooledRisk):
    """Empirical risk minimisation over the pooled training environments."""
