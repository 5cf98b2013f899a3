"""Loss terms: each is zero where it should be and non-zero where it should not; densities are stable."""

from __future__ import annotations

import math

import pytest
import torch

from forecasting.losses import (
    domain_risks,
    gaussian_log_prob,
    irm_penalty,
    mixture_log_prob,
    scene_risk,
    supcon_loss,
    vrex_penalty,
)
from forecasting.models.flows import Flow


def test_scene_risk_ignores_padded_agents(make_batch):
    batch = make_batch()
    pred = batch.future.clone()
    pred[~batch.agent_mask] += 100.0  # garbage in padded slots must not count
    assert torch.allclose(scene_risk(pred, batch.future, batch.agent_mask), torch.zeros(batch.num_scenes))
    pred[0, 0] += 1.0  # one real agent off by (1, 1) at every step: squared error 2, averaged over 3 agents
    assert scene_risk(pred, batch.future, batch.agent_mask)[0].item() == pytest.approx(2.0 / 3.0)


def test_vrex_penalty_zero_for_equal_domain_risks():
    domain = torch.tensor([0, 0, 1, 1, 2, 2])
    equal = torch.tensor([1.0, 3.0, 2.0, 2.0, 0.5, 3.5])  # every domain mean is 2
    assert domain_risks(equal, domain).tolist() == [2.0, 2.0, 2.0]
    assert vrex_penalty(domain_risks(equal, domain)).item() == pytest.approx(0.0)
    unequal = torch.tensor([1.0, 1.0, 2.0, 2.0, 3.0, 3.0])
    assert vrex_penalty(domain_risks(unequal, domain)).item() == pytest.approx(2.0 / 3.0)
    assert vrex_penalty(torch.tensor([0.7])).item() == 0.0  # one environment: nothing to equalise


def test_irm_penalty_zero_at_optimum_nonzero_otherwise(make_batch):
    batch = make_batch()
    exact = batch.future.clone()
    args = (batch.future, batch.last_observed, batch.agent_mask, batch.domain)
    assert irm_penalty(exact, *args).item() == pytest.approx(0.0, abs=1e-10)
    short = batch.last_observed.unsqueeze(-2) + 0.8 * (batch.future - batch.last_observed.unsqueeze(-2))
    assert irm_penalty(short, *args).item() > 1e-3


def test_irm_penalty_matches_autograd_of_dummy_scale(make_batch):
    batch = make_batch(seed=3)
    pred = batch.future + 0.3 * torch.randn_like(batch.future)
    last = batch.last_observed.unsqueeze(-2)
    expected = 0.0
    for e in range(3):
        sel = batch.domain == e
        w = torch.tensor(1.0, requires_grad=True)
        risk = scene_risk(last[sel] + w * (pred[sel] - last[sel]), batch.future[sel], batch.agent_mask[sel]).mean()
        (g,) = torch.autograd.grad(risk, w)
        expected += g.item() ** 2
    got = irm_penalty(pred, batch.future, batch.last_observed, batch.agent_mask, batch.domain).item()
    assert got == pytest.approx(expected, rel=1e-4)


def test_supcon_lower_for_clustered_styles():
    g = torch.Generator().manual_seed(0)
    labels = torch.arange(30) % 3
    centres = torch.randn(3, 8, generator=g) * 5
    clustered = centres[labels] + 0.1 * torch.randn(30, 8, generator=g)
    scattered = torch.randn(30, 8, generator=g)
    assert supcon_loss(clustered, labels).item() < supcon_loss(scattered, labels).item() - 1.0
    # no anchor has a positive: the loss is 0 (and still differentiable)
    single = torch.randn(3, 4, requires_grad=True)
    loss = supcon_loss(single, torch.tensor([0, 1, 2]))
    loss.backward()
    assert loss.item() == 0.0


def test_gaussian_log_prob_matches_torch():
    x, mu, logvar = torch.randn(5, 3), torch.randn(3), torch.randn(3)
    ref = torch.distributions.Normal(mu, torch.exp(0.5 * logvar)).log_prob(x).sum(-1)
    assert torch.allclose(gaussian_log_prob(x, mu, logvar), ref, atol=1e-5)


def test_mixture_log_prob_finite_far_away_and_exact_nearby():
    means = torch.tensor([[0.0, 0.0], [3.0, 3.0]])
    logvars = torch.zeros(2, 2)
    logits = torch.tensor([0.0, 1.0])
    far = torch.tensor([[1e4, -1e4], [1e3, 1e3]])
    lp = mixture_log_prob(far, means, logvars, logits)
    assert torch.isfinite(lp).all() and (lp < -1e5).all()
    naive = torch.log(
        (torch.softmax(logits, 0) * torch.exp(gaussian_log_prob(far.unsqueeze(1), means, logvars))).sum(-1)
    )
    assert torch.isinf(naive).all()  # what log(sum(exp)) would have given
    near = torch.randn(4, 2)
    weights = torch.softmax(logits, 0)
    direct = torch.log(sum(weights[e] * torch.exp(gaussian_log_prob(near, means[e], logvars[e])) for e in range(2)))
    assert torch.allclose(mixture_log_prob(near, means, logvars, logits), direct, atol=1e-5)
    far.requires_grad_(True)
    mixture_log_prob(far, means, logvars, logits).sum().backward()
    assert torch.isfinite(far.grad).all()


def test_flow_inverse_and_log_det():
    torch.manual_seed(0)
    flow = Flow(4, layers=3)
    for p in flow.parameters():  # leave the identity initialisation
        p.data.add_(0.3 * torch.randn_like(p))
    x = torch.randn(6, 4)
    u, logdet = flow(x)
    assert torch.allclose(flow.inverse(u), x, atol=1e-5)
    jac = torch.autograd.functional.jacobian(lambda v: flow(v.unsqueeze(0))[0].squeeze(0), x[0])
    assert logdet[0].item() == pytest.approx(math.log(abs(torch.linalg.det(jac).item())), abs=1e-4)
