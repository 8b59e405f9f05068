"""The ABR baselines played through the env's pensieve mode agree, chunk by chunk, with the
standalone transliteration of Pensieve's test scripts (tests/abr/reference/pensieve.py)."""

from __future__ import annotations

import functools

import pytest

try:
    from tests.abr.reference import pensieve as ref
except ImportError:  # pytest's rootdir-relative import puts tests/ itself on sys.path
    from reference import pensieve as ref

from feedbackgym.agents.baselines.abr import ABR_BASELINES
from feedbackgym.envs.abr import AbrStreamingEnv

# A handful of test traces: the first few (sequential, for the order-dependent robustMPC) and a
# spread of others.
FIRST = list(range(6))
SPREAD = [0, 17, 58, 101, 150, 222, 289]

# baseline name -> reference-script controller name (None: no script; compare the same policy
# driven by the reference simulator instead)
PAIRS = {"lowest": "lowest", "bb": "bb", "rb": "rb", "robust_mpc": "mpc",
         "robust_mpc_pensieve": "mpc_pensieve", "bola": None}


def make_env():
    return AbrStreamingEnv(mode="pensieve", traces="fcc_test", trace_order="sequential", random_start=False,
                           delay_noise=None)


@functools.cache
def reference(controller: str, n_videos: int):
    return ref.run("fcc_test", controller, n_videos=n_videos)


def play(env, policy, trace_index: int) -> dict:
    obs, info = env.reset(options={"trace_index": trace_index})
    policy.reset(env, obs, info)
    out = {"name": info["trace_name"], "level": [info["level"]], "reward": [], "buffer_s": [info["buffer_s"]],
           "rebuffer_s": [info["rebuffer_s"]], "delay_ms": [info["delay_ms"]]}
    terminated = truncated = False
    while not (terminated or truncated):
        action = policy.act(obs, info)
        obs, reward, terminated, truncated, info = env.step(action)
        for key in ("level", "buffer_s", "rebuffer_s", "delay_ms"):
            out[key].append(info[key])
        out["reward"].append(reward)
    policy.end_episode(obs, info)
    return out


def assert_same(got: dict, want: ref.VideoLog):
    """Levels must agree exactly. The env solves downloads on the trace's cumulative-bytes curve
    instead of stepping intervals, which matches Pensieve up to float rounding (observed
    <= 1e-13 relative), so continuous quantities are compared to a tight tolerance."""
    assert got["name"] == want.trace_name
    assert got["level"] == want.level, want.trace_name
    for key in ("buffer_s", "rebuffer_s", "delay_ms"):
        assert got[key] == pytest.approx(getattr(want, key), rel=1e-9, abs=1e-9), (want.trace_name, key)
    assert got["reward"] == pytest.approx(want.reward[1:], rel=0, abs=1e-9), want.trace_name


@pytest.mark.parametrize("name", [n for n in PAIRS if n != "robust_mpc_pensieve"])
def test_baseline_through_env_matches_reference(name):
    env = make_env()
    n_videos = max(SPREAD) + 1
    if PAIRS[name] is None:
        want = {k: log for k, log in enumerate(ref.run("fcc_test", ABR_BASELINES[name](), n_videos=n_videos))}
    else:
        want = dict(enumerate(reference(PAIRS[name], n_videos)))
    policy = ABR_BASELINES[name]()
    for k in SPREAD:
        assert_same(play(env, policy, k), want[k])


def test_robust_mpc_pensieve_history_across_episodes_matches_reference():
    """Pensieve's robustMPC keeps its error history from video to video: play traces in order
    with one policy instance (calling end_episode) and match the script's sequential run."""
    env = make_env()
    policy = ABR_BASELINES["robust_mpc_pensieve"]()
    want = reference("mpc_pensieve", len(FIRST))
    for k in FIRST:
        assert_same(play(env, policy, k), want[k])


def test_bb_community_score_through_env_matches_reference_on_full_split():
    """The brief: an env in pensieve mode reproduces BB's fcc_test score to 1e-6."""
    env = make_env()
    policy = ABR_BASELINES["bb"]()
    got_levels, rewards = [], []
    for k in range(env.num_traces):
        out = play(env, policy, k)
        got_levels.append(out["level"])
        rewards.append([0.0] + out["reward"])  # chunk 0 (dropped by the score) is not a step
    want = reference("bb", 290)
    assert got_levels == [log.level for log in want]
    assert ref.community_score(rewards) == pytest.approx(ref.community_score(want), abs=1e-9)
    assert ref.community_score(rewards) == pytest.approx(0.773, abs=1e-3)
