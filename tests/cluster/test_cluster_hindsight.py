"""The hindsight labeller of the meta action mode and its cloning function
(``feedbackgym/envs/cluster/hindsight.py``).

* the label is the candidate arm with the smallest target covering the future peak over the
  horizon (x (1 + margin)), or the largest target when none covers it;
* only candidate arms are labelled; the menu mode is refused;
* ``pretrain`` fits a PPO model (with DAgger and label weights) and reports its statistics.
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

import feedbackgym  # noqa: F401
from feedbackgym.envs.cluster.hindsight import HindsightArm, pretrain
from feedbackgym.envs.cluster.meta import N_ARMS, arm_index

ENV = "feedbackgym/ClusterRightsizing-v0"
META = {"action_mode": "meta", "episode_days": 1.0}
MAX12 = ["max_12h_x1", "max_12h_x1.1", "max_12h_x1.2", "max_12h_x1.35", "max_12h_x1.5"]


def _check_labels(expert: HindsightArm, steps: int = 300) -> set:
    env = gym.make(ENV, **META)
    obs, info = env.reset(seed=3)
    expert.reset(env, obs, info)
    u = env.unwrapped
    seen = set()
    for _ in range(steps):
        a = expert.act(obs, info)
        seen.add(a)
        assert a in set(expert.arms.tolist())
        p = np.maximum(u.bank.proposals(), u.config.min_memory_limit_mib)[expert.arms]
        peak = expert.future_peak()
        if np.isfinite(peak):
            need = peak * (1 + expert.margin)
            chosen = p[list(expert.arms).index(a)]
            if (p >= need).any():
                assert chosen >= need and chosen == p[p >= need].min()
            else:
                assert chosen == p.max()
        obs, _, term, trunc, info = env.step(a)
        if term or trunc:
            break
    return seen


def test_label_is_the_smallest_covering_arm():
    _check_labels(HindsightArm(6.0, 0.0))
    seen = _check_labels(HindsightArm(12.0, 0.1, MAX12))
    assert seen <= {arm_index(a) for a in MAX12}


def test_future_peak_reads_the_next_windows():
    env = gym.make(ENV, **META)
    obs, info = env.reset(seed=1)
    ex = HindsightArm(1.0)
    ex.reset(env, obs, info)
    u = env.unwrapped
    pos = int(u.engine.core.pos[0])
    assert ex.future_peak() == pytest.approx(float(u.table.memory_peak_mib[pos:pos + 12].max()))
    obs, _, _, _, info = env.step(ex.act(obs, info))
    assert info["memory_usage_mib"] == pytest.approx(float(u.table.memory_peak_mib[pos]))


def test_bad_arguments_and_menu_mode_are_refused():
    with pytest.raises(ValueError, match="horizon_h"):
        HindsightArm(0.0)
    with pytest.raises(ValueError, match="margin"):
        HindsightArm(6.0, -0.1)
    with pytest.raises(ValueError, match="unknown meta arm"):
        HindsightArm(6.0, 0.0, ["nope"])
    env = gym.make(ENV, episode_days=1.0)
    obs, info = env.reset(seed=0)
    with pytest.raises(ValueError, match="meta"):
        HindsightArm().reset(env, obs, info)


def test_pretrain_fits_a_ppo_model():
    from stable_baselines3 import PPO

    kw = dict(META, episode_days=0.5)
    model = PPO("MlpPolicy", gym.make(ENV, **kw), seed=0, device="cpu", n_steps=64, batch_size=64)
    stats = pretrain(model, ENV, kw, horizon_h=6.0, arms=MAX12, episodes=3, epochs=2, dagger_rounds=1,
                     dagger_episodes=1, label_weights={"max_12h_x1.5": 3})
    assert stats["kind"] == "actor_critic" and len(stats["rounds"]) == 2
    assert stats["samples"] > 0 and 0.0 <= stats["train_accuracy"] <= 1.0
    frac = np.asarray(stats["label_fraction_per_arm"])
    assert len(frac) == N_ARMS and frac.sum() == pytest.approx(1.0, abs=1e-3)
    assert frac[[k for k in range(N_ARMS) if k not in {arm_index(a) for a in MAX12}]].sum() == 0
    with pytest.raises(ValueError, match="label_weights"):
        pretrain(model, ENV, kw, episodes=2, label_weights={"max_12h_x1": 0})
