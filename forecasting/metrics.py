"""Forecasting metrics (torch, vectorised): ADE/FDE, joint best-of-N, per-domain aggregation.

Conventions: errors are L2 distances in metres between absolute predicted and true future positions.
A scene's ADE is the mean over its real agents of each agent's mean error over the predicted steps; its
FDE the mean over real agents of the error at the last step. ``best_of_k`` picks the best sample *per
scene jointly*: one sample index for all agents of a scene, the one with the lowest summed error over the
scene's agents (chosen separately for ADE and for FDE, as in the reference evaluations).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence

import torch


def _agent_errors(pred: torch.Tensor, future: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-agent ADE and FDE ``(..., K)`` from positions ``(..., K, P, 2)``."""
    err = torch.linalg.vector_norm(pred - future, dim=-1)
    return err.mean(dim=-1), err[..., -1]


def check_shapes(
    pred: torch.Tensor, future: torch.Tensor, agent_mask: torch.Tensor, who: str = "metrics"
) -> torch.Tensor:
    """Check that predictions ``(..., B, K, P, 2)`` fit ``future`` and ``agent_mask`` and that every scene has a real
    agent (``ValueError`` prefixed by ``who`` otherwise); returns the real agents per scene ``(B,)``."""
    if pred.shape[-4:] != future.shape or future.shape[:2] != agent_mask.shape or future.shape[-1] != 2:
        raise ValueError(
            f"{who}: prediction {tuple(pred.shape)}, future {tuple(future.shape)} and agent_mask "
            f"{tuple(agent_mask.shape)} do not match (expected (..., B, K, P, 2), (B, K, P, 2), (B, K))"
        )
    counts = agent_mask.sum(dim=1)
    if bool((counts == 0).any()):
        raise ValueError(f"{who}: a scene has no real agent (agent_mask all False)")
    return counts.to(future.dtype)


def ade_fde(
    pred_positions: torch.Tensor, future: torch.Tensor, agent_mask: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-scene ADE and FDE.

    Args:
        pred_positions: ``(B, K, P, 2)`` predicted absolute positions.
        future: ``(B, K, P, 2)`` true absolute positions.
        agent_mask: ``(B, K)`` bool, real agents.

    Returns:
        ``ade, fde``, each ``(B,)``: means over the scene's real agents.
    """
    counts = check_shapes(pred_positions, future, agent_mask)
    ade, fde = _agent_errors(pred_positions, future)
    m = agent_mask.to(ade.dtype)
    return (ade * m).sum(-1) / counts, (fde * m).sum(-1) / counts


def best_of_k(
    samples: torch.Tensor, future: torch.Tensor, agent_mask: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-scene minADE_N and minFDE_N over ``N`` joint samples.

    Args:
        samples: ``(N, B, K, P, 2)`` sampled absolute positions (``N`` samples of every scene).
        future: ``(B, K, P, 2)``.
        agent_mask: ``(B, K)``.

    Returns:
        ``min_ade, min_fde``, each ``(B,)``: for each scene, the ADE (FDE) of the sample whose summed
        ADE (FDE) over the scene's real agents is lowest; the same sample for every agent of the scene.
    """
    if samples.dim() != 5:
        raise ValueError(f"best_of_k: samples must be (N, B, K, P, 2), got {tuple(samples.shape)}")
    counts = check_shapes(samples, future, agent_mask)
    ade, fde = _agent_errors(samples, future.unsqueeze(0))
    m = agent_mask.to(ade.dtype)
    ade_sum = (ade * m).sum(-1)  # (N, B)
    fde_sum = (fde * m).sum(-1)
    return ade_sum.min(dim=0).values / counts, fde_sum.min(dim=0).values / counts


def aggregate_by_domain(
    per_scene_values: torch.Tensor, domain: torch.Tensor, domain_names: Sequence[str]
) -> dict[str, float]:
    """Mean of a per-scene value within each domain that has scenes: ``{name: mean}`` (computed on the values'
    device, read on the host in one transfer)."""
    if per_scene_values.shape != domain.shape:
        raise ValueError(
            f"aggregate_by_domain: values {tuple(per_scene_values.shape)} and domain {tuple(domain.shape)} differ"
        )
    n = len(domain_names)
    values = per_scene_values.detach().to(torch.float64)
    sums = torch.zeros(n, dtype=torch.float64, device=values.device).index_add_(0, domain, values)
    counts = torch.bincount(domain, minlength=n)
    means, present = torch.stack([sums / counts, (counts > 0).to(torch.float64)]).tolist()
    return {name: means[i] for i, name in enumerate(domain_names) if present[i]}


def summarize(
    values: Mapping[str, torch.Tensor],
    domain: torch.Tensor,
    domain_names: Sequence[str],
    in_distribution: Collection[str] = (),
) -> dict[str, float]:
    """Flat metrics dict from per-scene values.

    Args:
        values: metric name -> ``(B,)`` per-scene values, e.g. ``{"ade": ade, "fde": fde, "minade_20": m}``.
        domain: ``(B,)`` domain index of every scene.
        domain_names: names of the domain indices.
        in_distribution: names of the training domains.

    Returns:
        For each metric ``m``: ``m/<domain>`` per domain present, ``m/all`` (mean over scenes), and
        ``m/id`` / ``m/ood`` (mean of the per-domain means over the in- / out-of-distribution domains
        present; each domain weighs the same, whatever its number of scenes). ``id``/``ood`` keys are
        left out when no such domain is present.
    """
    unknown = set(in_distribution) - set(domain_names)
    if unknown:
        raise ValueError(f"summarize: in_distribution names {sorted(unknown)} are not in {tuple(domain_names)}")
    out: dict[str, float] = {}
    for metric, per_scene in values.items():
        by_domain = aggregate_by_domain(per_scene, domain, domain_names)
        out.update({f"{metric}/{name}": v for name, v in by_domain.items()})
        out[f"{metric}/all"] = float(per_scene.detach().to(torch.float64).mean())
        groups = {
            "id": [v for name, v in by_domain.items() if name in in_distribution],
            "ood": [v for name, v in by_domain.items() if name not in in_distribution],
        }
        for group, vals in groups.items():
            if vals:
                out[f"{metric}/{group}"] = sum(vals) / len(vals)
    return out
