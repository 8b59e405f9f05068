"""Rightsizing baselines for ``feedbackgym/ClusterRightsizing-v0``: the rules the field runs.

Every baseline reads only ``info`` (what a node agent measures: the window's memory peak,
truncated at the limit when the task was OOM-killed; served CPU and the throttled fraction;
the current limits and the user's request; the job's class), except :class:`Oracle`, which
reads the future from ``env.unwrapped``. They answer *limit actions*
(``{"memory_limit_mib": x, "cpu_limit_cores": y}``), applied exactly; with ``discrete=True``
they answer the nearest action of the env's ``Discrete(40)`` menu instead (what behaviour
cloning imitates, and a measure of what the menu costs).

* :class:`Static` — the request (what users ask for; no rightsizing).
* :class:`Vpa` — Kubernetes' Vertical Pod Autoscaler recommender and updater with their
  defaults (``pkg/recommender/logic``, ``pkg/updater/priority``).
* :class:`AutopilotWindow` — Autopilot's moving-window recommender (Rzadca et al., EuroSys
  2020, section 4.1).
* :class:`AutopilotMl` — Autopilot's ML recommender (section 4.2, eqs. 4-9).
* :class:`Forecast` — online quantile regression of the next window's memory peak.
* :class:`Oracle` — hindsight limits with at most ``changes_per_day`` changes a day.
"""

from __future__ import annotations

import math

import numpy as np

WINDOW_S = 300
WINDOWS_PER_DAY = 288


# ------------------------------------------------------------------------------- histograms


class DecayingHistogram:
    """Exponentially decaying histogram over fixed buckets (VPA's and Autopilot's).

    ``starts`` are bucket start values; a value falls in the last bucket whose start is <= it.
    ``percentile(p)`` is VPA's: the *end* of the first bucket where the cumulative weight reaches
    ``p`` of the total.
    """

    def __init__(self, starts: np.ndarray, half_life_windows: float):
        self.starts = np.asarray(starts, dtype=np.float64)
        self.ends = np.append(self.starts[1:], self.starts[-1] * 1.05 + 1e-12)
        self.w = np.zeros(len(starts))
        self.decay = 2.0 ** (-1.0 / half_life_windows)

    def tick(self) -> None:
        self.w *= self.decay

    def bucket(self, value: float) -> int:
        return int(np.clip(np.searchsorted(self.starts, value, side="right") - 1, 0, len(self.starts) - 1))

    def add(self, value: float, weight: float = 1.0) -> None:
        self.w[self.bucket(value)] += weight

    @property
    def total(self) -> float:
        return float(self.w.sum())

    def percentile(self, p: float) -> float:
        total = self.w.sum()
        if total <= 0:
            return 0.0
        c = np.cumsum(self.w)
        k = int(np.searchsorted(c, p * total - 1e-12 * total, side="left"))
        return float(self.ends[min(k, len(self.ends) - 1)])

    def max(self, min_weight: float = 0.01) -> float:
        nz = np.flatnonzero(self.w > min_weight)
        return float(self.ends[nz[-1]]) if nz.size else 0.0

    def mean(self) -> float:
        total = self.w.sum()
        mid = 0.5 * (self.starts + self.ends)
        return float((self.w * mid).sum() / total) if total > 0 else 0.0


def vpa_starts(first: float, max_value: float, ratio: float = 1.05) -> np.ndarray:
    """VPA's exponential buckets: bucket i starts at first * (ratio^i - 1) / (ratio - 1)."""
    n = int(math.ceil(math.log(max_value * (ratio - 1) / first + 1) / math.log(ratio))) + 1
    i = np.arange(n)
    return first * (ratio ** i - 1) / (ratio - 1)


def log_starts(lo: float, hi: float, n: int) -> np.ndarray:
    """``n`` log-spaced bucket starts from 0 then ``lo`` to ``hi`` (Autopilot's ~400 buckets)."""
    return np.concatenate([[0.0], np.geomspace(lo, hi, n - 1)])


def cpu_demand(info) -> float:
    """Demand estimate from served CPU and the throttled fraction (demand = served / (1 - f))."""
    served, f = float(info["cpu_usage_cores"]), float(info["throttled_fraction"])
    return served / (1.0 - f) if f < 0.999 else served * 10.0


