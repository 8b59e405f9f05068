"""Scenario presets: what each promises, on short runs."""

import numpy as np
import pytest

from feedbackgym.envs.market.scenarios import SCENARIO_PRESETS
from feedbackgym.envs.market.sim import CONTINUE, SCENARIOS, MarketSim, scenario_params


def test_every_scenario_has_a_preset_and_its_promised_shape():
    assert set(SCENARIO_PRESETS) == set(SCENARIOS)
    calm = scenario_params("calm")
    assert calm.length_s == 23400 and calm.seller_size == 0 and calm.news_time_s == -1
    crash = scenario_params("flash_crash")
    assert crash.length_s == 3600 and crash.seller_start_s >= 600 and crash.seller_participation == 0.09
    assert crash.n_makers * crash.maker_inventory_cap == pytest.approx(0.045 * crash.seller_size, rel=0.1)
    mini = scenario_params("mini_crash")
    assert 0 < mini.seller_size < crash.seller_size
    news = scenario_params("news")
    assert news.news_drop_pct > 0 and news.seller_size == 0
    assert scenario_params("flash_crash", seller_size=123).seller_size == 123


def test_news_is_a_true_fundamental_drop():
    p = scenario_params("news", news_time_s=20, length_s=40)
    sim = MarketSim(p)
    sim.reset(np.random.default_rng(0))
    before = None
    for _ in range(40):
        sim.step(CONTINUE)
        if sim.t_s == 20:
            before = sim.fundamental
        if sim.t_s == 21:
            assert sim.fundamental / before - 1 == pytest.approx(-p.news_drop_pct / 100, abs=0.005)


def test_seller_sells_a_share_of_volume_without_price_limit_and_makers_respect_caps():
    p = scenario_params("flash_crash", seller_start_s=30, length_s=300)
    sim = MarketSim(p)
    sim.reset(np.random.default_rng(1))
    vol = []
    sold = []
    for _ in range(300):
        sim.step(CONTINUE)
        vol.append(sim.volume)
        sold.append(sim.seller_executed_qty)
        assert np.all(np.abs(sim.maker_inventory) <= p.maker_inventory_cap + p.maker_quote_size)
    assert sold[29] == 0 and sold[-1] > 0 and sim.seller_active
    # pace: about participation x the trailing volume (it sells market orders: all of it executes)
    share = sold[-1] / sum(vol[30:])
    assert 0.03 < share < 0.2
    assert sim.seller_executed_value / sim.seller_executed_qty == pytest.approx(sim.open_price, rel=0.1)
