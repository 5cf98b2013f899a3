"""Loss terms shared by the forecasting methods (pure functions of tensors, no logging).

- :func:`scene_risk`: per-scene squared position error, the risk every method minimises.
- :func:`domain_risks`, :func:`vrex_penalty`, :func:`irm_penalty`: invariance across environments.
- :func:`supcon_loss`: supervised contrastive loss on style vectors.
- :func:`gaussian_log_prob`, :func:`mixture_log_prob`: densities for GCRL (the mixture uses logsumexp, so it
  stays finite far from every component).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

LOG_2PI = math.log(2.0 * math.pi)


def scene_risk(pred: torch.Tensor, future: torch.Tensor, agent_mask: torch.Tensor) -> torch.Tensor:
    """Mean squared L2 position error over each scene's real agents and predicted steps.

    Args:
        pred: ``(..., B, K, P, 2)`` predicted absolute positions.
        future: ``(B, K, P, 2)`` true positions.
        agent_mask: ``(B, K)`` real agents.

    Returns:
        ``(..., B)`` per-scene risk.
    """
    sq = ((pred - future) ** 2).sum(-1).mean(-1)  # (..., B, K)
    m = agent_mask.to(sq.dtype)
    return (sq * m).sum(-1) / m.sum(-1).clamp_min(1.0)


def domain_means(values: torch.Tensor, domain: torch.Tensor) -> torch.Tensor:
    """Mean of ``values`` ``(B,)`` per domain present in ``domain`` ``(B,)`` -> ``(E_present,)``."""
    ids, inverse = torch.unique(domain, return_inverse=True)
    sums = torch.zeros(len(ids), dtype=values.dtype, device=values.device).index_add(0, inverse, values)
    counts = torch.zeros(len(ids), dtype=values.dtype, device=values.device).index_add(
        0, inverse, torch.ones_like(values)
    )
    return sums / counts


def domain_risks(risk: torch.Tensor, domain: torch.Tensor) -> torch.Tensor:
    """Per-domain risks R_e ``(E_present,)`` from per-scene risks ``(B,)``."""
    return domain_means(risk, domain)


def vrex_penalty(risks: torch.Tensor) -> torch.Tensor:
    """V-REx: variance of the per-domain risks (0 when every domain has the same risk or only one is present)."""
    if risks.numel() < 2:
        return risks.sum() * 0.0
    return risks.var(unbiased=False)


def irm_penalty(
    pred: torch.Tensor, future: torch.Tensor, last: torch.Tensor, agent_mask: torch.Tensor, domain: torch.Tensor
) -> torch.Tensor:
    """IRMv1 for regression: sum over domains of the squared gradient of R_e w.r.t. a dummy scale at 1.

    The dummy scale ``w`` multiplies the predicted displacements (positions ``last + w * (pred - last)``),
    so ``dR/dw`` at ``w = 1`` is the mean of ``2 (pred - future) . (pred - last)``; it is computed in closed
    form (differentiable w.r.t. the model), one vectorised pass over scenes.
    """
    offset = pred - last.unsqueeze(-2)
    g = (2.0 * (pred - future) * offset).sum(-1).mean(-1)  # (B, K)
    m = agent_mask.to(g.dtype)
    per_scene = (g * m).sum(-1) / m.sum(-1).clamp_min(1.0)
    return (domain_means(per_scene, domain) ** 2).sum()


def supcon_loss(embeddings: torch.Tensor, labels: torch.Tensor, temperature: float = 0.1) -> torch.Tensor:
    """Supervised contrastive loss (Khosla et al. 2020) with ``labels`` as classes.

    Each anchor's same-label samples are positives, every other sample is in the denominator; anchors
    without a positive are skipped (0 when no anchor has one).

    Args:
        embeddings: ``(N, D)``; normalised inside.
        labels: ``(N,)`` int.
    """
    z = F.normalize(embeddings, dim=-1)
    n = z.shape[0]
    logits = z @ z.T / temperature
    self_mask = torch.eye(n, dtype=torch.bool, device=z.device)
    logits = logits.masked_fill(self_mask, float("-inf"))
    log_prob = logits - torch.logsumexp(logits, dim=1, keepdim=True)
    pos = (labels.unsqueeze(0) == labels.unsqueeze(1)) & ~self_mask
    n_pos = pos.sum(1)
    has = n_pos > 0
    if not bool(has.any()):
        return embeddings.sum() * 0.0
    mean_log_prob_pos = log_prob.masked_fill(~pos, 0.0).sum(1)[has] / n_pos[has]
    return -mean_log_prob_pos.mean()


def gaussian_log_prob(x: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """Diagonal Gaussian log-density summed over the last dimension."""
    return -0.5 * (LOG_2PI + logvar + (x - mu) ** 2 * torch.exp(-logvar)).sum(-1)


def mixture_log_prob(x: torch.Tensor, means: torch.Tensor, logvars: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
    """Log-density of a diagonal Gaussian mixture, ``log sum_e pi_e N(x; mu_e, sigma_e^2)``, by logsumexp.

    Args:
        x: ``(..., D)``.
        means, logvars: ``(E, D)``.
        logits: ``(E,)`` unnormalised mixture weights (``pi = softmax(logits)``).

    Returns:
        ``(...)``; finite for any finite ``x`` (no ``log(sum(exp))`` underflow).
    """
    comp = gaussian_log_prob(x.unsqueeze(-2), means, logvars)  # (..., E)
    return torch.logsumexp(comp + torch.log_softmax(logits, dim=-1), dim=-1)


def component_log_prob(
    x: torch.Tensor, component: torch.Tensor, means: torch.Tensor, logvars: torch.Tensor
) -> torch.Tensor:
    """Log-density of ``x`` ``(B, D)`` under its own mixture component ``component`` ``(B,)``."""
    return gaussian_log_prob(x, means[component], logvars[component])