# -------------------------------------------------------------------------------- base class


class RightsizingPolicy:
    """Base: keeps the env, turns limits into an action (limit mapping or nearest discrete)."""

    def __init__(self, discrete: bool = False):
        self.discrete = bool(discrete)
        self.env = None

    def reset(self, env, obs, info) -> None:
        self.env = env.unwrapped
        self.start(info)
        self.observe(info)

    def start(self, info) -> None:
        pass

    def observe(self, info) -> None:
        """Take in the window that just ended (reset's first window included)."""

    def limits(self, info) -> tuple[float, float]:  # pragma: no cover - abstract
        raise NotImplementedError

    def act(self, obs, info):
        if "reward_components" in info:  # a step's info (reset's was observed in reset)
            self.observe(info)
        mem, cpu = self.limits(info)
        if self.discrete:
            return self.env.nearest_action(mem, cpu)
        return {"memory_limit_mib": mem, "cpu_limit_cores": cpu}

    def end_episode(self, obs, info) -> None:
        pass

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


# -------------------------------------------------------------------------------------- static


class Static(RightsizingPolicy):
    """The user's request (which may change over the trace) as the limit."""

    def limits(self, info):
        return float(info["memory_request_mib"]), float(info["cpu_request_cores"])


# ----------------------------------------------------------------------------------------- VPA


class Vpa(RightsizingPolicy):
    """Kubernetes VPA (recommender + updater) with its defaults.

    Recommender: CPU histogram (first bucket 0.01 cores, 5% growth, up to 1000 cores), samples
    weighted by max(CPU request, 0.1); memory histogram (first bucket 1e7 bytes, 5% growth, up
    to 1e12 bytes) of one peak per 24 h interval, both with a 24 h half-life. After an OOM the
    interval's peak becomes max(used + 100 MiB, 1.2 x used). Target = p90 x 1.15; lower bound
    p50 x 1.15 x (1 + 0.001/c)^-2, upper p95 x 1.15 x (1 + 1/c), c = history in days (VPA's
    confidence, one sample a minute); floors 25 mCPU and 250 MiB.
    Updater: apply the target (both resources) when a current limit leaves [lower, upper], or
    when the relative change summed over resources is >= 10% and the pod has run >= 12 h,
    or right after an OOM when the target is higher.
    """

    def __init__(self, discrete: bool = False, target_percentile: float = 0.9, margin: float = 0.15,
                 min_cpu_cores: float = 0.025, min_memory_mib: float = 250.0, half_life_h: float = 24.0,
                 oom_bump_mib: float = 100.0, oom_bump_ratio: float = 1.2, memory_interval_h: float = 24.0,
                 update_threshold: float = 0.1, pod_lifetime_h: float = 12.0):
        super().__init__(discrete)
        self.p, self.margin = target_percentile, margin
        self.min_cpu, self.min_mem = min_cpu_cores, min_memory_mib
        self.half_life = half_life_h * 12
        self.oom_bump_mib, self.oom_bump_ratio = oom_bump_mib, oom_bump_ratio
        self.interval = int(round(memory_interval_h * 12))
        self.threshold, self.lifetime = update_threshold, int(round(pod_lifetime_h * 12))

    def start(self, info):
        self.cpu = DecayingHistogram(vpa_starts(0.01, 1000.0), self.half_life)
        self.mem = DecayingHistogram(vpa_starts(1e7 / 2**20, 1e12 / 2**20), self.half_life)
        self.windows = 0
        self.interval_start = 0
        self.interval_peak = 0.0
        self.interval_bucket = -1
        self.interval_weight = 0.0
        self.since_update = 0
        self.oom = False

    def _memory_peak(self, value):
        """VPA's AddMemoryPeak: one sample per interval, replaced when the peak grows."""
        if self.windows - self.interval_start >= self.interval:
            self.interval_start, self.interval_peak, self.interval_bucket = self.windows, 0.0, -1
        if value <= self.interval_peak:
            return
        if self.interval_bucket >= 0:
            self.mem.w[self.interval_bucket] = max(self.mem.w[self.interval_bucket] - self.interval_weight, 0.0)
        self.interval_peak = value
        self.interval_bucket = self.mem.bucket(value)
        self.interval_weight = 1.0
        self.mem.w[self.interval_bucket] += 1.0

    def observe(self, info):
        self.cpu.tick()
        self.mem.tick()
        self.interval_weight *= self.mem.decay
        self.windows += 1
        self.since_update += 1
        self.oom = bool(info["oom"])
        if not info["running"]:
            return
        self.cpu.add(float(info["cpu_usage_cores"]), max(float(info["cpu_limit_cores"]), 0.1))
        used = float(info["memory_usage_mib"])
        if self.oom:
            used = max(used + self.oom_bump_mib, self.oom_bump_ratio * used)
        self._memory_peak(used)

    def _estimates(self):
        c = self.windows / WINDOWS_PER_DAY   # lifespan and samples/1440 coincide at 5 samples a window
        m = 1.0 + self.margin
        out = []
        for h, floor in ((self.mem, self.min_mem), (self.cpu, self.min_cpu)):
            target = max(h.percentile(self.p) * m, floor)
            lower = max(h.percentile(0.5) * m * (1.0 + 0.001 / c) ** -2.0, floor)
            upper = max(h.percentile(0.95) * m * (1.0 + 1.0 / c), floor)
            out.append((target, lower, upper))
        return out

    def limits(self, info):
        cur = (float(info["memory_limit_mib"]), float(info["cpu_limit_cores"]))
        est = self._estimates()
        outside = any(not (lo <= v <= hi) for v, (_, lo, hi) in zip(cur, est))
        diff = sum(abs(t - v) / v for v, (t, _, _) in zip(cur, est))
        oom_raise = self.oom and est[0][0] > cur[0]
        if outside or oom_raise or (self.since_update >= self.lifetime and diff >= self.threshold):
            if (est[0][0], est[1][0]) != cur:
                self.since_update = 0
            return est[0][0], est[1][0]
        return cur


