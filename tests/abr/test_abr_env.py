"""ABR env: fidelity to Pensieve's published numbers, episode rules, rewards, errors."""

import math

import gymnasium as gym
import numpy as np
import pytest

import feedbackgym  # noqa: F401
from feedbackgym.agents.evaluation import evaluate
from feedbackgym.envs.abr import AbrConfig, AbrStreamingEnv

ENV_ID = "feedbackgym/AbrStreaming-v0"
TEST_RULES = dict(mode="pensieve", trace_order="sequential", random_start=False, delay_noise=None)


def score(policy, split):
    return evaluate(ENV_ID, policy, {"mode": "pensieve"}, traces=split).aggregate["qoe_per_chunk"]


# ------------------------------------------------------------------ fidelity (brief's numbers)

def test_bb_fcc_test_pinned():
    assert abs(score("bb", "fcc_test") - 0.773) < 1e-3
    assert score("bb", "fcc_test") == pytest.approx(0.7732562, abs=1e-6)


def test_bb_train_pinned():
    assert abs(score("bb", "train") - 0.334) < 1e-3


def test_always_lowest_and_rb_fcc_test():
    assert abs(score("lowest", "fcc_test") - 0.290) < 1e-3
    assert abs(score("rb", "fcc_test") - 0.853) < 2e-3
    assert abs(score("rb", "train") - 0.437) < 2e-3


def test_clean_robust_mpc_within_one_percent():
    assert score("robust_mpc", "fcc_test") == pytest.approx(1.028, rel=0.01)
    assert score("robust_mpc", "train") == pytest.approx(0.556, rel=0.01)


# ----------------------------------------------------------------------------- episode rules

def test_pensieve_mode_plays_48_chunks_first_forced():
    env = AbrStreamingEnv(traces="fcc_test", **TEST_RULES)
    obs, info = env.reset(options={"trace_index": 0})
    assert info["level"] == 1 and info["chunk_index"] == 0  # chunk 0 fetched at 750 kbps
    assert info["rebuffer_s"] == pytest.approx(info["delay_ms"] / 1000.0)  # empty buffer at start
    steps, done = 0, False
    while not done:
        _, _, done, trunc, info = env.step(0)
        assert not trunc
        steps += 1
    assert steps == 47 and info["chunk_index"] == 47 and info["chunks_left"] == 0
    # Pensieve's env shows the next video's first chunk sizes after the last chunk
    assert np.array_equal(info["next_chunk_bytes"], env.video.chunk_bytes[:, 0])


def test_default_mode_plays_all_49_chunks_with_startup():
    env = AbrStreamingEnv(traces="fcc_test", trace_order="sequential", random_start=False, delay_noise=None)
    obs, info = env.reset(options={"trace_index": 0})
    assert info["level"] == -1 and info["chunk_index"] == -1
    _, _, _, _, info = env.step(3)
    c = info["reward_components"]
    assert c["startup_s"] > 0 and c["rebuffer_s"] == 0 and c["switch_mbps"] == 0
    steps = 1
    done = False
    while not done:
        _, _, done, _, info = env.step(0)
        steps += 1
        assert info["reward_components"]["startup_s"] == 0
    assert steps == 49
    assert np.all(info["next_chunk_bytes"] == 0)
    assert info["episode_metrics"]["startup_s"] == pytest.approx(c["startup_s"])


def test_default_mode_link_clock_runs_during_rtt():
    kw = dict(traces="fcc_test", trace_order="sequential", random_start=False, delay_noise=None)
    a, b = AbrStreamingEnv(mode="pensieve", **kw), AbrStreamingEnv(**kw)
    a.reset(options={"trace_index": 0}), b.reset(options={"trace_index": 0})
    # same first download (level 1) in both: default mode's clock is one RTT later
    b.step(1)
    assert b.session.t_s - a.session.t_s == pytest.approx(0.08)


def test_qoe_lin_is_pensieves_formula():
    env = AbrStreamingEnv(traces="fcc_test", **TEST_RULES)
    _, info = env.reset(options={"trace_index": 3})
    last = info["level"]
    rates = [300, 750, 1200, 1850, 2850, 4300]
    rng = np.random.default_rng(0)
    done = False
    while not done:
        a = int(rng.integers(6))
        _, r, done, _, info = env.step(a)
        expect = rates[a] / 1000.0 - 4.3 * info["rebuffer_s"] - 1.0 * abs(rates[a] - rates[last]) / 1000.0
        assert r == expect  # bit for bit
        last = a


