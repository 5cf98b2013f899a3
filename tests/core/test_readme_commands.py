"""Every ``causal-priors`` command in the README names real presets, keys and values (parsed, not trained).

Running each one as written is checked by hand before a release (the long ones train for hours); this test
catches the drift that broke them before: a renamed key, a removed preset, a run the quickstart never creates.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[2] / "README.md"


def readme_commands() -> list[str]:
    """``causal-priors ...`` lines of the README's bash blocks and inline code, comments and placeholders dropped."""
    text = README.read_text()
    lines = []
    for block in re.findall(r"```bash\n(.*?)```", text, flags=re.S):
        lines += [line.split("  #")[0].strip() for line in block.splitlines()]
    lines += re.findall(r"`(causal-priors [^`]+)`", text)
    commands = [line for line in lines if line.startswith("causal-priors ") and "<" not in line]
    return sorted(set(commands))


def test_the_readme_has_commands_for_every_subcommand():
    words = {shlex.split(cmd)[1] for cmd in readme_commands()}
    assert {"train", "evaluate", "discover", "forecast", "sweep", "study", "data"} <= words


def test_evaluate_examples_name_the_run_the_quickstart_creates():
    from agents.workspace import build_config, run_dir_for

    quickstart = run_dir_for(build_config([]))
    runs = [w.split("=", 1)[1] for c in readme_commands() for w in shlex.split(c) if w.startswith("run=")]
    assert runs and all(Path(run) == quickstart for run in runs)


@pytest.mark.parametrize("command", readme_commands())
def test_readme_command_parses_and_validates(command):
    words = shlex.split(command)[1:]
    name, argv = words[0], [w for w in words[1:] if w not in ("--dry-run", "--ray")]
    if name == "train":
        from agents.workspace import build_config

        build_config(argv)
    elif name == "discover":
        from agents.discover import build_config

        build_config(argv)
    elif name == "forecast":
        from forecasting.train import build_config

        build_config(argv[1:])
    elif name in ("sweep", "study"):
        from causal_priors.sweep_plan import load_sweep, plan_runs

        files = [w for w in argv if "=" not in w and not w.startswith("--")]
        assert plan_runs(load_sweep(files[0], [w for w in argv if "=" in w]))
    elif name == "evaluate":
        from agents.config import EvaluateConfig
        from causal_priors.config import load_config, to_typed

        to_typed(load_config(EvaluateConfig, [w for w in argv if not w.startswith("env.")]))
    else:
        assert name in ("data", "report")