# ----------------------------------------------------------------------------- Autopilot window

MEM_STARTS = log_starts(1.0, 2.0**21, 400)      # MiB
CPU_STARTS = log_starts(0.001, 1000.0, 400)     # cores


class AutopilotWindow(RightsizingPolicy):
    """Autopilot's moving-window recommender (Rzadca et al., EuroSys 2020, section 4.1).

    Memory: a histogram of window peaks with a 48 h half-life; by OOM tolerance, low -> p98,
    minimal -> the peak, intermediate -> max(p60, 0.5 x peak). CPU: a 12 h half-life histogram
    of (demand-estimated) usage; serving -> p95, batch -> the weighted average. Both x
    (1 + margin), then the maximum of the recommendations over the last hour. A new limit is
    applied when it differs from the current one by more than ``min_change``, and (with
    ``update_every_h`` > 0) only every ``update_every_h`` hours — how an offline replay that sets
    limits a few times a day behaves (the calibration's gap study; 0 = every window).
    ``replay_usage=True`` feeds the histogram the true window peak from ``env.unwrapped`` instead
    of what was measured (which an OOM kill truncates at the limit): an offline replay's view,
    for calibration only.
    """

    def __init__(self, discrete: bool = False, memory_margin: float = 0.15, cpu_margin: float = 0.15,
                 memory_half_life_h: float = 48.0, cpu_half_life_h: float = 12.0, max_window_h: float = 1.0,
                 min_change: float = 0.0, percentile_low: float = 0.98, replay_usage: bool = False,
                 update_every_h: float = 0.0):
        super().__init__(discrete)
        self.replay_usage = replay_usage
        self.update_every = max(0, int(round(update_every_h * 12)))
        self.mm, self.cm = memory_margin, cpu_margin
        self.mhl, self.chl = memory_half_life_h * 12, cpu_half_life_h * 12
        self.window = max(1, int(round(max_window_h * 12)))
        self.min_change = min_change
        self.p_low = percentile_low

    def start(self, info):
        self.mem = DecayingHistogram(MEM_STARTS, self.mhl)
        self.cpu = DecayingHistogram(CPU_STARTS, self.chl)
        self.recs: list = []

    def observe(self, info):
        self.mem.tick()
        self.cpu.tick()
        if self.replay_usage:   # an offline replay's view: the true window peak, never truncated
            core = self.env.engine.core
            self.mem.add(float(self.env.table.memory_peak_mib[int(core.pos[0]) - 1]))
            self.cpu.add(cpu_demand(info))
        elif info["running"]:
            self.mem.add(float(info["memory_usage_mib"]))
            self.cpu.add(cpu_demand(info))
        tol = int(info["oom_tolerance"])
        if tol == 0:
            mem = self.mem.max()
        elif tol == 1:
            mem = self.mem.percentile(self.p_low)
        else:
            mem = max(self.mem.percentile(0.6), 0.5 * self.mem.max())
        cpu = self.cpu.percentile(0.95) if info["serving"] else self.cpu.mean()
        self.recs.append((mem * (1 + self.mm), cpu * (1 + self.cm)))
        if len(self.recs) > self.window:
            self.recs.pop(0)

    def limits(self, info):
        cur_m, cur_c = float(info["memory_limit_mib"]), float(info["cpu_limit_cores"])
        if self.update_every > 1 and int(info["job_age_windows"]) % self.update_every != 1:
            return cur_m, cur_c
        mem = max(r[0] for r in self.recs)
        cpu = max(r[1] for r in self.recs)
        if abs(mem - cur_m) <= self.min_change * cur_m:
            mem = cur_m
        if abs(cpu - cur_c) <= self.min_change * cur_c:
            cpu = cur_c
        return mem, cpu


