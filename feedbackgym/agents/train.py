"""Train stable-baselines3 PPO / DQN agents on feedbackgym envs (``feedbackgym train``).

Hyperparameters come from ``feedbackgym/agents/hyperparams/{ppo,dqn}.yml`` (or ``--hyperparams
FILE``) in rl-zoo3's format: one block per env id, merged over a ``default`` block, then the
caller's overrides. Besides the algorithm's own constructor arguments (``learning_rate``,
``n_steps``, ``batch_size``, ``gamma``, ``policy_kwargs``, ...) a block may hold:

====================  ====================================================================
``n_timesteps``        env steps to train for (``--timesteps`` overrides)
``policy``             SB3 policy name (``MlpPolicy``)
``n_envs``             parallel sub-envs
``vec_env``            ``twin`` (the env's numpy-batched twin via :class:`~.sb3_vec.TwinVecEnv`),
                       ``dummy`` or ``subproc`` (SB3's ``DummyVecEnv`` / ``SubprocVecEnv``)
``env_kwargs``         env config overrides (``--env-kwargs`` is merged over them)
``normalize``          ``true`` or a dict of ``VecNormalize`` kwargs
``ent_coef_schedule``  ``[start, end]`` or ``[start, end, fraction]``: linear entropy decay (PPO)
``learning_rate`` ...  a number or ``"lin_<x>"`` (linear from x to 0, rl-zoo3 style); also
                       ``clip_range`` and ``clip_range_vf``
``policy_kwargs``      a mapping or an rl-zoo3 string ``"dict(net_arch=[128, 128], activation_fn=nn.ReLU)"``
``checkpoint_freq``    env steps between checkpoints (0: none); ``checkpoint_keep`` how many
``eval_freq``          env steps between evaluations (0: none)
``eval_env_kwargs``    env kwargs of the evaluation that selects ``best_model.zip`` (validation: e.g.
                       the training data set), over the training ones; the family's test protocol
                       applies unless named here
``eval_episodes``      episodes per evaluation (default: every trace of the split once)
``eval_metric``        aggregate metric that selects ``best_model.zip`` (``mean_reward_per_step``)
``extra_evals``        ``{name: {env_kwargs, episodes}}``: report-only evaluations, logged
                       under ``eval/<name>/...``; they never select a model
``pretrain``           ``{baseline: ..., episodes: ..., epochs: ...}``: behaviour cloning before RL
                       through ``feedbackgym.agents.imitation.pretrain``
``eval_seed``          seed of the evaluation episodes (0, as ``feedbackgym evaluate``)
``checkpoint_replay_buffer``  also checkpoint DQN's replay buffer (true: a faithful resume)
``torch_threads``      torch CPU threads (1)
``device``             torch device (``cpu``: these MLPs are too small to gain from a GPU)
``verbose``            SB3 verbosity (0: progress bar only; 1: SB3's tables on stdout)
``log_interval``       SB3's ``learn(log_interval=...)``
``start_method``       multiprocessing start method for ``vec_env: subproc``
====================  ====================================================================

Run folder (default ``runs/<env-name>_<algo>_<seed>_<timestamp>``): ``config.json``,
``command.txt``, ``model.zip``, ``best_model.zip`` (+ ``best_model.json``), ``evaluations.csv``,
``checkpoints/step_<N>/``, ``tb/`` (TensorBoard), ``vecnormalize.pkl`` when normalising.
"""

from __future__ import annotations

import copy
import json
import math
import os
import platform
import random
import shlex
import sys
import time
from collections.abc import Mapping
from datetime import datetime
from importlib import resources
from pathlib import Path

import gymnasium as gym
import numpy as np

import feedbackgym

from .callbacks import (AtomicCheckpointCallback, EntropyScheduleCallback, EpisodeMetricsCallback, EvalSpec,
                        HyperparamsCallback, PeriodicEvalCallback, atomic_save, atomic_save_model,
                        latest_checkpoint, read_csv)
from ..files import atomic_write, write_csv

ALGOS = ("ppo", "dqn")

