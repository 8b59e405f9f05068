"""The offline-optimal ABR baseline: exact physics, exact replay, and truly (near-)optimal."""

from __future__ import annotations

import itertools
from bisect import bisect_right

import numpy as np
import pytest

from feedbackgym.agents.baselines import make_baseline
from feedbackgym.agents.baselines.abr import BufferBased, RateBased, RobustMpc
from feedbackgym.agents.baselines.abr_optimal import OfflineOptimal, SingleTracePool, download_batch, plan_episode
from feedbackgym.envs.abr import AbrStreamingEnv
from feedbackgym.envs.abr.sim import Session
from feedbackgym.envs.abr.traces import Trace, TraceSet
from feedbackgym.envs.abr.video import envivio_dash3

ENV_ID = "feedbackgym/AbrStreaming-v0"
TEST_RULES = dict(trace_order="sequential", random_start=False, delay_noise=None)


def play(env, policy, trace_index=None, seed=None):
    """One episode; returns the per-step rewards."""
    options = {} if trace_index is None else {"trace_index": trace_index}
    obs, info = env.reset(seed=seed, options=options)
    policy.reset(env, obs, info)
    rewards, done = [], False
    while not done:
        obs, reward, done, _, info = env.step(policy.act(obs, info))
        rewards.append(reward)
    end = getattr(policy, "end_episode", None)
    if end is not None:
        end(obs, info)
    return rewards


def total(rewards):
    s = 0.0
    for x in rewards:
        s += x
    return s


# ------------------------------------------------------------------------------ physics


def _lumpy_trace():
    """Short period, zero-rate intervals, uneven rows: downloads wrap and land on edges."""
    t = np.array([0.0, 0.7, 1.0, 2.5, 2.6, 4.0, 5.5])
    mbps = np.array([1.0, 2.0, 0.0, 0.8, 5.0, 0.0, 3.0])
    return Trace("lumpy", t, mbps)


@pytest.mark.parametrize("pensieve", [True, False])
@pytest.mark.parametrize("noisy", [False, True])
def test_download_batch_equals_session_bit_for_bit(pensieve, noisy):
    video = envivio_dash3()
    rng = np.random.default_rng(1 + pensieve + 2 * noisy)
    fcc = AbrStreamingEnv(traces="fcc_test").setup.traces
    tls = [TraceSet.from_traces([_lumpy_trace()]).lists[0], fcc.lists[0], fcc.lists[150]]
    cap_ms = 20000.0
    for tl in tls:
        pool = SingleTracePool(tl)
        n = 400
        t0 = rng.uniform(0, tl.period_s, n)
        t0[:8] = tl.seg_end_s[0]  # exactly on an interval edge
        j0 = np.array([bisect_right(tl.seg_end_s, x) for x in t0])
        b0 = rng.uniform(0, cap_ms, n)
        b0[8:16] = 0.0
        lvl = rng.integers(0, video.levels, n)
        chunk = int(rng.integers(0, video.chunks - 1))
        noise = [float(x) for x in rng.uniform(0.9, 1.1, video.chunks)] if noisy else None
        got = download_batch(pool, j0, t0, b0, video.chunk_bytes[lvl, chunk], rtt_ms=80.0, pensieve=pensieve,
                             buffer_cap_ms=cap_ms, sleep_quantum_ms=500.0, chunk_ms=4000.0,
                             noise=None if noise is None else noise[chunk])
        s = Session(video, pensieve, 500.0)
        for i in range(n):
            s.start(tl, 1, 0.0, 80.0, cap_ms, noise)
            s.j, s.t_s, s.buffer_ms, s.chunk = int(j0[i]), float(t0[i]), float(b0[i]), chunk
            delay, rebuf, sleep, _ = s.download(int(lvl[i]))
            want = (delay, rebuf, sleep, s.j, s.t_s, s.buffer_ms)
            assert tuple(x[i] for x in got) == want, (tl.period_s, i)
        assert got[2].any(), "some players should hit the buffer cap and sleep"


# ------------------------------------------------------------------------------ replay


