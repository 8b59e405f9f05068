"""Episode metrics and reward components on synthetic per-second paths (no simulator needed)."""

import math

import pytest

from feedbackgym.envs.market.metrics import COMPONENTS, COMPOSITE_WEIGHTS, METRIC_NAMES, EpisodeMetrics


def snap(t, mid, **kw):
    s = {"t_s": t + 1, "mid": mid, "spread_ticks": 1.0, "depth_bid_near": 100.0, "volume": 10.0,
         "halted": False, "fundamental": 100.0, "maker_volume": 6.0, "maker_net_inventory": 0.0,
         "fundamental_volume": 2.0, "seller_executed_qty": 0, "seller_executed_value": 0.0,
         "seller_remaining": 0}
    s.update(kw)
    return s


def v_crash(shock=100, fall=5.0, down_s=50, up_s=100, length=600):
    """Flat at 100, a linear fall of ``fall``% over ``down_s`` s, a linear full recovery over ``up_s`` s."""
    path = []
    for t in range(length):
        if t < shock:
            p = 100.0
        elif t < shock + down_s:
            p = 100.0 - fall * (t - shock + 1) / down_s
        elif t < shock + down_s + up_s:
            p = 100.0 - fall + fall * (t - shock - down_s + 1) / up_s
        else:
            p = 100.0
        path.append(p)
    return path


def run(path, states=None, **kw):
    m = EpisodeMetrics(shock_s=kw.pop("shock_s", 100), length_s=len(path), **kw)
    comps = []
    for t, p in enumerate(path):
        extra = states(t, p) if states else {}
        comps.append(m.update(snap(t, extra.pop("mid", p), **extra)))
    return m.result(), comps


def test_every_metric_is_reported_and_finite():
    res, comps = run(v_crash())
    assert set(res) == set(METRIC_NAMES)
    assert all(math.isfinite(v) for v in res.values())
    assert all(set(c) == set(COMPONENTS) for c in comps)


def test_drawdown_trough_and_retracement_of_a_v():
    res, _ = run(v_crash(fall=5.0, down_s=50, up_s=100))
    assert res["max_drawdown_pct"] == pytest.approx(5.0)
    assert res["time_to_trough_s"] == 49
    assert res["retrace_50_s"] == 50 and res["retraced_50"] == 1.0     # half of 100 s of linear recovery
    assert res["retrace_90_s"] == 90 and res["retraced_90"] == 1.0


def test_retracement_is_censored_when_it_never_happens():
    path = [100.0] * 100 + [95.0] * 200
    res, _ = run(path)
    assert res["retraced_50"] == 0.0 and res["retrace_50_s"] == 299 - 100


def test_halts_spreads_and_depth():
    def states(t, p):
        halted = 200 <= t < 205 or 300 <= t < 310
        return {"halted": halted, "spread_ticks": 1.0 if t < 100 else 9.0,
                "depth_bid_near": 100.0 if t < 100 else (2.0 if t == 149 else 50.0)}
    res, comps = run(v_crash(), states)
    assert res["halted_s"] == 15 and res["n_halts"] == 2
    assert res["spread_calm_ticks"] == 1.0 and res["spread_stress_ticks"] == 9.0
    assert res["depth_trough_frac"] == pytest.approx(0.02)
    assert res["min_depth_frac"] == pytest.approx(0.02)
    assert sum(c["halted_s"] for c in comps) == 15
    assert comps[150]["spread_excess_ticks"] == 8.0


def test_empty_book_side_counts_as_the_spread_cap():
    _, comps = run([100.0] * 10, lambda t, p: {"spread_ticks": math.nan}, shock_s=5)
    assert comps[0]["spread_excess_ticks"] == 99.0


def test_hot_potato_and_maker_share():
    # makers trade 6 of every 10 contracts' 20 sides while their net inventory moves 30 in total
    res, _ = run(v_crash(), lambda t, p: {"maker_net_inventory": min(max(t - 100, 0), 30)})
    stress_s = 900
    assert res["maker_volume_share"] == pytest.approx(0.3)
    assert res["hot_potato_ratio"] == pytest.approx(6.0 * (600 - 100) / 30.0)   # the whole rest is stress
    assert stress_s > 500


def test_seller_completion_and_shortfall():
    def states(t, p):
        sold = min(max(t - 99, 0), 100)
        return {"seller_executed_qty": sold, "seller_executed_value": sold * 99.0, "seller_remaining": 100 - sold}
    res, _ = run([100.0] * 400, states, seller_size=100)
    assert res["seller_completion_s"] == 99 and res["seller_done"] == 1.0
    assert res["seller_shortfall_bps"] == pytest.approx(100.0)


def test_dislocation_lost_volume_magnet_and_composite():
    # a 2% dislocation throughout; a 10 s halt at 200; after the reopening the mid falls 1% below it
    def states(t, p):
        return {"fundamental": 102.0, "halted": 200 <= t < 210, "mid": 100.0 if t < 215 else 99.0}
    res, comps = run([100.0] * 400, states)
    assert res["mean_dislocation_pct"] == pytest.approx(
        (215 * 2.0 / 102 * 100 + 185 * 3.0 / 102 * 100) / 400)
    assert comps[205]["lost_fundamental_volume"] == pytest.approx(2.0)
    assert comps[199]["lost_fundamental_volume"] == 0.0
    assert comps[210]["magnet_pct"] == 0.0
    assert comps[220]["magnet_pct"] == pytest.approx(1.0)
    assert comps[400 - 1]["magnet_pct"] == 0.0              # the window is 120 s
    total = sum(sum(COMPOSITE_WEIGHTS[k] * c[k] for k in COMPONENTS) for c in comps)
    assert res["composite_loss"] == pytest.approx(total / 400)


def test_calm_day_uses_the_shock_second_as_a_placebo():
    from types import SimpleNamespace

    from feedbackgym.envs.market.metrics import shock_time_s
    assert shock_time_s(SimpleNamespace(seller_size=0, news_time_s=-1, seller_start_s=900, length_s=23400)) == 900
    assert shock_time_s(SimpleNamespace(seller_size=0, news_time_s=600, seller_start_s=900, length_s=3600)) == 600
    assert shock_time_s(SimpleNamespace(seller_size=10, news_time_s=600, seller_start_s=900, length_s=3600)) == 900
    assert shock_time_s(SimpleNamespace(seller_size=10, news_time_s=-1, seller_start_s=900, length_s=300)) == 299
