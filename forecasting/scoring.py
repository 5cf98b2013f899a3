"""A proper scoring rule over a forecaster's samples: the energy score, and the samples' spread.

Best-of-K (``forecasting.metrics.best_of_k``) rewards spread: a sampler that scatters its K samples widely
gets a low minADE_K whatever its probability mass. The energy score (Gneiting & Raftery 2007) is strictly
proper: its expectation is minimised only by the true distribution of the future, so a too-wide and a
too-narrow sampler both score worse than a calibrated one.

Conventions (vectorised over scenes, torch):

- a scene's future is one vector: every real agent's ``P`` predicted positions, jointly (as best-of-K picks
  one sample per scene); padded agents contribute nothing;
- distances are Euclidean norms over that vector divided by ``sqrt(n_real_agents * P)``, i.e. root mean
  squared per-step displacement in metres. A constant factor keeps the score proper, and it makes a
  deterministic forecast's energy score equal to its RMS per-step error (an upper bound of its ADE), so
  deterministic and generative methods sit on one scale;
- ``energy = mean_i d(x_i, y) - 1 / (2 N (N - 1)) * sum_{i != j} d(x_i, x_j)`` (the unbiased, "fair"
  estimator of ``E d(X, y) - E d(X, X') / 2``), ``spread = 1 / (N (N - 1)) * sum_{i != j} d(x_i, x_j)``.
  With ``N = 1`` the pairwise term is 0.
"""

from __future__ import annotations

import torch

from forecasting.metrics import check_shapes


def _flatten(samples: torch.Tensor, future: torch.Tensor, agent_mask: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """``(B, N, D)`` masked sample vectors, ``(B, D)`` masked truth and ``(B,)`` normaliser."""
    if samples.dim() != 5:
        raise ValueError(f"energy_score: samples must be (N, B, K, P, 2), got {tuple(samples.shape)}")
    counts = check_shapes(samples, future, agent_mask, who="energy_score")
    m = agent_mask[:, :, None, None].to(samples.dtype)
    b = future.shape[0]
    x = (samples * m).permute(1, 0, 2, 3, 4).reshape(b, samples.shape[0], -1).to(torch.float64)
    y = (future * m).reshape(b, -1).to(torch.float64)
    scale = torch.sqrt(counts.to(torch.float64) * future.shape[2])
    return x, y, scale


def energy_score(
    samples: torch.Tensor, future: torch.Tensor, agent_mask: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-scene energy score and sample spread of ``N`` joint samples.

    Args:
        samples: ``(N, B, K, P, 2)`` sampled absolute positions (``N`` samples of every scene).
        future: ``(B, K, P, 2)`` true absolute positions.
        agent_mask: ``(B, K)`` bool, real agents.

    Returns:
        ``energy, spread``, each ``(B,)`` float64 in metres (see the module docstring); lower energy is
        better, ``spread`` is the mean pairwise distance of the samples (0 for a deterministic forecast).
    """
    x, y, scale = _flatten(samples, future, agent_mask)
    n = x.shape[1]
    to_truth = torch.linalg.vector_norm(x - y[:, None, :], dim=-1).mean(dim=1)
    if n > 1:
        pairwise = torch.cdist(x, x, compute_mode="donot_use_mm_for_euclid_dist").sum(dim=(1, 2)) / (n * (n - 1))
    else:
        pairwise = torch.zeros_like(to_truth)
    return (to_truth - 0.5 * pairwise) / scale, pairwise / scale
