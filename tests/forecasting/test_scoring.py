"""The energy score: proper on a Gaussian case (truth beats too wide and too narrow), spread, masking."""

from __future__ import annotations

import pytest
import torch

from forecasting.scoring import energy_score


def _gaussian_case(sample_std: float, true_std: float = 0.3, scenes: int = 3000, n: int = 40, seed: int = 0):
    """Scenes whose futures are drawn from N(mu, true_std^2 I); samples from N(mu, sample_std^2 I)."""
    g = torch.Generator().manual_seed(seed)
    mu = torch.randn(scenes, 2, 12, 2, generator=g)
    future = mu + true_std * torch.randn(scenes, 2, 12, 2, generator=g)
    samples = mu + sample_std * torch.randn(n, scenes, 2, 12, 2, generator=g)
    return samples, future, torch.ones(scenes, 2, dtype=torch.bool)


def test_true_distribution_minimises_the_energy_score_and_too_wide_or_narrow_lose():
    scores = {s: float(energy_score(*_gaussian_case(s))[0].mean()) for s in (0.1, 0.2, 0.3, 0.45, 0.9)}
    assert min(scores, key=scores.get) == 0.3
    assert scores[0.9] > scores[0.45] > scores[0.3]  # too wide: worse the wider
    assert scores[0.1] > scores[0.2] > scores[0.3]  # too narrow: worse the narrower


def test_spread_is_the_mean_pairwise_distance_and_zero_for_a_deterministic_forecast():
    samples, future, mask = _gaussian_case(0.5, scenes=200, n=30)
    _, spread = energy_score(samples, future, mask)
    # two independent N(0, s^2 I) vectors in D dims: E|X - X'| ~ s * sqrt(2 D); divided by sqrt(agents * P)
    assert spread.mean().item() == pytest.approx(0.5 * (2 * 2 * 12 * 2) ** 0.5 / (2 * 12) ** 0.5, rel=0.03)
    det = samples[:1]
    energy, spread = energy_score(det.expand(5, *det.shape[1:]), future, mask)
    assert torch.all(spread == 0)
    rms = ((det[0] - future) ** 2).sum(-1).mean(dim=(1, 2)).sqrt()
    assert torch.allclose(energy, rms.double(), atol=1e-6)


def test_padded_agents_do_not_count_and_bad_shapes_are_rejected():
    samples, future, mask = _gaussian_case(0.3, scenes=50, n=8)
    mask[::2, 1] = False
    noisy = samples.clone()
    noisy[:, ~mask] = 1e3
    assert torch.allclose(energy_score(samples, future, mask)[0], energy_score(noisy, future, mask)[0])
    with pytest.raises(ValueError, match="energy_score"):
        energy_score(samples[0], future, mask)
    mask[0] = False
    with pytest.raises(ValueError, match="no real agent"):
        energy_score(samples, future, mask)
