"""The compiled rightsizing kernel equals the numpy reference, bit for bit.

The envs step through :func:`feedbackgym.envs.cluster.kernel.step_slots`; the numpy code in
``sim.py``/``engine.py`` (``RightsizingCore.window``, ``DecayedQuantiles.add``,
``Engine.limits_from_actions``/``step_reference``/``_observe``) is the readable specification.
Random actions (many OOMs, evictions, limit changes, long holds) over several configurations;
every state array, the observation, the reward components, the reward and the memory
counterfactuals must be identical (not close).
"""

from __future__ import annotations

import numpy as np
import pytest

from feedbackgym.envs.cluster import kernel as K
from feedbackgym.envs.cluster.config import RightsizingConfig
from feedbackgym.envs.cluster.engine import N_ACTIONS, Engine, build, draw_episode

CONFIGS = {
    "default": {},
    "simple": RightsizingConfig.simple_model(),
    "batch_minimal": {"job_class": "batch", "oom_tolerance": "minimal", "eviction_probability": 0.3,
                      "restart_windows": 3, "reward": "machine_cost"},
    "synthetic": {"workloads": "synthetic", "synthetic_count": 6, "episode_days": 2.0, "reward": "autopilot_cost"},
}


def _state(eng: Engine) -> dict:
    c, h = eng.core, eng.core.hist
    return {"F": c.F, "I": c.I, "T": c.T, "dayf": c.dayf, "dayi": c.dayi, "recent": c.recent,
            "w": h.w, "scale": h.scale, "total": h.total, "kq": h.kq, "below": h.below, "top": h.top,
            "obs": eng.obs}


def _assert_same(a: dict, b: dict, where: str):
    for k in a:
        assert np.array_equal(np.asarray(a[k]), np.asarray(b[k])), f"{where}: {k} differs"


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_kernel_equals_numpy_reference(name):
    setup = build(RightsizingConfig(**CONFIGS[name]))
    n, steps = 12, 700
    ref, fast = Engine(setup, n, compiled=False), Engine(setup, n)
    rngs = [np.random.default_rng(100 + i) for i in range(n)]
    draws = [draw_episode(setup, r, None, 0) for r in rngs]
    all_idx = np.arange(n)
    out_ref = ref.start(all_idx, draws)
    fast.start(all_idx, draws)
    _assert_same(_state(ref), _state(fast), "start")
    assert np.array_equal(out_ref["memory_overrun"], fast.window_arrays(all_idx)["memory_overrun"])
    act = np.random.default_rng(7)
    for t in range(steps):
        a = act.integers(0, N_ACTIONS, n)
        a[act.random(n) < 0.4] = 0                      # holds, so histograms settle between moves
        idx = None if t % 5 else np.sort(act.choice(n, n // 2, replace=False))   # some steps on a subset
        s = slice(None) if idx is None else idx
        mem, cpu, mem_t = ref.limits_from_actions(s, a[s])
        r_ref, term_ref, trunc_ref, o_ref = ref.step_reference(idx, mem, cpu, mem_t)
        r_fast, term_fast, trunc_fast, o_fast = fast.step(idx, a[s])
        _assert_same(_state(ref), _state(fast), f"{name} step {t}")
        for k in K.OUT_COMPONENTS:
            assert np.array_equal(o_ref[k], o_fast[k]), f"{name} step {t}: component {k}"
        assert np.array_equal(r_ref, r_fast) and np.array_equal(term_ref, term_fast)
        assert np.array_equal(trunc_ref, trunc_fast)
        assert np.array_equal(o_ref["_running"], o_fast["_running"])
        cf = o_fast["cf"]
        for got, key in zip(cf[:3], ("cf_limit", "cf_overrun", "cf_slack")):
            assert np.array_equal(o_ref[key], got, equal_nan=True), f"{name} step {t}: {key}"
        ended = np.flatnonzero(term_ref | trunc_ref)
        if len(ended):
            sel = np.arange(n)[s][ended]
            new = [draw_episode(setup, rngs[i], None, 0) for i in sel]
            ref.start(sel, new)
            fast.start(sel, new)
            _assert_same(_state(ref), _state(fast), f"{name} restart {t}")


def test_cpu_counterfactuals_replay_the_window():
    """The chosen CPU choice's counterfactual throttled fraction and slack are the window's own."""
    setup = build(RightsizingConfig(eviction_probability=0.0))
    eng = Engine(setup, 1, single=True)
    eng.start(np.zeros(1, dtype=np.int64), [draw_episode(setup, np.random.default_rng(0), 0, 0)])
    rng = np.random.default_rng(3)
    checked = 0
    for _ in range(500):
        a = int(rng.integers(N_ACTIONS))
        _, _, _, row = eng.step_one(a)
        limit = eng.core.cpu_limit[0]
        lim, thr, slack = eng.cf_cpu[:, 0]
        hit = np.flatnonzero(lim == limit)
        if len(hit):
            k = hit[0]
            assert thr[k] == row[K.OUT_COMPONENTS.index("throttled_fraction")]
            assert slack[k] == row[K.OUT_COMPONENTS.index("cpu_slack_fraction")]
            checked += 1
        assert np.all((thr >= 0) & (thr <= 1)) and np.all(slack >= 0)
        # a higher candidate limit never throttles more
        order = np.argsort(lim, kind="stable")
        assert np.all(np.diff(thr[order]) <= 0)
    assert checked > 100
