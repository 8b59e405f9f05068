"""Circuit-breaker rules on synthetic price paths (no simulator needed)."""

import math

import pytest

from feedbackgym.envs.market import sim
from feedbackgym.envs.market.breakers import (
    BREAKERS, CONTINUE, HALT, PAUSE, TIGHTEN_BANDS, WIDEN_BANDS, DynamicCircuitBreaker, LimitUpLimitDown,
    MarketWideCircuitBreaker, StopLogic, make_breaker)


class HaltClock:
    """The simulator's halt timer as the rules assume it: PAUSE -> at least pause_s left, HALT -> at
    least halt_s left, counting down one second per step, trading again when it reaches 0."""

    def __init__(self, pause_s=5.0, halt_s=300.0):
        self.pause_s, self.halt_s, self.remaining = pause_s, halt_s, 0.0
        self.halted_s = 0
        self.halts = 0

    def apply(self, action):
        if action in (PAUSE, HALT):
            if self.remaining <= 0:
                self.halts += 1
            self.remaining = max(self.remaining, self.pause_s if action == PAUSE else self.halt_s)
        if self.remaining > 0:
            self.halted_s += 1
            self.remaining -= 1.0

    def view(self):
        return {"halted": self.remaining > 0, "halt_remaining_s": self.remaining}


def run(rule, prices, *, spread=0.01, volume=10.0, session=None, extra=None, clock=None):
    """Feed ``prices`` (one a second) to ``rule``; returns the actions and the halt clock."""
    clock = clock or HaltClock()
    rule.reset(session or {})
    actions = []
    for t, p in enumerate(prices):
        state = {"t_s": float(t), "mid": p, "last_price": p, "best_bid": p - spread / 2,
                 "best_ask": p + spread / 2, "volume": volume, "open_price": prices[0], **clock.view()}
        if extra is not None:
            state.update(extra(t, p))
        a = rule.decide(state)
        actions.append(a)
        clock.apply(a)
    return actions, clock


def flat(n, p=100.0):
    return [p] * n


def test_every_rule_is_quiet_on_a_flat_market():
    for name in BREAKERS:
        actions, clock = run(make_breaker(name), flat(4000))
        assert set(actions) == {CONTINUE}, name
        assert clock.halts == 0


def test_unknown_rule_and_bad_parameters_raise():
    with pytest.raises(ValueError, match="unknown circuit breaker 'ludl'"):
        make_breaker("ludl")
    with pytest.raises(ValueError, match="stop_logic.move_pct"):
        StopLogic(move_pct=-1)
    with pytest.raises(ValueError, match="mwcb.levels_pct"):
        MarketWideCircuitBreaker(levels_pct=(13, 7, 20))


def test_stop_logic_pauses_5_s_on_a_fast_drop_and_not_on_a_slow_one():
    fast = flat(60) + [100.0 - 0.2 * k for k in range(1, 11)] + flat(60, 98.0)   # -2% in 10 s
    actions, clock = run(StopLogic(move_pct=1.0, window_s=15), fast)
    first = actions.index(PAUSE)
    assert 60 < first <= 66                         # fires once the move reaches 1%
    assert clock.halts == 1 and clock.halted_s == 5  # one 5-s reserved state
    slow = [100.0 - 0.02 * k for k in range(200)]   # -4% over 200 s: 0.3% per 15 s
    actions, clock = run(StopLogic(move_pct=1.0, window_s=15), slow)
    assert clock.halts == 0


def test_stop_logic_default_lets_a_1_2_pct_leg_run_and_pauses_the_6_may_last_leg():
    # the default (1.5 % in 15 s) lies between: 2:45:13-2:45:27 fell 1.7 % before the pause
    assert StopLogic().move_pct == 1.5 and make_breaker("stop_logic").move_pct == 1.5
    leg_1_2 = flat(60) + [100.0 - 0.1 * k for k in range(1, 13)] + flat(60, 98.8)    # -1.2 % in 12 s
    _, clock = run(StopLogic(), leg_1_2)
    assert clock.halts == 0
    leg_1_7 = flat(60) + [100.0 - 0.12 * k for k in range(1, 15)] + flat(60, 98.32)  # -1.7 % in 14 s
    actions, clock = run(StopLogic(), leg_1_7)
    assert clock.halts == 1 and 60 + 12 <= actions.index(PAUSE) <= 60 + 14         # once the leg passes 1.5 %


def test_stop_logic_rearms_after_the_pause():
    # two separate fast legs, a minute apart: two pauses
    path = flat(30) + [100 - 0.3 * k for k in range(1, 6)] + flat(60, 98.5) + \
        [98.5 - 0.3 * k for k in range(1, 6)] + flat(30, 97.0)
    _, clock = run(StopLogic(), path)
    assert clock.halts == 2


