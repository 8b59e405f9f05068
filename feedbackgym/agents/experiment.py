"""A training run in public stages, the way rl-zoo3's ``ExperimentManager`` splits one.

:func:`feedbackgym.agents.train.train` is ``Experiment(...).run()``; scripts that need only part
of a run (a script that only clones a baseline and stops) call the stages themselves::

    exp = Experiment(env_id, "ppo", settings, algo_kwargs, seed=0, run=RunFolder("runs/x"))
    exp.seed_everything()
    venv = exp.make_env()               # SB3 VecEnv (twin / dummy / subproc), VecMonitor, VecNormalize
    model = exp.make_model(venv)        # the algorithm with the block's constructor arguments
    stats = exp.pretrain(model)         # the block's `pretrain` function (behaviour cloning), if any
    cbs = exp.callbacks(model)          # env KPIs, evaluation, checkpoints, the block's `callback`s
    exp.learn(model, cbs)
    exp.save(model)                     # model.zip (statistics and env config inside), config.json

Each stage reads only :class:`~feedbackgym.agents.settings.TrainSettings`, the algorithm's
keyword arguments and the :class:`~feedbackgym.agents.run_folder.RunFolder`.
"""

from __future__ import annotations

import json
import math
import platform
import random
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import gymnasium as gym
import numpy as np

import feedbackgym

from ..files import atomic_write
from .callbacks import (AtomicCheckpointCallback, EntropyScheduleCallback, EpisodeMetricsCallback, EvalSpec,
                        HyperparamsCallback, PeriodicEvalCallback)
from .model_file import env_meta, load_model, save_model
from .run_folder import RunFolder, jsonable
from .settings import PRETRAIN_FN, TrainSettings, algo_class, load_import, make_callbacks


def seed_everything(seed: int) -> None:
    """Seed python's, numpy's and torch's global generators."""
    import torch

    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def resume_seed(seed: int, num_timesteps: int) -> int:
    """A fresh seed for the part of a run after a resume (never one of a fresh run's)."""
    return int(np.random.SeedSequence([seed, num_timesteps, 1]).generate_state(1)[0])


def versions() -> dict:
    import stable_baselines3
    import torch

    return {"feedbackgym": feedbackgym.__version__, "stable_baselines3": stable_baselines3.__version__,
            "torch": torch.__version__, "gymnasium": gym.__version__, "numpy": np.__version__,
            "python": platform.python_version()}


def eval_specs(env_id: str, settings: TrainSettings, train_env_kwargs: Mapping) -> list[EvalSpec]:
    """The evaluations of a run: the validation set (selects best_model) and report-only extras.

    Env kwargs: training kwargs, minus the keys of the family's test protocol (so the protocol
    applies), then ``eval_env_kwargs`` (validation) or the extra's ``env_kwargs``.
    """
    from .evaluation import evaluation_kwargs

    protocol = set(evaluation_kwargs(env_id))  # the test protocol's own keys
    base = {k: v for k, v in train_env_kwargs.items() if k not in protocol}
    base.update(settings.eval_env_kwargs)
    specs = [EvalSpec("validation", dict(base), settings.eval_episodes, select=True, prefix="eval")]
    for name, spec in settings.extra_evals.items():
        kw = {**base, **(spec.get("env_kwargs") or {})}
        specs.append(EvalSpec(name, kw, spec.get("episodes", settings.eval_episodes), select=False,
                              prefix=f"eval/{name}"))
    return specs


def env_config(env_id: str, env_kwargs: Mapping) -> dict | None:
    """The env's full config for these kwargs (JSON), or None if the env does not expose one."""
    try:
        env = gym.make(env_id, **dict(env_kwargs))
    except Exception:  # the vec env made by make_env reports a bad config with a clearer message
        return None
    try:
        get = getattr(env.unwrapped, "get_config", None)
        return jsonable(get()) if get is not None else None
    finally:
        env.close()


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