#: Hyperparameters consumed by :func:`train` itself (everything else goes to the algorithm).
TRAIN_KEYS = {
    "n_timesteps": None, "policy": "MlpPolicy", "n_envs": 1, "vec_env": "twin", "env_kwargs": {},
    "normalize": False, "ent_coef_schedule": None, "checkpoint_freq": 0, "checkpoint_keep": 3,
    "checkpoint_replay_buffer": True, "eval_freq": 0, "eval_env_kwargs": {},
    "eval_episodes": None, "eval_metric": "mean_reward_per_step", "eval_seed": 0, "extra_evals": {},
    "pretrain": None, "torch_threads": 1, "device": "cpu", "verbose": 0, "log_interval": None,
    "start_method": None,
}
#: ``eval_kwargs`` keys of :func:`train` and the hyperparameters they set.
EVAL_KWARGS = {"env_kwargs": "eval_env_kwargs", "episodes": "eval_episodes",
               "metric": "eval_metric", "seed": "eval_seed", "extra": "extra_evals", "freq": "eval_freq"}
SCHEDULE_KEYS = ("learning_rate", "clip_range", "clip_range_vf")


def _algo_class(algo: str):
    import stable_baselines3 as sb3

    return {"ppo": sb3.PPO, "dqn": sb3.DQN}[algo]


# --------------------------------------------------------------------------- hyperparameters


def hyperparams_path(algo: str) -> Path:
    """The packaged hyperparameter file of ``algo``."""
    return Path(str(resources.files("feedbackgym.agents") / "hyperparams" / f"{algo}.yml"))


def _load_yaml(path: Path) -> dict:
    import yaml

    try:
        data = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise ValueError(f"hyperparameter file {path}: no such file") from None
    except yaml.YAMLError as e:
        raise ValueError(f"hyperparameter file {path}: not valid YAML ({e})") from None
    if data is None:
        data = {}
    if not isinstance(data, dict) or not all(isinstance(v, dict) or v is None for v in data.values()):
        raise ValueError(f"hyperparameter file {path}: expected a mapping of env ids (and 'default') to "
                         "hyperparameter blocks")
    return {k: dict(v or {}) for k, v in data.items()}


def _env_block(data: Mapping, env_id: str) -> dict | None:
    short = env_id.split(":", 1)[-1]
    for key in (env_id, short, short.split("/", 1)[-1]):
        if key in data:
            return dict(data[key])
    return None


def resolve_hyperparams(env_id: str, algo: str, hyperparams: str | os.PathLike | Mapping | None = None,
                        overrides: Mapping | None = None) -> tuple[dict, str]:
    """The hyperparameters of a run and where they came from.

    ``hyperparams``: None (the packaged ``<algo>.yml``), a YAML file in rl-zoo3 format, or a
    mapping — a whole file (env-id / ``default`` blocks) if it has such keys, else one block that
    is merged over the packaged file's resolution. The env's block is merged over ``default``
    (shallow, like rl-zoo3), then ``overrides``.
    """
    packaged = hyperparams_path(algo)
    if hyperparams is None or isinstance(hyperparams, Mapping):
        data, source = _load_yaml(packaged), str(packaged)
    else:
        data, source = _load_yaml(Path(hyperparams)), str(hyperparams)
    block_over: dict = {}
    if isinstance(hyperparams, Mapping):
        if "default" in hyperparams or _env_block(hyperparams, env_id) is not None:
            data, source = {k: dict(v or {}) for k, v in hyperparams.items()}, "<mapping>"
        else:
            block_over, source = dict(hyperparams), f"{packaged} + <mapping>"
    env_block = _env_block(data, env_id)
    if env_block is None and "default" not in data:
        raise ValueError(f"hyperparameter file {source}: no block for {env_id} and no 'default' block")
    hp = {**data.get("default", {}), **(env_block or {}), **block_over, **dict(overrides or {})}
    return hp, source


