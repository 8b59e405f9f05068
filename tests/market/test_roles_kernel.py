"""The kernel's external-agent hooks: agent makers' quotes and the external seller (sim.py,
"External agents")."""

import math

import numpy as np
import pytest

from feedbackgym.envs.market import layout as L
from feedbackgym.envs.market.sim import HALT, MarketBatch, MarketSim, scenario_params

FIELDS = ("mid", "volume", "maker_net_inventory", "seller_executed_qty", "spread_ticks")


def _path(sim, n, before_step=None):
    out = []
    for t in range(n):
        if before_step is not None:
            before_step(sim, t)
        sim.step()
        out.append([getattr(sim, f) for f in FIELDS])
    return np.array(out, dtype=float)


def _sim(scenario="flash_crash", agents=0, seed=3, **kw):
    s = MarketSim(scenario_params(scenario, **kw), agent_makers=agents)
    s.reset(np.random.default_rng(seed))
    return s


def test_idle_agent_makers_leave_the_market_unchanged():
    a = _path(_sim(agents=0), 1500)
    b = _path(_sim(agents=3), 1500)
    assert np.array_equal(a, b, equal_nan=True)


def test_seller_rule_override_none_is_the_scenario_rule_and_zero_rate_sells_nothing():
    base = _path(_sim(seller_start_s=100), 600)
    same = _path(_sim(seller_start_s=100), 600, lambda s, t: s.set_seller_participation(None))
    assert np.array_equal(base, same, equal_nan=True)
    assert base[-1, 3] > 0
    zero = _path(_sim(seller_start_s=100), 600, lambda s, t: s.set_seller_participation(0.0))
    assert zero[-1, 3] == 0


def test_quotes_rest_around_the_mid_post_only_and_keep_priority():
    s = _sim(agents=1, scenario="calm")
    s.set_quotes(0, 3, 5, 4, 7)
    mid_ticks = s.mid / s.params.tick_size
    s.step()
    bid, ask = s.agent_quote_prices(0)
    tick = s.params.tick_size
    if not math.isnan(bid):
        assert bid / tick == math.ceil(mid_ticks) - 3
    if not math.isnan(ask):
        assert ask / tick == math.floor(mid_ticks) + 4
    # far quotes: rarely filled, never cancelled by the noise traders' hazard; placed again from an
    # unchanged mid with no fill in between, a quote keeps its order id (its time priority)
    s.set_quotes(0, 60, 5, 60, 5)
    s.step()
    mids, vols, oids = [s.mid], [int(s.agent_volume[0])], [s._b.aq[0, 0, [L.AQ_BID_OID, L.AQ_ASK_OID]].copy()]
    kept = 0
    for _ in range(300):
        s.step()
        mids.append(s.mid)
        vols.append(int(s.agent_volume[0]))
        oids.append(s._b.aq[0, 0, [L.AQ_BID_OID, L.AQ_ASK_OID]].copy())
        if len(mids) >= 3 and mids[-2] == mids[-3] and vols[-2] == vols[-3]:
            assert np.array_equal(oids[-1], oids[-2])
            kept += 1
    assert kept > 0
    # post-only: an offset of 1 never crosses the opposite best
    s.set_quotes(0, 1, 5, 1, 5)
    for _ in range(50):
        s.step()
        bid, ask = s.agent_quote_prices(0)
        if not math.isnan(bid) and not math.isnan(s.best_ask):
            assert bid < s.best_ask
        if not math.isnan(ask) and not math.isnan(s.best_bid):
            assert ask > s.best_bid


def test_agent_fills_book_keeping():
    s = _sim(agents=2)
    s.set_quotes(0, 1, 10, 1, 10)
    s.set_quotes(1, 2, 3, 5, 3)
    for _ in range(600):
        s.step()
    inv, cash, vol = s.agent_inventory, s.agent_cash, s.agent_volume
    assert vol[0] > 0 and vol[0] >= abs(inv[0])
    assert np.allclose(s.agent_pnl, cash + inv * s.mid)
    # the tight maker trades more than the wide one
    assert vol[0] > vol[1]
    # agent fills are not the rule makers'
    assert s.maker_cash.shape == (s.params.n_makers,)


