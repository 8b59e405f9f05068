"""Conformance tests every declared env id gets the moment its family is registered.

Nothing here names a family: each id's declaration (:mod:`feedbackgym.family`) supplies the
kwargs that keep tests quick (``test_kwargs``) and the configs on which the vectorised twin must
equal single envs (``test_variants``). HighwayEnv's pattern: parametrised over every id.
"""

import multiprocessing as mp
import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from gymnasium.vector import AutoresetMode

import feedbackgym
from feedbackgym import family
from feedbackgym.bench import draw_actions
from feedbackgym.registration import env_ids, register_envs

IDS = env_ids()
TWIN_IDS = [i for i in IDS if family.spec(i).vector_entry_point is not None]


def _kw(env_id, **more):
    return {**family.spec(env_id).test_kwargs, **more}


def _variants(env_id):
    return [_kw(env_id, **v) for v in family.spec(env_id).test_variants]


def _make(env_id, **more):
    return gym.make(env_id, **_kw(env_id, **more))


# ------------------------------------------------------------------------------ declarations


def test_ids_are_namespaced_versioned_and_declared():
    assert IDS
    for env_id in IDS:
        s = family.spec(env_id)
        assert env_id.startswith("feedbackgym/") and "-v" in env_id
        assert env_id in gym.registry
        assert s.description and "\n" not in s.description
        assert s.family and s.family in family.families()
        assert gym.registry[env_id].vector_entry_point == s.vector_entry_point


def test_registration_is_idempotent_without_gymnasium_warnings():
    """Re-registering an id only warns in Gymnasium; with warnings as errors a missing guard fails."""
    before = dict(gym.registry)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        register_envs()
        register_envs()
        for fam in list(family.families().values()):
            family.register_family(fam)
    import importlib
    importlib.reload(feedbackgym)
    assert set(gym.registry) == set(before)
    assert env_ids() == IDS


def test_a_second_family_cannot_claim_a_declared_id():
    taken = family.spec(IDS[0])
    clash = family.Family(name="clash-test", envs=[family.EnvSpec(
        taken.id, entry_point=taken.entry_point, config_class=taken.config_class, description="x")])
    with pytest.raises(ValueError, match="already declared"):
        family.register_family(clash)
    assert "clash-test" not in family.families()


@pytest.mark.parametrize("env_id", IDS)
def test_declaration_is_consistent(env_id):
    s = family.spec(env_id)
    names = [m.name for m in s.metrics]
    assert len(names) == len(set(names))
    if s.headline is not None:
        assert s.headline in names
    for col in s.table_columns or ():
        assert col in names, col
    if s.reference_policy is not None:
        assert s.reference_policy in s.baselines
    for name, b in s.baselines.items():
        assert callable(family.load(b.target)), name
    assert type(_make(env_id).unwrapped.config) is family.config_class(env_id)


# ------------------------------------------------------------------------------------ checks


@pytest.mark.parametrize("env_id", IDS)
def test_gymnasium_check_env_clean(env_id):
    env = _make(env_id)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_env(env.unwrapped)


@pytest.mark.parametrize("env_id", IDS)
def test_sb3_check_env_clean(env_id):
    sb3_checker = pytest.importorskip("stable_baselines3.common.env_checker")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sb3_checker.check_env(_make(env_id).unwrapped)


def _rollout(env_id, seed, n_episodes=2):
    env = _make(env_id)
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
    return np.concatenate([np.ravel(np.asarray(x, dtype=float)) for x in out])


@pytest.mark.parametrize("env_id", IDS)
def test_whole_episodes_same_seed_same_rollout(env_id):
    a, b, c = _rollout(env_id, 7), _rollout(env_id, 7), _rollout(env_id, 8)
    assert np.array_equal(a, b)
    assert a.shape != c.shape or not np.array_equal(a, c)


@pytest.mark.parametrize("env_id", IDS)
def test_reward_components_and_kpis_in_info(env_id):
    s = family.spec(env_id)
    env = _make(env_id)
    env.reset(seed=0)
    env.action_space.seed(0)
    done = False
    while not done:
        _, r, term, trunc, info = env.step(env.action_space.sample())
        comps = info["reward_components"]
        assert comps and all(np.isfinite(v) for v in comps.values())
        if s.reward_components:
            assert set(comps) <= set(s.reward_components), set(comps) - set(s.reward_components)
        done = term or trunc
    metrics = info["episode_metrics"]
    assert metrics
    for m in s.metrics:  # every declared metric is computable from an episode record
        assert all(src in metrics for src in m.aggregate.sources(m.name)), m.name


