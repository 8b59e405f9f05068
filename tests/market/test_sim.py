"""MarketSim: determinism, batch equality, halts and reopening auctions, bands, bad input."""

import math

import numpy as np
import pytest

from feedbackgym.envs.market.sim import (CONTINUE, HALT, HALT_HALT, HALT_PAUSE, PAUSE, STATE_FIELDS,
                                         TIGHTEN_BANDS, WIDEN_BANDS, MarketBatch, MarketParams, MarketSim,
                                         scenario_params)

SHORT = dict(length_s=600)


def _run(params, seed, n, actions=None):
    sim = MarketSim(params)
    sim.reset(np.random.default_rng(seed))
    snaps = []
    for k in range(n):
        sim.step(CONTINUE if actions is None else actions[k])
        snaps.append(sim.snapshot())
    return sim, snaps


def test_same_seed_same_market_different_seed_different_market():
    p = scenario_params("calm", **SHORT)
    _, a = _run(p, 3, 120)
    _, b = _run(p, 3, 120)
    _, c = _run(p, 4, 120)
    assert repr(a) == repr(b)  # NaN-aware equality
    assert [s["mid"] for s in a] != [s["mid"] for s in c]


def test_snapshot_has_every_state_field_as_python_values():
    sim, snaps = _run(scenario_params("calm", **SHORT), 0, 5)
    s = snaps[-1]
    assert set(s) == set(STATE_FIELDS)
    assert all(isinstance(v, (bool, int, float, list)) for v in s.values())
    assert len(s["depth_bid"]) == sim.params.depth_levels
    assert s["t_s"] == 5 and not s["done"]
    assert s["best_bid"] < s["best_ask"] and s["spread_ticks"] >= 1
    assert s["volume"] == s["buy_volume"] + s["sell_volume"] + s["auction_volume"]
    assert math.isnan(s["indicative_price"]) and not s["halted"]


def test_batch_equals_single_markets():
    ps = [scenario_params("calm", **SHORT), scenario_params("flash_crash", seller_start_s=10, length_s=600)]
    batch = MarketBatch(ps)
    for e in range(2):
        batch.reset_one(e, np.random.default_rng(10 + e))
    singles = []
    for e, p in enumerate(ps):
        s = MarketSim(p)
        s.reset(np.random.default_rng(10 + e))
        singles.append(s)
    for _ in range(60):
        batch.step(np.array([CONTINUE, CONTINUE]))
        for s in singles:
            s.step(CONTINUE)
    for e, s in enumerate(singles):
        assert np.array_equal(batch.ist[e], s._b.ist[0])
        assert np.array_equal(batch.lv[e], s._b.lv[0])
        np.testing.assert_array_equal(batch.fst[e], s._b.fst[0])


def test_pause_is_a_reserved_state_then_an_auction():
    p = scenario_params("calm", pause_s=5, **SHORT)
    actions = [CONTINUE] * 10 + [PAUSE] + [CONTINUE] * 10
    sim, snaps = _run(p, 1, len(actions), actions)
    halted = [s["halted"] for s in snaps]
    # five halted seconds (steps 10..14); the auction closes the fifth, so its state shows trading again
    assert halted[:10] == [False] * 10
    assert halted[10:14] == [True] * 4 and halted[14] is False
    assert all(snaps[k]["halt_kind"] == HALT_PAUSE for k in range(10, 14))
    assert [snaps[k]["halt_remaining_s"] for k in range(10, 15)] == [4, 3, 2, 1, 0]
    for k in range(10, 14):  # orders accepted, none matched
        assert snaps[k]["volume"] == 0 and snaps[k]["n_trades"] == 0
    assert sim.n_halts == 1 and sim.halted_s_total == 5
    assert snaps[14]["volume"] >= snaps[14]["auction_volume"] > 0  # the reopening auction matched
    assert any(not math.isnan(snaps[k]["indicative_price"]) for k in range(10, 14))


def test_halt_upgrades_a_pause_and_lasts_halt_s():
    p = scenario_params("calm", pause_s=5, halt_s=20, **SHORT)
    actions = [PAUSE, CONTINUE, HALT] + [CONTINUE] * 25
    sim, snaps = _run(p, 2, len(actions), actions)
    assert snaps[2]["halt_kind"] == HALT_HALT
    assert sum(s["halted"] for s in snaps) == 21 and sim.halted_s_total == 22 and sim.n_halts == 1


def test_bands_widen_and_tighten():
    p = scenario_params("calm", band_pct=5.0, band_min_pct=1.25, band_max_pct=10.0, **SHORT)
    sim = MarketSim(p)
    sim.reset(np.random.default_rng(0))
    sim.step(CONTINUE)
    ref = sim.reference_price
    assert sim.band_low == pytest.approx(ref * 0.95, abs=p.tick_size)
    assert sim.band_high == pytest.approx(ref * 1.05, abs=p.tick_size)
    sim.step(WIDEN_BANDS)
    assert sim.band_pct_now == 10.0
    sim.step(WIDEN_BANDS)
    assert sim.band_pct_now == 10.0
    for _ in range(4):
        sim.step(TIGHTEN_BANDS)
    assert sim.band_pct_now == 1.25
    sim.run(200)
    assert sim.band_low <= sim.last_price <= sim.band_high


def test_no_bands_by_default_and_none_means_nan():
    sim, snaps = _run(scenario_params("calm", **SHORT), 0, 3)
    assert sim.band_pct_now == 0 and math.isnan(sim.band_low) and math.isnan(sim.band_high)


def test_episode_ends_at_length():
    sim = MarketSim(scenario_params("calm", length_s=5))
    sim.reset(np.random.default_rng(0))
    out = sim.run()
    assert sim.done and len(out["mid"]) == 5
    with pytest.raises(RuntimeError):
        sim.step(CONTINUE)


def test_bad_input_names_the_field():
    with pytest.raises(ValueError, match="MarketParams.seller_participation"):
        scenario_params("flash_crash", seller_participation=1.5)
    with pytest.raises(ValueError, match="unknown field"):
        scenario_params("calm", sellr_size=3)
    with pytest.raises(ValueError, match="scenario"):
        scenario_params("crash")
    with pytest.raises(ValueError, match="band_min_pct"):
        MarketParams(band_min_pct=30.0, band_max_pct=20.0)
    sim = MarketSim(scenario_params("calm", **SHORT))
    sim.reset(np.random.default_rng(0))
    with pytest.raises(ValueError, match="regulator action"):
        sim.step(7)
    with pytest.raises(ValueError, match="Generator"):
        sim.reset(0)


def test_batch_with_different_population_sizes_steps_each_market_on_its_own_tables():
    small = scenario_params("calm", n_fundamental=10, stop_orders=20, **SHORT)
    big = scenario_params("calm", **SHORT)
    batch = MarketBatch([small, big])
    batch.reset_one(0, np.random.default_rng(5))
    batch.reset_one(1, np.random.default_rng(6))
    alone = MarketSim(small)
    alone.reset(np.random.default_rng(5))
    for _ in range(30):
        batch.step([CONTINUE, CONTINUE])
        alone.step(CONTINUE)
    assert np.array_equal(batch.ist[0], alone._b.ist[0])
    with pytest.raises(ValueError, match="larger trader tables"):
        batch.reset_one(0, np.random.default_rng(0), scenario_params("calm", n_fundamental=500))
    with pytest.raises(ValueError, match="regulator action"):
        batch.step([CONTINUE, 9])
