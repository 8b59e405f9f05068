"""The SB3 independent-learner recipe on the market's PettingZoo view (feedbackgym.envs.market.multiagent_training)."""

import numpy as np
import pytest

pytest.importorskip("pettingzoo")
pytest.importorskip("supersuit")
pytest.importorskip("stable_baselines3")

from feedbackgym.envs.market import multiagent_training as ma  # noqa: E402
from feedbackgym.envs.market.multiagent import parallel_env  # noqa: E402

KWARGS = {"agent_makers": 2, "market": {"length_s": 150, "seller_start_s": 40}, "stress_s": 80}


def test_role_view_plays_the_others_with_fixed_policies():
    env = parallel_env(**KWARGS)
    view = ma.RoleView(env, ["maker_0", "maker_1"], ma.rule_policies(regulator_rule="stop_logic"))
    obs, infos = view.reset(seed=0)
    assert set(obs) == {"maker_0", "maker_1"} and view.possible_agents == ["maker_0", "maker_1"]
    steps = 0
    while view.agents:
        obs, rew, term, trunc, infos = view.step({"maker_0": 1, "maker_1": 0})
        assert set(rew) == {"maker_0", "maker_1"}
        steps += 1
    assert steps == 150 and not env.agents
    with pytest.raises(ValueError, match="learners"):
        ma.RoleView(parallel_env(**KWARGS), ["maker_9"], {})
    with pytest.raises(ValueError, match="no policy"):
        ma.RoleView(parallel_env(**KWARGS), ["maker_0", "maker_1"], {})


def test_rule_policies_play_a_whole_episode():
    metrics, series = ma.play(parallel_env(**KWARGS), ma.rule_policies(), seed=3)
    assert metrics["steps"] == 150 and series["mid"].shape == (150,)
    assert series["agent_inventory"].shape == (150, 2)
    again, _ = ma.play(parallel_env(**KWARGS), ma.rule_policies(), seed=3)
    assert again == metrics


@pytest.mark.slow
def test_tiny_independent_learner_run_with_parameter_shared_makers(tmp_path):
    models = ma.train_independent(KWARGS, learn=("maker", "regulator"), rounds=1, steps_per_round=256,
                                  ppo_kwargs={"n_steps": 128, "batch_size": 64, "n_epochs": 1})
    assert set(models) == {"maker", "regulator"}
    # the makers share one model: its rollout holds both makers' steps (2 slots x 128)
    assert models["maker"].num_timesteps >= 256 and models["maker"].n_envs == 2
    assert models["regulator"].n_envs == 1
    models["maker"].save(tmp_path / "maker.zip")
    from stable_baselines3 import PPO
    loaded = PPO.load(tmp_path / "maker.zip", device="cpu")
    pol = {"maker": ma.SB3Policy(loaded), "regulator": ma.SB3Policy(models["regulator"])}
    metrics, series = ma.play(parallel_env(**KWARGS), pol, seed=11)
    assert metrics["steps"] == 150 and np.isfinite(metrics["composite_loss"])
    with pytest.raises(ValueError, match="no agents"):
        ma.train_independent(KWARGS, learn=("executor",), rounds=1, steps_per_round=8)


@pytest.mark.slow
def test_clone_rules_warm_start_then_continue():
    models = ma.clone_rules(KWARGS, roles=("maker", "regulator"), episodes=1, epochs=2, seed=0,
                            ppo_kwargs={"n_steps": 64, "batch_size": 32, "n_epochs": 1})
    assert set(models) == {"maker", "regulator"}
    assert models["regulator"].clone_accuracy > 0.5 and 0.0 < models["maker"].clone_accuracy <= 1.0
    models = ma.train_independent(KWARGS, learn=("maker",), rounds=1, steps_per_round=64, models=models)
    assert models["maker"].num_timesteps >= 128
    with pytest.raises(ValueError, match="no agents"):
        ma.clone_rules({**KWARGS, "agent_makers": 0}, roles=("maker",), episodes=1)


def test_rule_policies_pass_the_regulator_rule_its_parameters():
    # the published multi-agent models were cloned from Stop Logic at 1 %; run.py train pins it
    default = ma.rule_policies()["regulator"]()
    pinned = ma.rule_policies(regulator_rule_kwargs={"move_pct": 1.0})["regulator"]()
    assert default.policy.rule.move_pct == 1.5 and pinned.policy.rule.move_pct == 1.0
    with pytest.raises(ValueError, match="move_pct"):
        ma.rule_policies(regulator_rule_kwargs={"move_pct": -1})["regulator"]()
