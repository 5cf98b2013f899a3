"""Method comparisons of the report, by rliable: probability of improvement and performance profiles.

Both work on the final scores ``{task: {method: [run scores]}}`` that :mod:`causal_priors.report` collects.

* Probability of improvement (rliable's ``probability_of_improvement``, the Mann-Whitney U statistic over
  the two methods' runs, averaged over tasks) of every method over a baseline (``sac`` by default): one row
  per task, and one over all tasks both ran when there are several. Being rank-based it needs no
  normalisation.
* Performance profiles (rliable's score distributions, ``create_performance_profile``) over the tasks every
  method ran, when there are >= 2 of them. Scores are normalised per task by one documented rule
  (:data:`NORMALIZATION`): a success-rate task is already a score in [0, 1] and is used as is; any other
  task is min-max normalised over all runs of all methods on it (rliable's fallback without reference
  scores), so 0 is the worst run and 1 the best run seen on that task.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from causal_priors.stats import minmax_normalize, performance_profile, probability_of_improvement

__all__ = ["NORMALIZATION", "normalized_finals", "improvement_rows", "profile_of", "plot_profile"]

NORMALIZATION = (
    "per task: success rate as is (already in [0, 1]); any other metric min-max over all runs of all methods"
)
Finals = Mapping[str, Mapping[str, Sequence[float]]]


def _shared_tasks(finals: Finals) -> dict[str, Mapping[str, Sequence[float]]]:
    """The tasks that every method (of any task) ran."""
    methods = {m for by_method in finals.values() for m in by_method}
    return {t: by_method for t, by_method in sorted(finals.items()) if set(by_method) == methods}


def normalized_finals(
    finals: Finals, metric_by_task: Mapping[str, str], success_metric: str
) -> dict[str, dict[str, np.ndarray]]:
    """``{task: {method: scores in [0, 1]}}`` over the tasks every method ran (see :data:`NORMALIZATION`)."""
    shared = _shared_tasks(finals)
    success = {t: v for t, v in shared.items() if success_metric and metric_by_task.get(t) == success_metric}
    other = minmax_normalize({t: v for t, v in shared.items() if t not in success})
    out = {t: {m: np.asarray(s, dtype=float) for m, s in v.items()} for t, v in success.items()}
    return dict(sorted({**out, **other}.items()))


def _rectangular(by_task: Mapping[str, Mapping[str, Sequence[float]]], method: str) -> bool:
    return len({len(by_method[method]) for by_method in by_task.values()}) == 1


def improvement_rows(
    finals: Finals, baseline: str, metric_by_task: Mapping[str, str], reps: int, confidence: float, seed: int
) -> list[dict]:
    """P(method > baseline) with its bootstrap interval, per task and over all tasks both ran.

    Rows ``{"task", "method", "baseline", "metric", "tasks", "n", "n_baseline", "point", "low", "high"}``
    (``task`` is ``all`` for the cross-task row; ``n`` counts runs per task). Empty when the baseline never ran.
    """
    methods = sorted({m for by_method in finals.values() for m in by_method} - {baseline})
    rows: list[dict] = []
    for method in methods:
        both = {t: v for t, v in sorted(finals.items()) if method in v and baseline in v}
        groups = [(t, [v]) for t, v in both.items()]
        if len(both) > 1 and _rectangular(both, method) and _rectangular(both, baseline):
            groups.append(("all", list(both.values())))
        for task, members in groups:
            ci = probability_of_improvement(
                [v[method] for v in members], [v[baseline] for v in members], reps, confidence, seed
            )
            names = sorted({metric_by_task.get(t, "") for t in (both if task == "all" else [task])})
            rows.append(
                {
                    "task": task,
                    "method": method,
                    "baseline": baseline,
                    "metric": ", ".join(names),
                    "tasks": len(members),
                    "n": len(members[0][method]),
                    "n_baseline": len(members[0][baseline]),
                    **ci.as_dict(),
                }
            )
    return rows


def profile_of(
    normalized: Mapping[str, Mapping[str, np.ndarray]], reps: int, confidence: float, seed: int, points: int = 51
) -> dict | None:
    """rliable's performance profiles over >= 2 tasks (None with fewer, or when a method's run count differs
    between tasks: rliable needs a ``(runs, tasks)`` matrix per method)."""
    if len(normalized) < 2:
        return None
    methods = sorted(next(iter(normalized.values())))
    if not methods or not all(_rectangular(normalized, m) for m in methods):
        return None
    scores = {m: np.stack([normalized[t][m] for t in normalized], axis=1) for m in methods}
    taus = np.linspace(0.0, 1.0, points)
    profiles, cis = performance_profile(scores, taus, reps, confidence, seed)
    return {
        "tasks": list(normalized),
        "normalization": NORMALIZATION,
        "tau": taus.tolist(),
        "methods": {
            m: {
                "runs": int(scores[m].shape[0]),
                "profile": np.asarray(profiles[m]).tolist(),
                "low": np.asarray(cis[m][0]).tolist(),
                "high": np.asarray(cis[m][1]).tolist(),
            }
            for m in methods
        },
    }


def plot_profile(profile: Mapping, confidence: float, path: Path) -> Path:
    """rliable's ``plot_performance_profiles`` of :func:`profile_of`'s result, saved as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from rliable import plot_utils

    taus = np.asarray(profile["tau"])
    methods = profile["methods"]
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    plot_utils.plot_performance_profiles(
        {m: np.asarray(v["profile"]) for m, v in methods.items()},
        taus,
        performance_profile_cis={m: np.asarray([v["low"], v["high"]]) for m, v in methods.items()},
        ax=ax,
        xlabel=r"normalised score $\tau$",
        ylabel=r"fraction of runs with score $> \tau$",
        labelsize="medium",
        ticklabelsize="small",
    )
    ax.set_title(f"Performance profiles over {len(profile['tasks'])} tasks, {confidence:.0%} CI", fontsize="medium")
    labels = [f"{m} (n={v['runs']}/task)" for m, v in methods.items()]
    ax.legend(handles=ax.get_lines()[: len(labels)], labels=labels, loc="lower left", fontsize="small")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
