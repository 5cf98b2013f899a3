"""CausalSAC: all flags off is SB3's SAC exactly; the entropy flag puts log pi_w in all three losses; save/load."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from causal_helpers import causal_model, learn_recording, reacher_env, sac_model, state_of
from stable_baselines3 import SAC
from torch.nn import functional as F

from agents.causal_entropy import per_dim_from_dist, weighted_log_prob
from agents.causal_sac import CausalSAC
from agents.config import AgentConfig, CausalConfig, TrainConfig, causal_config
from agents.counterfactual_buffer import CounterfactualReplayBuffer
from agents.factory import algorithm_class, algorithm_kwargs
from causal_priors.errors import ConfigError

STEPS = 300


@pytest.fixture(scope="module")
def sac_run():
    model = sac_model(seed=3)
    return model, learn_recording(model, STEPS)


def _assert_same_run(model, recorder, sac_run):
    sac, sac_rec = sac_run
    for key in ("train/actor_loss", "train/critic_loss", "train/ent_coef", "train/ent_coef_loss"):
        assert recorder.values[key] == sac_rec.values[key], key
    for name, value in state_of(sac.policy).items():
        np.testing.assert_array_equal(state_of(model.policy)[name], value, err_msg=name)


def test_all_flags_off_reproduces_sb3_sac_exactly(sac_run):
    model = causal_model(seed=3)  # every causal flag off
    recorder = learn_recording(model, STEPS)
    assert model.prior.n_refits == 0 and model.inverse_model is None
    _assert_same_run(model, recorder, sac_run)


def test_augment_before_any_fit_samples_like_sac(sac_run):
    """The counterfactual buffer without a swap mask is SB3's buffer, draw for draw (first fit after the run)."""
    model = causal_model(seed=3, augment=True, window=5_000, min_samples=5_000)
    assert isinstance(model.replay_buffer, CounterfactualReplayBuffer)
    recorder = learn_recording(model, STEPS)
    assert model.prior.n_refits == 0
    _assert_same_run(model, recorder, sac_run)


def _filled(model, steps=150):
    from stable_baselines3.common.logger import configure

    model.set_logger(configure(None, []))
    model.learning_starts = 10**9  # collect only
    model.learn(steps)
    model.learning_starts = 0
    return model


@pytest.mark.parametrize("entropy", [False, True])
def test_first_update_uses_weighted_log_prob_in_critic_target_and_temperature_loss(entropy):
    """Recompute one update by hand: with ``entropy`` the weighted log pi_w enters the critic target and the
    temperature loss; without it SB3's plain log pi does, even though the weights are non-uniform."""
    model = _filled(causal_model(seed=1, entropy=entropy, window=10**6, min_samples=10**6))
    model.ent_coef_optimizer.param_groups[0]["lr"] = 0.0  # keep alpha fixed so the target is reproducible
    with torch.no_grad():
        model.log_ent_coef.fill_(np.log(0.3))
    model.prior.w_a = torch.tensor([1.7, 0.3])
    critic0 = {k: v.clone() for k, v in model.critic.state_dict().items()}
    target0 = {k: v.clone() for k, v in model.critic_target.state_dict().items()}

    np_state, torch_state = np.random.get_state(), torch.get_rng_state()
    data = model.replay_buffer.sample(model.batch_size)
    actions_pi, log_prob = model.actor.action_log_prob(data.observations)
    per_dim = per_dim_from_dist(model.actor.action_dist, actions_pi)
    weighted = weighted_log_prob(per_dim, model.prior.w_a)
    torch.testing.assert_close(per_dim.sum(1), log_prob)
    used = weighted if entropy else log_prob.reshape(-1, 1)
    alpha = torch.exp(model.log_ent_coef.detach())
    expected_alpha_loss = -(model.log_ent_coef * (used + model.target_entropy).detach()).mean().item()
    with torch.no_grad():
        next_actions, next_lp = model.actor.action_log_prob(data.next_observations)
        next_w = weighted_log_prob(per_dim_from_dist(model.actor.action_dist, next_actions), model.prior.w_a)
        next_used = next_w if entropy else next_lp.reshape(-1, 1)
        next_q = torch.min(torch.cat(model.critic_target(data.next_observations, next_actions), 1), 1, True)[0]
        target = data.rewards + (1 - data.dones) * model.gamma * (next_q - alpha * next_used)
        expected_critic = 0.5 * sum(F.mse_loss(q, target) for q in model.critic(data.observations, data.actions))

    np.random.set_state(np_state)
    torch.set_rng_state(torch_state)
    model.critic.load_state_dict(critic0)
    model.critic_target.load_state_dict(target0)
    metrics = model._gradient_step(model.replay_buffer.sample(model.batch_size), 0)
    assert float(metrics["train/ent_coef_loss"]) == pytest.approx(expected_alpha_loss, rel=1e-5)
    assert float(metrics["train/critic_loss"]) == pytest.approx(expected_critic.item(), rel=1e-5)
    assert not torch.allclose(weighted, log_prob.reshape(-1, 1))  # the two cases really differ


def test_save_load_round_trip_keeps_flags_buffer_class_and_networks(tmp_path):
    model = causal_model(seed=2, entropy=True, augment=True, empowerment=True, rho=0.25)
    model.save(tmp_path / "m.zip")
    loaded = CausalSAC.load(tmp_path / "m.zip", env=None)
    assert loaded.causal == model.causal and loaded.causal_config.rho == 0.25
    assert loaded.replay_buffer_class is CounterfactualReplayBuffer
    for a, b in [(model.policy, loaded.policy), (model.inverse_model, loaded.inverse_model)]:
        for name, value in state_of(a).items():
            np.testing.assert_array_equal(state_of(b)[name], value, err_msg=name)
    assert loaded.inverse_optimizer.state_dict()["param_groups"][0]["lr"] == model.causal_config.inverse_lr


def test_factory_builds_causal_sac_for_any_flag_and_sac_otherwise():
    assert algorithm_class(AgentConfig()) is SAC
    for flag in ("entropy", "augment", "empowerment"):
        agent = AgentConfig(causal=CausalConfig(**{flag: True}))
        assert algorithm_class(agent) is CausalSAC
        kwargs = algorithm_kwargs(TrainConfig(agent=agent, seed=4))
        assert getattr(kwargs["causal"], flag) is True
        model = CausalSAC("MlpPolicy", reacher_env(4), **{**kwargs, "buffer_size": 500, "device": "cpu"})
        assert isinstance(model.replay_buffer, CounterfactualReplayBuffer) == (flag == "augment")


def test_unknown_causal_key_is_rejected():
    with pytest.raises(ValueError, match="unknown causal config keys"):
        causal_config({"entropy": True, "entropyy": False})
    with pytest.raises(ConfigError, match="config key 'validity': expected one of"):
        causal_model(seed=0, augment=True, validity="nearby")


@pytest.mark.parametrize("experiment", ["distractor_reacher", "halfcheetah_50k", "hopper_50k", "dmc_reacher_50k"])
@pytest.mark.parametrize("agent", ["sac", "ace", "cip"])
def test_study_experiments_load_with_every_agent(experiment, agent):
    from agents.workspace import build_config

    cfg = build_config([f"experiment={experiment}", f"agent={agent}"])
    assert cfg.experiment == experiment and cfg.agent.name == agent
    assert cfg.agent.causal.window <= cfg.total_steps and cfg.agent.causal.refit_every < cfg.total_steps
    kwargs = algorithm_kwargs(cfg)
    assert ("causal" in kwargs) == (agent != "sac")
