"""Invariance across environments: V-REx (variance of the per-environment risks) and IRMv1.

Both are ERM's backbone and risk plus ``penalty_weight * penalty``, switched on after
``penalty_anneal_steps`` (as in the V-REx and IRM papers).
"""

from __future__ import annotations

import torch

from forecasting.batch import SceneBatch
from forecasting.losses import domain_risks, irm_penalty, vrex_penalty
from forecasting.models.base import register
from forecasting.models.erm import PooledRisk


@register("vrex")
class VREx(PooledRisk):
    """Risk extrapolation: ``mean_e R_e + beta * Var_e(R_e)``."""

    def penalty(self, batch: SceneBatch, pred: torch.Tensor, risk: torch.Tensor) -> torch.Tensor:
        return vrex_penalty(domain_risks(risk, batch.domain))


@register("irm")
class IRM(PooledRisk):
    """IRMv1: squared gradient of each environment's risk w.r.t. a dummy output scale."""

    def penalty(self, batch: SceneBatch, pred: torch.Tensor, risk: torch.Tensor) -> torch.Tensor:
        return irm_penalty(pred, batch.future, batch.last_observed, batch.agent_mask, batch.domain)