@pytest.mark.parametrize("reward,mu", [("qoe_log", 2.66), ("qoe_hd", 8.0)])
def test_log_and_hd_presets(reward, mu):
    env = AbrStreamingEnv(traces="fcc_test", reward=reward, **TEST_RULES)
    _, info = env.reset(options={"trace_index": 1})
    last = info["level"]
    q = np.log(np.array([300, 750, 1200, 1850, 2850, 4300]) / 300.0) if reward == "qoe_log" \
        else np.array([1, 2, 3, 12, 15, 20.0])
    for a in [5, 5, 0, 2, 4, 1]:
        _, r, _, _, info = env.step(a)
        assert r == pytest.approx(q[a] - mu * info["rebuffer_s"] - abs(q[a] - q[last]))
        last = a


def test_weights_dict_callable_and_import_string_rewards(monkeypatch):
    monkeypatch.setenv("FEEDBACKGYM_TRUSTED_REWARD_MODULES", "tests.abr.rewards_for_tests")  # opt-in to the import
    rules = dict(traces="fcc_test", **TEST_RULES)
    base = AbrStreamingEnv(**rules)
    weights = AbrStreamingEnv(reward={"bitrate_mbps": 1.0, "rebuffer_s": -10.0}, **rules)
    fn = AbrStreamingEnv(reward=lambda c: c["bitrate_mbps"] - 10.0 * c["rebuffer_s"], **rules)
    imported = AbrStreamingEnv(reward="tests.abr.rewards_for_tests:bitrate_minus_10_rebuffer", **rules)
    for e in (base, weights, fn, imported):
        e.reset(options={"trace_index": 2})
    for a in [5, 5, 5, 0]:
        _, _, _, _, info = base.step(a)
        c = info["reward_components"]
        expect = c["bitrate_mbps"] - 10.0 * c["rebuffer_s"]
        for e in (weights, fn, imported):
            assert e.step(a)[1] == pytest.approx(expect)


def test_episode_metrics_match_steps():
    env = AbrStreamingEnv(traces="fcc_test", **TEST_RULES)
    env.reset(options={"trace_index": 5})
    rewards, rebuf, bitrate, levels = [], 0.0, 0.0, [1]
    rng = np.random.default_rng(1)
    done = False
    while not done:
        a = int(rng.integers(6))
        _, r, done, _, info = env.step(a)
        rewards.append(r)
        rebuf += info["rebuffer_s"]
        bitrate += info["reward_components"]["bitrate_mbps"]
        levels.append(a)
    m = info["episode_metrics"]
    assert m["qoe_per_chunk"] == pytest.approx(np.mean(rewards))
    assert m["rebuffer_s"] == pytest.approx(rebuf)
    assert m["mean_bitrate_mbps"] == pytest.approx(bitrate / 47)
    assert m["switches"] == sum(a != b for a, b in zip(levels, levels[1:]))
    assert m["rebuffer_ratio"] == pytest.approx(rebuf / (rebuf + 47 * 4.0))


def test_delay_noise_and_random_start_draw_from_the_seed():
    env = AbrStreamingEnv(traces="train")
    _, i1 = env.reset(seed=5)
    d1 = [env.step(3)[4]["delay_ms"] for _ in range(5)]
    _, i2 = env.reset(seed=5)
    d2 = [env.step(3)[4]["delay_ms"] for _ in range(5)]
    assert d1 == d2 and i1["start_row"] == i2["start_row"]
    _, i3 = env.reset(seed=6)
    d3 = [env.step(3)[4]["delay_ms"] for _ in range(5)]
    assert d3 != d1


def test_noise_scales_delay_within_range():
    quiet = AbrStreamingEnv(traces="fcc_test", **TEST_RULES)
    noisy = AbrStreamingEnv(traces="fcc_test", **{**TEST_RULES, "delay_noise": (0.9, 1.1)})
    _, a = quiet.reset(options={"trace_index": 0})
    _, b = noisy.reset(seed=0, options={"trace_index": 0})
    ratio = b["delay_ms"] / a["delay_ms"]
    assert 0.9 <= ratio <= 1.1 and ratio != 1.0


def test_sequential_order_plays_traces_in_sorted_order():
    env = AbrStreamingEnv(traces="fcc_test", **TEST_RULES)
    names = [env.reset()[1]["trace_name"] for _ in range(4)]
    assert names == sorted(env.setup.traces.names)[:4]
    _, info = env.reset(options={"trace_index": 10})
    assert info["trace_name"] == env.trace_name(10)
    assert env.reset()[1]["trace_name"] == env.trace_name(11)  # the order continues


def test_buffer_cap_sleep():
    # a fast synthetic link fills the buffer: it never exceeds the cap after a chunk
    env = AbrStreamingEnv(traces="synthetic", synthetic={"bandwidth_mbps": [50, 60]}, buffer_cap_s=12.0)
    env.reset(seed=0)
    slept = False
    for _ in range(30):
        _, _, done, _, info = env.step(0)
        assert info["buffer_s"] <= 12.0
        slept |= info["sleep_ms"] > 0
        assert info["sleep_ms"] % 500 == 0
    assert slept