def test_dynamic_cb_halts_two_minutes_on_a_3_5_pct_move():
    path = [100.0 - 0.01 * k for k in range(400)] + flat(400, 96.0)   # -4% in 400 s
    actions, clock = run(DynamicCircuitBreaker(), path)
    first = actions.index(PAUSE)
    assert abs(path[first] / 100.0 - 1) >= 0.035 and abs(path[first - 1] / 100.0 - 1) < 0.035
    assert clock.halts == 1
    assert 120 <= clock.halted_s < 120 + 5       # held with PAUSE: ends within pause_s of 2 min


def test_dynamic_cb_compares_with_the_price_an_hour_ago():
    # -4% spread over 2 hours: never 3.5% within 60 minutes
    path = [100.0 * (1 - 0.04 * k / 7200) for k in range(7200)]
    _, clock = run(DynamicCircuitBreaker(), path)
    assert clock.halts == 0


def test_luld_limit_state_for_15_s_pauses_5_minutes():
    # a collapse to 93: the offer sits below the 5% band for good
    path = flat(600) + [100.0 - 0.5 * k for k in range(1, 15)] + flat(400, 93.0)
    actions, clock = run(LimitUpLimitDown(), path, session={"day_offset_s": 3600})
    first = actions.index(HALT)
    below = next(t for t, p in enumerate(path) if p + 0.005 <= 95.0)
    assert first == below + 14                     # 15 s of limit state, counting the first second
    assert clock.halts == 1 and clock.halted_s == 300


def test_luld_bands_double_at_the_open_and_close():
    path = flat(300) + flat(300, 93.0)              # a 7% gap: inside doubled bands only
    _, open_clock = run(LimitUpLimitDown(), path, session={"day_offset_s": 0})
    _, mid_clock = run(LimitUpLimitDown(), path, session={"day_offset_s": 3600})
    _, close_clock = run(LimitUpLimitDown(), path, session={"day_offset_s": 23_400 - 1200})
    assert open_clock.halts == 0 and close_clock.halts == 0 and mid_clock.halts == 1


def test_luld_limit_state_that_clears_in_time_does_not_pause():
    path = flat(600) + flat(10, 94.0) + flat(300, 99.0)   # 10 s at the band, then back
    _, clock = run(LimitUpLimitDown(), path, session={"day_offset_s": 3600})
    assert clock.halts == 0


def test_luld_tier_2_bands_are_10_pct():
    path = flat(600) + flat(100, 93.0)
    _, clock = run(LimitUpLimitDown(band_pct=10.0), path, session={"day_offset_s": 3600})
    assert clock.halts == 0


def test_luld_steers_the_simulators_own_bands():
    rule = LimitUpLimitDown(steer_sim_bands=True)
    rule.reset({"day_offset_s": 3600})
    base = {"t_s": 0.0, "mid": 100.0, "last_price": 100.0, "best_bid": 99.99, "best_ask": 100.01,
            "volume": 1.0, "halted": False, "halt_remaining_s": 0.0}
    rule.decide(base)                                # the first price sets the reference
    assert rule.decide({**base, "t_s": 0.5, "band_low": 80.0, "band_high": 120.0}) == TIGHTEN_BANDS
    assert rule.decide({**base, "t_s": 1.0, "band_low": 99.0, "band_high": 101.0}) == WIDEN_BANDS
    assert rule.decide({**base, "t_s": 2.0, "band_low": 95.0, "band_high": 105.0}) == CONTINUE
    assert rule.decide({**base, "t_s": 3.0, "band_low": math.nan, "band_high": math.nan}) == CONTINUE
    # the simulator's bands are off: switch them on, then step them down to 5%
    assert rule.decide({**base, "t_s": 4.0, "band_pct_now": 0.0}) == TIGHTEN_BANDS
    assert rule.decide({**base, "t_s": 5.0, "band_pct_now": 20.0}) == TIGHTEN_BANDS
    assert rule.decide({**base, "t_s": 6.0, "band_pct_now": 10.0}) == TIGHTEN_BANDS
    assert rule.decide({**base, "t_s": 7.0, "band_pct_now": 5.0}) == CONTINUE
    assert rule.decide({**base, "t_s": 8.0, "band_pct_now": 2.5}) == WIDEN_BANDS


def test_luld_leaves_the_simulators_bands_alone_by_default():
    # the simulator rests the unfilled rest of a market order at its band: in a thin book that
    # moves the market to the band, so by default the rule keeps its own bands
    rule = LimitUpLimitDown()
    rule.reset({"day_offset_s": 3600})
    base = {"t_s": 0.0, "mid": 100.0, "last_price": 100.0, "best_bid": 99.99, "best_ask": 100.01,
            "volume": 1.0, "halted": False, "halt_remaining_s": 0.0, "band_pct_now": 0.0}
    assert [rule.decide({**base, "t_s": float(t)}) for t in range(5)] == [CONTINUE] * 5


