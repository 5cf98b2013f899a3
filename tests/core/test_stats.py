"""IQM, stratified bootstrap intervals, AUC and curve helpers against independent references."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as sps

from causal_priors.stats import (
    area_under_curve,
    bootstrap_curve,
    common_grid,
    interval,
    iqm,
    minmax_normalize,
    resample_curve,
    stratified_bootstrap,
)


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 7, 8, 10, 13, 20])
def test_iqm_matches_scipy_trim_mean(n: int) -> None:
    x = np.random.default_rng(n).standard_normal(n) * 3 + 1
    assert iqm(x) == pytest.approx(sps.trim_mean(x, 0.25))


def test_iqm_along_axis_and_pooled() -> None:
    x = np.random.default_rng(0).standard_normal((8, 5))
    np.testing.assert_allclose(iqm(x, axis=0), sps.trim_mean(x, 0.25, axis=0))
    np.testing.assert_allclose(iqm(x, axis=1), sps.trim_mean(x, 0.25, axis=1))
    assert iqm(x) == pytest.approx(sps.trim_mean(x.reshape(-1), 0.25))
    # robust to one wild seed, unlike the mean
    assert iqm([1.0, 2.0, 3.0, 4.0, 1000.0]) == pytest.approx(3.0)
    with pytest.raises(ValueError):
        iqm([])


def test_bootstrap_is_seeded_and_brackets_the_point() -> None:
    x = np.random.default_rng(1).normal(5.0, 2.0, size=10)
    a = interval(x, reps=500, seed=3)
    b = interval(x, reps=500, seed=3)
    c = interval(x, reps=500, seed=4)
    assert a == b and a != c
    assert a.low <= a.point <= a.high
    assert a.point == pytest.approx(iqm(x))


def test_percentile_interval_agrees_with_scipy_bootstrap() -> None:
    x = np.random.default_rng(2).normal(0.0, 1.0, size=40)
    ours = interval(x, statistic=np.mean, reps=4000, seed=0)
    ref = sps.bootstrap((x,), np.mean, n_resamples=4000, method="percentile", random_state=0).confidence_interval
    width = ref.high - ref.low
    assert abs(ours.low - ref.low) < 0.1 * width
    assert abs(ours.high - ref.high) < 0.1 * width


def test_interval_coverage_is_close_to_nominal() -> None:
    rng = np.random.default_rng(7)
    hits = 0
    trials = 300
    for i in range(trials):
        x = rng.normal(0.0, 1.0, size=30)
        ci = interval(x, statistic=np.mean, reps=1000, confidence=0.95, seed=i)
        hits += ci.low <= 0.0 <= ci.high
    assert 0.88 <= hits / trials <= 0.99


def test_stratified_bootstrap_keeps_each_task_size() -> None:
    # pooled mean is 0.7 in every stratified resample: 3 zeros and 7 ones are resampled separately
    point, low, high = stratified_bootstrap([np.zeros(3), np.ones(7)], statistic=np.mean, reps=300)
    assert point == low == high == pytest.approx(0.7)
    # without strata (one pooled task) the same data do vary
    _, low, high = stratified_bootstrap([np.r_[np.zeros(3), np.ones(7)]], statistic=np.mean, reps=300)
    assert high - low > 0.3


def test_stratified_bootstrap_ragged_tasks_and_bad_input() -> None:
    groups = [np.arange(5.0), np.arange(3.0) + 10, np.arange(8.0) * 2]
    point, low, high = stratified_bootstrap(groups, reps=200)
    assert point == pytest.approx(iqm(np.concatenate(groups)))
    assert low <= point <= high
    with pytest.raises(ValueError):
        stratified_bootstrap([np.arange(3.0), np.zeros(0)])
    with pytest.raises(ValueError):
        stratified_bootstrap(np.arange(3.0), confidence=1.5)


def test_bootstrap_curve_band_per_point() -> None:
    rng = np.random.default_rng(0)
    curves = np.linspace(0, 1, 20)[None, :] + rng.normal(0, 0.1, size=(6, 20))
    mid, low, high = bootstrap_curve(curves, reps=300)
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