def _make_in_child(env_id):
    env = gym.make(f"feedbackgym:{env_id}", **family.spec(env_id).test_kwargs)
    obs, _ = env.reset(seed=0)
    return np.shape(obs)


@pytest.mark.parametrize("method", ["spawn", "forkserver"])
def test_namespaced_make_in_fresh_children(method):
    ctx = mp.get_context(method)
    with ctx.Pool(1) as pool:
        shapes = pool.map(_make_in_child, IDS)
    for env_id, shape in zip(IDS, shapes):
        assert shape == _make(env_id).observation_space.shape


# ---------------------------------------------------------------------------- vectorised twin


@pytest.mark.parametrize("env_id", TWIN_IDS)
def test_make_vec_uses_the_vectorised_twin(env_id):
    venv = gym.make_vec(env_id, num_envs=3, **_kw(env_id))
    assert type(venv).__module__.startswith("feedbackgym.envs")
    obs, info = venv.reset(seed=0)
    assert obs.shape[0] == 3
    obs, r, term, trunc, info = venv.step(draw_actions(venv.single_action_space, (3,), np.random.default_rng(0)))
    assert r.shape == (3,)
    venv.close()


def _assert_info_equal(vinfo, i, info, where):
    for k, v in info.items():
        if isinstance(v, dict):
            assert isinstance(vinfo.get(k), dict), (where, k)
            _assert_info_equal(vinfo[k], i, v, f"{where}.{k}")
        elif isinstance(v, (int, float, bool, np.number, np.bool_, np.ndarray)):
            assert vinfo[f"_{k}"][i], (where, k)
            a, b = np.asarray(vinfo[k][i]), np.asarray(v)
            # NaN (an undefined metric, e.g. a reaction time without an event) equals NaN here
            nan_ok = a.dtype.kind in "fc" and b.dtype.kind in "fc"
            assert np.array_equal(a, b, equal_nan=nan_ok), (where, k, vinfo[k][i], v)


@pytest.mark.parametrize("mode", [AutoresetMode.NEXT_STEP, AutoresetMode.SAME_STEP])
@pytest.mark.parametrize("env_id", TWIN_IDS)
def test_twin_equals_single_envs(env_id, mode, n=4, steps=300, seed=11):
    """Same observations, rewards, ends and infos as ``n`` single envs seeded ``seed + i``, in
    both autoreset modes, on every variant the family declares."""
    episodes = 0
    for kwargs in _variants(env_id):
        vec = gym.make_vec(env_id, num_envs=n, vectorization_mode="vector_entry_point", autoreset_mode=mode, **kwargs)
        singles = [gym.make(env_id, **kwargs) for _ in range(n)]
        vobs, _ = vec.reset(seed=seed)
        assert np.array_equal(vobs, np.stack([e.reset(seed=seed + i)[0] for i, e in enumerate(singles)]))
        rng = np.random.default_rng(0)
        pending = [False] * n
        for t in range(steps):
            a = draw_actions(vec.single_action_space, (n,), rng)
            vobs, vr, vterm, vtrunc, vinfo = vec.step(a)
            for i, e in enumerate(singles):
                where = f"{kwargs} step {t} env {i}"
                if mode == AutoresetMode.NEXT_STEP and pending[i]:
                    o, _ = e.reset()
                    r, term, trunc = 0.0, False, False
                else:
                    o, r, term, trunc, info = e.step(a[i])
                    done = term or trunc
                    if done and mode == AutoresetMode.SAME_STEP:
                        assert np.array_equal(vinfo["final_obs"][i], o), where
                        _assert_info_equal(vinfo["final_info"], i, info, where)
                        o, _ = e.reset()
                    else:
                        _assert_info_equal(vinfo, i, info, where)
                    episodes += int(done)
                pending[i] = term or trunc
                assert np.array_equal(vobs[i], o), where
                assert vr[i] == r and vterm[i] == term and vtrunc[i] == trunc, where
        vec.close()
    assert episodes >= 1, "no episode ended: lengthen the test or shorten test_kwargs episodes"