def _parse_schedule(key: str, v):
    from stable_baselines3.common.utils import LinearSchedule

    if isinstance(v, str):
        if v.startswith("lin_"):
            try:
                return LinearSchedule(float(v[4:]), 0.0, 1.0)
            except ValueError:
                pass
        raise ValueError(f"{key}: expected a number or 'lin_<start>' (linear decay to 0), got {v!r}")
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        if callable(v):
            return v
        raise ValueError(f"{key}: expected a number or 'lin_<start>', got {v!r}")
    return float(v)


_ACTIVATIONS = {"relu": "ReLU", "tanh": "Tanh", "elu": "ELU", "leaky_relu": "LeakyReLU", "gelu": "GELU",
                "silu": "SiLU"}


def _parse_policy_kwargs(v) -> dict:
    import torch
    from torch import nn

    if v is None:
        return {}
    if isinstance(v, str):
        try:
            v = eval(v, {"__builtins__": {}}, {"dict": dict, "nn": nn, "th": torch, "torch": torch,
                                                "list": list, "True": True, "False": False, "None": None})
        except Exception as e:
            raise ValueError(f"policy_kwargs: cannot read {v!r} ({type(e).__name__}: {e})") from None
    if not isinstance(v, Mapping):
        raise ValueError(f"policy_kwargs: expected a mapping or a 'dict(...)' string, got {v!r}")
    out = dict(v)
    act = out.get("activation_fn")
    if isinstance(act, str):
        name = act.split(".")[-1]
        name = _ACTIVATIONS.get(name.lower(), name)
        if not hasattr(nn, name):
            raise ValueError(f"policy_kwargs.activation_fn: unknown activation {act!r} "
                             f"(e.g. {sorted(_ACTIVATIONS)})")
        out["activation_fn"] = getattr(nn, name)
    return out


def split_hyperparams(hp: Mapping, algo: str) -> tuple[dict, dict]:
    """(train settings with defaults, algorithm constructor kwargs) with schedules parsed."""
    import inspect

    settings = {k: copy.deepcopy(hp.get(k, d)) for k, d in TRAIN_KEYS.items()}
    algo_kwargs = {k: v for k, v in hp.items() if k not in TRAIN_KEYS}
    allowed = set(inspect.signature(_algo_class(algo).__init__).parameters) - {"self", "policy", "env"}
    unknown = sorted(set(algo_kwargs) - allowed)
    if unknown:
        raise ValueError(f"hyperparameters: unknown key(s) {unknown} for {algo}; {algo} accepts "
                         f"{sorted(allowed)} and train() accepts {sorted(TRAIN_KEYS)}")
    for key in SCHEDULE_KEYS:
        if key in algo_kwargs and algo_kwargs[key] is not None:
            algo_kwargs[key] = _parse_schedule(key, algo_kwargs[key])
    if "policy_kwargs" in algo_kwargs:
        algo_kwargs["policy_kwargs"] = _parse_policy_kwargs(algo_kwargs["policy_kwargs"])
    for key in ("n_envs", "checkpoint_freq", "eval_freq", "torch_threads", "checkpoint_keep"):
        v = settings[key]
        if isinstance(v, float) and v.is_integer():
            v = int(v)
        if isinstance(v, bool) or not isinstance(v, int) or v < 0 or (key in ("n_envs", "torch_threads") and v < 1):
            raise ValueError(f"{key}: expected a {'positive' if key in ('n_envs', 'torch_threads') else 'non-negative'} "
                             f"integer, got {settings[key]!r}")
        settings[key] = v
    n = settings["n_timesteps"]
    if isinstance(n, float) and n.is_integer():
        n = int(n)
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n_timesteps: expected a positive integer (set it in the hyperparameters or with "
                         f"--timesteps), got {settings['n_timesteps']!r}")
    settings["n_timesteps"] = n
    for key in ("env_kwargs", "eval_env_kwargs", "extra_evals"):
        if settings[key] is None:
            settings[key] = {}
        if not isinstance(settings[key], Mapping):
            raise ValueError(f"{key}: expected a mapping, got {settings[key]!r}")
    sched = settings["ent_coef_schedule"]
    if sched is not None:
        if algo != "ppo":
            raise ValueError(f"ent_coef_schedule: only PPO has an entropy coefficient, not {algo}")
        if (not isinstance(sched, (list, tuple)) or len(sched) not in (2, 3)
                or not all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in sched)):
            raise ValueError(f"ent_coef_schedule: expected [start, end] or [start, end, fraction], got {sched!r}")
        algo_kwargs["ent_coef"] = float(sched[0])
    norm = settings["normalize"]
    if not isinstance(norm, (bool, Mapping)):
        raise ValueError(f"normalize: expected true/false or a mapping of VecNormalize kwargs, got {norm!r}")
    pre = settings["pretrain"]
    if pre is not None and not isinstance(pre, Mapping):
        raise ValueError(f"pretrain: expected a mapping such as {{baseline: NAME, episodes: 300, epochs: 10}}, "
                         f"got {pre!r}")
    return settings, algo_kwargs


