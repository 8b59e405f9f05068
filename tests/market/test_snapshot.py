"""MarketSim.snapshot() gives, field for field (value and type), what the state properties give."""

import math

import numpy as np
import pytest

from feedbackgym.envs.market.sim import HALT, PAUSE, STATE_FIELDS, TIGHTEN_BANDS, MarketSim, scenario_params


def _by_properties(sim):
    out = {}
    for name in STATE_FIELDS:
        v = getattr(sim, name)
        out[name] = v.tolist() if isinstance(v, np.ndarray) else v
    return out


def _same(a, b):
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return type(a) is type(b) and a == b


@pytest.mark.parametrize("scenario,overrides", [
    ("flash_crash", {"seller_start_s": 30, "seller_size": 20000}),
    ("calm", {"band_pct": 1.0, "length_s": 600}),
    ("news", {"news_time_s": 50, "news_drop_pct": 4.0}),
])
def test_snapshot_is_the_properties(scenario, overrides):
    sim = MarketSim(scenario_params(scenario, **overrides))
    sim.reset(np.random.default_rng(3))
    seen_halt = False
    for t in range(400):
        a = HALT if t == 200 else PAUSE if t % 90 == 45 else TIGHTEN_BANDS if t == 10 else 0
        sim.step(a)
        seen_halt |= sim.halted
        fast, ref = sim.snapshot(), _by_properties(sim)
        assert list(fast) == list(ref) == list(STATE_FIELDS)
        bad = [k for k in ref if not _same(fast[k], ref[k])]
        assert not bad, (t, {k: (fast[k], ref[k]) for k in bad})
    assert seen_halt
