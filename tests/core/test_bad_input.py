"""Bad input through the real command line: one line naming the key, exit code 2, nothing trained or created."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from causal_priors.cli import main

#: a fast valid training config; each case adds one bad value to it
TRAIN = ["env=pendulum", "total_steps=200", "agent.learning_starts=100", "progress=false"]

TRAIN_CASES = [
    ("seed=-1", "seed"),
    ("agent.learning_rate=-1", "agent.learning_rate"),
    ("agent.learning_rate=1e300", "agent.learning_rate"),
    ("agent.tau=1e300", "agent.tau"),
    ("agent.causal.empowerment_coef=1e300", "agent.causal.empowerment_coef"),
    ("agent.ent_coef=abc", "agent.ent_coef"),
    ("agent.ent_coef=auto_-1", "agent.ent_coef"),
    ("agent.causal.rho=2", "agent.causal.rho"),
    ("agent.causal.max_swap_frac=-0.1", "agent.causal.max_swap_frac"),
    ("agent.causal.tau_s=1.5", "agent.causal.tau_s"),
    ("agent.causal.method=nosuch", "agent.causal.method"),
    ("agent.causal.temperature=0", "agent.causal.temperature"),
    ("agent.causal.window=0", "agent.causal.window"),
    ("agent.causal.irrelevance=both", "agent.causal.irrelevance"),
    ("agent.causal.inverse_lr=0", "agent.causal.inverse_lr"),
    ("env.max_episode_steps=0", "env.max_episode_steps"),
    ("env.action_repeat=0", "env.action_repeat"),
    ("env.distractor_dims=-1", "env.distractor_dims"),
    ("env.domain_shift.mass=0", "env.domain_shift.mass"),
    ("eval_every=0", "eval_every"),
    ("eval_every=-5", "eval_every"),
    ("eval_episodes=0", "eval_episodes"),
    ("checkpoint_every=0", "checkpoint_every"),
    ("total_steps=0", "total_steps"),
    ("agent.gamma=2", "agent.gamma"),
    ("agent.gamma=0", "agent.gamma"),
    ("agent.buffer_size=0", "agent.buffer_size"),
    ("agent.batch_size=0", "agent.batch_size"),
    ("agent.learning_starts=-1", "agent.learning_starts"),
    ("agent.net_arch=[64,0]", "agent.net_arch"),
    ("device=gpu", "device"),
    ("env=NoSuchEnv-v0", "NoSuchEnv-v0"),
    ("agent.nosuch=1", "agent.nosuch"),
]


def one_error_line(capsys, key: str) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert key in err[0]
    return err[0]


@pytest.mark.parametrize(("word", "key"), TRAIN_CASES, ids=[case[0] for case in TRAIN_CASES])
def test_train_rejects_a_bad_value_before_creating_anything(word, key, tmp_path, capsys):
    root = tmp_path / "runs"
    assert main(["train", *TRAIN, word, f"run_root={root}"]) == 2
    line = one_error_line(capsys, key)
    assert line.startswith("causal-priors train: ")
    assert not root.exists()


def test_the_message_says_what_was_expected(tmp_path, capsys):
    assert main(["train", *TRAIN, "agent.causal.rho=2", f"run_root={tmp_path}"]) == 2
    assert one_error_line(capsys, "rho").endswith("config key 'agent.causal.rho': expected a number in [0, 1], got 2.0")


def test_a_bad_override_on_top_of_an_experiment_preset_is_named(tmp_path, capsys):
    assert main(["train", "experiment=smoke", "env=pendulum", "eval_every=0", f"run_root={tmp_path}/r"]) == 2
    one_error_line(capsys, "eval_every")


READ_ONLY = "/sys/causal_priors_read_only_test/runs"


@pytest.mark.skipif(not os.path.isdir("/sys"), reason="needs a read-only /sys")
@pytest.mark.parametrize(
    "argv",
    [
        ["train", *TRAIN],
        ["discover", "env=Pendulum-v1", "steps=100"],
        ["forecast", "train", "model=erm", "steps=1", "data.max_scenes=80"],
        ["sweep", "tests/core/toy_2x2.yaml"],
    ],
    ids=["train", "discover", "forecast", "sweep"],
)
def test_a_read_only_run_root_is_one_line_up_front(argv, capsys):
    assert main([*argv, f"run_root={READ_ONLY}"]) == 2
    one_error_line(capsys, "run_root")


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_chmod_read_only_run_root_is_refused(tmp_path, capsys):
    tmp_path.chmod(0o500)
    try:
        assert main(["train", *TRAIN, f"run_root={tmp_path}/runs"]) == 2
    finally:
        tmp_path.chmod(0o700)
    one_error_line(capsys, "run_root")


@pytest.mark.parametrize(
    ("words", "key"),
    [
        (["episode=7"], "episode"),
        (["episodes=0"], "episodes"),
        (["episodes=-2"], "episodes"),
        (["env.domain_shift.mass=-1"], "env.domain_shift.mass"),
        (["env.nosuch=1"], "env.nosuch"),
        ([], "run"),
    ],
)
def test_evaluate_rejects_unknown_words_and_bad_counts(words, key, tmp_path, capsys):
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.yaml").write_text("seed: 0\n")
    previous = {"mean_reward": 1.0}
    (run / "evaluation.json").write_text(json.dumps(previous))
    run_word = [] if key == "run" else [f"run={run}"]
    assert main(["evaluate", *run_word, *words]) == 2
    one_error_line(capsys, key)
    assert json.loads((run / "evaluation.json").read_text()) == previous


def test_evaluate_suggests_the_close_key(tmp_path, capsys):
    assert main(["evaluate", f"run={tmp_path}", "episode=7"]) == 2
    assert "did you mean 'episodes'" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("word", "key"),
    [
        ("causal.method=nosuch", "causal.method"),
        ("causal.temperature=0", "causal.temperature"),
        ("steps=0", "steps"),
        ("seed=-3", "seed"),
    ],
)
def test_discover_rejects_bad_values_before_collecting(word, key, run_root, capsys):
    assert main(["discover", "env=Pendulum-v1", "steps=100", word, f"run_root={run_root}"]) == 2
    one_error_line(capsys, key)
    assert not run_root.exists()


FORECAST = ["forecast", "train", "model=erm", "steps=2", "data.max_scenes=80", "test_after=false"]


@pytest.mark.parametrize(
    ("word", "key"),
    [
        ("model.name=nosuch", "model.name"),
        ("model.decoder=gru", "model.decoder"),
        ("lr=-1", "lr"),
        ("lr=1e300", "lr"),
        ("steps=0", "steps"),
        ("batch_size=0", "batch_size"),
        ("data.name=kitti", "data.name"),
        ("data.test_scene=paris", "data.test_scene"),
        ("data.train_radii=[]", "data.train_radii"),
        ("model.stage_fractions=[0.8,0.2]", "model.stage_fractions"),
        ("adapt.domain=far", "adapt.domain"),
        ("seed=-1", "seed"),
    ],
)
def test_forecast_rejects_bad_values(word, key, run_root, capsys):
    assert main([*FORECAST, word, f"run_root={run_root}"]) == 2
    one_error_line(capsys, key)
    assert not run_root.exists()


def _data_copy(tmp_path, shared_root, skip: str = "") -> object:
    """A copy of the synthetic data made of symlinks (``skip``: a relative file left out)."""
    copy = tmp_path / "data"
    for split in ("val", "test"):
        folder = shared_root / "synthetic_v4" / split
        (copy / "synthetic_v4" / split).mkdir(parents=True)
        for file in folder.iterdir():
            if f"{split}/{file.name}" != skip:
                (copy / "synthetic_v4" / split / file.name).symlink_to(file)
    return copy


@pytest.fixture
def shared_root():
    from forecasting.data import default_data_root

    return default_data_root()


def test_forecast_train_checks_every_test_file_before_training(tmp_path, shared_root, capsys):
    name = "orca_circle_crossing_2_ped_5000_scenes_0.7_radius_2.0_horizon.npz"
    copy = _data_copy(tmp_path, shared_root, skip=f"test/{name}")
    root = tmp_path / "runs"
    argv = [*FORECAST[:-1], f"data.root={copy}", f"run_root={root}"]
    assert main(argv) == 2
    assert "radius 0.7" in one_error_line(capsys, "synthetic_v4/test")
    assert not root.exists()


def test_forecast_train_refuses_a_non_finite_test_file_before_training(tmp_path, shared_root, capsys):
    name = "orca_circle_crossing_2_ped_5000_scenes_0.4_radius_2.0_horizon.npz"
    copy = _data_copy(tmp_path, shared_root, skip=f"test/{name}")
    with np.load(shared_root / "synthetic_v4" / "test" / name) as npz:
        raw = npz["raw"].copy()
    raw[3, 0, 5, 1] = np.inf
    np.savez(copy / "synthetic_v4" / "test" / name, raw=raw)
    root = tmp_path / "runs"
    assert main([*FORECAST[:-1], f"data.root={copy}", f"run_root={root}"]) == 2
    line = one_error_line(capsys, name)
    assert "NaN/inf" in line
    assert not root.exists()


def test_sweep_and_report_reject_bad_values(tmp_path, capsys):
    sweep = tmp_path / "s.yaml"
    sweep.write_text(
        "command: module:tests.core.toy_run\nexperiment: e\n"
        f"run_root: {tmp_path}/runs\ngrid: {{seed: [0]}}\nresources: {{num_cpus: 0}}\n"
    )
    assert main(["sweep", str(sweep)]) == 2
    assert "resources.num_cpus" in one_error_line(capsys, str(sweep))
    assert main(["report", f"path={tmp_path}", "reps=0"]) == 2
    one_error_line(capsys, "reps")
    assert main(["report", f"path={tmp_path}", "confidence=1"]) == 2
    one_error_line(capsys, "confidence")
