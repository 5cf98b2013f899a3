"""The forecasting data layer on the real files (small slices) and on malformed copies."""

from __future__ import annotations

import numpy as np
import pytest

from causal_priors.errors import ConfigError, DataError
from forecasting.batch import SceneBatch
from forecasting.data import (
    DATA_ENV_VAR,
    SceneDataset,
    add_spurious_channel,
    default_data_root,
    load_eth_ucy,
    load_synthetic,
    make_synthetic_domain,
    split_train_val,
    spurious_channel,
)

ROOT = default_data_root()


def _synthetic_file(root, radius="0.1", split="val"):
    folder = root / "synthetic_v4" / split
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"orca_circle_crossing_2_ped_10_scenes_{radius}_radius_2.0_horizon.npz"


def _eth_file(root, text, name="biwi_hotel_train.txt", scene="eth", split="train"):
    folder = root / "eth_ucy" / scene / split
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(text)
    return folder / name


# ----------------------------------------------------------------------------------------------- root


def test_default_root_finds_shared_data():
    assert (ROOT / "synthetic_v4").is_dir() and (ROOT / "eth_ucy").is_dir()


def test_default_root_env_var(monkeypatch, tmp_path):
    monkeypatch.setenv(DATA_ENV_VAR, str(tmp_path))
    assert default_data_root() == tmp_path
    monkeypatch.setenv(DATA_ENV_VAR, str(tmp_path / "missing"))
    with pytest.raises(DataError, match=DATA_ENV_VAR):
        default_data_root()


# ------------------------------------------------------------------------------------------ synthetic


def test_load_synthetic_real_files_match_raw():
    ds = load_synthetic("val", [0.1, 0.6], max_scenes=50)
    assert ds.positions.shape == (100, 2, 20, 2) and ds.positions.dtype == np.float32
    assert ds.domain_names == ("0.1", "0.6")
    assert np.array_equal(np.bincount(ds.domain), [50, 50])
    assert ds.agent_mask.all() and ds.extra is None
    path = next((ROOT / "synthetic_v4" / "val").glob("*_0.6_radius_*.npz"))
    raw = np.load(path)["raw"][:50]
    np.testing.assert_array_equal(ds.positions[50:], raw.astype(np.float32))
    full = load_synthetic("test", [0.7])
    assert len(full) == len(np.load(next((ROOT / "synthetic_v4" / "test").glob("*_0.7_radius_*")))["raw"])


@pytest.mark.parametrize(
    "content, message",
    [
        ({"positions": np.zeros((3, 2, 20, 2))}, "missing key 'raw'"),
        ({"raw": np.zeros((3, 2, 19, 2))}, r"shape \(scenes>0, 2, 20, 2\)"),
        ({"raw": np.zeros((3, 3, 20, 2))}, r"got \(3, 3, 20, 2\)"),
        ({"raw": np.full((3, 2, 20, 2), np.nan)}, "NaN"),
    ],
)
def test_load_synthetic_rejects_malformed(tmp_path, content, message):
    path = _synthetic_file(tmp_path)
    np.savez(path, **content)
    with pytest.raises(DataError, match=message) as err:
        load_synthetic("val", [0.1], root=tmp_path)
    assert str(path) in str(err.value)


def test_load_synthetic_rejects_missing_and_garbage(tmp_path):
    with pytest.raises(DataError, match="no file for radius 0.2"):
        load_synthetic("val", [0.2], root=tmp_path)
    path = _synthetic_file(tmp_path, "0.3")
    path.write_bytes(b"not a zip archive")
    with pytest.raises(DataError, match="cannot read"):
        load_synthetic("val", [0.3], root=tmp_path)
    with pytest.raises(DataError, match="'val' or 'test'"):
        load_synthetic("train", [0.1])


def test_make_synthetic_domain_concat_with_files():
    sim = make_synthetic_domain(0.1, 16, seed=3)
    assert sim.positions.shape == (16, 2, 20, 2) and sim.domain_names == ("0.1",)
    files = load_synthetic("val", [0.1, 0.3], max_scenes=8)
    both = SceneDataset.concat([files, sim])
    assert both.domain_names == ("0.1", "0.3") and len(both) == 32
    assert np.array_equal(np.bincount(both.domain), [24, 8])
    np.testing.assert_array_equal(make_synthetic_domain(0.1, 16, seed=3).positions, sim.positions)


# ------------------------------------------------------------------------------------- split, batches


