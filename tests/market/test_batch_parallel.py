"""MarketBatch stepped by several threads gives every market the path it has serially and alone."""

import copy
import os
import pickle

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


@pytest.mark.parametrize("agent_makers,threads", [(0, 2), (1, 2), (0, 3)])
def test_parallel_batch_equals_serial_batch_and_markets_alone(agent_makers, threads):
    steps = 200
    serial = _run_batch(1, steps, agent_makers)
    parallel = _run_batch(threads, steps, agent_makers)
    assert parallel._uniform_tables()
    assert parallel.threads == threads and parallel._pool is not None  # 5 markets: slices of 2-3 or 1-2
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
    p = [scenario_params("calm", length_s=10)] * 3
    assert MarketBatch(p).threads == 1
    assert MarketBatch(p, threads=None).threads == min(3, len(os.sched_getaffinity(0)))
    assert MarketBatch(p, threads=10**6).threads == 3  # no more threads than markets
    for bad in (0, -1, 1.5, True, "2"):
        with pytest.raises(ValueError, match="threads"):
            MarketBatch(p, threads=bad)


def test_threaded_batch_copies_and_pickles_without_its_pool_and_goes_on_alike():
    b = _run_batch(2, 20)
    for clone in (copy.deepcopy(b), pickle.loads(pickle.dumps(b))):
        assert clone._pool is None
        a = np.zeros(b.n, np.int64)
        clone.step(a)
        ref = copy.deepcopy(b)
        ref.threads = 1
        ref.step(a)
        for name in STATE:
            assert _same(getattr(clone, name), getattr(ref, name)), name


def test_an_error_in_a_pool_thread_reaches_the_caller(monkeypatch):
    from feedbackgym.envs.market import populations
    b = _run_batch(2, 1)  # 5 markets on 2 threads: the caller steps 2, the pool thread 3
    kernel, seen = populations.step_batch, []

    def failing_on_the_pool_slice(*args):
        seen.append(args[1].shape[0])
        if args[1].shape[0] == 3:
            raise RuntimeError("slice failed")
        kernel(*args)
    monkeypatch.setattr(populations, "step_batch", failing_on_the_pool_slice)
    with pytest.raises(RuntimeError, match="slice failed"):
        b.step(np.zeros(b.n, np.int64))
    assert sorted(seen) == [2, 3]
