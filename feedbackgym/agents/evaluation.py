"""Evaluation harness: play a policy on an env under its family's test protocol.

Every env is scored the same way: its family declares the test protocol (config overrides) and
the episode plan (every item of a data set once, N seeded episodes, or a config grid such as
scenario x seed); the user's ``env_kwargs`` apply on top. Per-episode KPIs come from
``info["episode_metrics"]``; the aggregate applies each declared metric's aggregation (mean,
median, percentile, ratio of sums, fraction) and the mean to every other numeric field, plus
``mean_reward_per_step`` and ``mean_episode_reward``.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field

import gymnasium as gym

import feedbackgym  # noqa: F401  (registers the ids)

from .. import family
from ..files import atomic_write, write_csv
from .policy import make_policy, policy_label
from .rollout import RecordKeys, run_plan


def evaluation_kwargs(env_id: str, env_kwargs: dict | None = None, traces: str | None = None,
                      protocol: bool = True) -> dict:
    """Env kwargs for an evaluation: test protocol, then ``traces`` (the family's data field), then
    the user's kwargs."""
    s = family.spec(env_id)
    kwargs: dict = {}
    if protocol:
        kwargs.update(s.protocol)
    if traces is not None:
        if s.data_field is None:
            raise ValueError(f"{env_id} has no data sets to choose (--traces); set its config with --env-kwargs")
        if env_kwargs and s.data_field in env_kwargs and env_kwargs[s.data_field] != str(traces):
            raise ValueError(f"{s.data_field} given twice: --traces {traces!r} and env kwargs "
                             f"{s.data_field}={env_kwargs[s.data_field]!r}")
        kwargs[s.data_field] = str(traces)
    kwargs.update(env_kwargs or {})
    return kwargs


def episode_plan(env_id: str, env: gym.Env, episodes: int | None, seed: int) -> list:
    """The episodes an evaluation plays (the family's plan)."""
    return family.spec(env_id).episode_plan(env, episodes, seed)


@dataclass
class EvalResult:
    env_id: str
    policy: str
    env_kwargs: dict
    episodes: list[dict]
    aggregate: dict
    trajectory: list[dict] = field(default_factory=list, repr=False)

    def to_json(self) -> dict:
        return {"env_id": self.env_id, "policy": self.policy, "env_kwargs": jsonable(self.env_kwargs),
                "aggregate": self.aggregate, "episodes": self.episodes}


def aggregate(env_id: str | None, episodes: list[dict]) -> dict:
    """The aggregate of per-episode records under ``env_id``'s declared aggregations."""
    return family.aggregate(env_id, episodes)


def evaluate(env_id: str, policy: str, env_kwargs: dict | None = None, traces: str | None = None,
             episodes: int | None = None, seed: int = 0, protocol: bool = True,
             record_trajectory: bool = False, policy_obj=None, progress=None) -> EvalResult:
    """Score ``policy`` (baseline name or model path) on ``env_id``."""
    kwargs = evaluation_kwargs(env_id, env_kwargs, traces, protocol)
    env = gym.make(env_id, **kwargs)
    try:
        pol = policy_obj if policy_obj is not None else make_policy(env_id, policy)
        plan = episode_plan(env_id, env, episodes, seed)
        eps, rows = run_plan(env, pol, plan, RecordKeys.of(env_id), record_trajectory, progress)
    finally:
        env.close()
    return EvalResult(env_id, policy_label(policy), kwargs, eps, aggregate(env_id, eps), rows)


# ----------------------------------------------------------------------------------- output


def jsonable(d: dict) -> dict:
    """Env kwargs as JSON (a callable reward is shown by its repr)."""
    return {k: (v if isinstance(v, (str, int, float, bool, list, dict, type(None))) else repr(v)) for k, v in d.items()}


def write_json(result: EvalResult, path: str | os.PathLike) -> None:
    atomic_write(path, json.dumps(result.to_json(), indent=2, allow_nan=True) + "\n")


def write_trajectory_csv(rows: list[dict], path: str | os.PathLike) -> None:
    if not rows:
        raise ValueError("no trajectory recorded (evaluate with record_trajectory=True)")
    write_csv(path, rows)