def _jsonable(v):
    if isinstance(v, Mapping):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    if isinstance(v, (str, int, float, bool)) or v is None:
        return v
    if isinstance(v, (np.integer, np.floating)):
        return v.item()
    if isinstance(v, type):
        return f"{v.__module__}.{v.__qualname__}"
    if callable(v):
        return f"{getattr(v, '__module__', '?')}:{getattr(v, '__qualname__', repr(v))}"
    return repr(v)


# ------------------------------------------------------------------------------- run folder


def default_run_dir(env_id: str, algo: str, seed: int, root: str | os.PathLike = "runs") -> Path:
    name = env_id.split(":", 1)[-1].split("/")[-1]
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    path = Path(root) / f"{name}_{algo}_{seed}_{stamp}"
    k = 1
    while path.exists():
        k += 1
        path = Path(root) / f"{name}_{algo}_{seed}_{stamp}-{k}"
    return path


def _versions() -> dict:
    import stable_baselines3
    import torch

    return {"feedbackgym": feedbackgym.__version__, "stable_baselines3": stable_baselines3.__version__,
            "torch": torch.__version__, "gymnasium": gym.__version__, "numpy": np.__version__,
            "python": platform.python_version()}


def _command_line(call: dict) -> str:
    argv = shlex.join(sys.argv) if sys.argv and sys.argv[0] else "(interactive)"
    args = ", ".join(f"{k}={v!r}" for k, v in call.items())
    return f"{argv}\n# python: feedbackgym.agents.train.train({args})\n"


def eval_specs(env_id: str, settings: dict, train_env_kwargs: dict) -> list[EvalSpec]:
    """The evaluations of a run: the validation set (selects best_model) and report-only extras.

    Env kwargs: training kwargs, minus the keys of the family's test protocol (so the protocol
    applies), then ``eval_env_kwargs`` (validation) or the extra's ``env_kwargs``.
    """
    from .evaluation import evaluation_kwargs

    protocol = set(evaluation_kwargs(env_id))  # the test protocol's own keys
    base = {k: v for k, v in train_env_kwargs.items() if k not in protocol}
    base.update(settings["eval_env_kwargs"])
    specs = []
    main = dict(base)
    specs.append(EvalSpec("validation", main, settings["eval_episodes"], select=True, prefix="eval"))
    for name, spec in settings["extra_evals"].items():
        spec = dict(spec or {})
        unknown = set(spec) - {"env_kwargs", "episodes"}
        if unknown:
            raise ValueError(f"extra_evals.{name}: unknown key(s) {sorted(unknown)}; known: env_kwargs, episodes")
        if not isinstance(name, str) or not name or "/" in name or name == "validation":
            raise ValueError(f"extra_evals: bad name {name!r} (a word other than 'validation')")
        kw = {**base, **(spec.get("env_kwargs") or {})}
        specs.append(EvalSpec(name, kw, spec.get("episodes", settings["eval_episodes"]), select=False,
                              prefix=f"eval/{name}"))
    return specs


# ------------------------------------------------------------------------------------ train


