"""GCRL identifiability check: mean correlation coefficient (MCC) between latents of runs with different seeds.

MCC (as in the nonlinear-ICA literature): correlate every latent dimension of run A with every dimension of
run B over the same scenes, match dimensions one-to-one maximising the summed absolute correlation
(Hungarian assignment) and average the matched absolute correlations. 1 = identical up to permutation and
per-dimension affine maps; near 0 = unrelated.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import combinations
from typing import Any

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment

from causal_priors.errors import ConfigError
from forecasting.devices import method_device


def mcc(a: np.ndarray, b: np.ndarray) -> float:
    """MCC between latents ``a`` ``(N, D)`` and ``b`` ``(N, D')`` (matches ``min(D, D')`` dimensions)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.ndim != 2 or b.ndim != 2 or len(a) != len(b) or len(a) < 2:
        raise ValueError(f"mcc: expected (N, D) arrays over the same N >= 2 samples, got {a.shape} and {b.shape}")
    a = (a - a.mean(0)) / (a.std(0) + 1e-12)
    b = (b - b.mean(0)) / (b.std(0) + 1e-12)
    corr = np.abs(a.T @ b / len(a))
    rows, cols = linear_sum_assignment(-corr)
    return float(corr[rows, cols].mean())


@torch.no_grad()
def latent_means(method: Any, batch: Any) -> dict[str, np.ndarray]:
    """Posterior-mean latents of real agents: ``z`` ``(agents, z_dim)``, ``s`` ``(scenes, s_dim)`` (computed on the
    method's device, returned on the host)."""
    if not hasattr(method, "latents"):
        raise ConfigError(f"model {method.name} has no latent posterior (the MCC check is for gcrl)")
    batch = batch.to(method_device(method))
    lat = method.latents(batch)
    return {"z": lat["z"][batch.agent_mask].cpu().numpy(), "s": lat["s"].cpu().numpy()}


def pairwise_mcc(latents: Sequence[dict[str, np.ndarray]]) -> dict[str, float]:
    """Mean and spread of MCC over all pairs of runs, for ``z`` and ``s``."""
    if len(latents) < 2:
        raise ConfigError("the MCC check needs at least two trained seeds")
    out: dict[str, float] = {}
    for key in ("z", "s"):
        vals = [mcc(x[key], y[key]) for x, y in combinations(latents, 2)]
        out[f"mcc_{key}"] = float(np.mean(vals))
        out[f"mcc_{key}_std"] = float(np.std(vals))
    return out
