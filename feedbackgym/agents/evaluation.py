"""Evaluation harness: play a policy on an env under the field's test protocol.

Every domain is scored the same way: the env's config class names its test protocol
(``evaluation_overrides()``: for ABR no delay noise, every trace from its first row, in sorted
order), the user's ``env_kwargs`` apply on top, and envs with a fixed trace set play every trace
exactly once (``reset(options={"trace_index": i})``) so scores are comparable across policies
and runs. Per-episode KPIs come from ``info["episode_metrics"]``; the aggregate is their mean
plus ``mean_reward_per_step`` and ``mean_episode_reward``.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field

import gymnasium as gym
import numpy as np

import feedbackgym  # noqa: F401  (registers the ids)

from ..files import atomic_write, write_csv
from ..registration import config_class
from .policy import make_policy, policy_label


def evaluation_kwargs(env_id: str, env_kwargs: dict | None = None, traces: str | None = None,
                      protocol: bool = True) -> dict:
    """Env kwargs for an evaluation: test protocol, then ``traces``, then the user's kwargs."""
    if traces is not None and env_kwargs and "traces" in env_kwargs and env_kwargs["traces"] != str(traces):
        raise ValueError(f"traces given twice: --traces {traces!r} and env kwargs traces={env_kwargs['traces']!r}")
    kwargs: dict = {}
    if protocol:
        kwargs.update(getattr(config_class(env_id), "evaluation_overrides", dict)())
    if traces is not None:
        kwargs["traces"] = str(traces)
    kwargs.update(env_kwargs or {})
    return kwargs


def episode_plan(env: gym.Env, episodes: int | None, seed: int) -> list[tuple[int | None, dict]]:
    """(seed, reset options) per episode: every trace once if the env has a trace set."""
    n_traces = getattr(env.unwrapped, "num_traces", None)
    if n_traces is not None and env.unwrapped.config.trace_order == "sequential":
        n = n_traces if episodes is None else min(episodes, n_traces)
        return [(seed if i == 0 else None, {"trace_index": i}) for i in range(n)]
    n = 10 if episodes is None else episodes
    return [(seed + i, {}) for i in range(n)]


@dataclass
class EvalResult:
    env_id: str
    policy: str
    env_kwargs: dict
    episodes: list[dict]
    aggregate: dict
    trajectory: list[dict] = field(default_factory=list, repr=False)

    def to_json(self) -> dict:
        return {"env_id": self.env_id, "policy": self.policy, "env_kwargs": _jsonable(self.env_kwargs),
                "aggregate": self.aggregate, "episodes": self.episodes}


def run_episodes(env: gym.Env, policy, plan, record_trajectory: bool = False, progress=None):
    """Play ``policy`` on the planned episodes; ``progress(done, total)`` is called after each."""
    episodes, rows = [], []
    for ep, (seed, options) in enumerate(plan):
        obs, info = env.reset(seed=seed, options=options)
        trace_name = info.get("trace_name")
        policy.reset(env, obs, info)
        total, steps, done = 0.0, 0, False
        while not done:
            action = policy.act(obs, info)
            obs, reward, terminated, truncated, info = env.step(action)
            total += float(reward)
            steps += 1
            done = terminated or truncated
            if record_trajectory:
                rows.append(_trajectory_row(ep, steps - 1, action, reward, info))
        end = getattr(policy, "end_episode", None)
        if end is not None:
            end(obs, info)
        record = {"episode": ep, "steps": steps, "episode_reward": total,
                  "mean_reward_per_step": total / max(steps, 1), "truncated": bool(truncated)}
        if trace_name is not None:
            record["trace"] = trace_name
        record.update({k: _num(v) for k, v in info.get("episode_metrics", {}).items()})
        episodes.append(record)
        if progress is not None:
            progress(ep + 1, len(plan))
    return episodes, rows


def aggregate(episodes: list[dict]) -> dict:
    """Mean of every numeric per-episode field (``episode``/``trace_index`` excluded)."""
    out = {"episodes": len(episodes)}
    keys = [k for k, v in episodes[0].items() if isinstance(v, (int, float)) and not isinstance(v, bool)]
    for k in keys:
        if k in ("episode", "trace_index"):
            continue
        out["mean_episode_reward" if k == "episode_reward" else k] = float(np.mean([e[k] for e in episodes]))
    return out


def evaluate(env_id: str, policy: str, env_kwargs: dict | None = None, traces: str | None = None,
             episodes: int | None = None, seed: int = 0, protocol: bool = True,
             record_trajectory: bool = False, policy_obj=None, progress=None) -> EvalResult:
    """Score ``policy`` (baseline name or model path) on ``env_id``."""
    kwargs = evaluation_kwargs(env_id, env_kwargs, traces, protocol)
    env = gym.make(env_id, **kwargs)
    try:
        pol = policy_obj if policy_obj is not None else make_policy(env_id, policy)
        eps, rows = run_episodes(env, pol, episode_plan(env, episodes, seed), record_trajectory, progress)
    finally:
        env.close()
    return EvalResult(env_id, policy_label(policy), kwargs, eps, aggregate(eps), rows)


# ----------------------------------------------------------------------------------- output


def _num(v):
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (np.floating,)):
        return float(v)
    return v


def _jsonable(d: dict) -> dict:
    return {k: (v if isinstance(v, (str, int, float, bool, list, dict, type(None))) else repr(v)) for k, v in d.items()}


def _trajectory_row(ep: int, step: int, action, reward, info: dict) -> dict:
    row = {"episode": ep, "step": step, "action": _num(np.asarray(action).item()), "reward": float(reward)}
    for k, v in info.get("reward_components", {}).items():
        row[f"reward_{k}"] = _num(v)
    for k, v in info.items():
        if isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool):
            row[k] = _num(v)
    return row


def write_json(result: EvalResult, path: str | os.PathLike) -> None:
    atomic_write(path, json.dumps(result.to_json(), indent=2, allow_nan=True) + "\n")


def write_trajectory_csv(rows: list[dict], path: str | os.PathLike) -> None:
    if not rows:
        raise ValueError("no trajectory recorded (evaluate with record_trajectory=True)")
    write_csv(path, rows)


def format_table(results: list[EvalResult], columns: list[str] | None = None, fmt: str = "md") -> str:
    """Markdown table: one row per policy, one column per aggregate metric."""
    if columns is None:
        columns = [k for k in results[0].aggregate if k != "episodes"]
    head = "| policy | " + " | ".join(columns) + " |"
    sep = "|---|" + "|".join("---:" for _ in columns) + "|"
    lines = [head, sep]
    for r in results:
        vals = []
        for c in columns:
            v = r.aggregate.get(c, math.nan)
            vals.append(f"{v:.4f}" if isinstance(v, float) else str(v))
        lines.append(f"| {r.policy} | " + " | ".join(vals) + " |")
    return "\n".join(lines)
