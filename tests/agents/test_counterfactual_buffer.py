"""Counterfactual replay buffer: swaps exactly the masked dims from a stored partner, keeps a, r, done,
never writes stored data, samples like SB3 without a mask, pickles with its generator; mask rules."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from gymnasium import spaces
from stable_baselines3.common.buffers import ReplayBuffer

from agents.counterfactual_buffer import CounterfactualReplayBuffer, controllable_dims, irrelevant_mask

OBS, ACT, N = 6, 2, 200


def _fill(buffer, seed=0):
    rng = np.random.default_rng(seed)
    for _ in range(N):
        obs = rng.normal(size=(1, OBS)).astype(np.float32)
        buffer.add(obs, obs + 1.0, rng.uniform(-1, 1, (1, ACT)), rng.normal(size=1), rng.random(1) < 0.1, [{}])
    return buffer


def _spaces():
    return spaces.Box(-np.inf, np.inf, (OBS,), np.float32), spaces.Box(-1, 1, (ACT,), np.float32)


def make(cls=CounterfactualReplayBuffer, size=N + 50, **kw):
    return _fill(cls(size, *_spaces(), device="cpu", **kw))


def _rows(buffer):
    upper = buffer.buffer_size if buffer.full else buffer.pos
    return buffer.observations[:upper, 0], buffer.next_observations[:upper, 0]


def test_without_mask_samples_exactly_like_sb3():
    plain, cf = make(ReplayBuffer), make(rho=0.5)
    np.random.seed(5)
    a = plain.sample(64)
    np.random.seed(5)
    b = cf.sample(64)
    for x, y in zip(a, b, strict=True):
        assert (x is None and y is None) or np.array_equal(x.numpy(), y.numpy())
    assert cf.last_n_counterfactual == 0


def test_masked_dims_come_from_one_partner_and_the_rest_stays():
    cf = make(rho=0.5, seed=1)
    mask = np.array([False, True, False, True, True, False])
    cf.set_swap_mask(mask)
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
    assert cf.pop_stats() == {"augment/fraction": 0.5}
    assert cf.pop_stats() == {"augment/fraction": 0.0}


def test_rho_sets_the_counterfactual_share_and_all_false_mask_turns_it_off():
    cf = make(rho=0.25)
    cf.set_swap_mask(np.array([True] + [False] * (OBS - 1)))
    cf.sample(100)
    assert cf.last_n_counterfactual == 25
    cf.set_swap_mask(np.zeros(OBS, dtype=bool))
    cf.sample(100)
    assert cf.last_n_counterfactual == 0 and cf.swap_mask is None
    with pytest.raises(ValueError, match="shape"):
        cf.set_swap_mask(np.ones(OBS + 1, dtype=bool))


def test_pickle_round_trip_continues_the_partner_stream():
    cf = make(rho=0.5, seed=3)
    cf.set_swap_mask(np.array([True, True, False, False, False, False]))
    cf.sample(8)
    clone = pickle.loads(pickle.dumps(cf))
    np.random.seed(11)
    a = cf.sample(32).observations.numpy()
    np.random.seed(11)
    b = clone.sample(32).observations.numpy()
    np.testing.assert_array_equal(a, b)


def test_mask_threshold_and_cap():
    w = np.array([0.1, 0.2, 3.0, 0.3, 0.4, 2.0])
    assert irrelevant_mask(w, 0.5, 1.0).tolist() == [True, True, False, True, True, False]
    # cap: at most floor(0.5 * 6) = 3 dims, the lowest weights first
    assert np.flatnonzero(irrelevant_mask(w, 0.5, 0.5)).tolist() == [0, 1, 3]
    assert not irrelevant_mask(np.ones(6), 0.5, 0.5).any()


def test_coda_validity_drops_dims_driven_by_actions_or_kept_controllable_dims():
    # 4 state dims, 1 action: s0' <- a ; s1' <- s0 (controllable parent) ; s2' <- s2, s3 ; s3' <- s3
    edges = np.zeros((4, 5), dtype=bool)
    edges[0, 4] = True
    edges[1, 0] = True
    edges[2, [2, 3]] = True
    edges[3, 3] = True
    assert controllable_dims(edges, 4).tolist() == [True, True, False, False]
    w = np.full(4, 0.1)
    assert irrelevant_mask(w, 0.5, 1.0, edges, coda_validity=True).tolist() == [False, False, True, True]
    assert irrelevant_mask(w, 0.5, 1.0, edges, coda_validity=False).all()
    # s2' depends on s3 which is uncontrollable: s2 stays valid even when s3 is not swapped
    w2 = np.array([0.1, 0.1, 0.1, 2.0])
    assert irrelevant_mask(w2, 0.5, 1.0, edges).tolist() == [False, False, True, False]
    # s2' <- s1 (controllable, not swapped) makes s2 invalid
    edges[2, 1] = True
    assert not irrelevant_mask(w, 0.5, 1.0, edges)[2]
