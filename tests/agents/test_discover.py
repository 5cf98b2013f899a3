"""``causal-priors discover`` on Reacher with distractor dims: files, TensorBoard, distractors ignored."""

from __future__ import annotations

import numpy as np
import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from agents.discover import build_config, collect, discover_main
from causal import FactoredGraph
from causal_priors.cli import main as cli_main
from causal_priors.config import ConfigError
from causal_priors.errors import UserError

N_DISTRACT = 5
REACHER_OBS = 10


def test_discover_writes_the_graph_and_ignores_distractors(run_root, capsys):
    argv = [
        "env=Reacher-v5",
        f"env.distractor_dims={N_DISTRACT}",
        "steps=2000",
        "causal.temperature=0.02",
        f"run_root={run_root}",
    ]
    assert discover_main(argv) == 0
    path = run_root / "discover" / "Reacher-v5" / "discover_direct_lingam" / "seed_0"
    for name in ("graph.json", "swap_rule.json", "graph.png", "config.yaml"):
        assert (path / name).is_file(), name
    out = capsys.readouterr().out
    assert "reward parents" in out and "swap candidates (edges rule, local validity)" in out
    assert "locally free" in out

    g = FactoredGraph.load_json(path / "graph.json")
    assert (g.state_dim, g.action_dim, g.n_samples) == (REACHER_OBS + N_DISTRACT, 2, 2000)
    distractors = list(range(REACHER_OBS, REACHER_OBS + N_DISTRACT))
    assert not g.reward_state_edges[distractors].any()
    assert g.reward_state_edges[:REACHER_OBS].any()  # the reward does depend on the arm's state
    assert g.w_s[distractors].max() < 0.25
    assert set(distractors) <= set(g.irrelevant_state_dims())
    import json

    swaps = json.loads((path / "swap_rule.json").read_text())
    assert swaps["validity"] == "local" and len(swaps["candidates"]) <= (REACHER_OBS + N_DISTRACT) // 2
    free = [swaps["local_free_share"][str(j)] for j in distractors if j in swaps["candidates"]]
    assert len(free) >= 3 and min(free) > 0.7  # the training rule, on the same data, frees the distractors
    # a distractor's next value depends on its own past only, never on the arm or the actions
    assert not g.transition_edges[np.ix_(distractors, list(range(REACHER_OBS)) + [15, 16])].any()

    events = EventAccumulator(str(path)).Reload()
    scalars = set(events.Tags()["scalars"])
    assert {"causal/fit_seconds", "causal/n_irrelevant", "causal/w_s_0", "causal/w_a_1"} <= scalars
    assert events.Scalars("causal/n_irrelevant")[-1].value >= N_DISTRACT
    assert "causal/graph" in events.Tags()["images"]


def test_collect_is_seeded_and_keeps_true_next_states():
    import envs

    env = envs.make("Pendulum-v1")
    a = collect(env, 300, seed=3)
    b = collect(env, 300, seed=3)
    env.close()
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x, y)
    S, _, _, S2 = a
    np.testing.assert_array_equal(S[1:200], S2[:199])  # Pendulum's 200-step episodes: continuous inside


def test_bad_config_is_a_one_line_error(run_root):
    with pytest.raises(ConfigError, match="causal.method'?: expected one of"):
        build_config(["causal.method=pc", f"run_root={run_root}"])
    with pytest.raises(ConfigError, match="steps"):
        build_config(["steps=0"])
    assert cli_main(["discover", "env=Pendulum-v1", "policy=/no/such.zip", f"run_root={run_root}"]) == 2


def test_discover_with_a_saved_policy(run_root, tmp_path):
    from stable_baselines3 import SAC

    import envs

    env = envs.make("Pendulum-v1")
    SAC("MlpPolicy", env, policy_kwargs={"net_arch": [8]}, seed=0, device="cpu").save(tmp_path / "policy.zip")
    env.close()
    argv = ["env=Pendulum-v1", "steps=400", f"policy={tmp_path / 'policy.zip'}", "causal.method=regression"]
    assert discover_main([*argv, f"run_root={run_root}", "causal.transition_graph=false"]) == 0
    g = FactoredGraph.load_json(run_root / "discover" / "Pendulum-v1" / "discover_regression" / "seed_0" / "graph.json")
    assert g.method == "regression" and g.n_samples == 400 and g.transition_coef is None
    with pytest.raises(UserError, match="expects observations"):
        discover_main(["env=Reacher-v5", "steps=50", f"policy={tmp_path / 'policy.zip'}", f"run_root={run_root}"])


def test_rerun_accepts_a_saved_config_older_than_the_code_and_refuses_a_changed_one(run_root):
    import yaml

    argv = ["env=Pendulum-v1", "steps=300", "causal.method=regression", "causal.transition_graph=false"]
    assert discover_main([*argv, f"run_root={run_root}"]) == 0
    saved = run_root / "discover" / "Pendulum-v1" / "discover_regression" / "seed_0" / "config.yaml"
    old = yaml.safe_load(saved.read_text())
    del old["causal"]["temperature"]  # a key this code added after the run was made
    saved.write_text(yaml.safe_dump(old))
    assert discover_main([*argv, f"run_root={run_root}"]) == 0  # missing key = its default: same config
    with pytest.raises(ConfigError, match=r"config.yaml was written with a different config \(causal.temperature: 0.5"):
        discover_main([*argv, "causal.temperature=0.3", f"run_root={run_root}"])  # would overwrite graph.json
