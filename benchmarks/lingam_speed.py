"""Fit time of our DirectLiNGAM (cold and warm) vs ``lingam.DirectLiNGAM`` per SEM family, in one table.

Run in the reference venv (``lingam`` pins an old scipy, so it never goes into the main interpreter)::

    OMP_NUM_THREADS=1 PYTHONPATH=. .venv-lingam/bin/python benchmarks/lingam_speed.py    # the table (~10-15 min)
    python benchmarks/lingam_speed.py --dims 24 44 --no-reference           # ours only
    python benchmarks/lingam_speed.py --dims 100 --no-reference --backend torch --device cuda   # + torch column

Families: sparse (about 1.5 parents per variable) or dense (edge probability 0.3) graphs x uniform,
Laplace or exponential noise (:func:`causal.synthetic.sem_family`), N = 10,000 samples, one BLAS thread.

* **ours cold**: :func:`causal.lingam.direct_lingam` on window 2 (order search and adaptive-lasso pruning).
* **ours warm**: the same fit given the causal order fitted on window 1, as a refit in a run sees it
  (window 2 = window 1 shifted by ``--shift`` samples of new data).
* **lingam**: ``lingam.DirectLiNGAM().fit`` on window 2, measured for ``--reference-dims`` (one run each);
  for larger ``d`` it is extrapolated (``~``) from the two largest measured sizes of the same family by
  ``t = a d^b`` (it would take hours); the speed-up then is against the extrapolation.
* **edges**: our adjacency has the same non-zero pattern as ``lingam``'s; ``max|dB|`` the largest
  coefficient difference; **work**: residual entropies evaluated by our cold search over the least any
  search can do (``d (d - 1)``: one full row per step).

* **torch** (with ``--backend torch``): the cold fit with ``direct_lingam(..., backend="torch", device=...)``, the
  dense search of :mod:`causal.lingam_torch` (every pair of every step: no pruning, so on a CPU it is much slower
  than the numpy branch and bound; it is meant for a GPU); **order**: ``same`` when its causal order is ours cold's,
  else the first position where they differ; **t-edg**: its adjacency has ours cold's non-zero pattern. With the
  default tolerance the choice among near-tied variables is sensitive to rounding, so at large ``d`` the orders
  can part as numpy's float32 and float64 orders do: **f64 order** (with ``--compare-float64``) is that position
  for numpy float64 against ours cold (float32).

Times are CPU seconds (``time.process_time``): on a shared machine the wall time mostly measures the
other tenants. The load average is printed with the table. The torch column on a GPU is wall seconds (the
device synchronised before and after); GPU timings need a GPU (this machine has none).
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import numpy as np

from _checkout import use_this_checkout

use_this_checkout()

from causal.lingam import direct_lingam  # noqa: E402
from causal.synthetic import GRAPHS, NOISES, sem_family  # noqa: E402

TARGETS = "ratio >= 30x at d=24 on every family; d=100 cold < 1.5 s; d=366 cold < 30 s; d=366 warm < 5 s"


def _standardise(X: np.ndarray) -> np.ndarray:
    return (X - X.mean(0)) / X.std(0)


def _cpu(fn) -> tuple[float, object]:
    """CPU seconds of one call, and its result."""
    c0 = time.process_time()
    out = fn()
    return time.process_time() - c0, out


def _load() -> str:
    try:
        return "load average {:.2f} {:.2f} {:.2f}".format(*os.getloadavg())
    except OSError:
        return "load average unknown"


def _extrapolate(measured: dict[int, float], d: int) -> float | None:
    """``a d^b`` through the two largest measured sizes."""
    if len(measured) < 2:
        return None
    d1, d2 = sorted(measured)[-2:]
    b = np.log(measured[d2] / measured[d1]) / np.log(d2 / d1)
    return measured[d2] * (d / d2) ** b


def _first_difference(order: list[int], reference: list[int]) -> str:
    """``same``, or the first position where ``order`` and ``reference`` differ."""
    return next((str(i) for i, (a, b) in enumerate(zip(order, reference, strict=True)) if a != b), "same")


def _torch_fitter(device: str):
    """``X -> (seconds, LingamResult)`` of the torch backend on ``device`` (one thread on the host)."""
    import torch

    torch.set_num_threads(1)
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise SystemExit(f"--device {device}: torch sees no CUDA device here")

    if dev.type == "cuda":  # CUDA context and kernels loaded before the first timed fit
        direct_lingam(np.random.default_rng(0).uniform(size=(1000, 8)), backend="torch", device=dev)

    def fit(X: np.ndarray) -> tuple[float, object]:
        if dev.type == "cpu":
            return _cpu(lambda: direct_lingam(X, backend="torch", device=dev))
        torch.cuda.synchronize(dev)
        t0 = time.perf_counter()
        out = direct_lingam(X, backend="torch", device=dev)
        torch.cuda.synchronize(dev)
        return time.perf_counter() - t0, out

    return fit


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=10_000, help="samples per window")
    ap.add_argument("--shift", type=int, default=1_000, help="new samples between the two windows")
    ap.add_argument("--dims", type=int, nargs="+", default=[24, 44, 100, 366], help="numbers of variables")
    ap.add_argument("--reference-dims", type=int, nargs="+", default=[24, 44], help="sizes lingam is run at")
    ap.add_argument("--graphs", nargs="+", default=list(GRAPHS), choices=GRAPHS)
    ap.add_argument("--noises", nargs="+", default=list(NOISES), choices=NOISES)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-reference", action="store_true", help="skip lingam even if installed")
    ap.add_argument("--backend", choices=("numpy", "torch"), default="numpy", help="torch: add the torch column")
    ap.add_argument("--device", default="cpu", help="device of the torch column (cpu, cuda, cuda:<n>)")
    ap.add_argument("--compare-float64", action="store_true", help="add the numpy float64 order column")
    args = ap.parse_args()
    try:
        if args.no_reference:
            raise ImportError
        import lingam
    except ImportError:
        lingam = None
        print("lingam not installed (or --no-reference): timing ours only")

    torch_fit = _torch_fitter(args.device) if args.backend == "torch" else None
    t_start = time.perf_counter()
    print(f"N={args.n}, window shift {args.shift}, seed {args.seed}, one thread; {_load()}")
    print("CPU seconds; lingam '~' = extrapolated from its measured scaling (not run)")
    if torch_fit is not None:
        kind = "CPU seconds, one thread" if args.device == "cpu" else "wall seconds, synchronised"
        print(f"torch column: backend=torch (dense search) on {args.device} ({kind}); GPU timings need a GPU")
    header = (
        f"{'family':<19} {'d':>4} {'ours cold':>9} {'ours warm':>9} {'lingam':>9} {'speed-up':>9}"
        f" {'edges':>6} {'max|dB|':>8} {'work':>6}"
    )
    if torch_fit is not None:
        header += f" {'torch':>8} {'order':>5} {'t-edg':>5}"
    if args.compare_float64:
        header += f" {'f64 order':>9}"
    print(header)
    print("-" * len(header))
    results: dict[tuple[str, int], tuple[float, float, float | None]] = {}
    for graph in args.graphs:
        for noise in args.noises:
            family = f"{graph}/{noise}"
            ref_times: dict[int, float] = {}
            for d in args.dims:
                data, _ = sem_family(d, args.n + args.shift, args.seed, graph, noise)
                X1, X2 = _standardise(data[: args.n]), _standardise(data[args.shift :])
                previous = direct_lingam(X1).causal_order
                t_cold, cold = _cpu(lambda X2=X2: direct_lingam(X2))
                t_warm, _ = _cpu(lambda X2=X2, previous=previous: direct_lingam(X2, warm_order=previous))
                work = f"{cold.pairs_evaluated / (d * (d - 1)):.2f}x"
                ref_txt, edges, diff, t_ref = "-", "-", "-", None
                if lingam is not None and d in args.reference_dims:
                    t_ref, ref = _cpu(lambda X2=X2: lingam.DirectLiNGAM().fit(X2))
                    ref_times[d] = t_ref
                    ref_txt = f"{t_ref:.2f}"
                    edges = str(bool(np.array_equal(cold.adjacency != 0, ref.adjacency_matrix_ != 0)))
                    diff = f"{float(np.abs(cold.adjacency - ref.adjacency_matrix_).max()):.1e}"
                elif lingam is not None:
                    t_ref = _extrapolate(ref_times, d)
                    ref_txt = "-" if t_ref is None else f"~{t_ref:.0f}"
                ratio = "-" if t_ref is None else f"{t_ref / t_cold:.1f}x"
                results[(family, d)] = (t_cold, t_warm, t_ref)
                row = (
                    f"{family:<19} {d:>4} {t_cold:>9.2f} {t_warm:>9.2f} {ref_txt:>9} {ratio:>9}"
                    f" {edges:>6} {diff:>8} {work:>6}"
                )
                if torch_fit is not None:
                    t_torch, fit = torch_fit(X2)
                    same_edges = bool(np.array_equal(fit.adjacency != 0, cold.adjacency != 0))
                    row += f" {t_torch:>8.2f} {_first_difference(fit.causal_order, cold.causal_order):>5}"
                    row += f" {str(same_edges):>5}"
                if args.compare_float64:
                    order64 = direct_lingam(X2, dtype=np.float64).causal_order
                    row += f" {_first_difference(order64, cold.causal_order):>9}"
                print(row, flush=True)
    print(f"total wall {time.perf_counter() - t_start:.0f} s; {_load()}")
    print(f"targets (idle machine): {TARGETS}")
    checks = []
    for (family, d), (t_cold, t_warm, t_ref) in results.items():
        if d == 24 and t_ref is not None:
            checks.append((f"{family} d=24 speed-up {t_ref / t_cold:.1f}x >= 30x", t_ref / t_cold >= 30))
        if d == 100:
            checks.append((f"{family} d=100 cold {t_cold:.2f} s < 1.5 s", t_cold < 1.5))
        if d == 366:
            checks.append((f"{family} d=366 cold {t_cold:.1f} s < 30 s", t_cold < 30))
            checks.append((f"{family} d=366 warm {t_warm:.1f} s < 5 s", t_warm < 5))
    for text, ok in checks:
        print(f"  [{'met' if ok else 'MISSED'}] {text}")


if __name__ == "__main__":
    main()
