"""Demand traces of the autoscaling env, laid out for O(1) lookups by both the single env and its twin.

A service's demand is a VM's CPU usage (Bitbrains GWA-T-12 or the seeded synthetic generator of
:mod:`feedbackgym.envs.cluster.workloads`), stored in units of the trace's 99th percentile of
5-minute windows (spikes above it stay as they are, up to 23x it in the bundled VMs); the env
multiplies by the episode's service size (``p99_demand_replicas``) to get replica units. A
window's demand is held for every control step inside it (the traces have no finer resolution).

All traces are concatenated into one array, each preceded by ``pad`` steps back-filled with its
first value (and followed by one step repeating its last), so that every observation feature (lags,
last hour's maximum, the same time yesterday and last week) is a plain index with no bounds checks.
Features before a trace begins therefore read its first value; the genuine history is what
:meth:`DemandSet.history` returns.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np

from .workloads import WINDOW_S, load_workloads

DAY_S = 86400.0
WEEK_S = 7 * DAY_S
HOUR_S = 3600.0
#: observation lags of the demand, in steps (1 = the step just played)
LAGS = (1, 2, 5, 15)


@dataclass(frozen=True, eq=False)
class DemandSet:
    names: tuple
    step_s: float
    steps: np.ndarray          # (K,) steps per trace
    offset: np.ndarray         # (K,) index of each trace's step 0 in the concatenated arrays
    demand: np.ndarray         # (total,) replica units, float64
    hour_max: np.ndarray       # (total,) hour_max[i] = max(demand[i - hour_steps : i])
    time_features: np.ndarray  # (total, 4) float32: sin/cos time of day, sin/cos day of week (UTC)
    time_s: np.ndarray         # (total,) Unix time of each step's start (0 in the padding)
    p99_cores: np.ndarray      # (K,) each trace's 99th percentile of CPU usage, cores (the unit)
    pad: int
    hour_steps: int
    day_steps: int
    week_steps: int

    def __len__(self) -> int:
        return len(self.names)

    def history(self, k: int, start: int, max_days: float = 14.0) -> np.ndarray:
        """The genuine demand of trace ``k`` before step ``start`` (at most ``max_days``; p99 units)."""
        lo = max(0, start - int(round(max_days * self.day_steps)))
        o = int(self.offset[k])
        return self.demand[o + lo:o + start].copy()

    def future(self, k: int, start: int) -> np.ndarray:
        """Demand of trace ``k`` from step ``start`` to its end (p99 units; what a hindsight oracle reads)."""
        o = int(self.offset[k])
        return self.demand[o + start:o + int(self.steps[k])]


def _steps_per_window(step_s: float) -> int:
    sub = WINDOW_S / step_s
    if sub != int(sub) or sub < 1:
        raise ValueError(f"AutoscalingConfig.step_s: expected a divisor of the traces' {WINDOW_S}-s windows, "
                         f"got {step_s:g}")
    return int(sub)


def build_demand_set(workloads, step_s: float) -> DemandSet:
    """Lay out ``workloads`` (objects with ``name``, ``timestamps_s``, ``cpu_usage_cores``)."""
    sub = _steps_per_window(step_s)
    hour, day, week = (int(round(s / step_s)) for s in (HOUR_S, DAY_S, WEEK_S))
    pad = week + hour
    names, steps, offsets, scales = [], [], [], []
    demand_parts, time_parts = [], []
    pos = 0
    for w in workloads:
        cpu = np.asarray(w.cpu_usage_cores, dtype=np.float64)
        p99 = float(np.percentile(cpu, 99.0))
        if not p99 > 0:
            raise ValueError(f"trace {w.name}: its CPU usage is zero in 99% of windows; cannot scale it to "
                             "replicas (p99_demand_replicas needs a positive 99th percentile)")
        d = np.repeat(cpu / p99, sub)
        t = (np.repeat(np.asarray(w.timestamps_s, dtype=np.float64), sub)
             + np.tile(np.arange(sub, dtype=np.float64) * step_s, len(cpu)))
        names.append(w.name)
        steps.append(len(d))
        offsets.append(pos + pad)
        scales.append(p99)
        # one trailing step (the last value again) so the observation after the last step exists
        demand_parts += [np.full(pad, d[0]), d, d[-1:]]
        time_parts += [np.zeros(pad), t, t[-1:] + step_s]
        pos += pad + len(d) + 1
    if not names:
        raise ValueError("no demand traces to play")
    demand = np.concatenate(demand_parts)
    time_s = np.concatenate(time_parts)
    # hour_max[i] = max(demand[i-hour:i]); the first `hour` entries (padding) use what exists
    padded = np.concatenate([np.full(hour, demand[0]), demand])
    windows = np.lib.stride_tricks.sliding_window_view(padded, hour)[:len(demand)]
    hour_max = windows.max(axis=1)
    tod = 2 * math.pi * np.mod(time_s, DAY_S) / DAY_S
    dow = 2 * math.pi * np.mod(time_s + 3 * DAY_S, WEEK_S) / WEEK_S   # 1970-01-01 was a Thursday: 0 = Monday
    feats = np.stack([np.sin(tod), np.cos(tod), np.sin(dow), np.cos(dow)], axis=1).astype(np.float32)
    for a in (demand, hour_max, feats, time_s):
        a.setflags(write=False)
    return DemandSet(tuple(names), float(step_s), np.asarray(steps, dtype=np.int64),
                     np.asarray(offsets, dtype=np.int64), demand, hour_max, feats, time_s,
                     np.asarray(scales), pad, hour, day, week)


@functools.lru_cache(maxsize=8)
def _cached(traces: str, seed: int, count: int, days: float, step_s: float) -> DemandSet:
    if traces == "synthetic":
        workloads = load_workloads("synthetic", seed=seed, count=count, days=days)
    else:
        workloads = load_workloads(traces)
    return build_demand_set(workloads, step_s)


def demand_set(cfg) -> DemandSet:
    """The demand traces an :class:`AutoscalingConfig` names (cached per process)."""
    syn = cfg.synthetic
    if cfg.traces != "synthetic":
        syn = {"seed": 0, "count": 0, "days": 0.0}
    return _cached(cfg.traces, int(syn["seed"]), int(syn["count"]), float(syn["days"]), cfg.step_s)
