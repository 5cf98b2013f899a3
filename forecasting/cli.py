"""``causal-priors forecast {train,evaluate,adapt,mcc} [key=value ...]``.

Examples::

    causal-priors forecast train model=gcrl data=synthetic seed=1
    causal-priors forecast evaluate model=gcrl data=synthetic seed=1
    causal-priors forecast adapt model=causal_motion data=synthetic adapt.batches=[0,1,2,4,6]
    causal-priors forecast mcc model=gcrl data=synthetic eval.mcc_seeds=[0,1,2]
    causal-priors forecast compare experiment=forecast_synthetic data=synthetic   # plots over methods

Tables over methods and seeds: ``causal-priors report path=<run_root>/<experiment>`` (reads done.json).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

from causal_priors.checks import check_writable
from causal_priors.errors import ConfigError

USAGE = __doc__ or ""


def check_data_files(cfg: Any, *, train: bool = True, test: bool = True, adapt: bool = False) -> None:
    """Read and check every data file the command will use (missing, unreadable, NaN/inf -> one-line
    ``DataError`` naming the file) before any training starts; the readers cache what they load."""
    from forecasting.data import load_eth_ucy, load_synthetic
    from forecasting.splits import adaptation_pool, adaptation_target

    d = cfg.data
    root, most = d.root or None, int(d.max_scenes) or None
    if d.name == "synthetic":
        if train:
            load_synthetic("val", list(d.train_radii), root, most)
        if test:
            load_synthetic("test", list(d.test_radii), root, most)
    else:
        splits = (("train", "val") if train else ()) + (("test",) if test else ())
        for split in splits:
            load_eth_ucy(d.test_scene, split, root, min_agents=int(d.min_agents), max_scenes=most)
    if adapt:
        adaptation_pool(cfg)
        adaptation_target(cfg)


def _train(argv: Sequence[str]) -> int:
    from forecasting.train import build_config, run, run_dir_for

    cfg = build_config(argv)
    check_writable(cfg.run_root, "run_root")
    check_data_files(cfg, test=bool(cfg.test_after), adapt=bool(cfg.adapt_after))
    metrics = run(cfg)
    rd = run_dir_for(cfg)
    print(f"run directory: {rd}")
    table = rd / "eval" / "results.md"
    if table.is_file():
        print(table.read_text())
    else:
        print({k: round(v, 4) for k, v in metrics.items() if "/all" in k or k.startswith("train/")})
    return 0


def _evaluate(argv: Sequence[str]) -> int:
    from forecasting.train import build_config, evaluate_trained, load_trained, run_dir_for

    cfg = build_config(argv)
    check_writable(run_dir_for(cfg), "run_root")
    check_data_files(cfg, train=False)
    evaluate_trained(cfg, load_trained(cfg), run_dir_for(cfg) / "eval")
    print((run_dir_for(cfg) / "eval" / "results.md").read_text())
    return 0


def _adapt(argv: Sequence[str]) -> int:
    from forecasting.adapt import run_adaptation
    from forecasting.train import build_config, run_dir_for

    cfg = build_config(argv)
    check_writable(run_dir_for(cfg), "run_root")
    check_data_files(cfg, train=False, test=False, adapt=True)
    run_adaptation(cfg)
    print((run_dir_for(cfg) / "adapt" / f"adapt_{cfg.adapt.domain}.md").read_text())
    return 0


def _mcc(argv: Sequence[str]) -> int:
    from causal_priors.runs import write_json
    from forecasting.identifiability import latent_means, pairwise_mcc
    from forecasting.splits import train_val
    from forecasting.train import build_config, load_trained, run_dir_for

    cfg = build_config(argv)
    check_writable(run_dir_for(cfg).parent, "run_root")
    _, val = train_val(cfg)
    batch = val.to_batch()
    latents = []
    for seed in cfg.eval.mcc_seeds:
        cfg.seed = int(seed)
        latents.append(latent_means(load_trained(cfg), batch))
    result = pairwise_mcc(latents)
    out = run_dir_for(cfg).parent / "mcc.json"
    write_json(out, {"seeds": list(cfg.eval.mcc_seeds), **result})
    print(f"{out}: {result}")
    return 0


def _compare(argv: Sequence[str]) -> int:
    from forecasting.plots import compare_runs
    from forecasting.splits import training_environments
    from forecasting.train import build_config, run_dir_for

    cfg = build_config(argv)
    data_dir = run_dir_for(cfg).parent.parent
    if not data_dir.is_dir():
        raise ConfigError(f"no runs under {data_dir} (check run_root, experiment and data)")
    check_writable(data_dir / "compare", "run_root")
    train_envs = training_environments(cfg)
    for path in compare_runs(data_dir, data_dir / "compare", train_envs):
        print(path)
    return 0


COMMANDS = {"train": _train, "evaluate": _evaluate, "adapt": _adapt, "mcc": _mcc, "compare": _compare}


def forecast_main(argv: Sequence[str]) -> int:
    """Entry point of ``causal-priors forecast``; returns the exit code."""
    args = list(argv)
    if not args:
        raise ConfigError(f"expected a subcommand, one of {sorted(COMMANDS)} (causal-priors forecast --help)")
    if args[0] in ("-h", "--help", "help"):
        print(USAGE)
        return 0
    sub, rest = args[0], args[1:]
    if sub not in COMMANDS:
        raise ConfigError(f"unknown forecast subcommand '{sub}'; expected one of {sorted(COMMANDS)}")
    return COMMANDS[sub](rest)


if __name__ == "__main__":
    raise SystemExit(forecast_main(sys.argv[1:]))
