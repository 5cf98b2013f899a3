"""Meta-World ids (optional extra): build, step, success, sparse reward, seeded goals, causal fit, success rate.

Tests marked ``metaworld`` need the extra (``.ci/run`` runs them in ``.venv-metaworld``); without it they are
skipped, and the one-line error of a missing extra is tested instead.
"""

from __future__ import annotations

import json
from importlib.util import find_spec

import numpy as np
import pytest

import envs
from agents.callbacks import CURVE_FIELDS, evaluate_policy_seeded
from causal_priors.errors import EnvIdError
from envs.metaworld import EPISODE_STEPS, SUPPORTED_IDS

HAS_METAWORLD = find_spec("metaworld") is not None
requires_metaworld = pytest.mark.skipif(
    not HAS_METAWORLD, reason='metaworld extra not installed (pip install -e ".[metaworld]" in its own venv)'
)
OBS_DIM = 39
PADDED_SLOTS = list(range(11, 18)) + list(range(29, 36))  # second-object slot, current and previous frame


def scripted_policy(env_id: str):
    """Meta-World's own scripted policy for a task (``metaworld.policies``), on the first 39 obs dims."""
    from metaworld import policies

    words = env_id.removeprefix("metaworld/").removesuffix("-v3").split("-")
    policy = getattr(policies, "Sawyer" + "".join(w.capitalize() for w in words) + "V3Policy")()

    def predict(obs, deterministic=True):
        return np.clip(policy.get_action(np.asarray(obs[:OBS_DIM], dtype=np.float64)), -1, 1), None

    return predict


def run_episode(env, predict, seed: int, steps: int = EPISODE_STEPS):
    """(rewards, successes) of one episode of at most ``steps`` steps."""
    obs, _ = env.reset(seed=seed)
    rewards, successes = [], []
    for _ in range(steps):
        obs, reward, terminated, truncated, info = env.step(predict(obs)[0])
        rewards.append(float(reward))
        successes.append(bool(info["success"]))
        if terminated or truncated:
            break
    return rewards, successes


def test_unknown_metaworld_task_lists_close_matches():
    with pytest.raises(EnvIdError, match="close matches: metaworld/reach-v3") as err:
        envs.make("metaworld/reech-v3")
    assert "\n" not in str(err.value)


@pytest.mark.skipif(HAS_METAWORLD, reason="metaworld is installed here: the missing-extra error cannot occur")
def test_without_the_extra_the_error_is_one_line_naming_the_install_command():
    with pytest.raises(EnvIdError) as err:
        envs.make("metaworld/reach-v3")
    message = str(err.value)
    assert "\n" not in message and 'pip install -e ".[metaworld]"' in message


def test_evaluation_reports_success_only_for_envs_with_a_success_signal():
    def predict(obs, deterministic=True):
        return np.zeros(1, dtype=np.float32), None

    _, _, none = evaluate_policy_seeded(predict, envs.make("Pendulum-v1", max_episode_steps=5), 2, seed=0)
    assert none is None
    sparse = envs.make("Pendulum-v1", sparse_reward=True, sparse_threshold=-1e9, max_episode_steps=5)
    returns, _, successes = evaluate_policy_seeded(predict, sparse, 2, seed=0)
    assert successes == [True, True] and returns == [5.0, 5.0]
    assert CURVE_FIELDS[-1] == "eval/success_rate"


@pytest.mark.metaworld
@requires_metaworld
@pytest.mark.parametrize("env_id", SUPPORTED_IDS)
def test_every_supported_id_builds_steps_and_reports_success(env_id):
    env = envs.make(env_id)
    assert env.spec.max_episode_steps == EPISODE_STEPS
    obs, _ = env.reset(seed=0)
    assert obs.dtype == np.float32 and obs.shape == (OBS_DIM,) and env.observation_space.contains(obs)
    _, random_successes = run_episode(env, lambda o: (env.action_space.sample(), None), seed=1, steps=5)
    assert len(random_successes) == 5
    _, successes = run_episode(env, scripted_policy(env_id), seed=0)
    assert any(successes), f"{env_id}: the scripted policy never succeeded"
    env.close()


@pytest.mark.metaworld
@requires_metaworld
def test_episodes_last_500_steps_and_never_terminate_on_success():
    env = envs.make("metaworld/reach-v3")
    rewards, successes = run_episode(env, scripted_policy("metaworld/reach-v3"), seed=3)
    assert len(rewards) == EPISODE_STEPS and successes[-1]