def make_logger(tb_dir: Path, verbose: int, purge_step: int | None):
    """SB3's logger writing TensorBoard (and stdout with ``verbose``), opened with ``purge_step``
    on resume: TensorBoard then drops what the killed run logged after the checkpoint, so the
    resumed curve does not overlap a dead branch."""
    from stable_baselines3.common.logger import HumanOutputFormat, KVWriter, Logger, TensorBoardOutputFormat
    from torch.utils.tensorboard import SummaryWriter

    class _TensorBoard(TensorBoardOutputFormat):
        def __init__(self, folder: str, purge_step: int | None):
            self.writer = SummaryWriter(log_dir=folder, purge_step=purge_step)
            self._is_closed = False

    tb_dir.mkdir(parents=True, exist_ok=True)
    if purge_step is not None:
        _wait_for_later_event_file_name(tb_dir)
    formats: list[KVWriter] = [_TensorBoard(str(tb_dir), purge_step)]
    if verbose >= 1:
        formats.append(HumanOutputFormat(sys.stdout))
    return Logger(str(tb_dir), formats)


@dataclass
class Resume:
    """Where a resumed run continues from (``checkpoint`` None: from step 0 with the saved config)."""

    checkpoint: Path | None = None
    state: dict = field(default_factory=dict)

    @property
    def step(self) -> int:
        return int(self.state.get("num_timesteps", 0))