def test_split_train_val_deterministic_and_per_domain():
    ds = load_synthetic("val", [0.1, 0.3, 0.5], max_scenes=100)
    train, val = split_train_val(ds, n_train_per_domain=80, seed=0)
    assert np.array_equal(np.bincount(train.domain), [80, 80, 80])
    assert np.array_equal(np.bincount(val.domain), [20, 20, 20])
    key = lambda d: {p.tobytes() for p in d.positions}  # noqa: E731
    assert key(train).isdisjoint(key(val)) and key(train) | key(val) == key(ds)
    again, _ = split_train_val(ds, n_train_per_domain=80, seed=0)
    np.testing.assert_array_equal(again.positions, train.positions)
    other, _ = split_train_val(ds, n_train_per_domain=80, seed=1)
    assert not np.array_equal(other.positions, train.positions)
    # A domain's split does not depend on which other domains were loaded with it.
    alone, _ = split_train_val(load_synthetic("val", [0.3], max_scenes=100), n_train_per_domain=80, seed=0)
    np.testing.assert_array_equal(alone.positions, train.by_domain()["0.3"].positions)
    with pytest.raises(DataError, match="domain '0.1' has 100 scenes"):
        split_train_val(ds, n_train_per_domain=100)


def test_batches_cover_every_scene_and_trim_agents():
    ds = load_eth_ucy("eth", "val")
    assert ds.positions.shape[1] == ds.num_agents.max()
    seen = []
    for batch in ds.batches(64, shuffle=True, rng=np.random.default_rng(0)):
        assert isinstance(batch, SceneBatch)
        assert batch.positions.shape[1] == int(batch.agent_mask.sum(1).max())
        seen.append(batch.positions.shape[0])
    assert sum(seen) == len(ds)
    a = [b.domain for b in ds.batches(50, shuffle=True, rng=np.random.default_rng(1))]
    b = [b.domain for b in ds.batches(50, shuffle=True, rng=np.random.default_rng(1))]
    assert all(bool((x == y).all()) for x, y in zip(a, b, strict=True))
    assert len(list(ds.batches(64, drop_last=True))) == len(ds) // 64
    with pytest.raises(ValueError, match="rng"):
        next(ds.batches(8, shuffle=True))
    whole = ds.to_batch()
    assert whole.num_scenes == len(ds) and whole.domain_names == ds.domain_names


def test_grouped_batches_cover_every_scene_with_less_padding():
    ds = load_eth_ucy("eth", "val")

    def run(group):
        return list(ds.batches(32, shuffle=True, rng=np.random.default_rng(3), drop_last=True, group_by_agents=group))

    plain, grouped = run(0), run(4)
    assert len(grouped) == len(plain) == len(ds) // 32
    assert all(b.num_scenes == 32 for b in grouped)
    ids = lambda batches: sorted(int(x) for b in batches for x in b.positions[:, 0, 0, 0].mul(1e4).round())  # noqa: E731
    assert ids(grouped) == ids(plain)  # the same scenes (those the shuffle keeps), only regrouped
    padded = lambda batches: sum(b.positions.shape[1] * b.num_scenes for b in batches)  # noqa: E731
    assert padded(grouped) < 0.7 * padded(plain)
    again = run(4)
    assert all(bool((a.positions == b.positions).all()) for a, b in zip(grouped, again, strict=True))


def test_subset_by_domain_concat_eth():
    train = load_eth_ucy("hotel", "train", max_scenes=30)
    parts = train.by_domain()
    assert list(parts) == list(train.domain_names) == ["eth", "univ", "zara1", "zara2"]
    assert sum(len(p) for p in parts.values()) == len(train)
    for name, part in parts.items():
        assert (np.asarray(part.domain_names)[part.domain] == name).all()
    merged = SceneDataset.concat([parts["zara1"], load_synthetic("val", [0.1], max_scenes=5)])
    assert merged.domain_names == ("eth", "univ", "zara1", "zara2", "0.1")
    assert (merged.agent_mask.sum(1)[-5:] == 2).all()


# ------------------------------------------------------------------------------------------- ETH/UCY


def test_load_eth_ucy_real_splits():
    test = load_eth_ucy("eth", "test")
    assert test.domain_names == ("eth",) and len(test) > 100
    assert test.positions.shape[2:] == (20, 2)
    # Padded slots are zero and come after the real agents.
    k = test.num_agents
    assert (test.agent_mask == (np.arange(test.positions.shape[1]) < k[:, None])).all()
    assert (test.positions[~test.agent_mask] == 0).all()
    step = np.linalg.norm(np.diff(test.positions, axis=2), axis=-1)[test.agent_mask]
    assert 0.1 < step.mean() < 1.0  # walking speeds, metres per 0.4 s
    univ = load_eth_ucy("univ", "test", max_scenes=5)
    assert univ.domain_names == ("univ",) and len(univ) == 10  # students001 + students003
    zara = load_eth_ucy("zara1", "val", max_scenes=3)
    assert zara.domain_names == ("eth", "hotel", "univ", "zara2")
    assert np.array_equal(np.bincount(zara.domain), [3, 3, 9, 6])