# ------------------------------------------------------------------------------- Autopilot ML


class _MlResource:
    """Autopilot's ML recommender for one resource (eqs. 4-9) over fixed candidate limits.

    Model (half-life h, margin m): decayed overrun o(L) (share of samples above L) and underrun
    u(L) (mean relative unused limit (L - s)/L of samples below L) for every candidate L; its
    limit is argmin_L w_o o(L) + w_u u(L) + w_dL [L != its previous], times (1 + m). The
    ensemble scores each model by the decayed cost its own limits would have had and picks
    argmin score + w_dm [model switch] + w_dL [limit change].
    """

    def __init__(self, candidates, half_lives, margins, w_o, w_u, w_dl, w_dm, ensemble_half_life):
        self.L = np.asarray(candidates, dtype=np.float64)
        self.d = 1.0 - 2.0 ** (-1.0 / np.asarray(half_lives, dtype=np.float64))[:, None]
        self.margins = np.asarray(margins, dtype=np.float64)
        H = len(half_lives)
        self.o = np.zeros((H, len(self.L)))
        self.u = np.zeros((H, len(self.L)))
        self.w_o, self.w_u, self.w_dl, self.w_dm = w_o, w_u, w_dl, w_dm
        self.idx = np.zeros(H, dtype=np.int64)          # each half-life's chosen candidate
        self.score = np.zeros((H, len(self.margins)))
        self.de = 1.0 - 2.0 ** (-1.0 / ensemble_half_life)
        self.model = (0, 0)
        self.limit = None
        self.samples = 0

    def add(self, sample: float):
        L = self.L
        # score every model's current limit against the sample (before the models move)
        lim = L[self.idx][:, None] * (1.0 + self.margins)[None, :]
        cost = self.w_o * (sample > lim) + self.w_u * np.where(sample <= lim, (lim - sample) / lim, 0.0)
        self.score = self.score * (1 - self.de) + self.de * cost
        over = (sample > L).astype(np.float64)[None, :]
        under = np.where(sample <= L, (L - sample) / L, 0.0)[None, :]
        self.o = self.o * (1 - self.d) + self.d * over
        self.u = self.u * (1 - self.d) + self.d * under
        c = self.w_o * self.o + self.w_u * self.u
        keep = c[np.arange(len(self.idx)), self.idx]
        best = np.argmin(c, axis=1)
        change = c[np.arange(len(self.idx)), best] + self.w_dl < keep
        self.idx = np.where(change, best, self.idx)
        self.samples += 1

    def recommend(self, current: float) -> float:
        lim = self.L[self.idx][:, None] * (1.0 + self.margins)[None, :]
        pen = self.score + self.w_dm * 1.0
        pen[self.model] -= self.w_dm
        pen = pen + self.w_dl * (np.abs(lim - current) > 1e-9 * current)
        h, m = np.unravel_index(int(np.argmin(pen)), pen.shape)
        self.model = (int(h), int(m))
        return float(lim[h, m])


