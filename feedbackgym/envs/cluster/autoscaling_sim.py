"""Replica dynamics of a horizontally scaled service: pure Python/numpy, no Gymnasium.

One control step of length ``step_s``:

1. the controller sets the desired replica count ``D``;
2. if ``D`` exceeds the replicas that exist (ready + provisioning), the difference is ordered and
   becomes ready ``delay_steps = provisioning_delay_s / step_s`` steps later (0: at once); if
   ``D`` is below, replicas are removed at once, still-provisioning ones first (newest first:
   cancelling a launch is cheaper than draining a serving replica), then ready ones;
3. the step's demand ``d`` (replica units) meets the *ready* capacity ``R`` (one unit per
   replica): the step is an SLO violation if ``d > R``; ``min(d, R)`` is served, the rest unserved;
4. billed replicas are ready + provisioning (``bill_provisioning``) or ready only;
5. replicas whose delay has elapsed become ready for the next step.

Both the scalar :class:`Service` (single env) and :class:`BatchedServices` (vector twin) use the
same operations in the same order, so their floating-point results are bit-identical.
"""

from __future__ import annotations

import numpy as np

#: reward components, in the order the env reports them
COMPONENTS = ("replica_hours", "violation_minutes", "unserved_replica_hours", "scaling_actions",
              "replicas_changed", "cost")

#: per-episode sums the env accumulates (keys of ``Totals``)
TOTALS = ("reward", "replica_hours", "violation_minutes", "unserved_replica_hours", "scaling_actions",
          "cost", "demand_replica_hours", "served_replica_hours", "billed_replicas")


class Service:
    """One service's replicas (scalar; the single env's core)."""

    def __init__(self, delay_steps: int):
        self.delay_steps = delay_steps
        self.ready = 0
        self.pending = [0] * delay_steps   # pending[j]: become ready after j more step ends
        self.desired = 0

    def reset(self, ready: int) -> None:
        self.ready = ready
        self.pending = [0] * self.delay_steps
        self.desired = ready

    @property
    def provisioning(self) -> int:
        return sum(self.pending)

    def apply(self, desired: int) -> None:
        """Order or remove replicas so that ready + provisioning == ``desired``."""
        total = self.ready + sum(self.pending)
        if desired > total:
            if self.delay_steps == 0:
                self.ready += desired - total
            else:
                self.pending[-1] += desired - total
        elif desired < total:
            remove = total - desired
            for j in range(self.delay_steps - 1, -1, -1):
                take = min(self.pending[j], remove)
                self.pending[j] -= take
                remove -= take
            self.ready -= remove
        self.desired = desired

    def advance(self) -> None:
        """End of a step: the oldest provisioning replicas become ready."""
        if self.delay_steps:
            p = self.pending
            self.ready += p[0]
            self.pending = p[1:] + [0]


def step_components(demand: float, ready: int, billed: int, desired: int, previous: int,
                    step_h: float, step_min: float, violation_minute_cost: float) -> dict:
    """The step's reward components (scalar); see :data:`COMPONENTS`."""
    over = demand > ready
    replica_hours = billed * step_h
    violation_minutes = step_min if over else 0.0
    return {
        "replica_hours": replica_hours,
        "violation_minutes": violation_minutes,
        "unserved_replica_hours": (demand - ready) * step_h if over else 0.0,
        "scaling_actions": 1.0 if desired != previous else 0.0,
        "replicas_changed": float(abs(desired - previous)),
        "cost": replica_hours + violation_minute_cost * violation_minutes,
    }


class BatchedServices:
    """``n`` services stepped together (the vector twin's core); same rules as :class:`Service`."""

    def __init__(self, n: int, delay_steps: int):
        self.delay_steps = delay_steps
        self.ready = np.zeros(n, dtype=np.int64)
        self.pending = np.zeros((n, delay_steps), dtype=np.int64)
        self.desired = np.zeros(n, dtype=np.int64)

    @property
    def provisioning(self) -> np.ndarray:
        return self.pending.sum(axis=1)

    def reset(self, idx: np.ndarray, ready: np.ndarray) -> None:
        self.ready[idx] = ready
        self.pending[idx] = 0
        self.desired[idx] = ready

    def apply(self, desired: np.ndarray, idx) -> None:
        sel = slice(None) if idx is None else idx
        ready = self.ready[sel]
        pending = self.pending[sel]
        total = ready + pending.sum(axis=1)
        add = np.maximum(desired - total, 0)
        remove = np.maximum(total - desired, 0)
        if self.delay_steps == 0:
            ready = ready + add
        else:
            pending[:, -1] += add
            for j in range(self.delay_steps - 1, -1, -1):
                take = np.minimum(pending[:, j], remove)
                pending[:, j] -= take
                remove = remove - take
        ready = ready - remove
        self.ready[sel] = ready
        self.pending[sel] = pending
        self.desired[sel] = desired

    def advance(self, idx) -> None:
        if self.delay_steps:
            sel = slice(None) if idx is None else idx
            p = self.pending[sel]
            self.ready[sel] += p[:, 0]
            shifted = np.zeros_like(p)
            shifted[:, :-1] = p[:, 1:]
            self.pending[sel] = shifted


def step_components_batch(demand: np.ndarray, ready: np.ndarray, billed: np.ndarray, desired: np.ndarray,
                          previous: np.ndarray, step_h: float, step_min: float,
                          violation_minute_cost: float) -> dict:
    """Batched twin of :func:`step_components`."""
    over = demand > ready
    replica_hours = billed * step_h
    violation_minutes = np.where(over, step_min, 0.0)
    return {
        "replica_hours": replica_hours,
        "violation_minutes": violation_minutes,
        "unserved_replica_hours": np.where(over, (demand - ready) * step_h, 0.0),
        "scaling_actions": np.where(desired != previous, 1.0, 0.0),
        "replicas_changed": np.abs(desired - previous).astype(np.float64),
        "cost": replica_hours + violation_minute_cost * violation_minutes,
    }


def episode_metrics(totals, steps, step_s: float, trace_index) -> dict:
    """The field's KPIs of finished episodes (scalars or arrays, one per episode).

    Sums (``cost``, ``replica_hours``, ``violation_minutes``, ``days``...) are reported beside
    the per-day ratios so that a set of episodes aggregates as a ratio of sums.
    """
    days = steps * (step_s / 86400.0)
    demand = totals["demand_replica_hours"]
    return {
        "cost_per_day": totals["cost"] / days,
        "replica_hours_per_day": totals["replica_hours"] / days,
        "violation_minutes_per_day": totals["violation_minutes"] / days,
        "unserved_fraction": _safe_div(totals["unserved_replica_hours"], demand),
        "utilisation": _safe_div(totals["served_replica_hours"], totals["replica_hours"]),
        "scaling_actions_per_day": totals["scaling_actions"] / days,
        "mean_replicas": totals["billed_replicas"] / steps,
        "cost": totals["cost"],
        "replica_hours": totals["replica_hours"],
        "violation_minutes": totals["violation_minutes"],
        "unserved_replica_hours": totals["unserved_replica_hours"],
        "demand_replica_hours": demand,
        "served_replica_hours": totals["served_replica_hours"],
        "scaling_actions": totals["scaling_actions"],
        "days": days,
        "trace_index": trace_index,
    }


def _safe_div(a, b):
    if isinstance(b, np.ndarray):
        return np.where(b > 0, a / np.where(b > 0, b, 1.0), 0.0)
    return a / b if b > 0 else 0.0