@pytest.mark.metaworld
@requires_metaworld
@pytest.mark.parametrize("env_id", ["metaworld/reach-v3", "metaworld/button-press-v3"])
def test_sparse_reward_is_zero_until_success_then_one_exactly_when_successful(env_id):
    env = envs.make(env_id, sparse_reward=True)
    rewards, successes = run_episode(env, scripted_policy(env_id), seed=0)
    first = successes.index(True)
    assert first > 0 and rewards[:first] == [0.0] * first
    assert rewards == [float(s) for s in successes]


@pytest.mark.metaworld
@requires_metaworld
def test_action_repeat_keeps_the_success_signal_for_sparse_rewards():
    env = envs.make("metaworld/reach-v3", sparse_reward=True, action_repeat=2)
    rewards, successes = run_episode(env, scripted_policy("metaworld/reach-v3"), seed=0)
    assert len(rewards) == EPISODE_STEPS // 2 and any(successes)
    assert rewards == [float(s) for s in successes]


@pytest.mark.metaworld
@requires_metaworld
def test_seeded_goal_sampling_repeats_and_differs_across_seeds():
    def goals(env, seed: int) -> list[tuple[float, ...]]:
        out = [tuple(env.reset(seed=seed)[0][-3:])]  # the goal is the observation's last 3 dims
        out += [tuple(env.reset()[0][-3:]) for _ in range(4)]
        return out

    env, other = envs.make("metaworld/push-v3"), envs.make("metaworld/push-v3", seed=7)
    first = goals(env, 11)
    assert goals(other, 11) == first  # same reset seed, another env: same goal sequence
    assert goals(env, 12) != first
    assert len(set(first)) > 1  # unseeded resets draw new goals
    assert all(np.isfinite(g).all() for g in first)
    assert goals(envs.make("metaworld/push-v3", kwargs={"task_seed": 1}), 11) != first  # another MT1 goal list


@pytest.mark.metaworld
@requires_metaworld
def test_wrappers_apply_to_metaworld_ids():
    env = envs.make("metaworld/drawer-close-v3", distractor_dims=3, domain_shift={"mass": 1.5}, max_episode_steps=20)
    rewards, _ = run_episode(env, scripted_policy("metaworld/drawer-close-v3"), seed=0)
    assert env.observation_space.shape == (OBS_DIM + 3,) and len(rewards) == 20


@pytest.mark.metaworld
@requires_metaworld
def test_causal_fit_on_a_metaworld_batch_drops_the_padded_slots_and_stays_finite():
    from causal import fit_factored_graph

    env = envs.make("metaworld/push-v3")
    rng = np.random.default_rng(0)
    states, actions, rewards, next_states = [], [], [], []
    for episode in range(4):
        obs, _ = env.reset(seed=episode)
        for _ in range(150):
            action = rng.uniform(-1, 1, size=4).astype(np.float32)
            nxt, reward, _, _, _ = env.step(action)
            states.append(obs), actions.append(action), rewards.append(reward), next_states.append(nxt)
            obs = nxt
    batch = [np.asarray(x, dtype=np.float64) for x in (states, actions, rewards, next_states)]
    assert np.ptp(batch[0][:, PADDED_SLOTS], axis=0).max() == 0.0  # the padding is constant
    graph = fit_factored_graph(*batch, seed=0)
    assert set(PADDED_SLOTS) <= set(graph.dropped_state)
    assert np.isfinite(graph.w_s).all() and np.isfinite(graph.w_a).all()
    assert np.all(graph.w_s[PADDED_SLOTS] == 0.0)


@pytest.mark.metaworld
@requires_metaworld
def test_training_logs_the_success_rate_to_curves_and_done_json(tmp_path):
    from agents.workspace import build_config, run, run_dir_for
    from causal_priors.runs import read_curve

    cfg = build_config(
        [
            "agent=sac",
            "env=metaworld/reach-v3",
            "experiment=smoke",
            f"run_root={tmp_path}",
            "total_steps=120",
            "eval_every=60",
            "eval_episodes=1",
            "env.max_episode_steps=30",
        ]
    )
    metrics = run(cfg)
    rows = read_curve(run_dir_for(cfg) / "curves.csv")
    assert len(rows) >= 2 and all(0.0 <= r["eval/success_rate"] <= 1.0 for r in rows)
    done = json.loads((run_dir_for(cfg) / "done.json").read_text())["metrics"]
    assert done["eval/success_rate"] == metrics["eval/success_rate"] == rows[-1]["eval/success_rate"]
