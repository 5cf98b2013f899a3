"""The ``causal-priors`` command: one entry point, one subcommand per job.

Each subcommand takes ``key=value`` overrides (see ``causal_priors.config``) and is implemented in the
package that owns it; this module only dispatches, so importing it is cheap.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence

from causal_priors.errors import TrainingError, UserError

#: subcommand -> ("module:function", one-line help). Functions take the remaining argv and return an exit code.
COMMANDS: dict[str, tuple[str, str]] = {
    "train": ("agents.workspace:train_main", "train an agent (sac, ace, cip) on an environment"),
    "evaluate": ("agents.workspace:evaluate_main", "evaluate a trained agent's checkpoint"),
    "discover": ("agents.discover:discover_main", "collect transitions and fit a factored causal graph"),
    "study": ("causal_priors.study:study_main", "run a sweep, report it, publish results to benchmarks/results/"),
    "forecast": ("forecasting.cli:forecast_main", "train / evaluate / adapt motion forecasters"),
    "sweep": ("causal_priors.sweep:sweep_main", "run a grid of runs locally or on Ray, resumably"),
    "report": ("causal_priors.report:report_main", "aggregate run directories into tables and plots"),
}


def _usage() -> str:
    lines = ["usage: causal-priors <command> [key=value ...]", "", "commands:"]
    lines += [f"  {name:<10} {text}" for name, (_, text) in COMMANDS.items()]
    lines += ["", "Example: causal-priors train agent=sac env=HalfCheetah-v5 total_steps=20000"]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``causal-priors`` console script."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help", "help"):
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
    target, _ = COMMANDS[name]
    module_name, func_name = target.split(":")
    func = getattr(importlib.import_module(module_name), func_name)
    try:
        return int(func(rest) or 0)
    except UserError as err:
        print(f"causal-priors {name}: {err}", file=sys.stderr)
        return 2
    except TrainingError as err:
        print(f"causal-priors {name}: training stopped: {err}", file=sys.stderr)
        return 3


if __name__ == "__main__":
    raise SystemExit(main())
