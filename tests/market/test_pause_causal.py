"""The paired fork test of experiments/market/pause_causal.py rests on one property: a forked
market continued without any change follows the original path bit for bit (and a fork with a
different pause length halts exactly that long)."""

import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "experiments", "market"))
import pause_causal as pc  # noqa: E402

from feedbackgym.envs.market.sim import CONTINUE, PAUSE, MarketSim, scenario_params  # noqa: E402


def _market(t0: int) -> MarketSim:
    p = scenario_params("flash_crash", length_s=t0 + 200)
    sim = MarketSim(p)
    sim.reset(np.random.default_rng(7))
    for _ in range(t0):
        sim.step(CONTINUE)
    return sim


def test_unchanged_fork_reproduces_the_path():
    sim = _market(300)
    rule = pc.ExchangeRule("stop_logic")
    rule.reset(sim.params)
    fork = pc.fork_sim(sim)
    fork_rule = pc.copy.deepcopy(rule)
    a = pc.run_branch(fork, fork_rule, PAUSE, 150)      # a pause (halt, auction), then the rule
    b = pc.run_branch(sim, rule, PAUSE, 150)
    for k in pc.KEYS:
        assert np.array_equal(a[k], b[k], equal_nan=True), k
    assert fork.t_s == sim.t_s == 450
    for name, arr in vars(sim._b).items():
        if isinstance(arr, np.ndarray):
            assert np.array_equal(arr, getattr(fork._b, name), equal_nan=True), name
    # a 5-s pause: 4 states halted, the 5th second ends with the reopening auction
    assert a["halted"][:4].all() and not a["halted"][4]


def test_fork_is_independent_and_pause_length_is_exact():
    sim = _market(300)
    mid0 = sim.mid
    fork = pc.fork_sim(sim)
    pc.set_pause_length(fork, 30)
    out = pc.run_branch(fork, None, PAUSE, 40)
    assert out["halted"][:29].all() and not out["halted"][29:].any()
    assert sim.t_s == 300 and sim.mid == mid0 and not sim.halted   # the original did not move
    assert sim.params.pause_s == 5


def test_deepcopy_of_a_market_is_a_fork():
    """``copy.deepcopy`` of a MarketSim continues as the original (its row views follow the
    copied batch: a plain deep copy would leave them detached and ``t_s`` frozen)."""
    import copy

    sim = _market(200)
    fork = copy.deepcopy(sim)
    for _ in range(100):
        sim.step(CONTINUE)
        fork.step(CONTINUE)
        assert fork.t_s == sim.t_s and fork.mid == sim.mid and fork.volume == sim.volume
    assert fork.snapshot() == sim.snapshot()
    assert not np.shares_memory(fork._b.od, sim._b.od)


def test_reopen_signal_restart_only_acts_at_a_reopening():
    """``reopen_signal_restart=False`` (the mechanism test) changes nothing until a pause ends, and
    then the path (the algorithms measure their signals across the pause)."""
    paths = []
    for restart in (True, False):
        p = scenario_params("flash_crash", length_s=700, reopen_signal_restart=restart)
        sim = MarketSim(p)
        sim.reset(np.random.default_rng(7))
        mids = []
        for t in range(700):
            sim.step(PAUSE if t == 500 else CONTINUE)
            mids.append(sim.mid)
        paths.append(np.array(mids))
    assert np.array_equal(paths[0][:505], paths[1][:505], equal_nan=True)
    assert not np.array_equal(paths[0][505:], paths[1][505:], equal_nan=True)
