"""The committed autoscaling agents load and act in the env they were trained for."""

from pathlib import Path

import numpy as np
import pytest

from feedbackgym.envs.cluster.autoscaling_env import ClusterAutoscalingEnv

MODELS = Path(__file__).resolve().parents[2] / "results" / "cluster" / "models"


@pytest.mark.parametrize("name", ["autoscaling_ppo.zip", "autoscaling_dqn.zip"])
def test_committed_model_plays_a_test_episode(name):
    pytest.importorskip("stable_baselines3")
    from feedbackgym.agents.policy import Sb3Policy

    policy = Sb3Policy(MODELS / name)
    env = ClusterAutoscalingEnv(traces="test", trace_order="sequential", random_start=False, episode_days=0.25,
                                size_draw="per_trace", action_mode="utilisation")
    obs, info = env.reset(seed=0, options={"trace_index": 1})
    policy.reset(env, obs, info)
    done = False
    while not done:
        obs, _, _, done, info = env.step(policy.act(obs, info))
    m = info["episode_metrics"]
    assert np.isfinite(m["cost_per_day"]) and m["replica_hours"] > 0
    with pytest.raises(ValueError, match="Discrete"):  # the default replicas mode is another action space
        other = ClusterAutoscalingEnv(episode_days=0.01)
        policy.reset(other, *other.reset(seed=0))
        policy.act(*other.reset(seed=0))