@pytest.mark.parametrize("env_id", TWIN_IDS)
def test_twin_adapter_equals_dummy_vec_env(env_id):
    pytest.importorskip("stable_baselines3")
    from feedbackgym.agents.sb3_vec import TwinVecEnv, make_sb3_vec_env

    def deep_equal(a, b, where):
        if isinstance(a, dict):
            assert isinstance(b, dict) and sorted(a) == sorted(b), f"{where}: keys {sorted(a)} != {sorted(b)}"
            for k in a:
                deep_equal(a[k], b[k], f"{where}.{k}")
        elif isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
            assert np.array_equal(a, b), where
        else:  # NaN (an undefined metric) equals NaN here
            assert a == b or (a != a and b != b), f"{where}: {a!r} != {b!r}"

    for kwargs in _variants(env_id):
        twin = make_sb3_vec_env(env_id, 3, "twin", kwargs, seed=11)
        dummy = make_sb3_vec_env(env_id, 3, "dummy", kwargs, seed=11)
        assert isinstance(twin, TwinVecEnv)
        assert twin.observation_space == dummy.observation_space and twin.action_space == dummy.action_space
        assert np.array_equal(twin.reset(), dummy.reset())
        for a, b in zip(twin.reset_infos, dummy.reset_infos):
            deep_equal(a, b, "reset_info")
        rng = np.random.default_rng(0)
        for t in range(130):
            actions = draw_actions(twin.action_space, (3,), rng)
            o1, r1, d1, i1 = twin.step(actions)
            o2, r2, d2, i2 = dummy.step(actions)
            assert np.array_equal(o1, o2) and np.array_equal(r1, r2) and np.array_equal(d1, d2), (kwargs, t)
            for k, (a, b) in enumerate(zip(i1, i2)):
                deep_equal(a, b, f"{kwargs} step {t} env {k}")
            for k in np.flatnonzero(d1):
                assert "terminal_observation" in i1[k] and "episode_metrics" in i1[k]
        twin.close()
        dummy.close()


# ------------------------------------------------------------------------- agents on every id


@pytest.mark.parametrize("env_id", IDS)
def test_every_baseline_plays_an_episode(env_id):
    from feedbackgym.agents.evaluation import evaluate

    for name in family.spec(env_id).baselines:
        result = evaluate(env_id, name, env_kwargs=family.spec(env_id).test_kwargs, episodes=1)
        assert result.aggregate["episodes"] == 1, name
        assert np.isfinite(result.aggregate["mean_reward_per_step"]), name


@pytest.mark.parametrize("env_id", IDS)
def test_batched_evaluation_equals_harness(env_id):
    pytest.importorskip("stable_baselines3")
    from stable_baselines3 import PPO

    from feedbackgym.agents.callbacks import ModelPolicy, evaluate_batched
    from feedbackgym.agents.evaluation import evaluate
    from feedbackgym.agents.sb3_vec import make_sb3_vec_env

    kwargs = family.spec(env_id).test_kwargs
    model = PPO("MlpPolicy", make_sb3_vec_env(env_id, 2, "dummy", kwargs), seed=1, device="cpu")
    policy = ModelPolicy(model)
    harness = evaluate(env_id, "current", env_kwargs=kwargs, episodes=3, policy_obj=policy)
    records, agg = evaluate_batched(env_id, policy, kwargs, episodes=3)
    assert records == harness.episodes
    assert agg == harness.aggregate


SMOKE = {
    "ppo": dict(timesteps=1024, n_envs=4, n_steps=128, batch_size=128, n_epochs=2, checkpoint_freq=512,
                eval_freq=512, pretrain=None),
    "dqn": dict(timesteps=1000, n_envs=4, learning_starts=200, buffer_size=2000, batch_size=32,
                target_update_interval=250, checkpoint_freq=500, eval_freq=500, pretrain=None),
}


@pytest.mark.slow
@pytest.mark.parametrize("algo", ["ppo", "dqn"])
@pytest.mark.parametrize("env_id", IDS)
def test_smoke_train_save_load_evaluate(env_id, algo, tmp_path):
    """PPO on every id, DQN where the action space is Discrete: train, save, load, evaluate."""
    pytest.importorskip("stable_baselines3")
    from feedbackgym.agents.policy import Sb3Policy
    from feedbackgym.agents.evaluation import evaluate
    from feedbackgym.agents.train import train

    if algo == "dqn" and not isinstance(_make(env_id).action_space, gym.spaces.Discrete):
        with pytest.raises(ValueError):
            train(env_id, algo, run_dir=tmp_path / "run", progress_bar=False, env_kwargs=_kw(env_id),
                  **SMOKE[algo])
        return
    kwargs = family.spec(env_id).test_kwargs
    run = train(env_id, algo, run_dir=tmp_path / "run", progress_bar=False, seed=3, env_kwargs=kwargs or None,
                eval_kwargs={"episodes": 2, "env_kwargs": kwargs}, **SMOKE[algo])
    for name in ("model.zip", "best_model.zip", "config.json", "evaluations.csv"):
        assert (run / name).is_file(), name
    for model in ("model.zip", "best_model.zip"):
        policy = Sb3Policy(run / model)
        result = evaluate(env_id, str(run / model), env_kwargs=kwargs, episodes=2, policy_obj=policy)
        assert result.aggregate["episodes"] == 2
        assert np.isfinite(result.aggregate["mean_reward_per_step"])
