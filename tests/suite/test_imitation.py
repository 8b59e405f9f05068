"""Behaviour cloning (feedbackgym.agents.imitation.pretrain) makes SB3 models imitate a baseline.

BB (buffer-based) is a step function of one observation entry (the buffer), so a small budget of
cloning should make both a PPO policy and a DQN Q-network agree with it on most states —
including states the clone was not trained on.
"""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("stable_baselines3")
import gymnasium as gym  # noqa: E402
import torch  # noqa: E402
from stable_baselines3 import DQN, PPO  # noqa: E402

from feedbackgym.agents.baselines import make_baseline  # noqa: E402
from feedbackgym.agents.imitation import discounted_returns, pretrain  # noqa: E402

ENV_ID = "feedbackgym/AbrStreaming-v0"
ENV_KWARGS = {"mode": "pensieve", "traces": "train"}


def agreement(model, baseline: str, episodes: int = 10, seed: int = 12345) -> float:
    """Fraction of states (fresh episodes, the model acting) where the model picks the baseline's level."""
    env = gym.make(ENV_ID, **ENV_KWARGS)
    expert = make_baseline(ENV_ID, baseline)
    hits = steps = 0
    for ep in range(episodes):
        obs, info = env.reset(seed=seed + ep)
        expert.reset(env, obs, info)
        done = False
        while not done:
            want = expert.act(obs, info)
            got = int(model.predict(obs, deterministic=True)[0])
            hits += got == want
            steps += 1
            obs, _, terminated, truncated, info = env.step(got)
            done = terminated or truncated
    return hits / steps


def test_discounted_returns():
    np.testing.assert_allclose(discounted_returns([1.0, 2.0, 3.0], 0.5), [1 + 0.5 * (2 + 0.5 * 3), 2 + 1.5, 3.0])


def test_ppo_clones_buffer_based():
    env = gym.make(ENV_ID, **ENV_KWARGS)
    model = PPO("MlpPolicy", env, seed=0, device="cpu")
    before = agreement(model, "bb")
    stats = pretrain(model, ENV_ID, ENV_KWARGS, baseline="bb", episodes=60, epochs=30, learning_rate=3e-3, seed=0)
    assert stats["kind"] == "actor_critic"
    assert stats["samples"] == 54 * 47  # 10% of the episodes held out for the held-out accuracy
    assert stats["train_accuracy"] > 0.85 and stats["holdout_accuracy"] > 0.8, stats
    after = agreement(model, "bb")
    assert after > 0.8 and after > before + 0.2, (before, after)


def test_dqn_clones_buffer_based_and_syncs_target():
    env = gym.make(ENV_ID, **ENV_KWARGS)
    model = DQN("MlpPolicy", env, seed=0, device="cpu", learning_starts=0, buffer_size=10_000)
    stats = pretrain(model, ENV_ID, ENV_KWARGS, baseline="bb", episodes=60, epochs=30, learning_rate=3e-3, seed=0,
                     fill_replay_buffer=True)
    assert stats["kind"] == "dqn"
    assert stats["train_accuracy"] > 0.85 and stats["holdout_accuracy"] > 0.8, stats
    assert agreement(model, "bb") > 0.8
    # the Q-values start on the scale of the returns (BB's QoE on train: ~0.3/chunk over ~47 chunks)
    assert abs(stats["rounds"][0]["q_bias_shift"]) > 0.1
    for p, q in zip(model.q_net.parameters(), model.q_net_target.parameters()):
        assert torch.equal(p, q)
    assert stats["replay_buffer_added"] == 54 * 47 and model.replay_buffer.size() == 54 * 47


def test_dagger_round_and_cross_entropy_loss():
    env = gym.make(ENV_ID, **ENV_KWARGS)
    model = DQN("MlpPolicy", env, seed=0, device="cpu")
    stats = pretrain(model, ENV_ID, ENV_KWARGS, baseline="bb", episodes=20, epochs=5, learning_rate=3e-3,
                     dagger_rounds=1, dagger_episodes=10, dqn_loss="ce", holdout_fraction=0.0)
    assert [r["round"] for r in stats["rounds"]] == [0, 1]
    assert stats["samples"] == 30 * 47
    assert 0.0 <= stats["rounds"][1]["learner_agreement"] <= 1.0


def test_bad_arguments():
    env = gym.make(ENV_ID, **ENV_KWARGS)
    model = PPO("MlpPolicy", env, seed=0, device="cpu")
    with pytest.raises(ValueError, match="unknown option"):
        pretrain(model, ENV_ID, ENV_KWARGS, baseline="bb", episodes=2, bogus=1)
    with pytest.raises(ValueError, match="unknown baseline"):
        pretrain(model, ENV_ID, ENV_KWARGS, baseline="nope", episodes=2)
    with pytest.raises(ValueError, match="episodes"):
        pretrain(model, ENV_ID, ENV_KWARGS, baseline="bb", episodes=0)
    with pytest.raises(ValueError, match="observations"):
        nine_levels = {"bitrates_kbps": [300, 750, 1200, 1850, 2850, 4300, 6000, 8000, 10000],
                       "chunk_s": 4.0, "chunks": 48}
        pretrain(model, ENV_ID, {**ENV_KWARGS, "video": nine_levels}, baseline="bb", episodes=2)


def test_expert_object_sample_repeat_and_round_stats():
    """An expert object instead of a baseline name; ``sample_repeat`` adds copies to the fit
    (not to the recorded samples); ``round_stats`` lands in every round, ``holdout_``-prefixed for
    the held-out states, and at the top level for the last round."""
    env = gym.make(ENV_ID, **ENV_KWARGS)
    seen: list[int] = []

    def repeat(actions):
        seen.append(len(actions))
        return np.where(actions == 0, 3, 1)

    def stats_fn(model, obs, actions):
        return {"n_states": len(actions)}

    model = PPO("MlpPolicy", env, seed=0, device="cpu")
    stats = pretrain(model, ENV_ID, ENV_KWARGS, baseline="my_bb", expert=make_baseline(ENV_ID, "bb"), episodes=10,
                     epochs=1, seed=0, dagger_rounds=1, dagger_episodes=2, sample_repeat=repeat, round_stats=stats_fn)
    assert stats["baseline"] == "my_bb"
    assert seen == [r["samples"] for r in stats["rounds"]]        # called on every fit's recorded states
    assert stats["samples"] == 11 * 47 and stats["n_states"] == 11 * 47 and stats["holdout_n_states"] == 47
    assert [r["n_states"] for r in stats["rounds"]] == [9 * 47, 11 * 47]
    with pytest.raises(ValueError, match="sample_repeat must return one integer >= 1 per state"):
        pretrain(PPO("MlpPolicy", env, seed=0, device="cpu"), ENV_ID, ENV_KWARGS, baseline="bb", episodes=2,
                 epochs=1, sample_repeat=lambda a: np.zeros(len(a), dtype=int))
    with pytest.raises(ValueError, match="round_stats must be a callable"):
        pretrain(model, ENV_ID, ENV_KWARGS, baseline="bb", episodes=2, round_stats=3)
