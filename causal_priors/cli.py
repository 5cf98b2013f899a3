"""The ``causal-priors`` command: one entry point, one subcommand per job.

Each subcommand takes ``key=value`` overrides (see ``causal_priors.config``) and is implemented in the
package that owns it; this module only dispatches (and prints ``--help`` from the config dataclasses via
:mod:`causal_priors.help`), so importing it is cheap.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Sequence

from causal_priors.errors import TrainingError, UserError

#: subcommand -> ("module:function", one-line help). Functions take the remaining argv and return an exit code.
COMMANDS: dict[str, tuple[str, str]] = {
    "train": ("agents.workspace:train_main", "train an agent (sac, ace, cip) on an environment"),
    "evaluate": ("agents.workspace:evaluate_main", "evaluate a trained agent's checkpoint"),
    "discover": ("agents.discover:discover_main", "collect transitions and fit a factored causal graph"),
    "study": ("causal_priors.study:study_main", "run a sweep, report it, publish results to benchmarks/results/"),
    "forecast": ("forecasting.cli:forecast_main", "train / evaluate / adapt motion forecasters"),
    "sweep": ("causal_priors.sweep:sweep_main", "run a grid of runs locally, on Ray or on SLURM, resumably"),
    "report": ("causal_priors.report:report_main", "aggregate run directories into tables and plots"),
    "data": ("causal_priors.datacheck:data_main", "verify the forecasting data files against their checksums"),
}
HELP_FLAGS = ("-h", "--help")


def _usage() -> str:
    lines = ["usage: causal-priors <command> [key=value ...]", "       causal-priors <command> --help", ""]
    lines += ["commands:"] + [f"  {name:<10} {text}" for name, (_, text) in COMMANDS.items()]
    lines += ["", "Example: causal-priors train agent=sac env=HalfCheetah-v5 total_steps=20000"]
    return "\n".join(lines)


def _presets(*groups: str) -> str:
    from causal_priors.config import available_presets

    return "\n".join(f"{group}= presets (configs/{group}/): {', '.join(available_presets(group))}" for group in groups)


def _train_help() -> str:
    from agents.config import TrainConfig
    from causal_priors.help import command_help

    usage = "usage: causal-priors train [experiment=NAME] [agent=PRESET] [env=PRESET|GYM_ID] [key=value ...]"
    notes = (
        _presets("agent", "env", "experiment")
        + "\nenv= also takes a gymnasium id (env=Hopper-v5, env=dm_control/reacher-easy-v0)."
        + "\nRun directory: <run_root>/<experiment>/<env.id with '/' replaced by '_'>/<agent.name>/seed_<seed>/."
        + "\nSmoke test of a new env: causal-priors train experiment=smoke env=Hopper-v5"
    )
    return command_help(usage, [("keys (key: type = default)", TrainConfig, "")], notes)


def _evaluate_help() -> str:
    from agents.config import EvaluateConfig
    from causal_priors.help import command_help
    from envs.config import EnvConfig

    usage = "usage: causal-priors evaluate run=<run directory> [episodes=N] [env.<key>=value ...]"
    notes = "Writes <run>/evaluation.json. Example: causal-priors evaluate run=runs/default/HalfCheetah-v5/sac/seed_0"
    sections = [("keys", EvaluateConfig, ""), ("environment overrides (default: the run's own)", EnvConfig, "env.")]
    return command_help(usage, sections, notes)


def _discover_help() -> str:
    from agents.discover import DiscoverConfig
    from causal_priors.help import command_help

    usage = "usage: causal-priors discover [env=PRESET|GYM_ID] [steps=N] [method=...] [key=value ...]"
    return command_help(usage, [("keys (key: type = default)", DiscoverConfig, "")], _presets("env"))


def _forecast_help() -> str:
    from causal_priors.help import command_help
    from forecasting.cli import USAGE
    from forecasting.config import ForecastConfig

    return command_help(USAGE, [("keys (key: type = default)", ForecastConfig, "")], _presets("model", "data"))


def _sweep_help(name: str) -> str:
    from causal_priors.help import command_help
    from causal_priors.sweep_plan import SweepConfig

    flags = "[--ray] [--dry-run] [--cancel-on-interrupt]" + (
        " [--publish-only] [results=DIR]" if name == "study" else ""
    )
    usage = f"usage: causal-priors {name} <sweep.yaml | preset> {flags} [key=value ...]"
    notes = _presets("sweep").replace("sweep= presets", "sweep presets")
    notes += "\nkey=value overrides change the sweep file's keys (e.g. grid.seed=[0,1])."
    return command_help(usage, [("sweep file keys (key: type = default)", SweepConfig, "")], notes)


def _report_help() -> str:
    from causal_priors.help import command_help
    from causal_priors.report import ReportConfig

    usage = "usage: causal-priors report path=<run_root>/<experiment> [key=value ...]   (a bare folder works too)"
    return command_help(usage, [("keys (key: type = default)", ReportConfig, "")])


def _data_help() -> str:
    from causal_priors.datacheck import USAGE, DataCheckConfig
    from causal_priors.help import command_help

    return command_help(USAGE, [("keys (key: type = default)", DataCheckConfig, "")])


#: command -> function returning its ``--help`` text (others print their entry point's docstring)
HELP: dict[str, Callable[[], str]] = {
    "train": _train_help,
    "evaluate": _evaluate_help,
    "discover": _discover_help,
    "forecast": _forecast_help,
    "sweep": lambda: _sweep_help("sweep"),
    "study": lambda: _sweep_help("study"),
    "report": _report_help,
    "data": _data_help,
}


def _entry(name: str) -> Callable[[list[str]], int]:
    module_name, func_name = COMMANDS[name][0].split(":")
    return getattr(importlib.import_module(module_name), func_name)


def command_help(name: str) -> str:
    """The ``--help`` text of a subcommand."""
    if name in HELP:
        return HELP[name]()
    return f"usage: causal-priors {name} [key=value ...]\n\n{(_entry(name).__doc__ or '').strip()}\n"


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``causal-priors`` console script."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args:
        print(_usage(), file=sys.stderr)
        return 2
    if args[0] in (*HELP_FLAGS, "help"):
        print(_usage())
        return 0
    name, rest = args[0], args[1:]
    if name not in COMMANDS:
        import difflib

        close = difflib.get_close_matches(name, COMMANDS, n=2)
        print(
            f"causal-priors: unknown command '{name}'" + (f"; did you mean {close}?" if close else ""), file=sys.stderr
        )
        print(_usage(), file=sys.stderr)
        return 2
    if any(word in HELP_FLAGS for word in rest):
        print(command_help(name), end="")
        return 0
    from causal_priors.quiet import quiet_known_noise

    quiet_known_noise()
    try:
        return int(_entry(name)(rest) or 0)
    except UserError as err:
        print(f"causal-priors {name}: {err}", file=sys.stderr)
        return 2
    except PermissionError as err:
        print(f"causal-priors {name}: permission denied: {err.filename or err}", file=sys.stderr)
        return 2
    except TrainingError as err:
        print(f"causal-priors {name}: training stopped: {err}", file=sys.stderr)
        return 3
    except BrokenPipeError:  # output piped into e.g. `head`, which closed early: not an error of the command
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error when Python flushes stdout
        return 0


if __name__ == "__main__":
    raise SystemExit(main())
