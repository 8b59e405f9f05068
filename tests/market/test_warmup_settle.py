"""MarketParams.warmup_settle_pct: a warm-up that ends in a bubble is run again from a fresh book;
a market that ends its first warm-up near the fundamental is exactly the market without it."""

import numpy as np
import pytest

from feedbackgym.envs.market.sim import MarketSim, scenario_params

STATE = ("ist", "fst", "od", "lv", "free", "hist", "mk", "mko", "fu", "dv", "mo", "st", "rs")


def _reset(seed, **kw):
    sim = MarketSim(scenario_params("flash_crash", length_s=60, **kw))
    sim.reset(np.random.default_rng(seed))
    return sim


def _dislocation_pct(sim):
    return abs(sim.mid / sim.fundamental - 1.0) * 100.0


def test_a_bubble_after_the_warm_up_is_warmed_up_again():
    # seed 3003 ends the thin preset's warm-up ~7 % above the fundamental (the published crash seeds)
    assert _dislocation_pct(_reset(3003)) > 5.0
    settled = _reset(3003, warmup_settle_pct=1.0)
    assert _dislocation_pct(settled) <= 1.0
    assert settled.t_s == 0 and settled.n_halts == 0
    one = _reset(3003, warmup_settle_pct=1.0, warmup_settle_attempts=1)   # one warm-up: no second try
    assert _dislocation_pct(one) > 5.0


def test_a_market_near_its_fundamental_is_left_as_it_was():
    plain, settled = _reset(3000), _reset(3000, warmup_settle_pct=1.0)
    assert _dislocation_pct(plain) < 1.0
    for name in STATE:
        assert np.array_equal(getattr(plain._b, name), getattr(settled._b, name)), name
    for _ in range(30):
        plain.step(0)
        settled.step(0)
    assert plain.mid == settled.mid


@pytest.mark.parametrize("bad", [{"warmup_settle_pct": -1.0}, {"warmup_settle_attempts": 0},
                                 {"warmup_settle_attempts": 1.5}])
def test_settling_parameters_are_checked(bad):
    with pytest.raises(ValueError, match=next(iter(bad))):
        scenario_params("flash_crash", **bad)
