"""Compare policies on the same episodes: one table, one JSON, a per-episode CSV and a CDF plot.

Generic across envs. Every policy is scored by :func:`feedbackgym.agents.evaluation.evaluate`
with the same env kwargs, data, episodes and seed, so all of them play the same episodes (the
family's episode plan). The plot is the CDF over episodes of the family's headline metric, one
line per policy; envs without one use ``mean_reward_per_step``. When the family's reference
policy (e.g. an offline optimum) is among the policies, each is also shown as a percentage of it
(ratio of the aggregate headline values). The table shows the headline metric and the family's
table columns.

``feedbackgym compare ENV_ID --policies P1,P2,P3 --out-dir DIR`` writes
``DIR/compare.md``, ``DIR/compare.json``, ``DIR/compare_episodes.csv`` and ``DIR/compare_cdf.png``.
"""

from __future__ import annotations

import io
import json
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from .. import family
from ..files import atomic_write, csv_text
from .evaluation import EvalResult, evaluate, evaluation_kwargs, jsonable
from .policy import make_policy

#: aggregate fields left out of the table (constant or shown elsewhere)
_HIDDEN = ("episodes",)

FILES = {"md": "compare.md", "json": "compare.json", "csv": "compare_episodes.csv", "png": "compare_cdf.png"}


def headline_metric(env_id: str, results: list[EvalResult] | None = None) -> str:
    """The metric the comparison is about: the family's headline KPI (if every result has it)."""
    if not results:
        return family.headline(env_id)
    return family.headline(env_id, lambda m: all(m in r.aggregate for r in results))


@dataclass
class Comparison:
    env_id: str
    env_kwargs: dict
    metric: str
    results: list[EvalResult]
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def num_episodes(self) -> int:
        return len(self.results[0].episodes) if self.results else 0

    def values(self, result: EvalResult) -> list[float]:
        """Per-episode headline values of one policy, in episode order (episodes lacking it skipped)."""
        return [float(e[self.metric]) for e in result.episodes if e.get(self.metric) is not None]

    def percent_of_optimal(self) -> dict[str, float] | None:
        """Each policy's aggregate headline value as % of the reference policy's (None without it)."""
        ref_name = family.spec(self.env_id).reference_policy
        opt = next((r for r in self.results if r.policy == ref_name), None) if ref_name else None
        if opt is None:
            return None
        ref = opt.aggregate.get(self.metric)
        if ref is None or ref == 0 or not math.isfinite(ref):
            return None
        return {r.policy: 100.0 * r.aggregate[self.metric] / ref for r in self.results}

    def columns(self) -> list[str]:
        cols = [self.metric]
        chosen = family.spec(self.env_id).table_columns
        for r in self.results:
            cols += [k for k in (chosen or r.aggregate) if k in r.aggregate and k not in cols and k not in _HIDDEN]
        # a column that is zero for every policy says nothing
        return [c for c in cols if c == self.metric or any(r.aggregate.get(c, 0) != 0 for r in self.results)]

    def table_rows(self) -> tuple[list[str], list[list[str]]]:
        cols = self.columns()
        pct = self.percent_of_optimal()
        ref = family.spec(self.env_id).reference_policy
        header = ["policy", cols[0]] + ([f"% of {ref}"] if pct else []) + cols[1:]
        rows = []
        for r in self.results:
            vals = [_fmt(r.aggregate.get(c, math.nan)) for c in cols]
            row = [r.policy, vals[0]] + ([f"{pct[r.policy]:.1f}"] if pct else []) + vals[1:]
            rows.append(row)
        return header, rows

    def to_markdown(self, title: bool = True) -> str:
        header, rows = self.table_rows()
        lines = []
        if title:
            kwargs = json.dumps(jsonable(self.env_kwargs))
            lines += [f"{self.env_id}: {self.num_episodes} episodes, env kwargs `{kwargs}`", ""]
        lines += ["| " + " | ".join(header) + " |", "|---|" + "---:|" * (len(header) - 1)]
        lines += ["| " + " | ".join(r) + " |" for r in rows]
        return "\n".join(lines) + "\n"

    def to_json(self) -> dict:
        return {"env_id": self.env_id, "env_kwargs": jsonable(self.env_kwargs), "metric": self.metric,
                "episodes": self.num_episodes, "percent_of_optimal": self.percent_of_optimal(),
                "policies": {r.policy: {"aggregate": r.aggregate, "seconds": self.seconds.get(r.policy),
                                        "episodes": r.episodes} for r in self.results}}

    def episodes_csv(self) -> str:
        """Long format: one row per (policy, episode) with every per-episode field."""
        return csv_text([{"policy": r.policy, **e} for r in self.results for e in r.episodes])


class ComparisonIncomplete(ValueError):
    """A policy failed after others were scored; ``partial`` holds the comparison of those, so a
    caller can still write them (the CLI does), and ``policy`` names the one that failed."""

    def __init__(self, message: str, partial: Comparison | None, policy: str):
        super().__init__(message)
        self.partial = partial
        self.policy = policy


