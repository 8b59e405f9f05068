"""The meta action mode (``action_mode="meta"``): each action picks a recommender arm.

* the compiled kernel equals the numpy reference in this mode (the arms' limits go through the
  limit-action path; every state array, observation and reward component identical);
* the vector twin equals single envs (observations with the arms' targets, rewards, infos);
* always picking the VPA arm is the ``vpa`` baseline (same per-episode metrics);
* the default stays the menu (Discrete(40), 54 observations).
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

import feedbackgym  # noqa: F401
from feedbackgym.agents.rollout import run_episode
from feedbackgym.envs.cluster import kernel as K
from feedbackgym.envs.cluster.config import RightsizingConfig
from feedbackgym.envs.cluster.engine import OBS_DIM, Engine, build, draw_episode
from feedbackgym.envs.cluster.meta import ARMS, N_ARMS, ArmRule, make_bank, slot_info
from feedbackgym.family import PlannedEpisode

ENV = "feedbackgym/ClusterRightsizing-v0"
META = {"action_mode": "meta", "episode_days": 1.0}


def test_default_is_the_menu_and_meta_changes_the_spaces():
    e = gym.make(ENV)
    assert e.action_space == gym.spaces.Discrete(40) and e.observation_space.shape == (OBS_DIM,)
    m = gym.make(ENV, **META)
    assert m.action_space == gym.spaces.Discrete(N_ARMS) and m.observation_space.shape == (OBS_DIM + N_ARMS,)
    assert ARMS[0][0] == "vpa" and N_ARMS == 31
    obs, _ = m.reset(seed=0)
    assert m.observation_space.contains(obs)
    with pytest.raises(ValueError, match="outside Discrete"):
        m.step(N_ARMS)


@pytest.mark.parametrize("name", ["default", "batch"])
def test_kernel_equals_reference_in_meta_mode(name):
    kw = {"job_class": "batch", "eviction_probability": 0.3, "restart_windows": 2} if name == "batch" else {}
    setup = build(RightsizingConfig(action_mode="meta", **kw))
    n, steps = 6, 500
    ref, fast = Engine(setup, n, compiled=False), Engine(setup, n)
    draws = [draw_episode(setup, np.random.default_rng(200 + i), None, 0) for i in range(n)]
    idx = np.arange(n)
    first = {"ref": ref.start(idx, draws)}
    fast.start(idx, draws)
    first["fast"] = fast.window_arrays(idx)
    banks, last = {}, {}
    for key, eng in (("ref", ref), ("fast", fast)):
        info = eng.step_info(slice(None), first[key])
        last[key] = [slot_info(info, i) for i in range(n)]
        banks[key] = [make_bank(setup.config) for _ in range(n)]
        for i in range(n):
            banks[key][i].reset(last[key][i])
    act = np.random.default_rng(3)
    for t in range(steps):
        a = act.integers(0, N_ARMS, n)
        a[act.random(n) < 0.5] = 0
        lims = {k: [banks[k][i].limits(int(a[i]), last[k][i]) for i in range(n)] for k in banks}
        assert lims["ref"] == lims["fast"], f"step {t}: arm limits differ"
        mem = np.asarray([m for m, _ in lims["ref"]])
        cpu = np.asarray([c for _, c in lims["ref"]])
        r_ref, term, trunc, o_ref = ref.step_reference(None, mem, cpu)
        r_fast, term_f, trunc_f, o_fast = fast.step_limits(None, mem, cpu)
        for k in K.OUT_COMPONENTS:
            assert np.array_equal(o_ref[k], o_fast[k]), f"step {t}: {k}"
        assert np.array_equal(r_ref, r_fast) and np.array_equal(term, term_f) and np.array_equal(trunc, trunc_f)
        for arr in ("F", "I", "T", "dayf", "dayi", "recent"):
            assert np.array_equal(getattr(ref.core, arr), getattr(fast.core, arr)), f"step {t}: {arr}"
        assert np.array_equal(ref.obs, fast.obs), f"step {t}: obs"
        for k, eng, o in (("ref", ref, o_ref), ("fast", fast, o_fast)):
            info = eng.step_info(slice(None), o)
            for i in range(n):
                last[k][i] = slot_info(info, i)
                banks[k][i].observe(last[k][i])
        if (term | trunc).any():
            break


def test_twin_equals_single_envs_in_meta_mode():
    n, steps = 3, 400
    kw = dict(META, episode_days=0.5)
    vec = gym.make_vec(ENV, num_envs=n, vectorization_mode="vector_entry_point", **kw)
    singles = [gym.make(ENV, **kw) for _ in range(n)]
    obs, info = vec.reset(seed=11)
    s_obs = [e.reset(seed=11 + i)[0] for i, e in enumerate(singles)]
    assert np.array_equal(obs, np.stack(s_obs))
    rng = np.random.default_rng(5)
    pending = np.zeros(n, dtype=bool)
    for t in range(steps):
        a = rng.integers(0, N_ARMS, n)
        obs, rew, term, trunc, info = vec.step(a)
        for i, e in enumerate(singles):
            if pending[i]:                       # NEXT_STEP autoreset: this step reset sub-env i
                o, _ = e.reset()
                r, te, tr = 0.0, False, False
                pending[i] = False
            else:
                o, r, te, tr, inf = e.step(int(a[i]))
                assert inf["memory_limit_mib"] == info["memory_limit_mib"][i]
                pending[i] = te or tr
            assert np.array_equal(o, obs[i]), f"step {t} env {i}"
            assert r == rew[i] and te == term[i] and tr == trunc[i]


def test_vpa_arm_reproduces_vpa():
    kw = {"workloads": "test", "episode_days": 2.0, "random_start": False}
    res = {}
    for key, mode, pol in (("vpa", "menu", "vpa"), ("meta_vpa", "meta", "meta_vpa"),
                           ("meta_vpa_menu", "menu", "meta_vpa")):
        from feedbackgym.agents.baselines import make_baseline
        env = gym.make(ENV, action_mode=mode, **kw)
        p = make_baseline(ENV, pol)
        records = [run_episode(env, p, PlannedEpisode(0, {"job_index": j})) for j in (0, 3)]
        res[key] = [(m["memory_slack_day_sum"], m["ooms"], m["limit_changes_by_day"], m["cpu_slack_day_sum"])
                    for m in records]
    assert res["vpa"] == res["meta_vpa"] == res["meta_vpa_menu"]
    assert isinstance(ArmRule("vpa"), ArmRule)
