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

import csv
import io
import json
import math
import os
import re
import shutil
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.logger import HParam

from ..files import atomic_write, write_csv
from .evaluation import evaluate

CHECKPOINT_RE = re.compile(r"^step_(\d+)$")


# ------------------------------------------------------------------------------ file helpers


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_save(path: str | os.PathLike, write) -> None:
    """Write ``path`` through ``write(tmp_path)`` then ``os.replace``: readers (and a later
    ``--resume`` after ``kill -9``) see the old file or the new one, never a truncated one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp{path.suffix}")
    try:
        write(tmp)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
        _fsync_dir(path.parent)
    except BaseException:
        if tmp.exists():
            tmp.unlink()
        raise


def atomic_save_model(model, path: str | os.PathLike) -> None:
    """``model.save`` to ``path`` atomically (SB3 writes zips in place)."""
    def write(tmp: Path):
        buf = io.BytesIO()
        model.save(buf)
        tmp.write_bytes(buf.getvalue())
    atomic_save(path, write)


def append_csv_row(path: str | os.PathLike, row: dict) -> None:
    """Append ``row`` to a CSV file by rewriting it atomically (columns: union, in first-seen order)."""
    path = Path(path)
    rows = read_csv(path)
    rows.append(row)
    write_csv(path, rows)


def read_csv(path: str | os.PathLike) -> list[dict]:
    path = Path(path)
    if not path.is_file():
        return []
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


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


class ModelPolicy:
    """The model being trained as an evaluation-harness policy (deterministic actions).

    ``obs_normalizer``: a ``VecNormalize`` whose observation statistics the model was trained on.
    """

    def __init__(self, model, obs_normalizer=None, deterministic: bool = True):
        self.model = model
        self.obs_normalizer = obs_normalizer
        self.deterministic = deterministic

    def reset(self, env, obs, info) -> None:
        pass

    def act(self, obs, info):
        return self.act_batch(np.asarray(obs)[None])[0]

    def act_batch(self, obs: np.ndarray) -> list:
        """Actions for a batch of observations (one forward pass): python ints for ``Discrete``
        spaces, arrays for ``MultiDiscrete`` and ``Box`` (clipped to the space, as SB3's predict)."""
        import torch
        from gymnasium import spaces

        if self.obs_normalizer is not None:
            obs = self.obs_normalizer.normalize_obs(obs)
        policy = self.model.policy
        policy.set_training_mode(False)
        with torch.no_grad():
            tensor, _ = policy.obs_to_tensor(obs)
            actions = policy._predict(tensor, deterministic=self.deterministic).cpu().numpy()
        space = self.model.action_space
        if isinstance(space, spaces.Discrete):
            return actions.reshape(-1).tolist()
        actions = actions.reshape((-1, *space.shape))
        if isinstance(space, spaces.Box):
            if getattr(policy, "squash_output", False):
                actions = policy.unscale_action(actions)
            actions = np.clip(actions, space.low, space.high)
        return list(actions)


def evaluate_batched(env_id: str, policy: ModelPolicy, env_kwargs: dict | None = None, episodes: int | None = None,
                     seed: int = 0, envs: list | None = None) -> tuple[list[dict], dict]:
    """:func:`~feedbackgym.agents.evaluation.evaluate` for a stateless model, all episodes at once
    (:func:`~feedbackgym.agents.rollout.run_lockstep`): the same per-episode records and aggregate
    whenever an episode's outcome depends only on its reset seed and options (true under a test
    protocol). ``envs``: envs made earlier with the same kwargs, reused (and extended) across calls.
    """
    import gymnasium as gym

    from .evaluation import aggregate, episode_plan, evaluation_kwargs
    from .rollout import RecordKeys, run_lockstep

    kwargs = evaluation_kwargs(env_id, env_kwargs)
    if envs is None:
        envs = []
    if not envs:
        envs.append(gym.make(env_id, **kwargs))
    plan = episode_plan(env_id, envs[0], episodes, seed)
    while len(envs) < len(plan):
        envs.append(gym.make(env_id, **kwargs))
    records = run_lockstep(envs, policy.act_batch, plan, RecordKeys.of(env_id))
    return records, aggregate(env_id, records)


@dataclass
class EvalSpec:
    """One evaluation: env kwargs (already containing the traces), episodes, TensorBoard prefix."""

    name: str
    env_kwargs: dict
    episodes: int | None = None
    select: bool = False          # may this evaluation pick best_model.zip?
    prefix: str = "eval"
    extra: dict = field(default_factory=dict)


class PeriodicEvalCallback(BaseCallback):
    """Score the current policy every ``eval_freq`` env steps with the evaluation harness.

    Written by hand rather than using SB3's ``EvalCallback`` because the family's test protocol
    needs the harness: its episode plan (e.g. every trace of a data set once, deterministically),
    the family's KPIs and aggregations, and several evaluations (a validation set that selects
    ``best_model.zip`` and report-only test sets, which must never select a checkpoint).

    Per evaluation: ``<prefix>/<metric>`` scalars for every aggregate metric, a row in
    ``evaluations.csv`` (``timesteps, eval, train_s, <metrics>``, ``train_s`` being the run's wall
    seconds so far from ``clock()``, resumes included; rewritten atomically), and for the
    selecting split ``best_model.zip`` (+ ``best_model.json``) when ``metric`` improves.
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
                 batched: bool = True, clock=None, verbose: int = 0):
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
        self.best_score = best_score
        self.eval_at_start = eval_at_start
        self.batched = batched
        self._envs: dict[str, list] = {}
        self.eval_at_end = eval_at_end
        self._next = None
        self._last_eval_step = None
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
                improved = score > self.best_score
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
        atomic_save_model(self.model, self.run_dir / "best_model.zip")
        if self.obs_normalizer is not None:
            atomic_save(self.run_dir / "best_vecnormalize.pkl", lambda p: self.obs_normalizer.save(str(p)))
        atomic_write(self.run_dir / "best_model.json",
                     json.dumps({"timesteps": step, "eval": split, "metric": self.metric,
                                 "score": self.best_score}, indent=2) + "\n")


# ------------------------------------------------------------------------------ checkpoints


def list_checkpoints(run_dir: str | os.PathLike) -> list[tuple[int, Path]]:
    """Complete checkpoints of a run folder, oldest first, as (num_timesteps, folder)."""
    folder = Path(run_dir) / "checkpoints"
    if not folder.is_dir():
        return []
    out = []
    for p in folder.iterdir():
        m = CHECKPOINT_RE.match(p.name)
        if m and p.is_dir() and (p / "state.json").is_file() and (p / "model.zip").is_file():
            out.append((int(m.group(1)), p))
    return sorted(out)


def latest_checkpoint(run_dir: str | os.PathLike) -> Path | None:
    ckpts = list_checkpoints(run_dir)
    return ckpts[-1][1] if ckpts else None


class AtomicCheckpointCallback(BaseCallback):
    """Checkpoint every ``save_freq`` env steps into ``<run_dir>/checkpoints/step_<N>/``.

    Each checkpoint is a folder holding ``model.zip``, ``vecnormalize.pkl`` (if observations or
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
                 save_replay_buffer: bool = False, vec_normalize=None, extra_state=None, verbose: int = 0):
        super().__init__(verbose)
        if save_freq <= 0:
            raise ValueError(f"checkpoint_freq: expected a positive number of env steps, got {save_freq}")
        self.save_freq = int(save_freq)
        self.folder = Path(run_dir) / "checkpoints"
        self.keep = max(1, int(keep))
        self.save_replay_buffer = save_replay_buffer
        self.vec_normalize = vec_normalize
        self.extra_state = extra_state  # callable -> dict stored in state.json
        self._next = None
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
        self.model.save(tmp / "model.zip")
        if self.vec_normalize is not None:
            self.vec_normalize.save(str(tmp / "vecnormalize.pkl"))
        if self.save_replay_buffer and getattr(self.model, "replay_buffer", None) is not None:
            self.model.save_replay_buffer(tmp / "replay_buffer.pkl")
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

    SB3's PPO takes only a constant ``ent_coef``; decaying it (e.g. 0.05 -> 0.01) avoids the
    cautious policy a small constant can settle on. The value depends only on
    ``num_timesteps``, so a resumed run continues the schedule where it stopped.
    """

    def __init__(self, start: float, end: float, total_timesteps: int, fraction: float = 1.0, verbose: int = 0):
        super().__init__(verbose)
        if not 0.0 < fraction <= 1.0:
            raise ValueError(f"ent_coef_schedule: decay fraction must be in (0, 1], got {fraction}")
        self.start, self.end = float(start), float(end)
        self.total = max(int(total_timesteps), 1)
        self.fraction = float(fraction)

    def value(self, num_timesteps: int) -> float:
        progress = min(num_timesteps / (self.fraction * self.total), 1.0)
        return self.start + (self.end - self.start) * progress

    def _apply(self) -> None:
        if not hasattr(self.model, "ent_coef"):
            raise ValueError(f"ent_coef_schedule: {type(self.model).__name__} has no entropy coefficient")
        self.model.ent_coef = self.value(self.num_timesteps)

    def _on_training_start(self) -> None:
        self._apply()

    def _on_rollout_start(self) -> None:
        self._apply()

    def _on_rollout_end(self) -> None:
        self.logger.record("train/ent_coef", self.model.ent_coef)

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