class AutopilotMl(RightsizingPolicy):
    """Autopilot's ML recommender for memory and CPU (see :class:`_MlResource`).

    Models: half-lives 1 h, 12 h and 48 h x margins 0, 5% and 15%. Weights: the public
    re-implementation's w_dL = w_dm = 0.1 and w_u = 0.25 with w_o = ``overrun_weight``; the
    default w_o = 5 was calibrated on the ``train`` split only
    (``experiments/cluster/calibrate_autopilot_ml.py``, 6 jobs, grid 0.5/5/25/100: the smallest
    memory slack with no more OOMs per task-day than the moving window; results in
    ``results/cluster/autopilot_ml_calibration.json``); 0.5 (the re-implementation's) is far
    too tolerant with one sample per 5-minute window (slack 0.06 at 13 OOMs per task-day).
    """

    def __init__(self, discrete: bool = False, overrun_weight: float = 5.0, underrun_weight: float = 0.25,
                 change_weight: float = 0.1, switch_weight: float = 0.1, half_lives_h=(1.0, 12.0, 48.0),
                 margins=(0.0, 0.05, 0.15), ensemble_half_life_h: float = 48.0, warmup_windows: int = 12):
        super().__init__(discrete)
        self.kw = dict(half_lives=[h * 12 for h in half_lives_h], margins=margins, w_o=overrun_weight,
                       w_u=underrun_weight, w_dl=change_weight, w_dm=switch_weight,
                       ensemble_half_life=ensemble_half_life_h * 12)
        self.warmup = warmup_windows

    def start(self, info):
        self.mem = _MlResource(MEM_STARTS[1:], **self.kw)
        self.cpu = _MlResource(CPU_STARTS[1:], **self.kw)

    def observe(self, info):
        if info["running"]:
            used = float(info["memory_usage_mib"])
            if info["oom"]:
                used = used * 1.2   # the peak went above the limit: record it as higher than seen
            self.mem.add(used)
            self.cpu.add(cpu_demand(info))

    def limits(self, info):
        cur_m, cur_c = float(info["memory_limit_mib"]), float(info["cpu_limit_cores"])
        if self.mem.samples < self.warmup:
            return cur_m, cur_c
        return self.mem.recommend(cur_m), self.cpu.recommend(cur_c)


# ----------------------------------------------------------------------------------- forecast