def test_eth_ucy_sliding_window_hand_case(tmp_path):
    # 21 frames; ped 1 in all of them, ped 2 in frames 0-19 only, ped 3 in frames 1-20 with a gap.
    rows = []
    for f in range(21):
        rows.append(f"{f * 10}\t1\t{0.4 * f}\t0.0")
        if f < 20:
            rows.append(f"{f * 10}\t2\t0.0\t{0.3 * f}")
        if f >= 1 and f != 10:
            rows.append(f"{f * 10}\t3\t1.0\t1.0")
    _eth_file(tmp_path, "\n".join(rows) + "\n")
    ds = load_eth_ucy("eth", "train", root=tmp_path)
    assert ds.domain_names == ("hotel",) and len(ds) == 2  # windows starting at frame ids 0 and 10
    np.testing.assert_array_equal(ds.num_agents, [2, 1])
    np.testing.assert_allclose(ds.positions[0, 1, :, 1], 0.3 * np.arange(20), rtol=1e-6)
    np.testing.assert_allclose(ds.positions[1, 0, :, 0], 0.4 * np.arange(1, 21), rtol=1e-6)
    assert len(load_eth_ucy("eth", "train", root=tmp_path, min_agents=2)) == 1


@pytest.mark.parametrize("bad_line", ["10\t1\t0.5", "10\t1\tabc\t0.5", "10\t1\t0.5\t0.5\t7", "10\t1\tnan\t0.5"])
def test_eth_ucy_rejects_malformed_rows(tmp_path, bad_line):
    text = "0\t1\t0.0\t0.0\n" + bad_line + "\n"
    path = _eth_file(tmp_path, text, name="crowds_zara01_train.txt")
    with pytest.raises(DataError, match="frame ped x y") as err:
        load_eth_ucy("eth", "train", root=tmp_path)
    assert f"{path}:2:" in str(err.value)


def test_eth_ucy_rejects_unknown_files_and_args(tmp_path):
    _eth_file(tmp_path, "0\t1\t0.0\t0.0\n", name="mystery.txt")
    with pytest.raises(DataError, match="unknown source scene"):
        load_eth_ucy("eth", "train", root=tmp_path)
    with pytest.raises(DataError, match="no .txt files"):
        load_eth_ucy("hotel", "val", root=tmp_path)
    with pytest.raises(DataError, match="test scene"):
        load_eth_ucy("paris", "train")


# ------------------------------------------------------------------------------------ spurious channel


def test_spurious_channel_formula():
    rng = np.random.default_rng(0)
    pos = rng.normal(size=(3, 2, 20, 2)).astype(np.float32)
    mask = np.array([[True, True], [True, False], [True, True]])
    ds = SceneDataset(pos, mask, np.array([0, 1, 1]), ("hotel", "univ"))
    out = add_spurious_channel(ds, {"hotel": 2.0, "univ": 8.0})
    assert out.extra.shape == (3, 2, 8, 1)
    for n, alpha in enumerate([2.0, 8.0, 8.0]):
        for k in range(2):
            x = pos[n, k].astype(np.float64)
            v = [np.zeros(2)] + [x[t] - x[t - 1] for t in range(1, 20)]
            expected = [alpha * (np.linalg.norm(v[t + 8] - v[t]) + 1.0) * mask[n, k] for t in range(8)]
            np.testing.assert_allclose(out.extra[n, k, :, 0], expected, rtol=1e-5)
    twice = add_spurious_channel(out, 1.0)
    assert twice.extra.shape == (3, 2, 8, 2)
    np.testing.assert_allclose(twice.extra[..., 1] * 8.0, spurious_channel(pos, mask, np.full(3, 8.0), 8)[..., 0])
    with pytest.raises(ConfigError, match="univ"):
        add_spurious_channel(ds, {"hotel": 1.0})


def test_spurious_channel_on_real_scenes_and_batches():
    ds = add_spurious_channel(
        load_eth_ucy("zara2", "val", max_scenes=4), {"eth": 1, "hotel": 2, "univ": 4, "zara1": 8, "zara2": 16}
    )
    batch = ds.to_batch()
    assert batch.extra is not None and batch.extra.shape[:3] == batch.positions.shape[:2] + (8,)
    real = batch.extra[..., 0][batch.agent_mask]
    alphas = np.array([1, 2, 4, 8, 16])[batch.domain.numpy()]
    assert (real.numpy() >= np.repeat(alphas, batch.agent_mask.sum(1).numpy())[:, None] - 1e-5).all()


def test_reference_scenes_may_not_eat_the_test_set():
    from forecasting.splits import split_reference

    ds = load_eth_ucy("eth", "test", min_agents=2)  # 70 windows
    with pytest.raises(ConfigError, match="reference_scenes=64 would leave 6 of the 70"):
        split_reference(ds, 64)
    reference, scored = split_reference(ds, 0)
    assert len(reference) == 0 and len(scored) == len(ds)
    reference, scored = split_reference(ds, 8)
    assert len(reference) == 8 and len(scored) == len(ds) - 8
