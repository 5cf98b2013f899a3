"""Counterfactual replay buffer: swaps exactly the dims its swap rule names, from the partner the rule draws;
keeps a, r, done; never writes stored data; samples like SB3 without a rule; per-row masks; activity stats.
(The rules that choose dims are pure functions, tested in tests/causal/test_swap.py.)"""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from gymnasium import spaces
from stable_baselines3.common.buffers import ReplayBuffer

from agents.counterfactual_buffer import CounterfactualReplayBuffer

OBS, ACT, N = 6, 2, 200


class FixedRule:
    """A swap rule with one mask for every row (``per_row``: a function of the row and partner slots)."""

    def __init__(self, mask, seed=0, per_row=None):
        self.mask = np.asarray(mask, dtype=bool)
        self.rng = np.random.default_rng(seed)
        self.per_row = per_row

    @property
    def swaps_possible(self):
        return bool(self.mask.any())

    def plan_swaps(self, rows, row_envs, upper, n_envs):
        partners = self.rng.integers(0, upper, size=len(rows))
        envs = self.rng.integers(0, n_envs, size=len(rows))
        mask = np.broadcast_to(self.mask, (len(rows), self.mask.size))
        if self.per_row is not None:
            mask = mask & self.per_row(rows, partners)
        return partners, envs, mask


def _fill(buffer, seed=0):
    rng = np.random.default_rng(seed)
    for _ in range(N):
        obs = rng.normal(size=(1, OBS)).astype(np.float32)
        buffer.add(obs, obs + 1.0, rng.uniform(-1, 1, (1, ACT)), rng.normal(size=1), rng.random(1) < 0.1, [{}])
    return buffer


def _spaces():
    return spaces.Box(-np.inf, np.inf, (OBS,), np.float32), spaces.Box(-1, 1, (ACT,), np.float32)


def make(cls=CounterfactualReplayBuffer, size=N + 50, rule=None, **kw):
    buffer = _fill(cls(size, *_spaces(), device="cpu", **kw))
    if rule is not None:
        buffer.set_swap_rule(rule)
    return buffer


def _rows(buffer):
    upper = buffer.buffer_size if buffer.full else buffer.pos
    return buffer.observations[:upper, 0], buffer.next_observations[:upper, 0]


@pytest.mark.parametrize("rule", [None, FixedRule(np.zeros(OBS))])
def test_without_a_rule_or_with_nothing_to_swap_samples_exactly_like_sb3(rule):
    plain, cf = make(ReplayBuffer), make(rho=0.5, rule=rule)
    np.random.seed(5)
    a = plain.sample(64)
    np.random.seed(5)
    b = cf.sample(64)
    for x, y in zip(a, b, strict=True):
        assert (x is None and y is None) or np.array_equal(x.numpy(), y.numpy())
    assert cf.last_n_counterfactual == 0
    assert not cf.last_changed_rows.any() and len(cf.last_changed_rows) == 64


def test_masked_dims_come_from_one_partner_and_the_rest_stays():
    mask = np.array([False, True, False, True, True, False])
    cf = make(rho=0.5, rule=FixedRule(mask, seed=1))
    stored = {k: getattr(cf, k).copy() for k in ("observations", "next_observations", "actions", "rewards")}
    np.random.seed(7)
    batch = cf.sample(40)
    np.random.seed(7)
    reference = make(ReplayBuffer).sample(40)  # same indices: the same stored transitions, unswapped
    assert cf.last_n_counterfactual == 20
    obs, next_obs = batch.observations.numpy(), batch.next_observations.numpy()
    ref_obs, ref_next = reference.observations.numpy(), reference.next_observations.numpy()
    for field in ("actions", "rewards", "dones"):
        np.testing.assert_array_equal(getattr(batch, field).numpy(), getattr(reference, field).numpy())
    np.testing.assert_array_equal(obs[:, ~mask], ref_obs[:, ~mask])
    np.testing.assert_array_equal(next_obs[:, ~mask], ref_next[:, ~mask])
    np.testing.assert_array_equal(obs[20:], ref_obs[20:])  # real rows untouched
    all_obs, all_next = _rows(cf)
    assert (obs[:20, mask] != ref_obs[:20, mask]).any(axis=1).sum() >= 18  # a random partner is rarely itself
    for i in range(20):
        partner = np.flatnonzero((all_obs[:, mask] == obs[i, mask]).all(axis=1))
        assert partner.size == 1  # s[I] and s'[I] both come from the same stored transition
        np.testing.assert_array_equal(next_obs[i, mask], all_next[partner[0], mask])
    for key, value in stored.items():
        np.testing.assert_array_equal(getattr(cf, key), value)  # storage never written
    stats = cf.pop_stats()
    assert stats["augment/fraction"] == 0.5 and stats["augment/swapped_dims"] == 3.0
    assert stats["augment/changed_fraction"] == 1.0
    assert cf.pop_stats()["augment/fraction"] == 0.0


def test_rho_sets_the_counterfactual_share_and_no_rule_turns_it_off():
    cf = make(rho=0.25, rule=FixedRule([True] + [False] * (OBS - 1)))
    cf.sample(100)
    assert cf.last_n_counterfactual == 25
    cf.set_swap_rule(None)
    cf.sample(100)
    assert cf.last_n_counterfactual == 0


def test_per_row_masks_swap_only_where_the_rule_allows():
    """A local rule: dim 0 may be swapped only between even buffer slots."""
    even = lambda rows, partners: ((rows % 2 == 0) & (partners % 2 == 0))[:, None]  # noqa: E731
    cf = make(rho=1.0, rule=FixedRule([True] + [False] * (OBS - 1), seed=2, per_row=even))
    np.random.seed(3)
    batch = cf.sample(200)
    np.random.seed(3)
    reference = make(ReplayBuffer).sample(200)
    changed = batch.observations.numpy()[:, 0] != reference.observations.numpy()[:, 0]
    stats = cf.pop_stats()
    assert 0.1 < stats["augment/changed_fraction"] < 0.45  # about a quarter of the pairs are both even
    assert changed.sum() == round(stats["augment/changed_fraction"] * 200)
    np.testing.assert_array_equal(cf.last_changed_rows, changed)  # exactly the rows with a swapped dim
    np.testing.assert_array_equal(batch.observations.numpy()[:, 1:], reference.observations.numpy()[:, 1:])


def test_pickling_drops_the_rule_which_the_agent_links_again():
    cf = make(rho=0.5, rule=FixedRule([True, True, False, False, False, False], seed=3))
    clone = pickle.loads(pickle.dumps(cf))
    assert clone.swap_rule is None and cf.swap_rule is not None
    np.testing.assert_array_equal(clone.observations, cf.observations)
