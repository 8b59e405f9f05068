"""MarketBatch stepped by several numba threads gives every market the path it has serially and alone."""

import os

import numpy as np
import pytest

from feedbackgym.envs.market.sim import HALT, PAUSE, WIDEN_BANDS, MarketBatch, MarketSim, scenario_params

STATE = ("ist", "fst", "od", "lv", "free", "hist", "mk", "mko", "fu", "dv", "mo", "st", "rs", "aq", "ctl")


def _params():
    # equal trader tables (1,000 stops each): one compiled call steps the whole batch
    return [scenario_params("calm", length_s=400, stop_orders=1000), scenario_params("flash_crash", seller_start_s=60),
            scenario_params("news", news_time_s=100, news_drop_pct=3.0, stop_orders=1000),
            scenario_params("mini_crash"), scenario_params("calm", length_s=400, band_pct=2.0, stop_orders=1000)]


def _actions(t, n):
    a = np.zeros(n, np.int64)
    a[t % n] = (0, PAUSE, 0, HALT, WIDEN_BANDS)[(t // 37) % 5] if t % 37 == 0 else 0
    return a


def _run_batch(threads, steps, agent_makers=0):
    ps = _params()
    b = MarketBatch(ps, agent_makers=agent_makers, threads=threads)
    for e in range(b.n):
        b.reset_one(e, np.random.default_rng(100 + e))
    for t in range(steps):
        for e in range(b.n):
            for k in range(agent_makers):
                b.set_quotes(e, k, 1 + (t + e) % 3, 5, 1 + (t + k) % 2, 4)
        b.step(_actions(t, b.n))
    return b


def _same(x, y):
    return np.array_equal(x, y, equal_nan=x.dtype.kind == "f")


@pytest.mark.parametrize("agent_makers", [0, 1])
def test_parallel_batch_equals_serial_batch_and_markets_alone(agent_makers):
    steps = 200
    serial = _run_batch(1, steps, agent_makers)
    parallel = _run_batch(2, steps, agent_makers)
    assert parallel._uniform_tables()
    if parallel.threads > 1 and "NUMBA_THREADING_LAYER" not in os.environ:
        import numba
        assert numba.threading_layer() == "workqueue"  # not GNU OpenMP's spinning barriers
    assert parallel.threads == 2 or parallel.threads == 1  # capped where numba has one thread only
    for name in STATE:
        assert _same(getattr(serial, name), getattr(parallel, name)), name
    for e, p in enumerate(_params()):  # each market alone (a batch of one) walks the same path
        sim = MarketSim(p, agent_makers=agent_makers)
        sim.reset(np.random.default_rng(100 + e))
        for t in range(steps):
            for k in range(agent_makers):
                sim.set_quotes(k, 1 + (t + e) % 3, 5, 1 + (t + k) % 2, 4)
            sim.step(int(_actions(t, len(_params()))[e]))
        for name in STATE:
            assert _same(getattr(sim._b, name)[0], getattr(serial, name)[e]), (e, name)


def test_thread_count_is_validated_and_capped():
    from numba import config
    p = [scenario_params("calm", length_s=10)]
    assert MarketBatch(p).threads == 1
    assert MarketBatch(p, threads=None).threads == config.NUMBA_NUM_THREADS
    assert MarketBatch(p, threads=10**6).threads == config.NUMBA_NUM_THREADS
    for bad in (0, -1, 1.5, True, "2"):
        with pytest.raises(ValueError, match="threads"):
            MarketBatch(p, threads=bad)
