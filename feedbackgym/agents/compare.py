"""Compare policies on the same episodes: one table, one JSON, a per-episode CSV and a CDF plot.

Generic across envs. Every policy is scored by :func:`feedbackgym.agents.evaluation.evaluate`
with the same env kwargs, traces, episodes and seed, so all of them play the same episodes
(for envs with a trace set: every trace once, in sorted order). The plot is the CDF over
episodes of the domain's headline metric (:data:`HEADLINE_METRICS`; ABR: ``qoe_per_chunk``,
Pensieve's per-trace score), one line per policy; envs without one use
``mean_reward_per_step``. When ``optimal`` is among the policies each is also shown as a
percentage of the optimum (ratio of the aggregate headline values).

``feedbackgym compare ENV_ID --policies bb,rb,robust_mpc --out-dir DIR`` writes
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

from ..registration import domain
from ..files import atomic_write, csv_text
from .evaluation import EvalResult, evaluate

#: domain -> the per-episode metric the field reports (must be in ``info["episode_metrics"]``)
HEADLINE_METRICS: dict[str, str] = {"abr": "qoe_per_chunk"}
#: used when the domain has no headline metric or an episode record lacks it
FALLBACK_METRIC = "mean_reward_per_step"
#: the policy name percentages refer to
OPTIMAL = "optimal"
#: domain -> the table's columns after the headline metric (the field's own KPIs); other
#: aggregate fields stay in compare.json. Domains not listed show every aggregate field.
TABLE_COLUMNS: dict[str, list[str]] = {
    "abr": ["mean_bitrate_mbps", "rebuffer_s", "rebuffer_ratio", "switches", "startup_s"],
}
#: aggregate fields left out of the table (constant or shown elsewhere)
_HIDDEN = ("episodes",)

FILES = {"md": "compare.md", "json": "compare.json", "csv": "compare_episodes.csv", "png": "compare_cdf.png"}


def headline_metric(env_id: str, results: list[EvalResult] | None = None) -> str:
    """The metric the comparison is about: the domain's headline KPI if every episode has it."""
    metric = HEADLINE_METRICS.get(domain(env_id), FALLBACK_METRIC)
    if results and not all(metric in e for r in results for e in r.episodes):
        return FALLBACK_METRIC
    return metric


@dataclass
class Comparison:
    env_id: str
    env_kwargs: dict
    metric: str
    results: list[EvalResult]
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def labels(self) -> list[str]:
        return [r.policy for r in self.results]

    @property
    def num_episodes(self) -> int:
        return len(self.results[0].episodes) if self.results else 0

    def values(self, result: EvalResult) -> list[float]:
        """Per-episode headline values of one policy, in episode order."""
        return [float(e[self.metric]) for e in result.episodes]

    def percent_of_optimal(self) -> dict[str, float] | None:
        """Each policy's aggregate headline value as % of ``optimal``'s (None without it)."""
        opt = next((r for r in self.results if r.policy == OPTIMAL), None)
        if opt is None:
            return None
        ref = opt.aggregate.get(self.metric)
        if ref is None or ref == 0 or not math.isfinite(ref):
            return None
        return {r.policy: 100.0 * r.aggregate[self.metric] / ref for r in self.results}

    def columns(self) -> list[str]:
        cols = [self.metric]
        chosen = TABLE_COLUMNS.get(domain(self.env_id))
        for r in self.results:
            cols += [k for k in (chosen or r.aggregate) if k in r.aggregate and k not in cols and k not in _HIDDEN]
        # a column that is zero for every policy (e.g. startup delay in pensieve mode) says nothing
        return [c for c in cols if c == self.metric or any(r.aggregate.get(c, 0) != 0 for r in self.results)]

    def table_rows(self) -> tuple[list[str], list[list[str]]]:
        cols = self.columns()
        pct = self.percent_of_optimal()
        header = ["policy", cols[0]] + (["% of optimal"] if pct else []) + cols[1:]
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
            lines += [f"{self.env_id}: {self.num_episodes} episodes, env kwargs `{json.dumps(_jsonable(self.env_kwargs))}`", ""]
        lines += ["| " + " | ".join(header) + " |", "|---|" + "---:|" * (len(header) - 1)]
        lines += ["| " + " | ".join(r) + " |" for r in rows]
        return "\n".join(lines) + "\n"

    def to_json(self) -> dict:
        return {"env_id": self.env_id, "env_kwargs": _jsonable(self.env_kwargs), "metric": self.metric,
                "episodes": self.num_episodes, "percent_of_optimal": self.percent_of_optimal(),
                "policies": {r.policy: {"aggregate": r.aggregate, "seconds": self.seconds.get(r.policy),
                                        "episodes": r.episodes} for r in self.results}}

    def episodes_csv(self) -> str:
        """Long format: one row per (policy, episode) with every per-episode field."""
        return csv_text([{"policy": r.policy, **e} for r in self.results for e in r.episodes])


def compare(env_id: str, policies: list[str], env_kwargs: dict | None = None, traces: str | None = None,
            episodes: int | None = None, seed: int = 0, progress=None) -> Comparison:
    """Evaluate every policy (baseline names or model paths) on the same episodes.

    ``progress``: optional callable given ``(label, EvalResult, seconds)`` after each policy.
    """
    if not policies:
        raise ValueError("no policies to compare")
    dup = sorted({p for p in policies if policies.count(p) > 1})
    if dup:
        raise ValueError(f"policy {dup[0]!r} is listed twice")
    results, seconds = [], {}
    for spec in policies:
        t0 = time.perf_counter()
        res = evaluate(env_id, spec, env_kwargs=env_kwargs, traces=traces, episodes=episodes, seed=seed)
        label = res.policy
        if label in seconds:  # two model files with the same folder/stem: tell them apart
            label = res.policy = spec
        seconds[label] = time.perf_counter() - t0
        results.append(res)
        if progress is not None:
            progress(label, res, seconds[label])
    first = results[0]
    for r in results[1:]:
        if [e.get("trace") for e in r.episodes] != [e.get("trace") for e in first.episodes]:
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
        label = f"{r.policy} (mean {r.aggregate[comparison.metric]:.3f}"
        label += f", {pct[r.policy]:.0f}% of optimal)" if pct else ")"
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


def _jsonable(d: dict) -> dict:
    return {k: (v if isinstance(v, (str, int, float, bool, list, dict, type(None))) else repr(v)) for k, v in d.items()}
