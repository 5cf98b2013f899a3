"""The config loader: typed defaults, presets, experiment files, overrides and clear errors."""

from __future__ import annotations

import pytest

from agents.config import TrainConfig
from causal_priors.cli import main
from causal_priors.config import ConfigError, load_config

GROUPS = ("agent", "env")


def load(*argv, root=None):
    kwargs = {"root": root} if root else {}
    return load_config(TrainConfig, list(argv), groups=GROUPS, group_fallbacks={"env": "id"}, **kwargs)


def test_defaults_are_typed_and_complete():
    cfg = load()
    assert cfg.agent.name == "sac" and cfg.agent.causal.entropy is False
    assert cfg.env.id == "HalfCheetah-v5" and cfg.seed == 0


def test_presets_and_overrides_merge_in_order():
    cfg = load("agent=cip", "env=reacher_distractors", "agent.learning_rate=1e-3", "seed=7")
    assert cfg.agent.name == "cip" and cfg.agent.causal.augment is True
    assert cfg.env.id == "Reacher-v5" and cfg.env.distractor_dims == 20
    assert cfg.agent.learning_rate == pytest.approx(1e-3) and cfg.seed == 7


def test_env_value_that_is_no_preset_becomes_the_env_id():
    assert load("env=Hopper-v5").env.id == "Hopper-v5"


def test_unknown_key_names_the_key_and_suggests():
    with pytest.raises(ConfigError, match=r"unknown config key 'agent.learning_rat'.*learning_rate"):
        load("agent.learning_rat=0.1")


def test_wrong_type_names_the_key():
    with pytest.raises(ConfigError, match="total_steps"):
        load("total_steps=many")


def test_unknown_preset_lists_close_matches():
    with pytest.raises(ConfigError, match=r"unknown agent preset 'cipp'.*cip"):
        load("agent=cipp")


def test_override_without_equals_is_an_error():
    with pytest.raises(ConfigError, match="expected key=value"):
        load("seed")


def test_experiment_file_defaults_and_cli_precedence(tmp_path):
    for group in ("agent", "env", "experiment"):
        (tmp_path / group).mkdir()
    (tmp_path / "agent" / "a1.yaml").write_text("name: a1\nbatch_size: 64\n")
    (tmp_path / "agent" / "a2.yaml").write_text("name: a2\n")
    (tmp_path / "env" / "e1.yaml").write_text("id: Reacher-v5\n")
    (tmp_path / "experiment" / "study.yaml").write_text("defaults:\n  agent: a1\n  env: e1\ntotal_steps: 123\n")
    cfg = load("experiment=study", root=tmp_path)
    assert (cfg.agent.name, cfg.agent.batch_size, cfg.env.id, cfg.total_steps) == ("a1", 64, "Reacher-v5", 123)
    assert cfg.experiment == "study"
    cfg = load("experiment=study", "agent=a2", "total_steps=5", root=tmp_path)
    assert (cfg.agent.name, cfg.total_steps) == ("a2", 5)


def test_bad_key_inside_a_preset_names_the_file(tmp_path):
    (tmp_path / "agent").mkdir()
    (tmp_path / "agent" / "bad.yaml").write_text("name: bad\nlearning_rte: 1\n")
    with pytest.raises(ConfigError, match=r"learning_rte.*bad\.yaml"):
        load("agent=bad", root=tmp_path)


def test_malformed_yaml_names_the_file(tmp_path):
    (tmp_path / "agent").mkdir()
    (tmp_path / "agent" / "broken.yaml").write_text("name: [unclosed\n")
    with pytest.raises(ConfigError, match=r"malformed YAML in .*broken\.yaml"):
        load("agent=broken", root=tmp_path)


def test_experiment_without_file_is_a_plain_label():
    assert load("experiment=my_study").experiment == "my_study"


def test_cli_prints_one_line_error_and_exit_code_2(capsys):
    assert main(["train", "agent.nonexistent=1"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "agent.nonexistent" in err[0]


def test_cli_unknown_env_id_is_a_clear_error(capsys, run_root):
    assert main(["train", "env=HalfChetah-v5", f"run_root={run_root}"]) == 2
    err = capsys.readouterr().err
    assert "unknown environment id 'HalfChetah-v5'" in err and "HalfCheetah-v5" in err


def test_cli_unknown_command(capsys):
    assert main(["trian"]) == 2
    assert "did you mean" in capsys.readouterr().err


def test_saved_config_round_trips_and_takes_overrides(tmp_path):
    from causal_priors.config import load_saved_config, save_config, to_container

    cfg = load_config(TrainConfig, ["experiment=hopper_50k", "agent=cip", "seed=3"], groups=("env", "agent"))
    save_config(cfg, tmp_path / "config.yaml")
    again = load_saved_config(TrainConfig, tmp_path / "config.yaml")
    assert to_container(again) == to_container(cfg)
    shifted = load_saved_config(TrainConfig, tmp_path / "config.yaml", ["env.max_episode_steps=50"])
    assert shifted.env.max_episode_steps == 50 and shifted.agent.causal.window == cfg.agent.causal.window
    (tmp_path / "bad.yaml").write_text("agent:\n  nonsense: 1\n")
    with pytest.raises(ConfigError, match="bad.yaml"):
        load_saved_config(TrainConfig, tmp_path / "bad.yaml")
    with pytest.raises(ConfigError, match="not found"):
        load_saved_config(TrainConfig, tmp_path / "missing.yaml")