def load_policies(env_id: str, policies: list[str], env_kwargs: dict | None = None,
                  traces: str | None = None) -> dict:
    """Load every policy against the evaluation env before any is played: a missing, corrupt or
    mismatched model fails here, in seconds, not after the policies before it ran for minutes."""
    import gymnasium as gym

    env = gym.make(env_id, **evaluation_kwargs(env_id, env_kwargs, traces))
    try:
        loaded = {}
        for spec in policies:
            loaded[spec] = make_policy(env_id, spec, env=env)
        return loaded
    finally:
        env.close()


def compare(env_id: str, policies: list[str], env_kwargs: dict | None = None, traces: str | None = None,
            episodes: int | None = None, seed: int = 0, progress=None) -> Comparison:
    """Evaluate every policy (baseline names or model paths) on the same episodes.

    Every policy is loaded first (:func:`load_policies`). If one fails while playing, the error
    is a :class:`ComparisonIncomplete` carrying the policies scored so far.

    ``progress``: optional callable given ``(label, EvalResult, seconds)`` after each policy.
    """
    if not policies:
        raise ValueError("no policies to compare")
    dup = sorted({p for p in policies if policies.count(p) > 1})
    if dup:
        raise ValueError(f"policy {dup[0]!r} is listed twice")
    loaded = load_policies(env_id, policies, env_kwargs, traces)
    results: list[EvalResult] = []
    seconds: dict[str, float] = {}
    for spec in policies:
        t0 = time.perf_counter()
        try:
            res = evaluate(env_id, spec, env_kwargs=env_kwargs, traces=traces, episodes=episodes, seed=seed,
                           policy_obj=loaded[spec])
        except Exception as e:
            partial = (Comparison(env_id, results[0].env_kwargs, headline_metric(env_id, results), list(results),
                                  dict(seconds)) if results else None)
            done = ", ".join(r.policy for r in results) or "none"
            raise ComparisonIncomplete(f"policy {spec!r} failed ({type(e).__name__}: {e}); scored before it: {done}",
                                       partial, spec) from e
        label = res.policy
        if label in seconds:  # two model files with the same folder/stem: tell them apart
            label = res.policy = spec
        seconds[label] = time.perf_counter() - t0
        results.append(res)
        if progress is not None:
            progress(label, res, seconds[label])
    first = results[0]
    label = family.spec(env_id).label_field
    for r in results[1:]:
        same = len(r.episodes) == len(first.episodes) and all(
            a.get(label) == b.get(label) and a.get("episode") == b.get("episode")
            for a, b in zip(r.episodes, first.episodes))
        if not same:
            raise RuntimeError(f"policies {first.policy!r} and {r.policy!r} played different episodes")
    return Comparison(env_id, first.env_kwargs, headline_metric(env_id, results), results, seconds)


def plot_cdf(comparison: Comparison, path: str | os.PathLike) -> None:
    """PNG: CDF over episodes of the headline metric, one line per policy (matplotlib, Agg)."""
    import numpy as np
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7, 4.5), layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    pct = comparison.percent_of_optimal()
    for r in comparison.results:
        x = np.sort(np.asarray(comparison.values(r), dtype=float))
        y = np.arange(1, len(x) + 1) / len(x)
        label = f"{r.policy} ({comparison.metric} {r.aggregate[comparison.metric]:.3f}"
        label += f", {pct[r.policy]:.0f}% of {family.spec(comparison.env_id).reference_policy})" if pct else ")"
        ax.step(np.concatenate([[x[0]], x]), np.concatenate([[0.0], y]), where="post", label=label)
    ax.set_xlabel(f"{comparison.metric} per episode")
    ax.set_ylabel("CDF (fraction of episodes)")
    ax.set_ylim(0, 1.0)
    ax.set_title(f"{comparison.env_id}: {comparison.num_episodes} episodes", fontsize=10)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8, loc="upper left")
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=120)
    atomic_write(path, buf.getvalue())


def write_outputs(comparison: Comparison, out_dir: str | os.PathLike, plot: bool = True) -> dict[str, Path]:
    """Write compare.md/.json, the per-episode CSV and (if ``plot``) the CDF PNG; returns the paths."""
    out = Path(out_dir)
    paths = {k: out / name for k, name in FILES.items()}
    atomic_write(paths["md"], comparison.to_markdown())
    atomic_write(paths["json"], json.dumps(comparison.to_json(), indent=2, allow_nan=True) + "\n")
    atomic_write(paths["csv"], comparison.episodes_csv())
    if plot:
        plot_cdf(comparison, paths["png"])
    else:
        del paths["png"]
    return paths


# ------------------------------------------------------------------------------------ helpers


def _fmt(v) -> str:
    if isinstance(v, float):
        return f"{v:.4f}"
    return str(v)
