"""IQM, bootstrap intervals, probability of improvement and profiles equal rliable's; AUC and curve helpers."""

from __future__ import annotations

import numpy as np
import pytest
from rliable import library as rly
from rliable import metrics
from scipy import stats as sps

from causal_priors.stats import (
    area_under_curve,
    bootstrap_curve,
    common_grid,
    interval,
    iqm,
    minmax_normalize,
    performance_profile,
    probability_of_improvement,
    resample_curve,
)


def _rliable(score_dict: dict, func, reps: int, seed: int, **kwargs) -> tuple[dict, dict]:
    """rliable called the documented way, right after seeding numpy's global generator."""
    np.random.seed(seed)
    return rly.get_interval_estimates(score_dict, func, reps=reps, **kwargs)


def _iqm_func(scores: np.ndarray) -> np.ndarray:
    return np.array([metrics.aggregate_iqm(scores)])


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 7, 8, 10, 13, 20])
def test_iqm_is_rliables_trimmed_mean(n: int) -> None:
    x = np.random.default_rng(n).standard_normal(n) * 3 + 1
    assert iqm(x) == metrics.aggregate_iqm(x[:, None])  # bit for bit: scipy trim_mean's own steps
    assert iqm(x) == pytest.approx(sps.trim_mean(x, 0.25))


def test_iqm_along_axis_and_pooled() -> None:
    x = np.random.default_rng(0).standard_normal((8, 5))
    np.testing.assert_allclose(iqm(x, axis=0), sps.trim_mean(x, 0.25, axis=0))
    assert iqm(x) == pytest.approx(metrics.aggregate_iqm(x))
    assert iqm([1.0, 2.0, 3.0, 4.0, 1000.0]) == pytest.approx(3.0)  # robust to one wild seed
    with pytest.raises(ValueError):
        iqm([])


@pytest.mark.parametrize("runs", [3, 5, 10])
def test_interval_equals_rliable_get_interval_estimates(runs: int) -> None:
    scores = np.random.default_rng(runs).normal(100.0, 30.0, size=runs)
    ours = interval(scores, reps=300, seed=4)
    points, cis = _rliable({"m": scores[:, None]}, _iqm_func, reps=300, seed=4)
    assert ours.point == pytest.approx(points["m"][0])
    assert (ours.low, ours.high) == (pytest.approx(cis["m"][0, 0]), pytest.approx(cis["m"][1, 0]))
    assert ours.low <= ours.point <= ours.high


def test_interval_over_tasks_is_rliables_stratified_bootstrap() -> None:
    rng = np.random.default_rng(1)
    matrix = rng.normal(size=(5, 3)) + np.arange(3)  # 5 runs x 3 tasks
    ours = interval(list(matrix.T), reps=200, seed=2)
    points, cis = _rliable({"m": matrix}, _iqm_func, reps=200, seed=2)
    assert (ours.point, ours.low, ours.high) == pytest.approx((points["m"][0], *cis["m"][:, 0]))
    # ragged tasks: rliable's independent resampling of each task's runs
    ragged = [np.arange(5.0), np.arange(3.0) + 10, np.arange(8.0) * 2]
    ours = interval(ragged, reps=200, seed=2)
    points, cis = _rliable(
        {"m": [g[:, None] for g in ragged]}, lambda *g: _iqm_func(np.concatenate(g)), reps=200, seed=2
    )
    assert (ours.point, ours.low, ours.high) == pytest.approx((points["m"][0], *cis["m"][:, 0]))
    with pytest.raises(ValueError):
        interval([np.arange(3.0), np.zeros(0)])
    with pytest.raises(ValueError):
        interval(np.arange(3.0), confidence=1.5)


def test_bootstrap_is_stratified_seeded_and_leaves_the_global_generator_alone() -> None:
    # pooled mean is 0.7 in every stratified resample: 3 zeros and 7 ones are resampled separately
    ci = interval([np.zeros(3), np.ones(7)], statistic=np.mean, reps=100)
    assert ci.point == ci.low == ci.high == pytest.approx(0.7)
    x = np.random.default_rng(1).normal(5.0, 2.0, size=10)
    np.random.seed(123)
    expected = np.random.random_sample()
    np.random.seed(123)
    a, b, c = interval(x, reps=200, seed=3), interval(x, reps=200, seed=3), interval(x, reps=200, seed=4)
    assert np.random.random_sample() == expected
    assert a == b and a != c