def test_take_moves_inventory_by_the_filled_quantity():
    s = _sim(agents=1, scenario="calm")
    for _ in range(5):
        s.step()
    s.set_take(0, -7)
    s.step()
    assert s.agent_inventory[0] == -7 and s.agent_cash[0] > 0
    s.step()  # one-shot
    assert s.agent_inventory[0] == -7


def test_external_seller_child_orders_are_one_shot_and_void_in_halts():
    s = _sim(scenario="calm", seller_size=500, seller_start_s=0)
    s.set_seller_child(12)
    s.step()
    assert s.seller_executed_qty == 12 and s.seller_remaining == 488
    s.step()
    assert s.seller_executed_qty == 12
    s.set_seller_child(9)
    s.step(HALT)
    assert s.halted and s.seller_executed_qty == 12
    s.set_seller_child(10_000)  # capped at what is left
    while s.halted:
        s.step()
    s.set_seller_child(10_000)
    s.step()
    assert s.seller_remaining == 500 - s.seller_executed_qty
    assert s.seller_executed_value > 0


def test_reset_clears_instructions():
    s = _sim(agents=1, seller_start_s=0)
    s.set_quotes(0, 1, 5, 1, 5)
    s.set_seller_child(50)
    s.reset(np.random.default_rng(3))
    assert s._b.ctl[0, L.C_SELL_MODE] == L.SELL_RULE and s._b.ctl[0, L.C_N_AGENTS] == 1
    assert (s._b.aq[0, 0, :L.AQ_TAKE + 1] == 0).all()
    assert s.agent_inventory[0] == 0 and s.agent_cash[0] == 0


def test_batch_with_agents_equals_single_sims():
    params = [scenario_params("flash_crash", length_s=400, seller_start_s=50), scenario_params("calm", length_s=400)]
    b = MarketBatch(params, agent_makers=1)
    singles = [MarketSim(p, agent_makers=1) for p in params]
    for e, s in enumerate(singles):
        b.reset_one(e, np.random.default_rng(e))
        s.reset(np.random.default_rng(e))
    for t in range(400):
        for e, s in enumerate(singles):
            off = 1 + (t // 50 + e) % 3
            b.set_quotes(e, 0, off, 4, off + 1, 4)
            s.set_quotes(0, off, 4, off + 1, 4)
            if t % 7 == 0:
                b.set_seller_child(e, 5)
                s.set_seller_child(5)
        b.step([0, 0])
        for s in singles:
            s.step()
    for e, s in enumerate(singles):
        st = b.agent_state(e)
        assert np.array_equal(st["inventory"], s.agent_inventory)
        assert np.array_equal(st["cash"], s.agent_cash)
        assert np.array_equal(b.ist[e], s._b.ist[0])


@pytest.mark.parametrize("call, match", [
    (lambda s: s.set_quotes(0, 0, 5, 1, 5), "bid_offset_ticks"),
    (lambda s: s.set_quotes(0, 1, -1, 1, 5), "bid_size"),
    (lambda s: s.set_quotes(0, 1, 5, 1, 2.5), "ask_size"),
    (lambda s: s.set_quotes(1, 1, 5, 1, 5), "agent maker index"),
    (lambda s: s.set_take(0, 10**6), "take qty"),
    (lambda s: s.set_seller_child(-1), "seller child qty"),
    (lambda s: s.set_seller_participation(1.5), "seller participation"),
])
def test_bad_instructions_name_the_field(call, match):
    s = MarketSim(scenario_params("calm", length_s=10), agent_makers=1)
    with pytest.raises(ValueError, match=match):
        call(s)


def test_agent_makers_count_is_checked():
    with pytest.raises(ValueError, match="agent_makers"):
        MarketSim(scenario_params("calm"), agent_makers=L.MAXA + 1)