def test_replay_reproduces_plan_exactly():
    env = AbrStreamingEnv(mode="pensieve", traces="fcc_test", **TEST_RULES)
    opt = make_baseline(ENV_ID, "optimal")
    assert isinstance(opt, OfflineOptimal)
    for k in (0, 101):
        rewards = play(env, opt, k)
        assert rewards == opt.plan.rewards  # bit for bit, step by step
        assert total(rewards) == opt.plan.total_reward
        assert len(rewards) == 47


def test_verify_catches_a_deviation():
    env = AbrStreamingEnv(mode="pensieve", traces="fcc_test", **TEST_RULES)
    opt = OfflineOptimal()
    obs, info = env.reset(options={"trace_index": 3})
    opt.reset(env, obs, info)
    a = opt.act(obs, info)
    obs, _, _, _, info = env.step((a + 1) % env.setup.levels)  # not the planned level
    with pytest.raises(RuntimeError, match="differs from the plan"):
        opt.act(obs, info)


# ------------------------------------------------------------------------------ quality


def test_optimal_beats_the_baselines_per_trace():
    env = AbrStreamingEnv(mode="pensieve", traces="fcc_test", **TEST_RULES)
    opt = OfflineOptimal()
    for k in (0, 17, 150, 222, 289):
        best = total(play(env, opt, k))
        for pol in (RobustMpc(), BufferBased(), RateBased()):
            assert best >= total(play(env, pol, k)), (k, pol)


def _short_video(chunks):
    v = envivio_dash3()
    return {"bitrates_kbps": v.bitrates_kbps.tolist(), "chunk_s": 4.0,
            "chunk_bytes": v.chunk_bytes[:, :chunks].tolist()}


def _brute_force(env, trace_index=None, seed=None):
    """Best total reward over every level sequence, each played through the env itself."""
    options = {} if trace_index is None else {"trace_index": trace_index}
    env.reset(seed=seed, options=options)
    n = env.setup.chunks_total - env.session.chunk
    best = -np.inf
    for plan in itertools.product(range(env.setup.levels), repeat=n):
        env.reset(seed=seed, options=options)
        s = 0.0
        for a in plan:
            s += env.step(a)[1]
        best = max(best, s)
    return best


SLOW_TRACE = "0 1\n3 1.5\n9 0.05\n25 0.4\n40 2\n"  # a near-dead stretch: stalls are unavoidable


@pytest.mark.parametrize("mode,kwargs", [
    ("pensieve", dict(reward="qoe_lin")),
    ("pensieve", dict(reward="qoe_hd")),
    ("default", dict(reward="qoe_log", delay_noise=(0.9, 1.1), random_start=True)),
])
def test_equals_brute_force_on_short_videos(mode, kwargs, tmp_path):
    """On a short video every schedule can be tried (6^5): the plan is the true optimum."""
    (tmp_path / "slow").write_text(SLOW_TRACE)
    rules = {**TEST_RULES, **kwargs}
    video = _short_video(7 if mode == "pensieve" else 5)
    opt = OfflineOptimal()
    for traces, cases in (("fcc_test", ((0, 3), (17, 4), (150, 5))), (str(tmp_path / "slow"), ((0, 6),))):
        env = AbrStreamingEnv(mode=mode, traces=traces, video=video, **rules)
        for k, seed in cases:
            got = total(play(env, opt, k, seed))
            assert got == pytest.approx(_brute_force(env, k, seed), abs=1e-9), (traces, k, seed)


# ------------------------------------------------------------------------------ other settings


@pytest.mark.parametrize("mode,reward", [("default", "qoe_lin"), ("default", "qoe_hd"), ("pensieve", "qoe_log")])
def test_noisy_training_episodes_and_other_rewards(mode, reward):
    """Random trace, random start and delay noise: the plan knows the draws and still replays."""
    env = AbrStreamingEnv(mode=mode, traces="train", reward=reward)  # training defaults: noise, random starts
    opt, mpc = OfflineOptimal(), RobustMpc()
    for seed in ((11,) if mode == "default" else (11, 12)):
        best = total(play(env, opt, seed=seed))  # verify=True raises on any deviation
        assert env.session.noise is not None
        assert best >= total(play(env, mpc, seed=seed))
        if mode == "default":
            assert len(opt.plan.levels) == env.setup.chunks_total