def test_probability_of_improvement_equals_rliables() -> None:
    rng = np.random.default_rng(5)
    x = rng.normal(1.0, 1.0, size=(5, 2))  # 5 runs x 2 tasks
    y = rng.normal(0.0, 1.0, size=(4, 2))
    ours = probability_of_improvement(list(x.T), list(y.T), reps=100, seed=7)
    points, cis = _rliable({"p": [x, y]}, metrics.probability_of_improvement, reps=100, seed=7)
    assert (ours.point, ours.low, ours.high) == pytest.approx((points["p"], *np.ravel(cis["p"])))
    # the point is P(X > Y) counted by hand, averaged over tasks
    by_hand = np.mean([np.mean(x[:, t][:, None] > y[:, t][None, :]) for t in range(2)])
    assert ours.point == pytest.approx(by_hand)
    same = probability_of_improvement([np.arange(3.0)], [np.arange(3.0)], reps=20)
    assert same.point == 0.5
    with pytest.raises(ValueError, match="run count"):
        probability_of_improvement([np.arange(3.0), np.arange(4.0)], [np.arange(3.0), np.arange(3.0)])


def test_performance_profile_equals_rliables() -> None:
    rng = np.random.default_rng(3)
    scores = {"a": rng.uniform(size=(4, 3)), "b": rng.uniform(0.3, 1.0, size=(4, 3))}
    taus = np.linspace(0, 1, 11)
    profiles, cis = performance_profile(scores, taus, reps=50, seed=1)
    np.random.seed(1)
    ref_profiles, ref_cis = rly.create_performance_profile(scores, taus, reps=50)
    for m in scores:
        np.testing.assert_allclose(profiles[m], ref_profiles[m])
        np.testing.assert_allclose(cis[m], ref_cis[m])
        np.testing.assert_allclose(profiles[m], [np.mean(scores[m] > t) for t in taus])


def test_bootstrap_curve_band_per_point() -> None:
    rng = np.random.default_rng(0)
    curves = np.linspace(0, 1, 20)[None, :] + rng.normal(0, 0.1, size=(6, 20))
    mid, low, high = bootstrap_curve(curves, reps=100)
    assert mid.shape == low.shape == high.shape == (20,)
    np.testing.assert_allclose(mid, iqm(curves, axis=0))
    assert np.all(low <= mid + 1e-12) and np.all(mid <= high + 1e-12)
    with pytest.raises(ValueError):
        bootstrap_curve(np.zeros(5))


def test_area_under_curve_is_the_mean_over_training() -> None:
    steps = np.array([0.0, 10.0, 30.0, 100.0])
    assert area_under_curve(steps, 2 * steps + 1) == pytest.approx(101.0)  # linear: value at mid-span
    assert area_under_curve(steps, np.full(4, -3.5)) == pytest.approx(-3.5)
    assert area_under_curve([5.0], [2.0]) == 2.0
    with pytest.raises(ValueError):
        area_under_curve([0.0, 2.0, 1.0], [1.0, 1.0, 1.0])
    with pytest.raises(ValueError):
        area_under_curve([0.0, 1.0], [1.0])


def test_common_grid_and_resampling() -> None:
    grid = common_grid([np.array([0, 10, 20, 30]), np.array([0, 10, 20]), np.array([5, 10, 20, 40])])
    np.testing.assert_array_equal(grid, [5, 10, 20])  # the range every run covers
    thin = common_grid([np.arange(1000)], max_points=50)
    assert thin.size == 50 and thin[0] == 0 and thin[-1] == 999
    np.testing.assert_allclose(resample_curve([0, 10], [0.0, 1.0], [0, 5, 10]), [0.0, 0.5, 1.0])
    assert common_grid([]).size == 0


def test_minmax_normalize_per_task_over_all_methods() -> None:
    out = minmax_normalize({"a": {"x": [0.0, 10.0], "y": [5.0]}, "b": {"x": [2.0], "y": [2.0]}})
    np.testing.assert_allclose(out["a"]["x"], [0.0, 1.0])
    np.testing.assert_allclose(out["a"]["y"], [0.5])
    np.testing.assert_allclose(out["b"]["x"], [0.0])  # constant task
