"""Stable-Baselines3 callbacks used by :func:`feedbackgym.agents.train.train`.

* :class:`EpisodeMetricsCallback` — per finished training episode, the episode's reward
  components and domain KPIs as TensorBoard scalars under ``env/...``.
* :class:`PeriodicEvalCallback` — every ``eval_freq`` env steps, the current policy scored by the
  evaluation harness under the field's test protocol; ``eval/...`` scalars, ``evaluations.csv``,
  ``best_model.zip`` (selected on the validation split only).
* :class:`AtomicCheckpointCallback` — checkpoints that a ``kill -9`` can never leave half written.
* :class:`EntropyScheduleCallback` — linear decay of PPO's entropy coefficient.
* :class:`HyperparamsCallback` — the run's hyperparameters as TensorBoard text and HParams.

SB3's own ``ProgressBarCallback`` (``progress_bar=True``) is used as is.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.logger import HParam

from .. import family
from ..files import _fsync_dir, append_csv_row, atomic_write
from .evaluation import evaluate
from .model_file import save_model
from .model_policy import ModelPolicy, evaluate_batched
from .run_folder import list_checkpoints

__all__ = ["EpisodeMetricsCallback", "PeriodicEvalCallback", "EvalSpec", "AtomicCheckpointCallback",
           "EntropyScheduleCallback", "HyperparamsCallback", "ModelPolicy", "evaluate_batched"]


# --------------------------------------------------------------------------- env metrics


class EpisodeMetricsCallback(BaseCallback):
    """Domain metrics of the training episodes as ``env/...`` scalars.

    For every episode that ends in a training sub-env:

    * ``env/reward_components/<name>``: the episode's **per-step mean** of
      ``info["reward_components"][name]``, i.e. the sum over the episode's steps
      divided by its number of steps; steps without the component are not counted.
    * ``env/<kpi>``: ``info["episode_metrics"][kpi]`` of the episode's last step; the family's
      ``id_keys`` (identifiers such as a trace index) are skipped.

    Both go through ``logger.record_mean``, so each logged point is the mean over the episodes that
    finished since the previous dump (one PPO rollout; DQN's ``log_interval`` episodes).
    """

    def __init__(self, prefix: str = "env", id_keys: tuple = (), verbose: int = 0):
        super().__init__(verbose)
        self.prefix = prefix
        self.id_keys = tuple(id_keys)
        self._sums: list[dict[str, float]] = []
        self._counts: list[dict[str, int]] = []

    def _on_training_start(self) -> None:
        n = self.training_env.num_envs
        self._sums = [{} for _ in range(n)]
        self._counts = [{} for _ in range(n)]

    def _on_step(self) -> bool:
        infos = self.locals.get("infos")
        dones = self.locals.get("dones")
        if infos is None or dones is None:
            return True
        record = self.logger.record_mean
        for i, info in enumerate(infos):
            comps = info.get("reward_components")
            if comps:
                sums, counts = self._sums[i], self._counts[i]
                for k, v in comps.items():
                    sums[k] = sums.get(k, 0.0) + v
                    counts[k] = counts.get(k, 0) + 1
            if dones[i]:
                sums, counts = self._sums[i], self._counts[i]
                for k, s in sums.items():
                    record(f"{self.prefix}/reward_components/{k}", s / counts[k])
                self._sums[i], self._counts[i] = {}, {}
                for k, v in info.get("episode_metrics", {}).items():
                    if k in self.id_keys or isinstance(v, (bool, np.bool_)):
                        continue
                    if isinstance(v, (int, float, np.integer, np.floating)):
                        record(f"{self.prefix}/{k}", float(v))
        return True


# ------------------------------------------------------------------------------ evaluation


@dataclass
class EvalSpec:
    """One evaluation: env kwargs (already containing the data set), episodes, TensorBoard prefix."""

    name: str
    env_kwargs: dict
    episodes: int | None = None
    select: bool = False          # may this evaluation pick best_model.zip?
    prefix: str = "eval"


class PeriodicEvalCallback(BaseCallback):
    """Score the current policy every ``eval_freq`` env steps with the evaluation harness.

    Written by hand rather than using SB3's ``EvalCallback`` because the family's test protocol
    needs the harness: its episode plan (e.g. every trace of a data set once, deterministically),
    the family's KPIs and aggregations, and several evaluations (a validation set that selects
    ``best_model.zip`` and report-only test sets, which must never select a checkpoint).

    Per evaluation: ``<prefix>/<metric>`` scalars for every aggregate metric, a row in
    ``evaluations.csv`` (``timesteps, eval, train_s, <metrics>``, ``train_s`` being the run's wall
    seconds so far from ``clock()``, resumes included; rewritten atomically), and for the
    selecting split ``best_model.zip`` (its observation statistics, ``model_meta`` and selection
    record inside, one atomic write; ``best_model.json`` a readable copy) when ``metric`` improves.
    ``batched`` plays all episodes of a split in lockstep with one forward pass per step
    (:func:`evaluate_batched`, same scores as the harness under the test protocol, ~10x faster);
    ``batched=False`` calls ``evaluate()`` episode by episode.
    ``eval_freq`` counts env steps (all sub-envs), not callback calls as SB3's does; with
    ``eval_at_start`` the policy is also scored before training (after behaviour cloning), and
    with ``eval_at_end`` after the last step.
    """

    def __init__(self, env_id: str, evals: list[EvalSpec], eval_freq: int, run_dir: str | os.PathLike,
                 metric: str = "mean_reward_per_step", seed: int = 0, obs_normalizer=None,
                 best_score: float = -math.inf, eval_at_start: bool = False, eval_at_end: bool = True,
                 batched: bool = True, clock=None, model_meta: dict | None = None, verbose: int = 0):
        super().__init__(verbose)
        if eval_freq <= 0:
            raise ValueError(f"eval_freq: expected a positive number of env steps, got {eval_freq}")
        self.env_id = env_id
        self.evals = evals
        self.eval_freq = int(eval_freq)
        self.run_dir = Path(run_dir)
        self.metric = metric
        self.seed = seed
        self.obs_normalizer = obs_normalizer
        # the family says which way the selecting metric is better (default: higher, like a reward)
        declared = {m.name: m for m in family.spec(env_id).metrics}.get(metric)
        self.higher_is_better = declared is None or declared.higher_is_better is not False
        if not self.higher_is_better and best_score == -math.inf:
            best_score = math.inf
        self.best_score = best_score
        self.eval_at_start = eval_at_start
        self.batched = batched
        self._envs: dict[str, list] = {}
        self.eval_at_end = eval_at_end
        self.model_meta = dict(model_meta or {})  # env id, env config, spaces: stored in best_model.zip
        self._next = 0
        self._last_eval_step: int | None = None
        t0 = time.time()
        self.clock = clock if clock is not None else (lambda: time.time() - t0)

    @property
    def csv_path(self) -> Path:
        return self.run_dir / "evaluations.csv"

    def _on_training_start(self) -> None:
        self._next = (self.num_timesteps // self.eval_freq + 1) * self.eval_freq
        if self.eval_at_start:  # e.g. the behaviour-cloned policy before any RL
            self.run_evaluations()

    def _on_step(self) -> bool:
        if self.num_timesteps >= self._next:
            self.run_evaluations()
            self._next = (self.num_timesteps // self.eval_freq + 1) * self.eval_freq
        return True

    def _on_training_end(self) -> None:
        if self.eval_at_end and self._last_eval_step != self.num_timesteps:
            self.run_evaluations()
        for envs in self._envs.values():
            for env in envs:
                env.close()
        self._envs.clear()

    def run_evaluations(self) -> dict[str, dict]:
        step = self.num_timesteps
        policy = ModelPolicy(self.model, self.obs_normalizer)
        results = {}
        t_start = time.time()
        for spec in self.evals:
            if self.batched:
                _, agg = evaluate_batched(self.env_id, policy, spec.env_kwargs, spec.episodes, self.seed,
                                          envs=self._envs.setdefault(spec.name, []))
            else:
                agg = evaluate(self.env_id, "sb3:current", env_kwargs=spec.env_kwargs, episodes=spec.episodes,
                               seed=self.seed, policy_obj=policy).aggregate
            results[spec.name] = agg
            for k, v in agg.items():
                if k != "episodes" and isinstance(v, (int, float)):
                    self.logger.record(f"{spec.prefix}/{k}", float(v))
            row = {"timesteps": step, "eval": spec.name, "train_s": round(self.clock(), 1), **agg}
            if spec.select:
                score = agg.get(self.metric)
                if score is None:
                    raise ValueError(f"eval_metric {self.metric!r} is not among the evaluation metrics "
                                     f"{sorted(agg)}")
                improved = score > self.best_score if self.higher_is_better else score < self.best_score
                row["best"] = int(improved)
                if improved:
                    self.best_score = float(score)
                    self._save_best(step, spec.name)
                self.logger.record(f"{spec.prefix}/best_{self.metric}", self.best_score)
            append_csv_row(self.csv_path, row)
        self.logger.record("time/eval_s", time.time() - t_start)
        self.logger.dump(step)
        self._last_eval_step = step
        if self.verbose:
            summary = ", ".join(f"{n}: {a.get(self.metric, float('nan')):.4f}" for n, a in results.items())
            print(f"eval @ {step} steps: {self.metric} {summary}")
        return results

    def _save_best(self, step: int, split: str) -> None:
        # One atomic write: the model, its observation statistics and its selection record live in
        # one zip (model_file.py); best_model.json is a copy of the record for people to read.
        selection = {"timesteps": step, "eval": split, "metric": self.metric, "score": self.best_score}
        save_model(self.model, self.run_dir / "best_model.zip", self.obs_normalizer,
                   {**self.model_meta, "selection": selection})
        atomic_write(self.run_dir / "best_model.json", json.dumps(selection, indent=2) + "\n")


# ------------------------------------------------------------------------------ checkpoints


class AtomicCheckpointCallback(BaseCallback):
    """Checkpoint every ``save_freq`` env steps into ``<run_dir>/checkpoints/step_<N>/``.

    Each checkpoint is a folder holding ``model.zip`` (a model file as
    :func:`~feedbackgym.agents.model_file.save_model` writes it), ``vecnormalize.pkl`` (if observations or
    rewards are normalised), ``replay_buffer.pkl`` (off-policy algorithms, if asked) and
    ``state.json``. It is written under a temporary name, fsynced, and renamed into place in one
    ``os.rename``, so a checkpoint folder either is complete or does not exist — whenever the
    process is killed. Only the newest ``keep`` are kept.

    Written by hand rather than using SB3's ``CheckpointCallback``, which writes each file in place
    (a kill mid-write leaves a truncated newest zip), saves the model, buffer and normaliser as
    separate files that can disagree, and saves mid-rollout. Checkpoints here are taken at the start
    of a rollout, after the previous update, so nothing collected and trained on is lost.
    """

    def __init__(self, save_freq: int, run_dir: str | os.PathLike, keep: int = 3,
                 save_replay_buffer: bool = False, vec_normalize=None, extra_state=None,
                 model_meta: dict | None = None, verbose: int = 0):
        super().__init__(verbose)
        if save_freq <= 0:
            raise ValueError(f"checkpoint_freq: expected a positive number of env steps, got {save_freq}")
        self.save_freq = int(save_freq)
        self.folder = Path(run_dir) / "checkpoints"
        self.keep = max(1, int(keep))
        self.save_replay_buffer = save_replay_buffer
        self.vec_normalize = vec_normalize
        self.extra_state = extra_state  # callable -> dict stored in state.json
        self.model_meta = dict(model_meta or {})
        self._next = 0
        self.last_saved: int | None = None

    def _on_training_start(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        for p in self.folder.iterdir():  # leftovers of a killed save or prune
            if p.name.startswith((".tmp-", ".old-")):
                shutil.rmtree(p, ignore_errors=True)
        self._next = (self.num_timesteps // self.save_freq + 1) * self.save_freq
        self.last_saved = self.num_timesteps

    def _on_rollout_start(self) -> None:
        if self.num_timesteps >= self._next:
            self.save()
            self._next = (self.num_timesteps // self.save_freq + 1) * self.save_freq

    def _on_step(self) -> bool:
        return True

    def _on_training_end(self) -> None:
        if self.last_saved != self.num_timesteps:
            self.save()

    def save(self) -> Path:
        step = self.num_timesteps
        name = f"step_{step:012d}"
        final = self.folder / name
        tmp = self.folder / f".tmp-{name}-{os.getpid()}"
        if tmp.exists():
            shutil.rmtree(tmp)
        tmp.mkdir(parents=True)
        save_model(self.model, tmp / "model.zip", self.vec_normalize, self.model_meta)
        if self.vec_normalize is not None:  # the whole VecNormalize (reward statistics too) for --resume
            self.vec_normalize.save(str(tmp / "vecnormalize.pkl"))
        if self.save_replay_buffer and getattr(self.model, "replay_buffer", None) is not None:
            self.model.save_replay_buffer(tmp / "replay_buffer.pkl")  # type: ignore[attr-defined]
        state = {"num_timesteps": step, "time": time.time()}
        if self.extra_state is not None:
            state.update(self.extra_state())
        (tmp / "state.json").write_text(json.dumps(state, indent=2) + "\n")
        for p in tmp.iterdir():
            with open(p, "rb+") as f:
                os.fsync(f.fileno())
        _fsync_dir(tmp)
        if final.exists():  # same step saved before (e.g. at the end of a resumed run)
            old = self.folder / f".old-{name}-{os.getpid()}"
            os.rename(final, old)
            os.rename(tmp, final)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.rename(tmp, final)
        _fsync_dir(self.folder)
        self.last_saved = step
        self._prune()
        if self.verbose:
            print(f"checkpoint {final}")
        return final

    def _prune(self) -> None:
        for _, p in list_checkpoints(self.folder.parent)[:-self.keep]:
            trash = self.folder / f".old-{p.name}-{os.getpid()}"
            os.rename(p, trash)  # never leave a half-deleted folder under a checkpoint name
            shutil.rmtree(trash, ignore_errors=True)


# ------------------------------------------------------------------------ entropy schedule


class EntropyScheduleCallback(BaseCallback):
    """Linear decay of the entropy coefficient: ``start`` at step 0 to ``end`` at
    ``fraction * total_timesteps``, constant after; sets ``model.ent_coef`` before every rollout.
    Without ``total_timesteps`` the run's total is used (``learn``'s, resumes included), so the
    callback can be named in a hyperparameter file, also by rl-zoo3's ``callback:`` key::

        callback:
          - feedbackgym.agents.callbacks.EntropyScheduleCallback: {start: 0.02, end: 0.005}

    SB3's PPO takes only a constant ``ent_coef``; decaying it (e.g. 0.05 -> 0.01) avoids the
    cautious policy a small constant can settle on. The value depends only on
    ``num_timesteps``, so a resumed run continues the schedule where it stopped.
    """

    def __init__(self, start: float, end: float, total_timesteps: int | None = None, fraction: float = 1.0,
                 verbose: int = 0):
        super().__init__(verbose)
        if not 0.0 < fraction <= 1.0:
            raise ValueError(f"ent_coef_schedule: decay fraction must be in (0, 1], got {fraction}")
        self.start, self.end = float(start), float(end)
        self.total = None if total_timesteps is None else max(int(total_timesteps), 1)
        self.fraction = float(fraction)

    def value(self, num_timesteps: int) -> float:
        total = self.total if self.total is not None else max(int(getattr(self.model, "_total_timesteps", 1)), 1)
        progress = min(num_timesteps / (self.fraction * total), 1.0)
        return self.start + (self.end - self.start) * progress

    def _apply(self) -> None:
        if not hasattr(self.model, "ent_coef"):
            raise ValueError(f"ent_coef_schedule: {type(self.model).__name__} has no entropy coefficient")
        self.model.ent_coef = self.value(self.num_timesteps)  # type: ignore[attr-defined]

    def _on_training_start(self) -> None:
        self._apply()

    def _on_rollout_start(self) -> None:
        self._apply()

    def _on_rollout_end(self) -> None:
        self.logger.record("train/ent_coef", self.model.ent_coef)  # type: ignore[attr-defined]

    def _on_step(self) -> bool:
        return True


# --------------------------------------------------------------------------- hyperparameters


def _hparam_value(v: Any):
    if isinstance(v, (bool, int, float, str)) or v is None:
        return v
    return json.dumps(v, sort_keys=True, default=str)


def hyperparams_markdown(hyperparams: Mapping[str, Any]) -> str:
    lines = ["| hyperparameter | value |", "|---|---|"]
    for k in sorted(hyperparams):
        v = hyperparams[k]
        text = v if isinstance(v, str) else json.dumps(v, sort_keys=True, default=str)
        lines.append(f"| {k} | `{text}` |")
    return "\n".join(lines)


class HyperparamsCallback(BaseCallback):
    """Log the run's hyperparameters once at training start: as TensorBoard text (tag
    ``hyperparameters``, a markdown table, readable in the Text tab) and as SB3's ``HParam``
    (the HPARAMS tab, with ``eval/<metric>`` and ``rollout/ep_rew_mean`` as its metrics)."""

    def __init__(self, hyperparams: Mapping[str, Any], metrics: tuple[str, ...] = ("rollout/ep_rew_mean",),
                 verbose: int = 0):
        super().__init__(verbose)
        self.hyperparams = dict(hyperparams)
        self.metrics = metrics

    def _on_training_start(self) -> None:
        exclude = ("stdout", "log", "json", "csv")
        self.logger.record("hyperparameters", hyperparams_markdown(self.hyperparams), exclude=exclude)
        hp = {k: _hparam_value(v) for k, v in self.hyperparams.items()}
        self.logger.record("hparams", HParam(hp, {m: 0.0 for m in self.metrics}), exclude=exclude)
        self.logger.dump(self.num_timesteps)

    def _on_step(self) -> bool:
        return True