class Experiment:
    """One training run of ``algo`` on ``env_id`` with validated settings, in stages."""

    def __init__(self, env_id: str, algo: str, settings: TrainSettings, algo_kwargs: Mapping, seed: int,
                 run: RunFolder | str | Path, hyperparams: Mapping | None = None, resume: Resume | None = None,
                 progress_bar: bool = True):
        self.env_id, self.algo, self.seed = env_id, algo, int(seed)
        self.settings = settings
        self.algo_kwargs = dict(algo_kwargs)
        self.hyperparams = dict(hyperparams if hyperparams is not None else settings.as_dict())
        self.run_folder = run if isinstance(run, RunFolder) else RunFolder(run)
        self.resume = resume
        self.progress_bar = progress_bar
        self.env_kwargs = dict(settings.env_kwargs)
        self.vec_normalize = None
        self.evaluator: PeriodicEvalCallback | None = None
        self.pretrained = False
        self._t_start = time.time()
        self._train_s0 = float(resume.state.get("train_s", 0.0)) if resume and resume.checkpoint else 0.0
        self._meta: dict | None = None

    # ------------------------------------------------------------------------------ helpers
    @property
    def start_step(self) -> int:
        return self.resume.step if self.resume is not None and self.resume.checkpoint is not None else 0

    @property
    def env_seed(self) -> int:
        """The run's seed, or a fresh one derived from it for the part after a resume."""
        return self.seed if self.start_step == 0 else resume_seed(self.seed, self.start_step)

    def clock(self) -> float:
        """Wall seconds of this run so far, across resumes."""
        return self._train_s0 + time.time() - self._t_start

    def model_meta(self, venv=None) -> dict:
        """What every saved model of the run carries besides its weights (model_file.py)."""
        if self._meta is None:
            self._meta = {**env_meta(self.env_id, env_config(self.env_id, self.env_kwargs),
                                     getattr(venv, "observation_space", None), getattr(venv, "action_space", None)),
                          "algo": self.algo, "seed": self.seed}
        return self._meta

    def seed_everything(self) -> None:
        seed_everything(self.env_seed)

    # ------------------------------------------------------------------------------- stages
    def make_env(self):
        """The training ``VecEnv``: ``vec_env`` kind x ``n_envs``, ``VecMonitor``, ``VecNormalize``
        (restored from the checkpoint on resume)."""
        from stable_baselines3.common.vec_env import VecMonitor, VecNormalize

        from .sb3_vec import make_sb3_vec_env

        s = self.settings
        venv = make_sb3_vec_env(self.env_id, s.n_envs, s.vec_env, self.env_kwargs, start_method=s.start_method)
        venv = VecMonitor(venv)
        if s.normalize:
            ckpt = self.resume.checkpoint if self.resume is not None else None
            if ckpt is not None and (ckpt / "vecnormalize.pkl").is_file():
                venv = VecNormalize.load(str(ckpt / "vecnormalize.pkl"), venv)  # our own run folder's pickle
                venv.training = True
            else:
                kw = dict(s.normalize) if isinstance(s.normalize, Mapping) else {}
                kw.setdefault("gamma", self.algo_kwargs.get("gamma", 0.99))
                venv = VecNormalize(venv, **kw)
            self.vec_normalize = venv
        return venv

    def make_model(self, venv):
        """A new model with the block's arguments, or the checkpoint's model on resume."""
        Algo = algo_class(self.algo)
        s = self.settings
        ckpt = self.resume.checkpoint if self.resume is not None else None
        if ckpt is None:
            return Algo(s.policy, venv, seed=self.seed, verbose=s.verbose, device=s.device, **self.algo_kwargs)
        model = load_model(Algo, ckpt / "model.zip", env=venv, device=s.device)
        model._last_obs = None  # the saved last observation belongs to the killed process's envs
        model.set_random_seed(self.env_seed)
        venv.seed(self.env_seed)
        if (ckpt / "replay_buffer.pkl").is_file() and hasattr(model, "load_replay_buffer"):
            model.load_replay_buffer(ckpt / "replay_buffer.pkl")
        return model

    def pretrain(self, model) -> dict | None:
        """The block's ``pretrain`` function (default behaviour cloning) before RL; its statistics
        go to ``pretrain.json``. Skipped on resume from a checkpoint (the model is past it)."""
        block = self.settings.pretrain
        if not block or (self.resume is not None and self.resume.checkpoint is not None):
            return None
        kwargs = dict(block)
        target = kwargs.pop("fn", PRETRAIN_FN)
        try:
            fn = load_import(target, "pretrain.fn")
        except ValueError as e:
            raise ValueError(f"pretrain: behaviour cloning needs {target}, which is not available ({e}); "
                             "remove the 'pretrain' block from the hyperparameters or name another fn") from None
        if not callable(fn):
            raise ValueError(f"pretrain.fn: {target!r} is not a function")
        kwargs.setdefault("seed", self.seed)
        t0 = time.time()
        stats = fn(model, self.env_id, dict(self.env_kwargs), **kwargs)
        record = {"fn": target, "settings": jsonable(kwargs),
                  "stats": jsonable(stats if isinstance(stats, Mapping) else {}), "seconds": round(time.time() - t0, 2)}
        self.run_folder.path.mkdir(parents=True, exist_ok=True)
        atomic_write(self.run_folder.path / "pretrain.json", json.dumps(record, indent=2, allow_nan=True) + "\n")
        self.pretrained = True
        return dict(stats) if isinstance(stats, Mapping) else {}

    def callbacks(self, model) -> list:
        """Env KPIs, the entropy schedule, evaluations, checkpoints, hyperparameters, then the
        block's ``callback`` entries (rl-zoo3's import strings)."""
        s, run = self.settings, self.run_folder
        target = s.n_timesteps
        out: list = [EpisodeMetricsCallback(id_keys=feedbackgym.family.spec(self.env_id).id_keys)]
        if s.ent_coef_schedule is not None:
            e = s.ent_coef_schedule
            out.append(EntropyScheduleCallback(e[0], e[1], target, e[2] if len(e) > 2 else 1.0))
        specs = eval_specs(self.env_id, s, self.env_kwargs) if s.eval_freq else []
        if specs:
            best = run.best_score() if self.resume is not None else -math.inf
            self.evaluator = PeriodicEvalCallback(
                self.env_id, specs, s.eval_freq, run.path, metric=s.eval_metric, seed=s.eval_seed,
                obs_normalizer=self.vec_normalize, best_score=best, eval_at_start=self.pretrained, clock=self.clock,
                model_meta=self.model_meta(model), verbose=s.verbose)
            out.append(self.evaluator)
        if s.checkpoint_freq:
            evaluator = self.evaluator
            out.append(AtomicCheckpointCallback(
                s.checkpoint_freq, run.path, keep=s.checkpoint_keep,
                save_replay_buffer=s.checkpoint_replay_buffer and hasattr(model, "replay_buffer"),
                vec_normalize=self.vec_normalize, model_meta=self.model_meta(model),
                extra_state=lambda: {"train_s": round(self.clock(), 1),
                                     "best_score": evaluator.best_score
                                     if evaluator and math.isfinite(evaluator.best_score) else None}))
        if self.resume is None or self.start_step == 0:
            metrics = ("rollout/ep_rew_mean",) + ((f"eval/{s.eval_metric}",) if specs else ())
            out.append(HyperparamsCallback(jsonable(self.hyperparams), metrics))
        out.extend(make_callbacks([tuple(c) for c in s.callback]))
        return out

    def learn(self, model, callbacks: list) -> None:
        """``model.learn`` up to ``n_timesteps`` in total; on Ctrl-C a checkpoint is written first."""
        from stable_baselines3.common.callbacks import CallbackList

        s, run = self.settings, self.run_folder
        remaining = s.n_timesteps - model.num_timesteps
        if remaining <= 0:
            print(f"feedbackgym train: {run.path} already reached {model.num_timesteps} >= {s.n_timesteps} steps; "
                  "pass a larger --timesteps to continue", file=sys.stderr)
            return
        learn_kw = {} if s.log_interval is None else {"log_interval": int(s.log_interval)}
        try:
            fresh = self.resume is None or self.resume.checkpoint is None
            model.learn(remaining, callback=CallbackList(callbacks), reset_num_timesteps=fresh,
                        progress_bar=self.progress_bar, **learn_kw)
        except KeyboardInterrupt:
            saver = next((c for c in callbacks if isinstance(c, AtomicCheckpointCallback)), None)
            if saver is not None and saver.model is not None:
                where = saver.save()
                print(f"feedbackgym train: interrupted; checkpoint {where} written, continue with "
                      f"--resume --run-dir {run.path}", file=sys.stderr)
            raise

    def save(self, model) -> Path:
        """``model.zip`` (observation statistics, env config and spaces inside: one atomic write),
        then the step count in ``config.json``."""
        run = self.run_folder
        save_model(model, run.model_path, self.vec_normalize, self.model_meta(model))
        run.update_config(num_timesteps=int(model.num_timesteps), n_timesteps=self.settings.n_timesteps)
        return run.model_path

    # ---------------------------------------------------------------------------- the run
    def write_config(self, source: str) -> None:
        self.run_folder.write_config({
            "env_id": self.env_id, "algo": self.algo, "seed": self.seed,
            "hyperparams": jsonable(self.hyperparams), "hyperparams_source": source,
            "resolved": jsonable(self.settings.as_dict()), "env_kwargs": jsonable(self.env_kwargs),
            "env_config": env_config(self.env_id, self.env_kwargs), "versions": versions(),
            "created": datetime.now().isoformat(timespec="seconds"),
        })

    def run(self, source: str = "", call: Mapping | None = None) -> Path:
        """Every stage in order; returns the run folder."""
        import torch

        s, run = self.settings, self.run_folder
        torch.set_num_threads(s.torch_threads)
        resuming = self.resume is not None
        if self.resume is not None and self.resume.checkpoint is None:
            print(f"feedbackgym train: {run.path} has no complete checkpoint; starting it again from step 0",
                  file=sys.stderr)
        self.seed_everything()
        venv = self.make_env()
        try:
            run.path.mkdir(parents=True, exist_ok=True)
            model = self.make_model(venv)
            if resuming:
                run.drop_evaluations_after(self.start_step)
            else:
                self.write_config(source)
            run.append_command(dict(call or {}), resumed_from=self.start_step if resuming else None)
            if resuming:
                run.record_resume(self.start_step, s.n_timesteps)
            # TensorBoard drops what a killed process logged after its last checkpoint (steps > start_step)
            logger = make_logger(run.tb_dir, s.verbose,
                                 purge_step=(self.start_step + 1 if self.start_step else 0) if resuming else None)
            model.set_logger(logger)
            self.pretrain(model)
            self.learn(model, self.callbacks(model))
            self.save(model)
            logger.close()
        finally:
            venv.close()
        return run.path


__all__ = ["Experiment", "Resume", "eval_specs", "make_logger", "seed_everything", "resume_seed", "env_config",
           "versions"]