class Forecast(RightsizingPolicy):
    """Online quantile regression (pinball loss, quantile ``q``) of the next window's memory peak.

    Features (log scale, relative to the request at episode start): the last peak, the last
    hour's max, the last day's max, time of day and day of week (sin/cos), a bias. Fitted by SGD
    after every window. The limit moves to the prediction x (1 + margin) x (1 + ``step_headroom``)
    when the prediction x (1 + margin) rises above it or falls ``lower_below`` under it, and
    holds otherwise (fewer changes). CPU uses the
    moving-window rule (p95 of 12 h, + 15%). "Simple linear models are often sufficient."
    """

    def __init__(self, discrete: bool = False, q: float = 0.995, margin: float = 0.05, lr: float = 0.02,
                 lower_below: float = 0.25, step_headroom: float = 0.1):
        super().__init__(discrete)
        self.q, self.margin, self.lr, self.lower_below = q, margin, lr, lower_below
        self.step_headroom = step_headroom

    def start(self, info):
        self.scale = max(float(info["memory_request_mib"]), 1e-6)
        self.w = np.zeros(8)
        self.w[1] = 1.0    # start as "the last peak"
        self.w[0] = 0.1
        self.hist = []
        self.x = None
        self.cpu = AutopilotWindow(memory_margin=0.0)
        self.cpu.start(info)

    def _features(self, info):
        h = self.hist
        ts = int(info["timestamp_s"])
        hour = (ts % 86400) / 86400 * 2 * math.pi
        wd = ((ts // 86400 + 3) % 7) / 7 * 2 * math.pi
        last = h[-1] if h else 1e-6
        return np.asarray([1.0, math.log(last / self.scale), math.log(max(h[-12:]) / self.scale),
                           math.log(max(h[-288:]) / self.scale), math.sin(hour), math.cos(hour),
                           math.sin(wd), math.cos(wd)])

    def observe(self, info):
        self.cpu.observe(info)
        if not info["running"]:
            return
        peak = float(info["memory_usage_mib"])
        if info["oom"]:
            peak *= 1.2
        peak = max(peak, 1e-6)
        if self.x is not None:    # learn from the prediction made for this window
            y = math.log(peak / self.scale)
            err = y - float(self.w @ self.x)
            g = -self.q if err > 0 else (1.0 - self.q)
            self.w -= self.lr * g * self.x
        self.hist.append(peak)
        if len(self.hist) > 288:
            self.hist.pop(0)
        self.x = self._features(info)

    def limits(self, info):
        cur_m = float(info["memory_limit_mib"])
        _, cpu = self.cpu.limits(info)
        if self.x is None:
            return cur_m, cpu
        pred = math.exp(float(self.w @ self.x)) * self.scale * (1 + self.margin)
        if pred > cur_m or pred < cur_m * (1 - self.lower_below):
            return pred * (1 + self.step_headroom), cpu
        return cur_m, cpu


# ------------------------------------------------------------------------------------ headroom


class Headroom(RightsizingPolicy):
    """A rule written in the env's own ``Discrete(40)`` menu (what the agents are cloned from).

    Memory: the larger of "48 h p98 x 1.5" (menu choice 9) and "last hour's peak x 1.35"
    (choice 4), or "last hour's peak x 2" (choice 6) for ``hold_after_oom_h`` after an OOM.
    CPU: "last hour's demand x 1.5" (choice 2). The env's asymmetric deadband turns these
    targets into limits that rise at once and fall only by more than ``lower_deadband`` (20%),
    so the rule's usual answer is a target, not "hold" — which keeps a behaviour clone honest
    (a clone of a rule that mostly answers "hold" learns to hold for ever).
    """

    def __init__(self, discrete: bool = True, hold_after_oom_h: float = 6.0, long_choice: int = 9,
                 recent_choice: int = 4, cpu_choice: int = 2):
        super().__init__(True)
        self.hold_after_oom = int(hold_after_oom_h * 12)
        self.long_choice, self.recent_choice, self.cpu_choice = long_choice, recent_choice, cpu_choice

    def start(self, info):
        self.since_oom = 10**9

    def observe(self, info):
        self.since_oom = 0 if info["oom"] else self.since_oom + 1

    def act(self, obs, info):
        if "reward_components" in info:
            self.observe(info)
        from feedbackgym.envs.cluster.engine import N_CPU
        mem_t, _ = self.env.menu()
        if self.since_oom < self.hold_after_oom:
            m = 6 if self.since_oom == 0 else 0
        else:
            lc, rc = self.long_choice, self.recent_choice
            m = lc if mem_t[lc] >= mem_t[rc] else rc
        return m * N_CPU + self.cpu_choice


# ------------------------------------------------------------------------------------- oracle


class Oracle(RightsizingPolicy):
    """Hindsight: the day is cut into ``changes_per_day`` equal segments and each gets the max
    window peak (and CPU demand) of its segment x (1 + ``margin``) — no OOM, no throttling, at
    most ``changes_per_day`` changes a day. Reads the future from ``env.unwrapped``."""

    def __init__(self, discrete: bool = False, changes_per_day: int = 7, margin: float = 1e-6):
        super().__init__(discrete)
        self.seg = max(1, int(math.ceil(WINDOWS_PER_DAY / changes_per_day)))
        self.margin = margin

    def limits(self, info):
        env = self.env
        core, tb = env.engine.core, env.table
        t = int(core.t[0])
        pos = int(core.pos[0])
        end = int(tb.offsets[core.job[0]] + core.start_row[0] + core.length[0])
        seg_start = pos - (t % self.seg)
        seg_end = min(seg_start + self.seg, end)
        mem = float(tb.memory_peak_mib[seg_start:seg_end].max()) * (1 + self.margin)
        cpu = float(tb.cpu_demand_cores[seg_start:seg_end].max()) * (1 + self.margin)
        return max(mem, 1e-6), max(cpu, 1e-6)