def test_reset_config_option_changes_the_next_episodes():
    env = AbrStreamingEnv(traces="fcc_test", **TEST_RULES)
    env.reset(options={"config": {"rtt_ms": 500.0}, "trace_index": 0})
    assert env.config.rtt_ms == 500.0
    with pytest.raises(ValueError, match="action or observation space"):
        env.reset(options={"config": {"video": {"bitrates_kbps": [100, 200], "chunks": 10}}})
    with pytest.raises(ValueError, match="AbrConfig: unknown field"):
        env.reset(options={"config": {"rtt": 5}})
    with pytest.raises(ValueError, match="unknown reset option"):
        env.reset(options={"trace": 3})


# ------------------------------------------------------------------------------- bad input

def test_out_of_space_actions_raise():
    env = gym.make(ENV_ID)
    env.reset(seed=0)
    for bad in (6, -1, 2.5, "3", None):
        with pytest.raises(ValueError, match="action"):
            env.step(bad)
    env.step(np.int64(2))  # numpy integers are fine
    env.step(np.array(2))


def test_step_after_episode_end_raises():
    env = AbrStreamingEnv(traces="fcc_test", **TEST_RULES)
    env.reset()
    done = False
    while not done:
        done = env.step(0)[2]
    with pytest.raises(RuntimeError, match="reset"):
        env.step(0)


def test_bad_trace_index_raises():
    env = AbrStreamingEnv(traces="fcc_test", **TEST_RULES)
    for bad in (-1, 290, 1.5, "0"):
        with pytest.raises(ValueError, match="trace_index"):
            env.reset(options={"trace_index": bad})
    syn = AbrStreamingEnv(traces="synthetic")
    with pytest.raises(ValueError, match="trace_index"):
        syn.reset(options={"trace_index": 0})


def test_reward_errors_are_clear(monkeypatch):
    with pytest.raises(ValueError, match="unknown reward 'qoe_foo'"):
        AbrStreamingEnv(reward="qoe_foo")
    with pytest.raises(ValueError, match="does not compute"):
        AbrStreamingEnv(reward={"bitrate_kbps": 1.0})
    with pytest.raises(ValueError, match="finite number"):
        AbrStreamingEnv(reward={"bitrate_mbps": float("nan")})
    with pytest.raises(ValueError, match="would run its code"):  # a config imports nothing by default
        AbrStreamingEnv(reward="no_such_module_xyz:f")
    monkeypatch.setenv("FEEDBACKGYM_TRUSTED_REWARD_MODULES", "no_such_module_xyz")
    with pytest.raises(ValueError, match="cannot import"):
        AbrStreamingEnv(reward="no_such_module_xyz:f")
    env = AbrStreamingEnv(reward=lambda c: float("nan"))
    env.reset(seed=0)
    with pytest.raises(ValueError, match="returned nan"):
        env.step(0)
    with pytest.raises(ValueError, match="hd_quality"):
        AbrStreamingEnv(reward="qoe_hd", video={"bitrates_kbps": [100, 200, 400], "chunks": 10})


def test_custom_ladder_and_hd_scores():
    video = {"bitrates_kbps": [1000, 4000, 8000, 16000, 25000, 35000, 45000, 60000, 80000], "chunk_s": 2, "chunks": 30}
    env = AbrStreamingEnv(video=video, reward="qoe_hd", hd_scores=list(range(1, 10)),
                          traces="synthetic", synthetic={"bandwidth_mbps": [10, 100]})
    obs, _ = env.reset(seed=0)
    assert env.action_space.n == 9 and obs.shape == (6 * 9,)
    n = 0
    done = False
    while not done:
        _, r, done, _, _ = env.step(8)
        n += 1
        assert math.isfinite(r)
    assert n == 30


def test_config_dataclass_is_frozen_and_json_safe():
    import dataclasses
    import json
    cfg = AbrConfig()
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.mode = "pensieve"
    json.dumps(AbrStreamingEnv().get_config())


def test_render_modes():
    env = AbrStreamingEnv(render_mode="rgb_array", traces="fcc_test", **TEST_RULES)
    env.reset(options={"trace_index": 0})
    for a in (0, 5, 5, 2):
        env.step(a)
    img = env.render()
    assert img.dtype == np.uint8 and img.ndim == 3 and img.shape[1] == 6 * 48
    assert (img[:60, :24] != 255).any()  # four columns drawn
    text = AbrStreamingEnv(render_mode="ansi")
    text.reset(seed=0)
    assert "buffer" in text.render()
    with pytest.raises(ValueError, match="render_mode"):
        AbrStreamingEnv(render_mode="human")


def test_sb3_make_vec_env_default_render_mode():
    sb3 = pytest.importorskip("stable_baselines3.common.env_util")
    venv = sb3.make_vec_env("feedbackgym:feedbackgym/AbrStreaming-v0", n_envs=2, env_kwargs={"mode": "pensieve"})
    assert venv.reset().shape == (2, 48)
    venv.close()
