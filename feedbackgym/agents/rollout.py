"""The one rollout engine: play a policy through planned episodes and record what happened.

Evaluation, training-time evaluation, behaviour cloning, the benchmark and the test helpers all
play episodes through :func:`run_episode` (one env, any policy) or :func:`run_lockstep` (one env
per episode, one batched forward pass per step for a stateless model), so there is one per-episode
record and one per-step trajectory row. Generic over ``Discrete``, ``MultiDiscrete`` and ``Box``
actions: actions are passed to the env as the policy returns them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable
from collections.abc import Callable, Sequence

import numpy as np

from ..family import PlannedEpisode, spec


@runtime_checkable
class Policy(Protocol):
    """What ``--policy`` names: a baseline or a saved model.

    ``reset`` is called at each episode start, ``act`` each step with the observation and the
    step's ``info`` (baselines read the field's quantities there; learned models the observation).
    Optional: ``end_episode(obs, info)`` with the terminal step (controllers that keep state across
    episodes need it) and ``act_batch(obs_batch) -> actions`` for stateless models, which lets
    :func:`run_lockstep` play many episodes with one forward pass per step.
    """

    def reset(self, env, obs, info) -> None: ...

    def act(self, obs, info) -> Any: ...


@dataclass(frozen=True)
class RecordKeys:
    """How an env id's episodes are named in records (from its family declaration)."""

    label_key: str | None = None     # info key read after reset
    label_field: str = "label"      # record key it is stored under

    @classmethod
    def of(cls, env_id: str | None) -> RecordKeys:
        if env_id is None:
            return cls()
        s = spec(env_id)
        return cls(s.label_key, s.label_field)


def scalar(v):
    """numpy scalars (and 0-d arrays) as python numbers; everything else unchanged."""
    if isinstance(v, (np.integer, np.floating, np.bool_)):
        return v.item()
    if isinstance(v, np.ndarray) and v.ndim == 0:
        return v.item()
    return v


def episode_label(keys: RecordKeys, planned: PlannedEpisode, reset_info: dict):
    if keys.label_key is not None and reset_info.get(keys.label_key) is not None:
        return reset_info[keys.label_key]
    return planned.label


def episode_record(index: int, steps: int, total_reward: float, truncated: bool, label, keys: RecordKeys,
                   final_info: dict) -> dict:
    """The per-episode record: counters, the episode's label, and the env's ``episode_metrics``."""
    record = {"episode": index, "steps": steps, "episode_reward": total_reward,
              "mean_reward_per_step": total_reward / max(steps, 1), "truncated": bool(truncated)}
    if label is not None:
        record[keys.label_field] = label
    record.update({k: scalar(v) for k, v in final_info.get("episode_metrics", {}).items()})
    return record


def action_value(action):
    """An action as a trajectory cell: a number, or a space-separated list for vector actions."""
    a = np.asarray(action)
    if a.ndim == 0:
        return a.item()
    return " ".join(str(x) for x in a.ravel().tolist())


def trajectory_row(episode: int, step: int, action, reward, info: dict) -> dict:
    """One CSV row per step: action, reward, each reward component and every scalar of ``info``."""
    row = {"episode": episode, "step": step, "action": action_value(action), "reward": float(reward)}
    for k, v in info.get("reward_components", {}).items():
        row[f"reward_{k}"] = scalar(v)
    for k, v in info.items():
        if isinstance(v, (int, float, np.integer, np.floating, np.bool_)) and not isinstance(v, bool):
            row[k] = scalar(v)
        elif isinstance(v, (bool, np.bool_)):
            row[k] = int(v)
    return row


def run_episode(env, policy, planned: PlannedEpisode, index: int = 0, keys: RecordKeys = RecordKeys(),
                on_step: Callable | None = None, rows: list | None = None) -> dict:
    """Play one planned episode; returns its record.

    ``on_step(obs, info, action, reward, next_obs, terminated, truncated, next_info)`` sees every
    transition (behaviour cloning records experts through it); ``rows`` collects trajectory rows.
    """
    obs, info = env.reset(seed=planned.seed, options=planned.options)
    label = episode_label(keys, planned, info)
    policy.reset(env, obs, info)
    total, steps, done, truncated = 0.0, 0, False, False
    while not done:
        action = policy.act(obs, info)
        next_obs, reward, terminated, truncated, next_info = env.step(action)
        if on_step is not None:
            on_step(obs, info, action, reward, next_obs, terminated, truncated, next_info)
        total += float(reward)
        if rows is not None:
            rows.append(trajectory_row(index, steps, action, reward, next_info))
        steps += 1
        done = terminated or truncated
        obs, info = next_obs, next_info
    end = getattr(policy, "end_episode", None)
    if end is not None:
        end(obs, info)
    return episode_record(index, steps, total, truncated, label, keys, info)


def run_plan(env, policy, plan: Sequence[PlannedEpisode], keys: RecordKeys = RecordKeys(),
             record_trajectory: bool = False, progress: Callable | None = None) -> tuple[list[dict], list[dict]]:
    """Play every planned episode in order; ``progress(done, total)`` after each."""
    episodes: list[dict] = []
    rows: list[dict] | None = [] if record_trajectory else None
    for i, planned in enumerate(plan):
        episodes.append(run_episode(env, policy, planned, i, keys, rows=rows))
        if progress is not None:
            progress(i + 1, len(plan))
    return episodes, rows or []


def run_lockstep(envs: Sequence, act_batch: Callable[[np.ndarray], Sequence], plan: Sequence[PlannedEpisode],
                 keys: RecordKeys = RecordKeys()) -> list[dict]:
    """Play every planned episode at once, env ``i`` playing episode ``i``, with one call of
    ``act_batch`` per step for the episodes still running.

    Gives the same records as :func:`run_plan` with a stateless policy whenever an episode depends
    only on its reset seed and options (true under a test protocol).
    """
    if len(envs) < len(plan):
        raise ValueError(f"run_lockstep: {len(plan)} episodes need as many envs, got {len(envs)}")
    n = len(plan)
    obs: list = [None] * n
    labels: list = [None] * n
    records: list = [None] * n
    totals, steps = [0.0] * n, [0] * n
    for i, planned in enumerate(plan):
        obs[i], info = envs[i].reset(seed=planned.seed, options=planned.options)
        labels[i] = episode_label(keys, planned, info)
    active = list(range(n))
    while active:
        actions = act_batch(np.stack([obs[i] for i in active]))
        still = []
        for i, a in zip(active, actions):
            obs[i], reward, terminated, truncated, info = envs[i].step(a)
            totals[i] += float(reward)
            steps[i] += 1
            if terminated or truncated:
                records[i] = episode_record(i, steps[i], totals[i], truncated, labels[i], keys, info)
            else:
                still.append(i)
        active = still
    return records
