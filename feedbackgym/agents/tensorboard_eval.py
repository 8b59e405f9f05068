"""Evaluations as TensorBoard runs (``feedbackgym evaluate|compare --tensorboard DIR``).

Each evaluated policy becomes one run, ``DIR/<policy label>``, so baselines and trained agents
sit side by side in TensorBoard's dashboards next to training runs:

==========================  ============================================================
Scalars                     ``episode/<field>``: every numeric per-episode field (the
                            family's KPIs, ``episode_reward``, ``mean_reward_per_step``,
                            ``steps``) over the episode index; ``aggregate/<metric>``: the
                            aggregate (each metric aggregated as its family declares), at step 0
Distributions, Histograms   ``distribution/<field>``: the per-episode values of each field (a
                            tag holds one kind of data, so not ``episode/<field>`` again)
HParams                     one session per run: hparams ``policy``, ``policy_spec``,
                            ``env_id``, ``episodes``, ``seed`` and every env kwarg as
                            ``env/<field>`` (JSON text when not a number, string or bool);
                            metrics: the ``aggregate/<metric>`` scalars
Images (compare only)       run ``comparison``: ``comparison/cdf``, the CDF plot of
                            ``compare --out-dir``; Text: ``comparison/table``
==========================  ============================================================

No experiment summary is written, so TensorBoard's HParams plugin infers the experiment from all
sessions in ``DIR``: runs written by separate ``evaluate`` calls with different env kwargs still
share one table. A run folder that already exists gets a ``-2``, ``-3``... suffix rather than
mixing two evaluations in one run.

Writing uses ``torch.utils.tensorboard`` (torch and tensorboard come with the ``train`` extra).
"""

from __future__ import annotations

import json
import math
import os
import re
import struct
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from .. import family

#: run holding the comparison plot and table
COMPARISON_RUN = "comparison"


def _run_dir(log_dir: Path, name: str) -> Path:
    """``log_dir/name``, or the first free ``name-2``, ``name-3``..."""
    safe = re.sub(r"[^A-Za-z0-9_.+=-]+", "_", name).strip("._") or "policy"
    path, k = log_dir / safe, 1
    while path.exists():
        k += 1
        path = log_dir / f"{safe}-{k}"
    return path


def _number(v) -> float | None:
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, float, np.integer, np.floating)):
        return None
    return float(v)


def _hparam(v) -> Any:
    """A value the HParams plugin takes (number, string, bool); anything else as JSON text."""
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    if isinstance(v, (int, float, np.integer, np.floating)):
        return float(v) if isinstance(v, (float, np.floating)) else int(v)
    if isinstance(v, str):
        return v
    try:
        return json.dumps(v, sort_keys=True)
    except TypeError:
        return repr(v)


def hparams_of(result, policy_spec: str | None = None, seed: int | None = None) -> dict:
    """The hyperparameters of an evaluation run: policy, env id and env kwargs."""
    hp: dict[str, Any] = {"policy": result.policy, "policy_spec": policy_spec or result.policy,
                          "env_id": result.env_id, "episodes": len(result.episodes)}
    if seed is not None:
        hp["seed"] = int(seed)
    for k, v in sorted(result.env_kwargs.items()):
        hp[f"env/{k}"] = _hparam(v)
    return hp


def aggregate_metrics(result) -> dict[str, float]:
    """``aggregate/<metric>`` -> value for every finite numeric aggregate field."""
    out = {}
    for k, v in result.aggregate.items():
        x = _number(v)
        if x is not None and math.isfinite(x) and k != "episodes":
            out[f"aggregate/{k}"] = x
    return out


def _episode_series(env_id: str, episodes: list[dict]) -> dict[str, list[tuple[int, float]]]:
    """Numeric per-episode fields -> [(episode index, value)], identifying fields left out."""
    skip = {"episode", *family.spec(env_id).id_keys}
    series: dict[str, list[tuple[int, float]]] = {}
    for i, e in enumerate(episodes):
        for k, v in e.items():
            x = _number(v)
            if k in skip or x is None or not math.isfinite(x):
                continue
            series.setdefault(k, []).append((i, x))
    return series


