"""Classical horizontal autoscalers for ``feedbackgym/ClusterAutoscaling-v0``.

Policies follow the evaluation protocol (``reset(env, obs, info)``, ``act(obs, info)``) and read
``info``, never the observation array:

==========================  ========================================================================
``demand_replicas``         demand of the step just played, in replica units (a load metric that
                            is not capped by capacity: requests per second at the load balancer)
``ready_replicas``          replicas serving now
``provisioning_replicas``   replicas ordered, not ready yet
``desired_replicas``        the current replica target (ready + provisioning)
``time_s``                  Unix time of the coming step
==========================  ========================================================================

``Predictive`` also reads the metric history before the episode (``env.unwrapped.history_demand()``).
They choose a replica count and turn it into an action with ``env.unwrapped.action_for`` (exact
in ``action_mode="replicas"``, the nearest reachable count in ``"delta"`` mode). ``static`` and
``oracle`` are clairvoyant references and read the future demand from ``env.unwrapped``.
"""

from __future__ import annotations

import math
from collections import deque

import numpy as np


class AutoscalingPolicy:
    """Common plumbing: remember the env, map a replica count to an action."""

    def reset(self, env, obs, info) -> None:
        self.env = env.unwrapped
        cfg = self.env.config
        self.min_replicas, self.max_replicas = cfg.min_replicas, cfg.max_replicas
        self.step_s = cfg.step_s

    def act(self, obs, info):
        return self.env.action_for(self.desired(info))

    def desired(self, info) -> int:
        raise NotImplementedError

    def clamp(self, n: int) -> int:
        return min(max(int(n), self.min_replicas), self.max_replicas)


class Hpa(AutoscalingPolicy):
    """Kubernetes' Horizontal Pod Autoscaler (v2) with its default behaviour.

    Every ``sync_s`` (15 s; ``step_s / sync_s`` syncs per env step, on the step's one metric
    sample): ``ratio = utilisation / target``; within ``tolerance`` (0.1) nothing changes; else
    ``desired = ceil(ratio * pods)``. When scaling up, not-yet-ready pods count as using 0 % (so
    repeated syncs on one sample do not run away). Recommendations are stabilised: scale-down
    takes the maximum recommendation of the last ``scale_down_window_s`` (300 s), scale-up the
    minimum of the last ``scale_up_window_s`` (0 s). Rate limits per sync: up by at most
    max(100 %, 4 pods), down by at most 100 %. Then ``[min_replicas, max_replicas]``.
    """

    def __init__(self, target_utilisation: float = 0.7, tolerance: float = 0.1, sync_s: float = 15.0,
                 scale_down_window_s: float = 300.0, scale_up_window_s: float = 0.0,
                 scale_up_percent: float = 100.0, scale_up_pods: int = 4, scale_down_percent: float = 100.0):
        if not 0 < target_utilisation:
            raise ValueError(f"Hpa.target_utilisation: expected > 0, got {target_utilisation!r}")
        self.target = float(target_utilisation)
        self.tolerance = float(tolerance)
        self.sync_s = float(sync_s)
        self.down_window_s = float(scale_down_window_s)
        self.up_window_s = float(scale_up_window_s)
        self.up_percent, self.up_pods = float(scale_up_percent), int(scale_up_pods)
        self.down_percent = float(scale_down_percent)

    def reset(self, env, obs, info) -> None:
        super().reset(env, obs, info)
        self.syncs_per_step = max(1, int(round(self.step_s / self.sync_s)))
        self.sync_dt = self.step_s / self.syncs_per_step
        self.clock = 0.0
        self.recs: deque = deque()      # (time, recommendation)

    def _recommend(self, demand: float, ready: int, provisioning: int, current: int) -> int:
        ratio = demand / (ready * self.target)
        if ratio > 1.0 and provisioning > 0:     # unready pods count as 0 % when scaling up
            ratio = demand / ((ready + provisioning) * self.target)
            if ratio <= 1.0:
                return current
            pods = ready + provisioning
        else:
            pods = ready
        if abs(ratio - 1.0) <= self.tolerance:
            return current
        return math.ceil(ratio * pods)

    def desired(self, info) -> int:
        demand = float(info["demand_replicas"])
        ready, prov = int(info["ready_replicas"]), int(info["provisioning_replicas"])
        current = int(info["desired_replicas"])
        for _ in range(self.syncs_per_step):
            rec = self._recommend(demand, ready, prov, current)
            # stabilisation as in k8s: bounds from the raw recommendations still in each window
            up = down = rec
            for t, r in self.recs:
                if t > self.clock - self.up_window_s + 1e-9:
                    up = min(up, r)
                if t > self.clock - self.down_window_s + 1e-9:
                    down = max(down, r)
            self.recs.append((self.clock, rec))
            horizon = max(self.down_window_s, self.up_window_s)
            while self.recs and self.recs[0][0] <= self.clock - horizon + 1e-9:
                self.recs.popleft()
            new = current
            if new < up:
                new = up
            if new > down:
                new = down
            up_limit = max(math.ceil(current * (1.0 + self.up_percent / 100.0)), current + self.up_pods)
            down_limit = math.floor(current * (1.0 - self.down_percent / 100.0))
            new = self.clamp(min(max(new, down_limit), up_limit))
            # what the cluster does with it before the next sync: order or remove (provisioning first)
            if new > current:
                prov += new - current
            elif new < current:
                cut = min(prov, current - new)
                prov -= cut
                ready -= current - new - cut
            current = new
            self.clock += self.sync_dt
        return current


