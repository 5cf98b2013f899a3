"""Wall-clock overhead of CIP over SAC per env step, measured side by side in one process.

SAC and CIP (causal entropy + counterfactual augmentation + empowerment, graph refitted every
``--refit-every`` steps on the last ``--window`` transitions) train on the same env id with the same
SB3 settings. They alternate in chunks of ``--chunk`` env steps (SAC, CIP, SAC, CIP, ...), so that
machine load drifts hit both alike. The time of every chunk is summed per agent, including the refits.

    python benchmarks/cip_overhead.py --steps 12000 --learning-starts 1000

prints the per-step times and their ratio (the target: CIP <= 1.15x SAC, judged on an idle machine) and writes
``benchmarks/results/cip_overhead.json``.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from stable_baselines3 import SAC
from stable_baselines3.common.logger import configure
from stable_baselines3.common.monitor import Monitor
from stable_baselines3.common.vec_env import DummyVecEnv

from _checkout import use_this_checkout

use_this_checkout()

import envs  # noqa: E402
from agents.causal_sac import CausalSAC  # noqa: E402
from agents.config import CausalConfig  # noqa: E402
from causal_priors.seeding import seed_everything, single_thread  # noqa: E402

RESULTS = Path(__file__).parent / "results" / "cip_overhead.json"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", default="HalfCheetah-v5")
    parser.add_argument("--steps", type=int, default=12_000, help="env steps per agent")
    parser.add_argument("--learning-starts", type=int, default=1_000)
    parser.add_argument("--chunk", type=int, default=500, help="env steps per alternation")
    parser.add_argument("--refit-every", type=int, default=10_000)
    parser.add_argument("--window", type=int, default=10_000)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--net-arch", type=int, nargs="+", default=[256, 256])
    parser.add_argument("--method", default="direct_lingam")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=RESULTS)
    return parser.parse_args(argv)


def build(args: argparse.Namespace, causal: CausalConfig | None) -> SAC:
    """A seeded SAC (``causal=None``) or CausalSAC on one env, with a silent logger."""
    seed_everything(args.seed)
    env = DummyVecEnv([lambda: Monitor(envs.make(args.env, seed=args.seed))])
    env.seed(args.seed)
    kwargs: dict[str, Any] = dict(
        learning_starts=args.learning_starts,
        batch_size=args.batch_size,
        buffer_size=args.steps,
        policy_kwargs={"net_arch": list(args.net_arch)},
        seed=args.seed,
        device="cpu",
        verbose=0,
    )
    if causal is None:
        model: SAC = SAC("MlpPolicy", env, **kwargs)
    else:
        model = CausalSAC("MlpPolicy", env, causal=causal, **kwargs)
    model.set_logger(configure(None, []))
    return model


SPIED = ("causal/fit_seconds", "causal/refit_seconds", "augment/swapped_dims")


def logger_spy(model: SAC) -> dict[str, list[float]]:
    """Collect every value of the :data:`SPIED` keys the model's logger records."""
    seen: dict[str, list[float]] = {key: [] for key in SPIED}
    record = model.logger.record

    def spy(key, value, exclude=None):
        if key in seen:
            seen[key].append(float(value))
        return record(key, value, exclude)

    model.logger.record = spy
    return seen


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    single_thread()
    cip_cfg = CausalConfig(
        entropy=True,
        augment=True,
        empowerment=True,
        method=args.method,
        window=args.window,
        refit_every=args.refit_every,
    )
    models = {"sac": build(args, None), "cip": build(args, cip_cfg)}
    spied = logger_spy(models["cip"])
    fits = spied["causal/fit_seconds"]
    seconds = {name: 0.0 for name in models}
    learning_seconds = {name: 0.0 for name in models}
    done = 0
    while done < args.steps:
        n = min(args.chunk, args.steps - done)
        for name, model in models.items():
            start = time.perf_counter()
            model.learn(n, reset_num_timesteps=False)
            elapsed = time.perf_counter() - start
            seconds[name] += elapsed
            if done >= args.learning_starts:
                learning_seconds[name] += elapsed
        done += n
        print(f"step {done:>6}: sac {seconds['sac']:7.1f}s  cip {seconds['cip']:7.1f}s", flush=True)

    learning_steps = sum(
        min(args.chunk, args.steps - d) for d in range(0, args.steps, args.chunk) if d >= args.learning_starts
    )
    result: dict[str, Any] = {
        "env": args.env,
        "steps_per_agent": args.steps,
        "learning_starts": args.learning_starts,
        "chunk": args.chunk,
        "batch_size": args.batch_size,
        "net_arch": list(args.net_arch),
        "refit_every": args.refit_every,
        "window": args.window,
        "method": args.method,
        "sac_seconds": round(seconds["sac"], 2),
        "cip_seconds": round(seconds["cip"], 2),
        "sac_ms_per_step": round(1000 * seconds["sac"] / args.steps, 3),
        "cip_ms_per_step": round(1000 * seconds["cip"] / args.steps, 3),
        "ratio": round(seconds["cip"] / seconds["sac"], 3),
        "learning_steps": learning_steps,
        "ratio_learning_phase": round(learning_seconds["cip"] / max(learning_seconds["sac"], 1e-9), 3),
        "refits": len(fits),
        "fit_seconds": [round(s, 3) for s in fits],
        "refit_seconds": [round(s, 3) for s in spied["causal/refit_seconds"]],
        "mean_swapped_dims_per_counterfactual_row": round(float(np.mean(spied["augment/swapped_dims"] or [0.0])), 3),
        "torch_threads": torch.get_num_threads(),
        "machine": platform.platform(),
        "finished": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(
        f"SAC {result['sac_ms_per_step']} ms/step, CIP {result['cip_ms_per_step']} ms/step: "
        f"ratio {result['ratio']} (learning phase {result['ratio_learning_phase']}; target <= 1.15); "
        f"{len(fits)} refit(s), {sum(fits):.2f}s fitting -> {args.out}"
    )
    return result


if __name__ == "__main__":
    main()
