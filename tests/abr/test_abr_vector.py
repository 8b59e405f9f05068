"""The vectorised twin gives the same transitions as N single envs with the same seeds."""

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.vector import AutoresetMode

import feedbackgym  # noqa: F401
from feedbackgym.envs.abr.env import AbrStreamingEnv
from feedbackgym.envs.abr.vector import AbrStreamingVectorEnv

CONFIGS = [
    {},
    {"mode": "pensieve"},
    {"mode": "pensieve", "traces": "fcc_test", "trace_order": "sequential", "random_start": False,
     "delay_noise": None, "observation_layout": "matrix"},
    {"traces": "synthetic", "synthetic": {"bandwidth_mbps": [0.1, 30], "buffer_cap_s": [5, 30], "rtt_ms": [10, 200]}},
    {"reward": "qoe_log", "buffer_cap_s": 10.0, "rtt_ms": 0.0},
    {"reward": {"bitrate_mbps": 1.0, "rebuffer_s": -20.0, "hd_switch": -0.1}, "mode": "pensieve"},
]


def run_twin_vs_singles(config, autoreset_mode, n=5, steps=230, seed=11):
    vec = AbrStreamingVectorEnv(n, autoreset_mode=autoreset_mode, **config)
    singles = [AbrStreamingEnv(**config) for _ in range(n)]
    vobs, vinfo = vec.reset(seed=seed)
    sobs = [e.reset(seed=seed + i)[0] for i, e in enumerate(singles)]
    assert np.array_equal(vobs, np.stack(sobs))
    rng = np.random.default_rng(0)
    pending = [False] * n
    episodes = 0
    for _ in range(steps):
        a = rng.integers(0, vec.single_action_space.n, n)
        vobs, vr, vterm, vtrunc, vinfo = vec.step(a)
        assert not vtrunc.any()
        for i, e in enumerate(singles):
            if autoreset_mode == AutoresetMode.NEXT_STEP and pending[i]:
                o, info = e.reset()
                r, term = 0.0, False
                assert vinfo["_trace_name"][i] and vinfo["trace_name"][i] == info["trace_name"]
            else:
                o, r, term, _, info = e.step(a[i])
                same_step_end = term and autoreset_mode == AutoresetMode.SAME_STEP
                comps = vinfo["final_info"]["reward_components"] if same_step_end else vinfo["reward_components"]
                for k, v in info["reward_components"].items():
                    assert comps[k][i] == v, k
                if term:
                    episodes += 1
                    metrics = vinfo["final_info"]["episode_metrics"] if autoreset_mode == AutoresetMode.SAME_STEP \
                        else vinfo["episode_metrics"]
                    for k, v in info["episode_metrics"].items():
                        assert metrics[k][i] == v, k
                    if autoreset_mode == AutoresetMode.SAME_STEP:
                        assert np.array_equal(vinfo["final_obs"][i], o)
                        o, info = e.reset()
                for k in ("buffer_s", "delay_ms", "rebuffer_s", "sleep_ms", "level", "chunk_index", "chunks_left"):
                    assert vinfo[k][i] == info[k], k
                assert np.array_equal(vinfo["next_chunk_bytes"][i], info["next_chunk_bytes"])
            pending[i] = term
            assert vr[i] == r and vterm[i] == term
            assert np.array_equal(vobs[i], o)
    assert episodes >= n  # every sub-env finished at least one episode


@pytest.mark.parametrize("config", CONFIGS)
@pytest.mark.parametrize("mode", [AutoresetMode.NEXT_STEP, AutoresetMode.SAME_STEP])
def test_twin_equals_single_envs(config, mode):
    run_twin_vs_singles(config, mode)


def test_make_vec_passes_config_and_seeds_like_sync_vector_env():
    twin = gym.make_vec("feedbackgym/AbrStreaming-v0", num_envs=3, mode="pensieve")
    sync = gym.make_vec("feedbackgym/AbrStreaming-v0", num_envs=3, vectorization_mode="sync", mode="pensieve")
    a, _ = twin.reset(seed=4)
    b, _ = sync.reset(seed=4)
    assert np.array_equal(a, b)
    for _ in range(60):
        act = np.array([1, 4, 2])
        oa, ra, ta, _, _ = twin.step(act)
        ob, rb, tb, _, _ = sync.step(act)
        assert np.array_equal(oa, ob) and np.array_equal(ra, rb) and np.array_equal(ta, tb)


def test_callable_reward_receives_arrays():
    vec = AbrStreamingVectorEnv(4, reward=lambda c: c["bitrate_mbps"] - 10 * c["rebuffer_s"])
    vec.reset(seed=0)
    _, r, _, _, info = vec.step(np.array([0, 1, 2, 3]))
    c = info["reward_components"]
    assert np.allclose(r, c["bitrate_mbps"] - 10 * c["rebuffer_s"])


def test_bad_vector_inputs():
    with pytest.raises(ValueError, match="num_envs"):
        AbrStreamingVectorEnv(0)
    vec = AbrStreamingVectorEnv(3)
    with pytest.raises(RuntimeError, match="before reset"):
        vec.step(np.zeros(3, dtype=int))
    vec.reset(seed=0)
    with pytest.raises(ValueError, match="outside Discrete"):
        vec.step(np.array([0, 6, 1]))
    with pytest.raises(ValueError, match="3 integer levels"):
        vec.step(np.array([0, 1]))
    with pytest.raises(ValueError, match="3 integer levels"):
        vec.step(np.array([0.5, 1, 1]))
    with pytest.raises(ValueError, match="seeds"):
        vec.reset(seed=[1, 2])
    with pytest.raises(ValueError, match="autoreset_mode"):
        AbrStreamingVectorEnv(2, autoreset_mode="sometimes")
