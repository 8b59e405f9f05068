"""RLlib multi-agent on the market's PettingZoo view (extras ``distributed`` and ``multiagent``;
``make test-rllib`` runs this in ``.venv-ray``): RLlib's ``ParallelPettingZooEnv`` around
``feedbackgym.envs.market.multiagent.parallel_env``, one PPO module per role (regulator, maker),
a tiny training with the env in a remote env runner, then the trained modules play an episode."""

import numpy as np
import pytest

pytest.importorskip("ray.rllib")
pytest.importorskip("torch")
pytest.importorskip("pettingzoo")

from feedbackgym.envs.market import multiagent_training as ma  # noqa: E402
from feedbackgym.envs.market.multiagent import parallel_env  # noqa: E402

KWARGS = {"agent_makers": 2, "market": {"length_s": 120, "seller_start_s": 30}, "stress_s": 60}
TINY = {"train_batch_size_per_learner": 240, "minibatch_size": 60, "num_epochs": 2}


def test_rllib_wrapper_sees_every_agent():
    from ray.rllib.env.wrappers.pettingzoo_env import ParallelPettingZooEnv

    env = ParallelPettingZooEnv(parallel_env(**KWARGS))
    obs, infos = env.reset(seed=0)
    assert set(obs) == {"regulator", "maker_0", "maker_1"}
    assert {ma.rllib_policy_mapping(a) for a in obs} == {"regulator", "maker"}
    obs, rew, term, trunc, infos = env.step({a: 0 for a in obs})
    assert set(rew) == set(obs) and term["__all__"] is False


def test_env_config_must_be_json():
    with pytest.raises(ValueError, match="JSON"):
        ma.rllib_config({**KWARGS, "reward": lambda c: 0.0})


@pytest.mark.slow
def test_tiny_multi_agent_ppo_on_local_ray():
    import ray

    try:
        algo, results = ma.train_rllib(KWARGS, timesteps=480, seed=0, num_env_runners=1, training=TINY)
        try:
            learners = results[-1]["learners"]
            assert {"regulator", "maker"} <= set(learners)
            returns = results[-1]["env_runners"]["agent_episode_returns_mean"]
            assert {"regulator", "maker_0", "maker_1"} <= set(returns)
            pol = {"regulator": ma.RLlibPolicy(algo, "regulator"), "maker": ma.RLlibPolicy(algo, "maker")}
            metrics, series = ma.play(parallel_env(**KWARGS), pol, seed=7)
            assert metrics["steps"] == 120 and np.isfinite(metrics["max_drawdown_pct"])
            assert series["agent_inventory"].shape == (120, 2)
        finally:
            algo.stop()
    finally:
        ray.shutdown()
