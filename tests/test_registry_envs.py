"""Tests every registered id gets the moment it is registered (HighwayEnv's pattern)."""

import multiprocessing as mp
import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import feedbackgym
from feedbackgym.registration import ENVS, env_ids, register_envs

IDS = env_ids()


def test_ids_are_namespaced_and_versioned():
    assert IDS
    for env_id in IDS:
        assert env_id.startswith("feedbackgym/") and "-v" in env_id
        assert env_id in gym.registry
        assert gym.registry[env_id].vector_entry_point is not None


def test_registration_is_idempotent():
    before = dict(gym.registry)
    register_envs()
    register_envs()
    import importlib
    importlib.reload(feedbackgym)
    assert set(gym.registry) == set(before)


@pytest.mark.parametrize("env_id", IDS)
def test_gymnasium_check_env_clean(env_id):
    env = gym.make(env_id)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_env(env.unwrapped)


@pytest.mark.parametrize("env_id", IDS)
def test_sb3_check_env_clean(env_id):
    sb3_checker = pytest.importorskip("stable_baselines3.common.env_checker")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sb3_checker.check_env(gym.make(env_id).unwrapped)


def _rollout(env_id, seed, n_episodes=2):
    env = gym.make(env_id)
    env.action_space.seed(seed)
    out = []
    obs, info = env.reset(seed=seed)
    out.append(obs)
    episodes = 0
    while episodes < n_episodes:
        obs, r, term, trunc, info = env.step(env.action_space.sample())
        out.append(obs)
        out.append(np.array([r]))
        if term or trunc:
            assert "episode_metrics" in info
            episodes += 1
            obs, info = env.reset()
            out.append(obs)
    return np.concatenate([np.ravel(x) for x in out])


@pytest.mark.parametrize("env_id", IDS)
def test_whole_episodes_same_seed_same_rollout(env_id):
    a, b, c = _rollout(env_id, 7), _rollout(env_id, 7), _rollout(env_id, 8)
    assert np.array_equal(a, b)
    assert a.shape != c.shape or not np.array_equal(a, c)


@pytest.mark.parametrize("env_id", IDS)
def test_reward_components_and_kpis_in_info(env_id):
    env = gym.make(env_id)
    env.reset(seed=0)
    done = False
    while not done:
        _, r, term, trunc, info = env.step(env.action_space.sample())
        comps = info["reward_components"]
        assert comps and all(np.isfinite(v) for v in comps.values())
        done = term or trunc
    assert info["episode_metrics"]


def _make_in_child(env_id):
    env = gym.make(f"feedbackgym:{env_id}")
    obs, _ = env.reset(seed=0)
    return obs.shape


@pytest.mark.parametrize("method", ["spawn", "forkserver"])
def test_namespaced_make_in_fresh_children(method):
    ctx = mp.get_context(method)
    with ctx.Pool(1) as pool:
        shapes = pool.map(_make_in_child, IDS)
    assert all(len(s) >= 1 for s in shapes)


@pytest.mark.parametrize("env_id", IDS)
def test_make_vec_uses_the_vectorised_twin(env_id):
    venv = gym.make_vec(env_id, num_envs=3)
    assert type(venv).__module__.startswith("feedbackgym.envs")
    obs, info = venv.reset(seed=0)
    assert obs.shape[0] == 3
    obs, r, term, trunc, info = venv.step(venv.action_space.sample())
    assert r.shape == (3,)
    venv.close()


def test_every_env_has_a_description():
    for env_id, spec in ENVS.items():
        assert spec[3] and "\n" not in spec[3]


@pytest.mark.parametrize("env_id", IDS)
def test_config_class_is_the_envs(env_id):
    from feedbackgym.registration import config_class
    assert type(gym.make(env_id).unwrapped.config) is config_class(env_id)
