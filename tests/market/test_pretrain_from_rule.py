"""Behaviour cloning of a circuit-breaker rule (``pretrain_from_rule``): the rule intervenes on a
few decisions in a thousand, so DQN's plain clone answers "continue" everywhere; the
``intervention_weight`` oversampling must make the clone repeat the rule's interventions."""

import pytest
from stable_baselines3 import DQN, PPO

from feedbackgym.agents.baselines.market import pretrain_from_rule

ENV_ID = "feedbackgym/FlashCrashRegulator-v0"
ENV_KWARGS = {"scenario": "flash_crash", "market": {"seller_size": 12000},
              "decision_s": 5, "liquidity_features": True}
RULE = {"rule": "stop_logic_liquidity", "rule_kwargs": {"prior_move_pct": 0.3, "maker_share_min": 0.0}}


def _dqn(env):
    return DQN("MlpPolicy", env, learning_starts=0, buffer_size=1000, policy_kwargs={"net_arch": [32]}, seed=0)


def _clone(weight: int) -> dict:
    import gymnasium as gym

    env = gym.make(ENV_ID, **ENV_KWARGS)
    return pretrain_from_rule(_dqn(env), ENV_ID, ENV_KWARGS, episodes=6, epochs=8, margin=3.0,
                              intervention_weight=weight, holdout_fraction=0.0, **RULE)


@pytest.mark.slow
def test_oversampling_makes_the_dqn_clone_intervene():
    plain, weighted = _clone(1), _clone(30)
    assert plain["intervention_weight"] == 1 and weighted["intervention_weight"] == 30
    assert weighted["samples"] == plain["samples"]          # the weight repeats rows in the fit only
    assert weighted["intervention_recall"] > plain["intervention_recall"]
    assert weighted["intervention_recall"] >= 0.5


def test_intervention_weight_is_checked():
    import gymnasium as gym

    env = gym.make(ENV_ID, **ENV_KWARGS)
    with pytest.raises(ValueError, match="intervention_weight must be an integer >= 1"):
        pretrain_from_rule(_dqn(env), ENV_ID, ENV_KWARGS, episodes=2, epochs=1, intervention_weight=0, **RULE)
    with pytest.raises(ValueError, match="DQN's cloning only"):
        pretrain_from_rule(PPO("MlpPolicy", env, n_steps=64), ENV_ID, ENV_KWARGS, episodes=2, epochs=1,
                           intervention_weight=5, **RULE)