def test_callable_reward():
    """A callable reward gets dicts of arrays; only same-level dominance prunes (no bound)."""
    def qoe(c):
        return c["bitrate_mbps"] - 4.3 * c["rebuffer_s"] - c["switch_mbps"] - 4.3 * c["startup_s"]

    rules = dict(mode="default", traces="fcc_test", video=_short_video(12), **TEST_RULES)
    env_f = AbrStreamingEnv(reward=qoe, **rules)
    env_w = AbrStreamingEnv(reward="qoe_lin", **rules)
    opt = OfflineOptimal()
    for k in (5, 40):
        got = play(env_f, opt, k)
        assert got == pytest.approx(opt.plan.rewards, abs=1e-12)
        ref = total(play(env_w, OfflineOptimal(), k))
        assert total(got) == pytest.approx(ref, abs=1e-6)


def test_finer_grid_not_worse():
    """Not guaranteed in general (a finer grid keeps other representatives), but the search
    returns the better of its coarse and fine passes, and on these traces a 50 ms grid beats
    or ties a 1 s one."""
    env = AbrStreamingEnv(mode="pensieve", traces="fcc_test", **TEST_RULES)
    for k in (17, 101, 222):
        env.reset(options={"trace_index": k})
        fine = plan_episode(env)
        coarse = plan_episode(env, time_grid_ms=1000.0, buffer_grid_ms=1000.0, coarse_grid_ms=None)
        assert fine.total_reward >= coarse.total_reward


def test_evaluate_harness_and_registry():
    from feedbackgym.agents.evaluation import evaluate

    res = evaluate(ENV_ID, "optimal", {"mode": "pensieve"}, traces="fcc_test", episodes=3)
    mpc = evaluate(ENV_ID, "robust_mpc", {"mode": "pensieve"}, traces="fcc_test", episodes=3)
    assert res.aggregate["qoe_per_chunk"] > mpc.aggregate["qoe_per_chunk"]
    for bad in (dict(time_grid_ms=0), dict(buffer_grid_ms=float("inf")), dict(coarse_grid_ms=-1)):
        with pytest.raises(ValueError, match="grids"):
            OfflineOptimal(**bad)


@pytest.mark.parametrize("mode,reward,k,kwargs", [
    ("pensieve", "qoe_lin", 0, {}),      # slow link, a near-dead stretch: chunks cannot fit without stalls
    ("pensieve", "qoe_hd", 150, {}),     # fast link and steep HD scores: stalling may pay in the bound
    ("default", "qoe_log", 17, dict(delay_noise=(0.9, 1.1), random_start=True)),
])
def test_value_bound_is_an_upper_bound(mode, reward, k, kwargs, tmp_path):
    """Against every completion of every prefix (6^5 schedules of a short video)."""
    from feedbackgym.agents.baselines.abr_optimal import _Rewarder, _ValueBound

    traces = "fcc_test"
    if k == 0:
        (tmp_path / "slow").write_text(SLOW_TRACE)
        traces = str(tmp_path / "slow")
    env = AbrStreamingEnv(mode=mode, traces=traces, reward=reward, video=_short_video(7 if mode == "pensieve" else 5),
                          **{**TEST_RULES, **kwargs})
    env.reset(seed=7, options={"trace_index": k})
    bound = _ValueBound(env.setup, env.session, SingleTracePool(env.session.tl), _Rewarder(env.setup))
    c0 = env.session.chunk
    n = env.setup.chunks_total - c0
    states, best_to_go = {}, {}
    for plan in itertools.product(range(env.setup.levels), repeat=n):
        env.reset(seed=7, options={"trace_index": k})
        rewards = []
        for i, a in enumerate(plan):
            rewards.append(env.step(a)[1])
            states[plan[:i + 1]] = (env.session.t_s, env.session.buffer_ms)
        for i in range(1, n):
            to_go = sum(rewards[i:])
            best_to_go[plan[:i]] = max(best_to_go.get(plan[:i], -np.inf), to_go)
    for m in range(1, n):
        prefixes = [p for p in best_to_go if len(p) == m]
        t = np.array([states[p][0] for p in prefixes])
        b = np.array([states[p][1] for p in prefixes])
        ub = bound(c0 + m - 1, t, b)
        want = np.array([best_to_go[p] for p in prefixes])
        assert np.all(ub >= want), (m, float((want - ub).max()))