def _check_env_id(env_id: str) -> str:
    if not isinstance(env_id, str):
        raise ValueError(f"env id: expected a string, got {env_id!r}")
    try:
        gym.spec(env_id)
    except gym.error.Error:
        raise ValueError(f"unknown env id {env_id!r}; registered: {feedbackgym.registration.env_ids()}") from None
    return env_id


def _seed_everything(seed: int) -> None:
    import torch

    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def _resume_seed(seed: int, num_timesteps: int) -> int:
    """A fresh seed for the part of a run after a resume (never one of a fresh run's)."""
    return int(np.random.SeedSequence([seed, num_timesteps, 1]).generate_state(1)[0])


def _wait_for_later_event_file_name(tb_dir: Path, max_wait_s: float = 2.0) -> None:
    """TensorBoard reads a folder's event files in name order, and names start with the creation
    second: make sure the resumed run's file sorts after the files already there."""
    latest = 0
    for p in tb_dir.glob("events.out.tfevents.*"):
        try:
            latest = max(latest, int(p.name.split(".")[3]))
        except (IndexError, ValueError):
            continue
    deadline = time.time() + max_wait_s
    while int(time.time()) <= latest and time.time() < deadline:
        time.sleep(0.05)


def _make_logger(tb_dir: Path, verbose: int, purge_step: int | None):
    from stable_baselines3.common.logger import HumanOutputFormat, Logger, TensorBoardOutputFormat
    from torch.utils.tensorboard import SummaryWriter

    class _TensorBoard(TensorBoardOutputFormat):
        # SB3's writer, opened with purge_step on resume: TensorBoard then drops what the killed
        # run logged after the checkpoint, so the resumed curve does not overlap a dead branch.
        def __init__(self, folder: str, purge_step: int | None):
            self.writer = SummaryWriter(log_dir=folder, purge_step=purge_step)
            self._is_closed = False

    tb_dir.mkdir(parents=True, exist_ok=True)
    if purge_step is not None:
        _wait_for_later_event_file_name(tb_dir)
    formats = [_TensorBoard(str(tb_dir), purge_step)]
    if verbose >= 1:
        formats.append(HumanOutputFormat(sys.stdout))
    return Logger(str(tb_dir), formats)


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
    :param resume: continue the run in ``run_dir`` from its newest complete checkpoint with its
        saved config; the step count continues, TensorBoard and ``evaluations.csv`` are appended.
    :param eval_freq: env steps between evaluations (0 disables; overrides the hyperparameters).
    :param eval_kwargs: evaluation settings: ``env_kwargs``, ``episodes``, ``metric``,
        ``seed``, ``extra`` (see ``extra_evals``), ``freq``.
    :param overrides: any hyperparameter (``n_envs=8``, ``learning_rate=1e-4``, ``vec_env="dummy"``...).
    """
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
    seed = int(seed)
    if timesteps is not None and (isinstance(timesteps, bool) or not isinstance(timesteps, (int, np.integer))
                                  or timesteps < 1):
        raise ValueError(f"timesteps: expected a positive integer, got {timesteps!r}")
    if env_kwargs is not None and not isinstance(env_kwargs, Mapping):
        raise ValueError(f"env_kwargs: expected a mapping of env config fields, got {env_kwargs!r}")
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
            **{k: v for k, v in extra_hp.items()}}
    call = {k: v for k, v in call.items() if v not in (None, False) or k in ("env_id", "algo", "seed")}

    if resume:
        if run_dir is None:
            raise ValueError("resume: give the run folder to continue (--run-dir)")
        run_dir = Path(run_dir)
        config = _load_run_config(run_dir)
        for name, given, saved in (("env id", env_id, config["env_id"]), ("algo", algo, config["algo"])):
            if given != saved:
                raise ValueError(f"resume: {run_dir} is a {saved!r} run, not {given!r} ({name})")
        hp = dict(config["hyperparams"])
        if env_kwargs and {**hp.get("env_kwargs", {}), **env_kwargs} != hp.get("env_kwargs", {}):
            raise ValueError("resume: env_kwargs differ from the run's config.json; start a new run instead")
        if hyperparams is not None:
            raise ValueError("resume: the run's config.json holds its hyperparameters; do not pass --hyperparams")
        for k, v in extra_hp.items():
            if _jsonable(hp.get(k, TRAIN_KEYS.get(k))) != _jsonable(v):
                raise ValueError(f"resume: {k}={v!r} differs from the run's config.json "
                                 f"({hp.get(k, TRAIN_KEYS.get(k))!r}); start a new run instead")
        if seed not in (0, config["seed"]):  # 0 is the default: the run's own seed is used
            raise ValueError(f"resume: seed {seed} differs from the run's seed {config['seed']}")
        seed = config["seed"]
        if timesteps is not None:
            hp["n_timesteps"] = int(timesteps)
        source = config.get("hyperparams_source", "config.json")
    else:
        hp, source = resolve_hyperparams(env_id, algo, hyperparams, extra_hp)
        if env_kwargs:
            base_kw = hp.get("env_kwargs") or {}
            if not isinstance(base_kw, Mapping):
                raise ValueError(f"env_kwargs in the hyperparameters: expected a mapping, got {base_kw!r}")
            hp["env_kwargs"] = {**base_kw, **dict(env_kwargs)}
        if timesteps is not None:
            hp["n_timesteps"] = int(timesteps)
        run_dir = Path(run_dir) if run_dir is not None else default_run_dir(env_id, algo, seed)
        if (run_dir / "config.json").exists() or latest_checkpoint(run_dir) is not None:
            raise ValueError(f"run folder {run_dir} already holds a run; use --resume to continue it "
                             "or choose another --run-dir")

    settings, algo_kwargs = split_hyperparams(hp, algo)
    return _run(env_id, algo, seed, hp, settings, algo_kwargs, run_dir, resume, progress_bar, source, call)


def _load_run_config(run_dir: Path) -> dict:
    path = run_dir / "config.json"
    if not path.is_file():
        raise ValueError(f"resume: {run_dir} has no config.json (not a feedbackgym run folder)")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise ValueError(f"resume: {path} is not valid JSON ({e})") from None


def _run(env_id, algo, seed, hp, settings, algo_kwargs, run_dir: Path, resume, progress_bar, source, call) -> Path:
    import torch
    from stable_baselines3.common.callbacks import CallbackList
    from stable_baselines3.common.vec_env import VecMonitor, VecNormalize

    from .sb3_vec import make_sb3_vec_env

    torch.set_num_threads(settings["torch_threads"])
    Algo = _algo_class(algo)
    target = settings["n_timesteps"]
    env_kwargs = dict(settings["env_kwargs"])
    specs = eval_specs(env_id, settings, env_kwargs) if settings["eval_freq"] else []

    ckpt = latest_checkpoint(run_dir) if resume else None
    start_step, train_s0 = 0, 0.0
    if ckpt is not None:
        state = json.loads((ckpt / "state.json").read_text())
        start_step, train_s0 = int(state["num_timesteps"]), float(state.get("train_s", 0.0))
    elif resume:
        print(f"feedbackgym train: {run_dir} has no complete checkpoint; starting it again from step 0",
              file=sys.stderr)
    t_start = time.time()

    def clock() -> float:  # wall seconds of this run so far, across resumes
        return train_s0 + time.time() - t_start

    env_seed = seed if start_step == 0 else _resume_seed(seed, start_step)
    _seed_everything(env_seed)

    venv = make_sb3_vec_env(env_id, settings["n_envs"], settings["vec_env"], env_kwargs,
                            start_method=settings["start_method"])
    try:
        venv = VecMonitor(venv)
        vec_normalize = None
        norm = settings["normalize"]
        if norm:
            if ckpt is not None and (ckpt / "vecnormalize.pkl").is_file():
                venv = VecNormalize.load(str(ckpt / "vecnormalize.pkl"), venv)
                venv.training = True
            else:
                kw = dict(norm) if isinstance(norm, Mapping) else {}
                kw.setdefault("gamma", algo_kwargs.get("gamma", 0.99))
                venv = VecNormalize(venv, **kw)
            vec_normalize = venv

        run_dir.mkdir(parents=True, exist_ok=True)
        best_score = -math.inf
        if ckpt is not None:
            model = Algo.load(ckpt / "model.zip", env=venv, device=settings["device"])
            model._last_obs = None  # the saved last observation belongs to the killed process's envs
            model.set_random_seed(env_seed)
            venv.seed(env_seed)
            if (ckpt / "replay_buffer.pkl").is_file() and hasattr(model, "load_replay_buffer"):
                model.load_replay_buffer(ckpt / "replay_buffer.pkl")
            best_score = _resume_bookkeeping(run_dir, start_step)
        else:
            model = Algo(settings["policy"], venv, seed=seed, verbose=settings["verbose"],
                         device=settings["device"], **algo_kwargs)
            if not resume:
                _write_config(run_dir, env_id, algo, seed, hp, settings, source, call)
            if resume:
                best_score = _resume_bookkeeping(run_dir, 0)
        _append_command(run_dir, call, resumed_from=start_step if resume else None)
        if resume:  # the total asked for now (a larger --timesteps extends the run) and the resume itself
            config = json.loads((run_dir / "config.json").read_text())
            config["hyperparams"]["n_timesteps"] = target
            config.setdefault("resolved", {})["n_timesteps"] = target
            config.setdefault("resumes", []).append({"from_step": start_step, "n_timesteps": target,
                                                     "time": datetime.now().isoformat(timespec="seconds")})
            atomic_write(run_dir / "config.json", json.dumps(config, indent=2) + "\n")

        # TensorBoard drops what a killed process logged after its last checkpoint (steps > start_step)
        logger = _make_logger(run_dir / "tb", settings["verbose"],
                              purge_step=(start_step + 1 if ckpt is not None else 0) if resume else None)
        model.set_logger(logger)
        pretrained = bool(settings["pretrain"]) and ckpt is None
        if pretrained:
            _pretrain(model, env_id, env_kwargs, settings["pretrain"], seed, run_dir)

        callbacks = [EpisodeMetricsCallback(id_keys=feedbackgym.family.spec(env_id).id_keys)]
        if settings["ent_coef_schedule"] is not None:
            s = settings["ent_coef_schedule"]
            callbacks.append(EntropyScheduleCallback(s[0], s[1], target, s[2] if len(s) > 2 else 1.0))
        evaluator = None
        if specs:
            evaluator = PeriodicEvalCallback(env_id, specs, settings["eval_freq"], run_dir,
                                             metric=settings["eval_metric"], seed=settings["eval_seed"],
                                             obs_normalizer=vec_normalize, best_score=best_score,
                                             eval_at_start=pretrained, clock=clock, verbose=settings["verbose"])
            callbacks.append(evaluator)
        if settings["checkpoint_freq"]:
            callbacks.append(AtomicCheckpointCallback(
                settings["checkpoint_freq"], run_dir, keep=settings["checkpoint_keep"],
                save_replay_buffer=bool(settings["checkpoint_replay_buffer"]) and hasattr(model, "replay_buffer"),
                vec_normalize=vec_normalize,
                extra_state=lambda: {"train_s": round(clock(), 1),
                                     "best_score": evaluator.best_score
                                     if evaluator and math.isfinite(evaluator.best_score) else None}))
        if not resume or start_step == 0:
            metrics = ("rollout/ep_rew_mean",) + ((f"eval/{settings['eval_metric']}",) if specs else ())
            callbacks.append(HyperparamsCallback(_jsonable(hp), metrics))

        remaining = target - model.num_timesteps
        if remaining <= 0:
            print(f"feedbackgym train: {run_dir} already reached {model.num_timesteps} >= {target} steps; "
                  "pass a larger --timesteps to continue", file=sys.stderr)
        else:
            learn_kw = {}
            if settings["log_interval"] is not None:
                learn_kw["log_interval"] = int(settings["log_interval"])
            try:
                model.learn(remaining, callback=CallbackList(callbacks), reset_num_timesteps=ckpt is None,
                            progress_bar=progress_bar, **learn_kw)
            except KeyboardInterrupt:
                saver = next((c for c in callbacks if isinstance(c, AtomicCheckpointCallback)), None)
                if saver is not None and saver.model is not None:
                    where = saver.save()
                    print(f"feedbackgym train: interrupted; checkpoint {where} written, continue with "
                          f"--resume --run-dir {run_dir}", file=sys.stderr)
                raise
        atomic_save_model(model, run_dir / "model.zip")
        if vec_normalize is not None:
            atomic_save(run_dir / "vecnormalize.pkl", lambda p: vec_normalize.save(str(p)))
        _update_config(run_dir, num_timesteps=int(model.num_timesteps), n_timesteps=target)
        logger.close()
    finally:
        venv.close()
    return run_dir


def _write_config(run_dir: Path, env_id, algo, seed, hp, settings, source, call) -> None:
    env_config = None
    try:
        env = gym.make(env_id, **settings["env_kwargs"])
        get = getattr(env.unwrapped, "get_config", None)
        env_config = get() if get is not None else None
        env.close()
    except Exception:  # the vec env made below reports a bad config with a clearer message
        pass
    config = {
        "env_id": env_id, "algo": algo, "seed": seed,
        "hyperparams": _jsonable(hp),
        "hyperparams_source": source,
        "resolved": _jsonable(settings),
        "env_kwargs": _jsonable(settings["env_kwargs"]),
        "env_config": _jsonable(env_config),
        "versions": _versions(),
        "created": datetime.now().isoformat(timespec="seconds"),
    }
    atomic_write(run_dir / "config.json", json.dumps(config, indent=2) + "\n")


def _update_config(run_dir: Path, **fields) -> None:
    path = run_dir / "config.json"
    if not path.is_file():
        return
    config = json.loads(path.read_text())
    config.update(fields)
    atomic_write(path, json.dumps(config, indent=2) + "\n")


def _append_command(run_dir: Path, call: dict, resumed_from: int | None) -> None:
    path = run_dir / "command.txt"
    old = path.read_text() if path.is_file() else ""
    text = _command_line(call)
    if resumed_from is not None:
        text = f"# resumed at step {resumed_from} ({datetime.now().isoformat(timespec='seconds')}):\n{text}"
    atomic_write(path, old + text)


def _resume_bookkeeping(run_dir: Path, step: int) -> float:
    """Drop evaluations the killed process logged after the checkpoint (they are redone) and
    return the best validation score so far (the one ``best_model.zip`` holds)."""
    path = run_dir / "evaluations.csv"
    rows = read_csv(path)
    kept = [r for r in rows if int(float(r.get("timesteps", 0))) <= step]
    if len(kept) != len(rows):
        write_csv(path, kept)
    best = -math.inf
    info = run_dir / "best_model.json"
    if info.is_file() and (run_dir / "best_model.zip").is_file():
        best = float(json.loads(info.read_text())["score"])
    return best


def _pretrain(model, env_id: str, env_kwargs: dict, block: Mapping, seed: int, run_dir: Path) -> None:
    """Behaviour cloning before RL; its statistics go to ``pretrain.json`` in the run folder."""
    try:
        from . import imitation
        pretrain = imitation.pretrain
    except (ImportError, AttributeError) as e:
        raise ValueError(f"pretrain: behaviour cloning needs feedbackgym.agents.imitation.pretrain, which is not "
                         f"available ({e}); remove the 'pretrain' block from the hyperparameters") from None
    kwargs = dict(block)
    kwargs.setdefault("seed", seed)
    t0 = time.time()
    stats = pretrain(model, env_id, dict(env_kwargs), **kwargs)
    record = {"settings": _jsonable(kwargs), "stats": _jsonable(stats if isinstance(stats, Mapping) else {}),
              "seconds": round(time.time() - t0, 2)}
    atomic_write(run_dir / "pretrain.json", json.dumps(record, indent=2, allow_nan=True) + "\n")