class Predictive(Hpa):
    """AWS EC2 Auto Scaling predictive scaling, plus reactive (HPA-style) scaling.

    Once at least ``min_history_h`` (24 h) of load history exists (up to ``max_history_days``,
    14), every ``refresh_h`` (6 h) it forecasts the load of each hour ahead (48 h) as the mean,
    over the past days, of that hour of day's ``statistic`` (hourly mean load by default, as AWS
    forecasts hourly load). Capacity for an hour = forecast / target utilisation, launched
    ``provisioning_delay_s`` ahead (AWS's scheduling buffer) so it is ready when the hour starts.
    The forecast only scales *out*: the replica count is ``max(forecast capacity, reactive)``,
    and reactive scaling alone scales in, never below the forecast.
    """

    def __init__(self, target_utilisation: float = 0.7, min_history_h: float = 24.0, max_history_days: float = 14.0,
                 refresh_h: float = 6.0, horizon_h: float = 48.0, statistic: str = "mean", **hpa_kwargs):
        super().__init__(target_utilisation=target_utilisation, **hpa_kwargs)
        if statistic not in ("mean", "max"):
            raise ValueError(f"Predictive.statistic: expected 'mean' or 'max', got {statistic!r}")
        self.min_history_h, self.max_history_days = float(min_history_h), float(max_history_days)
        self.refresh_h, self.horizon_h, self.statistic = float(refresh_h), float(horizon_h), statistic

    def reset(self, env, obs, info) -> None:
        super().reset(env, obs, info)
        hist = self.env.history_demand(self.max_history_days)
        t_now = float(info["time_s"])
        self.hist_d = list(hist)
        self.hist_t = list(t_now - self.step_s * np.arange(len(hist), 0, -1))
        self.lead_s = float(self.env.config.provisioning_delay_s)
        self.next_refresh = t_now
        self.profile: np.ndarray | None = None  # forecast load per UTC hour of day, valid until forecast_until
        self.forecast_until = -math.inf

    def _refresh(self, t_now: float) -> None:
        n_day = int(round(86400.0 / self.step_s))
        if len(self.hist_d) < self.min_history_h * 3600.0 / self.step_s:
            return
        keep = int(round(self.max_history_days * n_day))
        d = np.asarray(self.hist_d[-keep:])
        t = np.asarray(self.hist_t[-keep:])
        hour_bucket = np.floor(t / 3600.0).astype(np.int64)
        buckets, inv = np.unique(hour_bucket, return_inverse=True)
        if self.statistic == "mean":
            load = np.bincount(inv, weights=d) / np.bincount(inv)
        else:
            load = np.full(len(buckets), -np.inf)
            np.maximum.at(load, inv, d)
        hod = buckets % 24
        profile = np.zeros(24)
        for h in range(24):
            sel = load[hod == h]
            profile[h] = sel.mean() if sel.size else (load.mean() if load.size else 0.0)
        self.profile = profile
        self.forecast_until = t_now + self.horizon_h * 3600.0

    def desired(self, info) -> int:
        t_now = float(info["time_s"])
        if int(info["step"]) > 0:   # the step just played
            self.hist_d.append(float(info["demand_replicas"]))
            self.hist_t.append(t_now - self.step_s)
        if t_now >= self.next_refresh:
            self._refresh(t_now)
            self.next_refresh = t_now + self.refresh_h * 3600.0
        reactive = super().desired(info)
        if self.profile is None or t_now > self.forecast_until:
            return reactive
        # the capacity that must be serving when this order becomes ready
        hour = int(((t_now + self.lead_s) // 3600.0) % 24)
        planned = self.clamp(math.ceil(self.profile[hour] / self.target))
        return max(reactive, planned)


class StaticPeak(AutoscalingPolicy):
    """Static peak provisioning: the episode's peak demand, rounded up, all the time (a capacity
    planner who sized for the observed peak; reads the trace, so it has no violations except
    while the first replicas provision)."""

    def reset(self, env, obs, info) -> None:
        super().reset(env, obs, info)
        self.level = self.clamp(math.ceil(float(np.max(self.env.future_demand()))))

    def desired(self, info) -> int:
        return self.level


class Oracle(AutoscalingPolicy):
    """Hindsight: at each step, as many replicas as the next ``delay + 1`` steps need, i.e. the
    fewest replica-hours with no SLO violation given that new replicas take the provisioning
    delay (removal is immediate). The reference floor for replica-hours; it violates only where
    demand exceeds ``max_replicas`` or before the first ordered replicas are ready."""

    def reset(self, env, obs, info) -> None:
        super().reset(env, obs, info)
        future = self.env.future_demand()
        need = np.minimum(np.maximum(np.ceil(future), self.min_replicas), self.max_replicas).astype(np.int64)
        k = self.env.setup.delay_steps
        padded = np.concatenate([need, np.zeros(k, dtype=np.int64)])  # nothing needed after the end
        self.plan = np.lib.stride_tricks.sliding_window_view(padded, k + 1).max(axis=1)[:len(need)]
        self.t = 0

    def desired(self, info) -> int:
        n = int(self.plan[min(self.t, len(self.plan) - 1)])
        self.t += 1
        return n
