"""The opt-in training mix ``workloads="train+synthetic"``: the parts' jobs in order, the parts unchanged."""

import gymnasium as gym
import numpy as np
import pytest

import feedbackgym  # noqa: F401
from feedbackgym.envs.cluster.workloads import load_workloads


def test_mix_is_the_parts_in_order():
    mix = load_workloads("train+synthetic", seed=3, count=4, days=2.0)
    train = load_workloads("train")
    syn = load_workloads("synthetic", seed=3, count=4, days=2.0)
    assert [w.name for w in mix] == [w.name for w in train] + [w.name for w in syn]
    for a, b in zip(mix, train + syn):
        np.testing.assert_array_equal(a.memory_usage_mib, b.memory_usage_mib)


def test_not_a_mix_falls_through_to_a_path():
    with pytest.raises(ValueError, match="no such workload"):
        load_workloads("train+nonexistent_split")


def test_env_on_the_mix_draws_both_kinds():
    env = gym.make("feedbackgym/ClusterRightsizing-v0", workloads="train+synthetic", synthetic_count=5,
                   synthetic_days=1.0, episode_days=0.5, action_mode="meta")
    table = env.unwrapped.table
    assert len(table) == 25 and table.names[-1] == "synthetic_0_4"
    env.reset(seed=0)
    for k in (0, 24):
        env.reset(options={"job_index": k})
        obs, *_ = env.step(env.action_space.sample())
        assert np.all(np.isfinite(obs))
    env.close()
