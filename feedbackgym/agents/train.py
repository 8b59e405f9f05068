"""Train stable-baselines3 PPO / DQN agents on feedbackgym envs (``feedbackgym train``).

Hyperparameters come from ``feedbackgym/agents/hyperparams/{ppo,dqn}.yml`` (or ``--hyperparams
FILE``): rl-zoo3 files, which ``python -m rl_zoo3.train --conf-file FILE`` reads unchanged, with
the settings only this trainer knows in a ``feedbackgym_train`` section that rl-zoo3 ignores
(:mod:`feedbackgym.agents.settings` describes the layout). Besides the algorithm's constructor
arguments (``learning_rate``, ``n_steps``, ``policy_kwargs``...; ``"lin_<x>"`` schedules and
``"dict(...)"`` strings as in rl-zoo3, parsed, never evaluated) a block may set
(:class:`~feedbackgym.agents.settings.TrainSettings`)::

    n_timesteps, policy, n_envs, vec_env (twin | dummy | subproc), env_kwargs, normalize,
    callback (rl-zoo3 import strings), checkpoint_freq, checkpoint_keep, checkpoint_replay_buffer,
    eval_freq, eval_env_kwargs, eval_episodes, eval_metric, eval_seed, extra_evals,
    pretrain ({fn: import string, ...}), torch_threads, device, verbose, log_interval, start_method

The run itself is an :class:`~feedbackgym.agents.experiment.Experiment` (make env, make model,
pretrain, callbacks, learn, save) writing a :class:`~feedbackgym.agents.run_folder.RunFolder`
(default ``runs/<env-name>_<algo>_<seed>_<timestamp>``): ``config.json``, ``command.txt``,
``model.zip``, ``best_model.zip`` (+ ``best_model.json``), ``evaluations.csv``,
``checkpoints/step_<N>/``, ``tb/`` (TensorBoard). Saved models carry their observation
statistics and training env config inside the zip (:mod:`feedbackgym.agents.model_file`).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path

import gymnasium as gym
import numpy as np

import feedbackgym

from .experiment import Experiment, Resume
from .run_folder import RunFolder, jsonable
from .settings import ALGOS, TRAIN_KEYS, check_hyperparams, hyperparams_path, resolve_hyperparams

__all__ = ["train", "resolve_hyperparams", "hyperparams_path", "EVAL_KWARGS"]

#: ``eval_kwargs`` keys of :func:`train` and the hyperparameters they set.
EVAL_KWARGS = {"env_kwargs": "eval_env_kwargs", "episodes": "eval_episodes",
               "metric": "eval_metric", "seed": "eval_seed", "extra": "extra_evals", "freq": "eval_freq"}


def _check_env_id(env_id: str) -> str:
    if not isinstance(env_id, str):
        raise ValueError(f"env id: expected a string, got {env_id!r}")
    try:
        gym.spec(env_id)
    except gym.error.Error:
        raise ValueError(f"unknown env id {env_id!r}; registered: {feedbackgym.registration.env_ids()}") from None
    return env_id


def _check_args(env_id, algo, seed, timesteps, env_kwargs) -> tuple[str, int]:
    algo = str(algo).lower()
    if algo not in ALGOS:
        raise ValueError(f"algo: expected one of {list(ALGOS)}, got {algo!r}")
    _check_env_id(env_id)
    if algo == "dqn":
        action_space = gym.make(env_id, **dict(env_kwargs or {})).action_space
        if not isinstance(action_space, gym.spaces.Discrete):
            raise ValueError(f"dqn needs a Discrete action space; {env_id} acts in {action_space} (use ppo)")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed: expected a non-negative integer, got {seed!r}")
    if timesteps is not None and (isinstance(timesteps, bool) or not isinstance(timesteps, (int, np.integer))
                                  or timesteps < 1):
        raise ValueError(f"timesteps: expected a positive integer, got {timesteps!r}")
    if env_kwargs is not None and not isinstance(env_kwargs, Mapping):
        raise ValueError(f"env_kwargs: expected a mapping of env config fields, got {env_kwargs!r}")
    return algo, int(seed)


def _resumed_hyperparams(run: RunFolder, env_id, algo, seed, timesteps, hyperparams, env_kwargs,
                         extra_hp) -> tuple[dict, int, str]:
    config = run.read_config()
    for name, given, saved in (("env id", env_id, config["env_id"]), ("algo", algo, config["algo"])):
        if given != saved:
            raise ValueError(f"resume: {run.path} is a {saved!r} run, not {given!r} ({name})")
    hp = dict(config["hyperparams"])
    if env_kwargs and {**hp.get("env_kwargs", {}), **env_kwargs} != hp.get("env_kwargs", {}):
        raise ValueError("resume: env_kwargs differ from the run's config.json; start a new run instead")
    if hyperparams is not None:
        raise ValueError("resume: the run's config.json holds its hyperparameters; do not pass --hyperparams")
    defaults = {k: None for k in TRAIN_KEYS}
    for k, v in extra_hp.items():
        if jsonable(hp.get(k, defaults.get(k))) != jsonable(v):
            raise ValueError(f"resume: {k}={v!r} differs from the run's config.json "
                             f"({hp.get(k, defaults.get(k))!r}); start a new run instead")
    if seed not in (0, config["seed"]):  # 0 is the default: the run's own seed is used
        raise ValueError(f"resume: seed {seed} differs from the run's seed {config['seed']}")
    if timesteps is not None:
        hp["n_timesteps"] = int(timesteps)
    return hp, config["seed"], str(config.get("hyperparams_source", "config.json"))


def train(env_id: str, algo: str, timesteps: int | None = None, seed: int = 0,
          hyperparams: str | os.PathLike | Mapping | None = None, env_kwargs: Mapping | None = None,
          run_dir: str | os.PathLike | None = None, resume: bool = False, progress_bar: bool = True,
          eval_freq: int | None = None, eval_kwargs: Mapping | None = None, **overrides) -> Path:
    """Train ``algo`` (``"ppo"`` or ``"dqn"``) on ``env_id``; returns the run folder.

    :param timesteps: env steps in total (overrides ``n_timesteps``); on resume, the new total.
    :param seed: seeds python, numpy, torch, the action space and sub-env ``i`` (``seed + i``).
    :param hyperparams: YAML file (rl-zoo3 format) or mapping; default the packaged ``<algo>.yml``.
    :param env_kwargs: env config overrides, merged over the hyperparameters' ``env_kwargs``.
    :param run_dir: the run folder (default ``runs/<env-name>_<algo>_<seed>_<timestamp>``).
    :param resume: continue the run in ``run_dir`` from its newest whole checkpoint (a damaged
        newer one is skipped, with a warning naming it) with its saved config; the step count
        continues, TensorBoard and ``evaluations.csv`` are appended.
    :param eval_freq: env steps between evaluations (0 disables; overrides the hyperparameters).
    :param eval_kwargs: evaluation settings: ``env_kwargs``, ``episodes``, ``metric``,
        ``seed``, ``extra`` (see ``extra_evals``), ``freq``.
    :param overrides: any hyperparameter (``n_envs=8``, ``learning_rate=1e-4``, ``vec_env="dummy"``...).
    """
    algo, seed = _check_args(env_id, algo, seed, timesteps, env_kwargs)
    extra_hp = dict(overrides)
    if eval_kwargs:
        unknown = set(eval_kwargs) - set(EVAL_KWARGS) - set(EVAL_KWARGS.values())
        if unknown:
            raise ValueError(f"eval_kwargs: unknown key(s) {sorted(unknown)}; known: {sorted(EVAL_KWARGS)}")
        for k, v in eval_kwargs.items():
            extra_hp[EVAL_KWARGS.get(k, k)] = v
    if eval_freq is not None:
        extra_hp["eval_freq"] = eval_freq
    call = {"env_id": env_id, "algo": algo, "timesteps": timesteps, "seed": seed, "hyperparams": hyperparams,
            "env_kwargs": env_kwargs, "run_dir": None if run_dir is None else str(run_dir), "resume": resume,
            **extra_hp}
    call = {k: v for k, v in call.items() if v not in (None, False) or k in ("env_id", "algo", "seed")}

    state = None
    if resume:
        if run_dir is None:
            raise ValueError("resume: give the run folder to continue (--run-dir)")
        run = RunFolder(run_dir)
        hp, seed, source = _resumed_hyperparams(run, env_id, algo, seed, timesteps, hyperparams, env_kwargs,
                                                extra_hp)
        found = run.resume_checkpoint()
        state = Resume(*found) if found is not None else Resume()
        where = f"{run.config_path}"
    else:
        hp, source = resolve_hyperparams(env_id, algo, hyperparams, extra_hp)
        if env_kwargs:
            base_kw = hp.get("env_kwargs") or {}
            if not isinstance(base_kw, Mapping):
                raise ValueError(f"env_kwargs in the hyperparameters: expected a mapping, got {base_kw!r}")
            hp["env_kwargs"] = {**base_kw, **dict(env_kwargs)}
        if timesteps is not None:
            hp["n_timesteps"] = int(timesteps)
            getattr(hp, "where", {})["n_timesteps"] = "timesteps argument"
        run = RunFolder(run_dir) if run_dir is not None else RunFolder.new_default(env_id, algo, seed)
        if run.holds_run():
            raise ValueError(f"run folder {run.path} already holds a run; use --resume to continue it "
                             "or choose another --run-dir")
        where = source
    settings, algo_kwargs = check_hyperparams(hp, algo, f"hyperparameters ({where})")
    exp = Experiment(env_id, algo, settings, algo_kwargs, seed, run, hyperparams=hp, resume=state,
                     progress_bar=progress_bar)
    return exp.run(source, call)


if __name__ == "__main__":  # pragma: no cover
    sys.exit("use `feedbackgym train ENV_ID --algo ppo|dqn` (python -m feedbackgym.cli train --help)")
