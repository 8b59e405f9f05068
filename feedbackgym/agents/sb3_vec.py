"""Stable-Baselines3 vec envs for feedbackgym ids: the vectorised twin behind SB3's ``VecEnv`` API.

:class:`TwinVecEnv` drives an env's numpy-batched twin (its ``vector_entry_point``, a Gymnasium
``VectorEnv``) in ``AutoresetMode.SAME_STEP`` and speaks SB3's ``VecEnv`` protocol, so PPO/DQN
train on one batched simulator instead of N Python envs. It gives the same observations,
rewards, dones and per-env info dicts as ``DummyVecEnv([make(id) ...])`` seeded ``seed, seed+1, ...``:

* SB3 wants one info dict per sub-env; Gymnasium's vector info is a dict of arrays with ``_key``
  masks. The adapter unbatches it (nested dicts such as ``reward_components`` and
  ``episode_metrics`` included).
* When a sub-env's episode ends, SB3 expects the returned observation to be the *next* episode's
  first one, the finished episode's last observation in ``info["terminal_observation"]`` and the
  last step's info as that env's info; ``info["TimeLimit.truncated"]`` tells truncation from
  termination (every step, as in ``DummyVecEnv``). The new episode's reset info goes to
  ``reset_infos[i]``, as ``DummyVecEnv`` does.

:func:`make_sb3_vec_env` builds any of the three options (``"twin"``, ``"dummy"``,
``"subproc"``) for an env id; training picks one by the ``vec_env`` hyperparameter.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.vector import AutoresetMode
from stable_baselines3.common.vec_env import DummyVecEnv, SubprocVecEnv, VecEnv
from stable_baselines3.common.vec_env.base_vec_env import VecEnvIndices, VecEnvObs, VecEnvStepReturn

import feedbackgym  # noqa: F401  (registers the ids)

VEC_ENV_KINDS = ("twin", "dummy", "subproc")


class TwinVecEnv(VecEnv):
    """SB3 ``VecEnv`` over a Gymnasium ``VectorEnv`` running in ``AutoresetMode.SAME_STEP``.

    :param env: an env id (its twin is made with ``gym.make_vec(id, num_envs, autoreset_mode=SAME_STEP,
        **env_kwargs)``) or an existing ``VectorEnv`` already in ``SAME_STEP`` mode.
    :param num_envs: number of sub-envs (ids only).
    :param env_kwargs: config overrides for the env (ids only).

    ``get_attr``/``set_attr``/``env_method`` act on the one batched env, which holds the state of
    every sub-env: ``get_attr`` returns its attribute once per requested index, ``set_attr`` sets
    it once, ``env_method`` calls the method once and repeats the result per index.
    """

    def __init__(self, env: str | gym.vector.VectorEnv, num_envs: int | None = None,
                 env_kwargs: dict | None = None):
        if isinstance(env, str):
            spec = gym.spec(env)
            if spec.vector_entry_point is None:
                raise ValueError(f"{env} has no vectorised twin (vector_entry_point); use vec_env='dummy' or 'subproc'")
            try:
                venv = gym.make_vec(env, num_envs=1 if num_envs is None else num_envs,
                                    vectorization_mode="vector_entry_point",
                                    autoreset_mode=AutoresetMode.SAME_STEP, **(env_kwargs or {}))
            except TypeError as e:
                raise ValueError(f"{env}: its vectorised twin does not accept autoreset_mode=SAME_STEP ({e}); "
                                 "use vec_env='dummy' or 'subproc'") from None
        else:
            if num_envs is not None and num_envs != env.num_envs:
                raise ValueError(f"num_envs={num_envs} does not match the given vector env ({env.num_envs})")
            if env_kwargs:
                raise ValueError("env_kwargs only apply when TwinVecEnv makes the vector env from an id")
            venv = env
        mode = venv.metadata.get("autoreset_mode")
        if mode != AutoresetMode.SAME_STEP:
            raise ValueError(f"TwinVecEnv needs a vector env in AutoresetMode.SAME_STEP, got {mode!r}")
        self.venv = venv
        super().__init__(venv.num_envs, venv.single_observation_space, venv.single_action_space)
        self.metadata = dict(getattr(venv, "metadata", {}))
        self._actions: np.ndarray | None = None

    # --------------------------------------------------------------------------- stepping

    def reset(self) -> VecEnvObs:
        seeds = None if all(s is None for s in self._seeds) else list(self._seeds)
        options = self._options
        if any(options):
            if any(o != options[0] for o in options):
                raise ValueError("TwinVecEnv: the batched env takes one set of reset options for all sub-envs")
            obs, info = self.venv.reset(seed=seeds, options=options[0])  # type: ignore[arg-type]
        else:
            obs, info = self.venv.reset(seed=seeds)  # type: ignore[arg-type]
        self.reset_infos = unbatch_info(info, self.num_envs)
        self._reset_seeds()
        self._reset_options()
        return obs

    def step_async(self, actions: np.ndarray) -> None:
        self._actions = actions

    def step_wait(self) -> VecEnvStepReturn:
        actions = np.asarray(self._actions)
        if isinstance(self.action_space, gym.spaces.Discrete) and actions.ndim == 2 and actions.shape[1] == 1:
            actions = actions[:, 0]  # SB3 DQN/PPO may hand discrete actions as (n, 1)
        obs, rewards, terminated, truncated, info = self.venv.step(actions)
        dones = np.logical_or(terminated, truncated)
        final_obs = info.pop("final_obs", None)
        final_info = info.pop("final_info", None)
        info.pop("_final_obs", None)
        info.pop("_final_info", None)
        infos = unbatch_info(info, self.num_envs)
        if dones.any():
            done = np.flatnonzero(dones).tolist()
            if final_obs is None or final_info is None:
                raise RuntimeError("TwinVecEnv: the vector env ended an episode without final_obs/final_info "
                                   "(is it really in SAME_STEP autoreset mode?)")
            finished = unbatch_info(final_info, self.num_envs)
            for i in done:
                self.reset_infos[i] = infos[i]
                infos[i] = finished[i]
                infos[i]["terminal_observation"] = final_obs[i]
        trunc_only = np.logical_and(truncated, np.logical_not(terminated)).tolist()
        for i, d in enumerate(infos):
            d["TimeLimit.truncated"] = trunc_only[i]
        return obs, np.asarray(rewards, dtype=np.float32), dones, infos

    def close(self) -> None:
        self.venv.close()

    # ----------------------------------------------------------------------- attributes

    def get_attr(self, attr_name: str, indices: VecEnvIndices = None) -> list[Any]:
        value = getattr(self.venv, attr_name)
        return [value for _ in self._get_indices(indices)]

    def set_attr(self, attr_name: str, value: Any, indices: VecEnvIndices = None) -> None:
        setattr(self.venv, attr_name, value)

    def env_method(self, method_name: str, *method_args, indices: VecEnvIndices = None, **method_kwargs) -> list[Any]:
        result = getattr(self.venv, method_name)(*method_args, **method_kwargs)
        return [result for _ in self._get_indices(indices)]

    def env_is_wrapped(self, wrapper_class: type[gym.Wrapper], indices: VecEnvIndices = None) -> list[bool]:
        return [False for _ in self._get_indices(indices)]

    def get_images(self) -> Sequence[np.ndarray | None]:
        return [None for _ in range(self.num_envs)]


def unbatch_info(info: dict, n: int) -> list[dict]:
    """Gymnasium vector info (arrays + ``_key`` masks, nested dicts allowed) -> one dict per sub-env."""
    full_keys, full_cols = [], []        # keys present in every sub-env: built with one zip
    partial = []                         # (key, values, indices) present in some
    all_set: dict[int, bool] = {}        # masks are often one shared array: test it once
    for key, value in info.items():
        if key.startswith("_"):
            continue
        mask = info.get("_" + key)
        if mask is not None:
            full = all_set.get(id(mask))
            if full is None:
                full = all_set[id(mask)] = bool(mask.all())
        if isinstance(value, dict):
            vals = unbatch_info(value, n)
        elif isinstance(value, np.ndarray):
            vals = value.tolist() if value.ndim == 1 and value.dtype != object else list(value)
        else:
            vals = list(value)
        if mask is None or full:
            full_keys.append(key)
            full_cols.append(vals)
        else:
            partial.append((key, vals, np.flatnonzero(mask).tolist()))
    out = [dict(zip(full_keys, row)) for row in zip(*full_cols)] if full_keys else [{} for _ in range(n)]
    for key, vals, idx in partial:
        for i in idx:
            out[i][key] = vals[i]
    return out


# --------------------------------------------------------------------------------- factory


def _make_env(env_id: str, env_kwargs: dict):
    def thunk():
        return gym.make(env_id, **env_kwargs)
    return thunk


def make_sb3_vec_env(env_id: str, n_envs: int, kind: str = "twin", env_kwargs: dict | None = None,
                     seed: int | None = None, start_method: str | None = None) -> VecEnv:
    """An SB3 ``VecEnv`` of ``n_envs`` copies of ``env_id`` (sub-env ``i`` seeded ``seed + i``).

    ``kind``: ``"twin"`` (:class:`TwinVecEnv`, one numpy-batched simulator), ``"dummy"``
    (``DummyVecEnv``, N single envs in this process) or ``"subproc"`` (``SubprocVecEnv``, one
    process per env; ``start_method`` as in SB3, e.g. ``"spawn"`` or ``"forkserver"``).
    The id is passed to children as ``"feedbackgym:<id>"`` so that spawn/forkserver children
    import the package (and register the ids) before making the env.
    """
    if kind not in VEC_ENV_KINDS:
        raise ValueError(f"vec_env: expected one of {list(VEC_ENV_KINDS)}, got {kind!r}")
    if isinstance(n_envs, bool) or not isinstance(n_envs, int) or n_envs < 1:
        raise ValueError(f"n_envs: expected an integer >= 1, got {n_envs!r}")
    env_kwargs = dict(env_kwargs or {})
    if kind == "twin":
        venv: VecEnv = TwinVecEnv(env_id, n_envs, env_kwargs)
    elif kind == "dummy":
        venv = DummyVecEnv([_make_env(env_id, env_kwargs) for _ in range(n_envs)])
    else:
        full_id = env_id if ":" in env_id else f"feedbackgym:{env_id}"
        venv = SubprocVecEnv([_make_env(full_id, env_kwargs) for _ in range(n_envs)], start_method=start_method)
    if seed is not None:
        venv.seed(seed)
    return venv