def write_policy_run(result, log_dir: str | os.PathLike, policy_spec: str | None = None, seed: int | None = None,
                     run_name: str | None = None) -> Path:
    """Write one evaluation (:class:`~feedbackgym.agents.evaluation.EvalResult`) as a TensorBoard run;
    returns the run folder."""
    from torch.utils.tensorboard import SummaryWriter
    from torch.utils.tensorboard.summary import hparams

    log_dir = Path(log_dir)
    run = _run_dir(log_dir, run_name or result.policy)
    run.mkdir(parents=True)
    writer = SummaryWriter(log_dir=str(run))
    try:
        for key, points in _episode_series(result.env_id, result.episodes).items():
            for step, value in points:
                writer.add_scalar(f"episode/{key}", value, step)
            values = np.asarray([v for _, v in points], dtype=float)
            if values.size:
                writer.add_histogram(f"distribution/{key}", values, 0, bins="auto")
        metrics = aggregate_metrics(result)
        for tag, value in metrics.items():
            writer.add_scalar(tag, value, 0)
        _, session_start, session_end = hparams(hparams_of(result, policy_spec, seed), metrics)
        _events(writer).add_summary(session_start)
        _events(writer).add_summary(session_end)
        writer.add_text("evaluation", _markdown(result, policy_spec), 0)
    finally:
        writer.close()
    return run


def write_comparison(comparison, log_dir: str | os.PathLike, policy_specs: Iterable[str] | None = None,
                     seed: int | None = None, plot: bool = True) -> list[Path]:
    """Every policy of a :class:`~feedbackgym.agents.compare.Comparison` as a run, plus the run
    ``comparison`` with the CDF plot (``plot``; needs matplotlib) and the markdown table."""
    from torch.utils.tensorboard import SummaryWriter

    specs = list(policy_specs) if policy_specs is not None else [None] * len(comparison.results)
    runs = [write_policy_run(r, log_dir, spec, seed) for r, spec in zip(comparison.results, specs)]
    run = _run_dir(Path(log_dir), COMPARISON_RUN)
    run.mkdir(parents=True)
    writer = SummaryWriter(log_dir=str(run))
    try:
        writer.add_text("comparison/table", comparison.to_markdown(), 0)
        if plot:
            from .compare import plot_cdf

            with tempfile.TemporaryDirectory() as tmp:
                png = Path(tmp) / "cdf.png"
                plot_cdf(comparison, png)
                _events(writer).add_summary(png_summary("comparison/cdf", png.read_bytes()), 0)
    finally:
        writer.close()
    return runs + [run]


def _events(writer):
    """The writer's event file (torch types it optional: None only after close())."""
    events = writer.file_writer
    if events is None:
        raise RuntimeError("TensorBoard writer already closed")
    return events


def png_summary(tag: str, png: bytes):
    """An image summary holding ``png`` as it is (no decoding, so no imaging library needed)."""
    from tensorboard.compat.proto.summary_pb2 import Summary

    if png[:8] != b"\x89PNG\r\n\x1a\n" or png[12:16] != b"IHDR":
        raise ValueError(f"{tag}: expected PNG bytes")
    width, height = struct.unpack(">II", png[16:24])
    image = Summary.Image(height=height, width=width, colorspace=4, encoded_image_string=png)
    return Summary(value=[Summary.Value(tag=tag, image=image)])


def _markdown(result, policy_spec: str | None) -> str:
    lines = [f"**{result.env_id}**, policy `{policy_spec or result.policy}`, {len(result.episodes)} episode(s), "
             f"env kwargs `{json.dumps(_jsonable(result.env_kwargs), sort_keys=True)}`", "",
             "| metric | value |", "|---|---:|"]
    for k, v in result.aggregate.items():
        lines.append(f"| {k} | {v:.4f} |" if isinstance(v, float) else f"| {k} | {v} |")
    return "\n".join(lines)


def _jsonable(d: Mapping) -> dict:
    return {k: (v if isinstance(v, (str, int, float, bool, list, dict, type(None))) else repr(v)) for k, v in d.items()}