def test_luld_counts_the_simulators_limit_state_timer():
    rule = LimitUpLimitDown()
    rule.reset({"day_offset_s": 3600})
    base = {"mid": 100.0, "last_price": 100.0, "best_bid": 99.99, "best_ask": 100.01, "volume": 1.0,
            "halted": False, "halt_remaining_s": 0.0}
    assert rule.decide({**base, "t_s": 0.0, "limit_state_s": 3.0}) == CONTINUE
    assert rule.decide({**base, "t_s": 1.0, "limit_state_s": 15.0}) == HALT


def test_mwcb_levels():
    # 8% down at 10:30: level 1, a 15-minute halt; then 14% down: level 2; then 21%: closed
    path = flat(60) + flat(1000, 92.0) + flat(1000, 86.0) + flat(2000, 79.0)
    actions, clock = run(MarketWideCircuitBreaker(), path, session={"day_offset_s": 3600})
    assert clock.halts == 3
    assert actions[60] == HALT
    assert [t for t, a in enumerate(actions) if a == HALT] == [60, 1060, 2060]
    # 15 + 15 minutes, then closed to the end of the path (held with PAUSE)
    assert 900 + 900 + (len(path) - 2060) <= clock.halted_s < 900 + 900 + (len(path) - 2060) + 10


def test_mwcb_level_1_after_3_25_pm_does_not_halt_but_level_3_does():
    late = 23_400 - 1800                          # 3:30 pm
    path = flat(60) + flat(300, 92.0)
    _, clock = run(MarketWideCircuitBreaker(), path, session={"day_offset_s": late})
    assert clock.halts == 0
    path = flat(60) + flat(300, 79.0)
    _, clock = run(MarketWideCircuitBreaker(), path, session={"day_offset_s": late})
    assert clock.halts == 1 and clock.halted_s == 300


def test_level_1_triggers_only_once_a_day():
    path = flat(60) + flat(1000, 92.0) + flat(300, 100.0) + flat(1000, 92.0)
    _, clock = run(MarketWideCircuitBreaker(), path, session={"day_offset_s": 3600})
    assert clock.halts == 1


def test_actions_are_the_simulators():
    from feedbackgym.envs.market import breakers
    assert (breakers.CONTINUE, breakers.PAUSE, breakers.HALT, breakers.WIDEN_BANDS, breakers.TIGHTEN_BANDS) == \
        (sim.CONTINUE, sim.PAUSE, sim.HALT, sim.WIDEN_BANDS, sim.TIGHTEN_BANDS)


def _crash_path(prior_fall_pct, n_flat=400):
    """Flat, then (optionally) a slow decline over 280 s, then a 2 % fall within 10 s."""
    path = flat(n_flat)
    p = path[-1]
    for k in range(280):
        path.append(p * (1 - prior_fall_pct / 100 * (k + 1) / 280))
    p = path[-1]
    path += [p * (1 - 0.002 * (k + 1)) for k in range(10)] + flat(100, p * 0.98)
    return path


def test_liquidity_gated_stop_logic_pauses_a_fall_after_pressure_with_intermediaries_trading():
    from feedbackgym.envs.market.breakers import LiquidityGatedStopLogic
    hot = lambda t, p: {"maker_volume": 12.0}                                  # noqa: E731  60 % of the sides
    cold = lambda t, p: {"maker_volume": 2.0}                                  # noqa: E731  10 %
    _, plain = run(StopLogic(move_pct=1.0), _crash_path(0.0), extra=hot)
    assert plain.halts >= 1
    # a news-like drop from a flat price: Stop Logic pauses, the gated rule does not
    _, news = run(LiquidityGatedStopLogic(), _crash_path(0.0), extra=hot)
    assert news.halts == 0
    _, crash = run(LiquidityGatedStopLogic(), _crash_path(1.0), extra=cold)
    assert crash.halts >= 1                                                  # after a 1 % slide
    # with the hot-potato gate: paused only when intermediaries dominate the trading
    _, crash = run(LiquidityGatedStopLogic(maker_share_min=0.3), _crash_path(1.0), extra=hot)
    _, quiet = run(LiquidityGatedStopLogic(maker_share_min=0.3), _crash_path(1.0), extra=cold)
    assert crash.halts >= 1 and quiet.halts == 0
    # both thresholds 0: Stop Logic itself (at the teacher's 1 % trigger)
    a_plain, _ = run(StopLogic(move_pct=1.0), _crash_path(0.0), extra=hot)
    a_off, _ = run(LiquidityGatedStopLogic(prior_move_pct=0, maker_share_min=0), _crash_path(0.0), extra=hot)
    assert a_off == a_plain
    with pytest.raises(ValueError, match="prior_move_pct"):
        LiquidityGatedStopLogic(prior_move_pct=-1)
    with pytest.raises(ValueError, match="recent_s"):
        LiquidityGatedStopLogic(prior_s=10, recent_s=20)
