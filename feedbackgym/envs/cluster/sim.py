"""Rightsizing simulation core: N jobs stepped together in 5-minute windows (no gymnasium).

The single env runs it with N = 1 and the vectorised twin with N = num_envs. Both step through
the compiled kernel (:mod:`.kernel`); the numpy code here (:meth:`RightsizingCore.window`,
:meth:`DecayedQuantiles.add`) is the readable reference the kernel is tested against, bit for bit.

One window of one job (per task; a job's ``tasks`` tasks share its usage and its limits):

1. **Limits.** The policy's memory and CPU limits apply for the window. A limit *increase*
   forces a reschedule with probability ``eviction_probability`` (the task is down
   ``restart_windows`` windows, Borg's cost of growing a task that no longer fits its machine).
2. **Memory.** The window's peak is the trace's average through the configured peak model
   (Bitbrains records 5-minute *averages*; see :class:`~.config.RightsizingConfig`). A peak
   above the limit is an OOM kill: the usage seen is truncated at the limit, the task is down
   for ``restart_windows`` windows (no usage, SLO minutes for serving jobs), batch jobs lose
   ``lost_work_windows`` windows of CPU work; then the trace resumes.
3. **CPU.** Demand above the limit is throttled. Batch work queues as backlog (served later when
   the limit allows), serving requests beyond the window time out; a serving window with more
   than ``slo_throttle_fraction`` of its demand throttled counts 5 SLO-violation minutes.
4. **Signals.** The window's observed memory peak and served CPU (what a node agent measures:
   throttled CPU shows as usage at the limit) enter decayed histograms at three half-lives
   (Autopilot's moving-window statistics) and a one-hour ring buffer.

Per-episode randomness (evictions) comes from a counter-based hash of a key drawn at reset and
the window index, so no per-step generator calls are needed and batching cannot change it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from . import kernel as K
from .workloads import WINDOW_S, WINDOWS_PER_DAY, Workload

#: histogram buckets (log-spaced, relative to the job's request at episode start)
BUCKETS = 96
BUCKET_GROWTH = 1.1
BUCKET_FIRST = 2.0 ** -10
#: half-lives of the observation histograms, in windows: 2 h, 12 h (Autopilot CPU), 48 h (memory)
HALF_LIVES = (24, 144, 576)
QUANTILES = (0.5, 0.9, 0.95, 0.98)
RECENT_WINDOWS = 12            # one hour
RECENT_DECAY_HALF_LIFE = 288   # OOM / throttle counters: one-day half-life
LOG2_LOW, LOG2_HIGH = -12.0, 6.0
MAX_TASKS_PER_JOB = 1_000_000

_LOG_GROWTH = math.log(BUCKET_GROWTH)
_LOG2_EDGES = math.log2(BUCKET_FIRST) + np.arange(1, BUCKETS + 1) * math.log2(BUCKET_GROWTH)
#: upper edge of every bucket relative to the scale (a table, so scalar and batched code agree)
EDGE_VALUES = np.exp2(_LOG2_EDGES)


def bucket_upper_edges() -> np.ndarray:
    """Upper edge of every bucket, relative to the scale (the value a quantile reports)."""
    return np.exp2(_LOG2_EDGES)


# ---------------------------------------------------------------------------------- job table


@dataclass(frozen=True, eq=False)
class JobTable:
    """Every job of a workload set concatenated, with the peak model applied once."""

    names: tuple
    offsets: np.ndarray        # (J,) first row of each job
    lengths: np.ndarray        # (J,)
    timestamps_s: np.ndarray   # (R,)
    memory_avg_mib: np.ndarray
    memory_peak_mib: np.ndarray
    memory_request_mib: np.ndarray
    cpu_demand_cores: np.ndarray
    cpu_request_cores: np.ndarray
    serving: np.ndarray        # (J,) bool
    tolerance: np.ndarray      # (J,) 0 minimal, 1 low, 2 intermediate
    tasks: np.ndarray          # (J,) int
    workloads: tuple

    def __len__(self):
        return len(self.names)


def _splitmix64(x: np.ndarray) -> np.ndarray:
    """The splitmix64 finaliser on uint64 arrays (wrapping arithmetic)."""
    x = (x + np.uint64(0x9E3779B97F4A7C15)).astype(np.uint64)
    x = ((x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)).astype(np.uint64)
    x = ((x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)).astype(np.uint64)
    return x ^ (x >> np.uint64(31))


def uniform_hash(key: np.ndarray, counter: np.ndarray) -> np.ndarray:
    """Uniform [0, 1) numbers from (key, counter) pairs: the same for any batching."""
    with np.errstate(over="ignore"):
        x = _splitmix64(key.astype(np.uint64) ^ _splitmix64(counter.astype(np.uint64)))
    return (x >> np.uint64(11)).astype(np.float64) * (1.0 / 9007199254740992.0)


def peak_model(w: Workload, model: str, ratio: float, sigma: float, seed: int, job_index: int) -> np.ndarray:
    """The window peak memory of ``w`` under the configured model (see the config's docs)."""
    avg = w.memory_usage_mib
    if model == "average":
        return avg.copy()
    if model == "trace":
        if w.memory_peak_mib is None:
            raise ValueError(f"memory_peak_model='trace': workload {w.name!r} ({w.source}) records no window "
                             "peaks (Bitbrains holds 5-minute averages); use 'ratio' or 'lognormal'")
        return np.maximum(w.memory_peak_mib, avg)
    out = avg * (1.0 + ratio)
    if model == "lognormal" and sigma > 0:
        z = np.random.default_rng([seed, job_index]).standard_normal(len(avg))
        out = out * np.exp(sigma * np.abs(z))
    return out


def build_table(workloads, model: str, ratio: float, sigma: float, seed: int) -> JobTable:
    peaks = [peak_model(w, model, ratio, sigma, seed, j) for j, w in enumerate(workloads)]
    lengths = np.asarray([len(w) for w in workloads], dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
    cat = lambda f: np.concatenate([getattr(w, f) for w in workloads])  # noqa: E731
    tol = {"minimal": 0, "low": 1, "intermediate": 2}
    return JobTable(
        names=tuple(w.name for w in workloads), offsets=offsets, lengths=lengths,
        timestamps_s=cat("timestamps_s"), memory_avg_mib=cat("memory_usage_mib"),
        memory_peak_mib=np.concatenate(peaks), memory_request_mib=cat("memory_request_mib"),
        cpu_demand_cores=cat("cpu_usage_cores"), cpu_request_cores=cat("cpu_request_cores"),
        serving=np.asarray([w.job_class == "serving" for w in workloads]),
        tolerance=np.asarray([tol[w.oom_tolerance] for w in workloads], dtype=np.int64),
        tasks=np.asarray([min(int(w.tasks), MAX_TASKS_PER_JOB) for w in workloads], dtype=np.int64),
        workloads=tuple(workloads))


# ------------------------------------------------------------------------------- the core


class RightsizingCore:
    """State of ``n`` jobs and the window physics. Arrays are per job slot (axis 0)."""

    def __init__(self, table: JobTable, cfg, n: int, max_days: int):
        self.table, self.cfg, self.n = table, cfg, n
        self.max_days = max_days
        H = len(HALF_LIVES)
        self.recent_decay = 2.0 ** (-1.0 / RECENT_DECAY_HALF_LIFE)
        self.hist = DecayedQuantiles(n, 2 * H, HALF_LIVES + HALF_LIVES)   # rows 0..H-1 memory, H..2H-1 CPU
        self.recent = np.zeros((n, 2, RECENT_WINDOWS))      # ring buffers of observed memory, CPU
        # Per-slot scalars live in packed arrays (the compiled kernel takes few arguments); the
        # named attributes are column views of them, so numpy code reads and writes them as before.
        self.F = np.zeros((n, K.NF))
        self.I = np.zeros((n, K.NI), dtype=np.int64)
        F, I = self.F, self.I
        self.job, self.pos, self.t = I[:, K.I_JOB], I[:, K.I_POS], I[:, K.I_T]
        self.length, self.start_row = I[:, K.I_LENGTH], I[:, K.I_START_ROW]
        self.down = I[:, K.I_DOWN]                 # windows left down
        self.since_restart, self.since_change = I[:, K.I_SINCE_RESTART], I[:, K.I_SINCE_CHANGE]
        self.under_since = I[:, K.I_UNDER_SINCE]   # window the limit last fell below the peak; -1: covered
        self.tolerance, self.tasks = I[:, K.I_TOLERANCE], I[:, K.I_TASKS]
        self.tasks[:] = 1
        self.key = np.zeros(n, dtype=np.uint64)
        self.mem_limit, self.cpu_limit = F[:, K.F_MEM_LIMIT], F[:, K.F_CPU_LIMIT]
        self.mem_scale, self.cpu_scale = F[:, K.F_MEM_SCALE], F[:, K.F_CPU_SCALE]
        self.mem_scale[:] = 1.0
        self.cpu_scale[:] = 1.0
        self.backlog_core_s = F[:, K.F_BACKLOG]
        self.oom_recent, self.throttle_recent = F[:, K.F_OOM_RECENT], F[:, K.F_THROTTLE_RECENT]
        self.last_mem_obs, self.last_cpu_obs = F[:, K.F_LAST_MEM], F[:, K.F_LAST_CPU]
        self.serving = np.zeros(n, dtype=bool)
        D = max_days
        self.dayf = np.zeros((n, len(K.DAYF), D))
        self.dayi = np.zeros((n, len(K.DAYI), D), dtype=np.int64)
        # rows in the order of kernel.DAYF / kernel.DAYI
        self.day_mem_limit, self.day_cpu_limit, self.day_mem_request = (self.dayf[:, r, :] for r in range(3))
        self.day_windows, self.day_ooms, self.day_changes = (self.dayi[:, r, :] for r in range(3))
        self.T = np.zeros((n, len(K.TOTALS)))
        self.totals = {k: self.T[:, c] for c, k in enumerate(K.TOTALS)}

    # ---------------------------------------------------------------------------- episodes

    def start(self, idx: np.ndarray, job: np.ndarray, row: np.ndarray, length: np.ndarray, key: np.ndarray):
        """Begin episodes in slots ``idx``: job ``job`` from its row ``row`` for ``length`` windows.
        Limits start at the request; nothing is known of the job (no history)."""
        tb = self.table
        self.job[idx], self.start_row[idx], self.length[idx], self.key[idx] = job, row, length, key
        pos = tb.offsets[job] + row
        self.pos[idx], self.t[idx] = pos, 0
        self.mem_limit[idx] = tb.memory_request_mib[pos]
        self.cpu_limit[idx] = tb.cpu_request_cores[pos]
        self.mem_scale[idx] = np.maximum(tb.memory_request_mib[pos], 1e-9)
        self.cpu_scale[idx] = np.maximum(tb.cpu_request_cores[pos], 1e-9)
        self.serving[idx], self.tolerance[idx], self.tasks[idx] = tb.serving[job], tb.tolerance[job], tb.tasks[job]
        for ia in (self.down, self.since_restart, self.since_change):
            ia[idx] = 0
        self.under_since[idx] = -1
        for fa in (self.backlog_core_s, self.oom_recent, self.throttle_recent, self.last_mem_obs, self.last_cpu_obs):
            fa[idx] = 0.0
        self.hist.clear(idx)
        self.recent[idx] = 0.0
        self.dayf[idx] = 0.0
        self.dayi[idx] = 0
        self.T[idx] = 0.0

    # ------------------------------------------------------------------------------- window

    def window(self, idx, mem_limit, cpu_limit) -> dict:
        """Play one window in slots ``idx`` (None: all) with the given limits; returns per-slot arrays."""
        s = slice(None) if idx is None else idx
        cfg, tb = self.cfg, self.table
        pos, t = self.pos[s], self.t[s]
        old_mem, old_cpu = self.mem_limit[s], self.cpu_limit[s]
        mem_changed = mem_limit != old_mem
        cpu_changed = cpu_limit != old_cpu
        increased = (mem_limit > old_mem) | (cpu_limit > old_cpu)
        down = self.down[s]
        tasks = self.tasks[s].astype(np.float64)
        serving = self.serving[s]
        if cfg.eviction_probability > 0:
            u = uniform_hash(self.key[s], t)
            evicted = increased & (down == 0) & (u < cfg.eviction_probability)
        else:
            evicted = np.zeros(len(pos), dtype=bool)
        down = np.where(evicted, max(cfg.restart_windows, 0), down)
        running = down == 0
        down_now = ~running
        # memory
        peak = tb.memory_peak_mib[pos]
        oom = running & (peak > mem_limit)
        mem_obs = np.where(running, np.minimum(peak, mem_limit), 0.0)
        # CPU
        demand = tb.cpu_demand_cores[pos]
        backlog = self.backlog_core_s[s]
        need = demand + backlog / WINDOW_S
        served = np.where(running, np.minimum(need, cpu_limit), 0.0)
        throttled_cores = np.maximum(demand - served, 0.0)
        throttled_core_s = throttled_cores * WINDOW_S
        queue = (~serving) & cfg.throttle_backlog
        new_backlog = np.where(queue, (need - served) * WINDOW_S, 0.0)
        # lost work of batch jobs killed this window
        killed = oom | evicted
        lost = np.where(killed & ~serving,
                        np.minimum(self.since_restart[s], cfg.lost_work_windows) * demand * WINDOW_S, 0.0)
        new_backlog = new_backlog + np.where(queue, lost, 0.0)
        throttled_frac = np.where(demand > 0, throttled_cores / np.where(demand > 0, demand, 1.0), 0.0)
        slo = np.where(serving & (down_now | oom | (throttled_frac > cfg.slo_throttle_fraction)), WINDOW_S / 60.0, 0.0)
        # state updates
        self.backlog_core_s[s] = new_backlog
        nd = np.where(down_now, down - 1, 0)
        nd = np.where(oom, cfg.restart_windows, nd)
        self.down[s] = nd
        self.since_restart[s] = np.where(killed, 0, np.where(running, self.since_restart[s] + 1, 0))
        changed = mem_changed | cpu_changed
        self.since_change[s] = np.where(changed, 0, self.since_change[s] + 1)
        self.mem_limit[s], self.cpu_limit[s] = mem_limit, cpu_limit
        rd = self.recent_decay
        self.oom_recent[s] = self.oom_recent[s] * rd + oom
        self.throttle_recent[s] = self.throttle_recent[s] * rd + (throttled_frac > cfg.slo_throttle_fraction)
        cpu_obs = served
        self.last_mem_obs[s], self.last_cpu_obs[s] = mem_obs, cpu_obs
        self._observe(s, running, mem_obs, cpu_obs, t)
        # accounting per job-day
        day = np.minimum(t // WINDOWS_PER_DAY, self.max_days - 1)
        rows = np.arange(self.n)[s]
        self.day_mem_limit[rows, day] += mem_limit
        self.day_cpu_limit[rows, day] += cpu_limit
        self.day_windows[rows, day] += 1
        self.day_ooms[rows, day] += oom * self.tasks[s]
        self.day_changes[rows, day] += changed
        mem_request = tb.memory_request_mib[pos]
        self.day_mem_request[rows, day] += mem_request
        tot = self.totals
        tot["ooms"][s] += oom * tasks
        tot["evictions"][s] += evicted * tasks
        tot["throttled_core_s"][s] += throttled_core_s * tasks
        tot["cpu_demand_core_s"][s] += demand * WINDOW_S * tasks
        tot["slo_violation_minutes"][s] += slo
        tot["lost_work_core_s"][s] += lost * tasks
        tot["mem_saved_mib_windows"][s] += (mem_request - mem_limit) * tasks
        tot["mem_changes"][s] += mem_changed
        tot["cpu_changes"][s] += cpu_changed
        # reaction time: from the first window whose peak exceeds the limit to the first that covers it
        under = peak > mem_limit
        us = self.under_since[s]
        covered = ~under & (us >= 0)
        tot["reaction_windows"][s] += np.where(covered, t - us, 0)
        tot["reaction_events"][s] += covered
        self.under_since[s] = np.where(under, np.where(us < 0, t, us), -1)
        self.pos[s] = pos + 1
        self.t[s] = t + 1
        mem_slack = np.where(running & (mem_limit > peak), (mem_limit - peak) / np.maximum(mem_limit, 1e-12), 0.0)
        cpu_slack = np.where(running & (cpu_limit > demand), (cpu_limit - demand) / np.maximum(cpu_limit, 1e-12), 0.0)
        hours = WINDOW_S / 3600.0
        return {
            "memory_slack_fraction": mem_slack,
            "memory_overrun": oom.astype(np.float64),
            "oom_kills": oom * tasks,
            "memory_limit_change": mem_changed.astype(np.float64),
            "cpu_slack_fraction": cpu_slack,
            "throttled_fraction": throttled_frac,
            "cpu_limit_change": cpu_changed.astype(np.float64),
            "slo_violation_minutes": slo,
            "evictions": evicted * tasks,
            "lost_work_core_s": lost * tasks,
            "memory_slack_machine_hours": np.maximum(mem_limit - peak, 0.0) * tasks / cfg.machine_memory_mib * hours,
            "cpu_slack_machine_hours": np.maximum(cpu_limit - demand, 0.0) * tasks / cfg.machine_cores * hours,
            # not reward components, the window's physical state
            "_peak": peak, "_demand": demand, "_served": served, "_running": running, "_pos": pos,
        }

    def _observe(self, s, running, mem_obs, cpu_obs, t):
        H = len(HALF_LIVES)
        k = np.empty((len(mem_obs), 2 * H), dtype=np.int64)
        k[:, :H] = _bucket(mem_obs / self.mem_scale[s])[:, None]
        k[:, H:] = _bucket(cpu_obs / self.cpu_scale[s])[:, None]
        self.hist.add(s, k, running)
        slot = t % RECENT_WINDOWS
        rows = np.arange(self.n)[s]
        self.recent[rows, 0, slot] = mem_obs
        self.recent[rows, 1, slot] = cpu_obs

    # ---------------------------------------------------------------------------- statistics

    def quantile_buckets(self, s=slice(None)) -> np.ndarray:
        """(n, 2H, len(QUANTILES) + 1) bucket index of p50, p90, p95, p98 and the decayed max
        (highest bucket holding at least 1% of a fresh sample's weight) of every histogram."""
        return self.hist.stats(s)

    def recent_max(self, s=slice(None)) -> np.ndarray:
        """(n, 2) maximum observed memory (MiB) and CPU (cores) over the last hour."""
        return self.recent[s].max(axis=2)


class DecayedQuantiles:
    """Exponentially decaying histograms with their quantiles tracked incrementally.

    Decay is implicit: a sample added at window ``t`` weighs ``g^t`` (``g = 2^(1/half-life)``)
    instead of every older weight shrinking by ``1/g`` each window, so a window costs O(1) per
    histogram rather than O(buckets). Weights are renormalised by an exact power of two when the
    running scale grows large. Each quantile keeps its bucket ``k`` and the weight below it; a
    new sample moves ``k`` by the few buckets needed (the quantile is the first bucket where the
    cumulative weight reaches ``q`` of the total, as ``cumsum`` would give). The "max" is the
    highest bucket whose weight is still >= 1% of a fresh sample's.
    """

    RENORM = 2.0 ** 400
    STEPS = 3   # incremental moves per window before an exact recompute of the entries still moving

    def __init__(self, n: int, m: int, half_lives):
        self.n, self.m = n, m
        self.g = np.exp2(1.0 / np.asarray(half_lives, dtype=np.float64))[None, :]
        self.q = np.asarray(QUANTILES)[None, None, :]
        Q = len(QUANTILES)
        self.w = np.zeros((n, m, BUCKETS))
        self.scale = np.ones((n, m))
        self.total = np.zeros((n, m))
        self.kq = np.zeros((n, m, Q), dtype=np.int64)
        self.below = np.zeros((n, m, Q))
        self.top = np.zeros((n, m), dtype=np.int64)

    def clear(self, idx):
        self.w[idx] = 0.0
        self.scale[idx] = 1.0
        self.total[idx] = 0.0
        self.kq[idx] = 0
        self.below[idx] = 0.0
        self.top[idx] = 0

    def add(self, s, k: np.ndarray, weight_on: np.ndarray):
        """Age slots ``s`` by one window and add one sample at bucket ``k[:, j]`` of histogram
        ``j`` where ``weight_on``. (Flat indices: numpy's broadcast fancy indexing is slow.)"""
        rows = np.arange(self.n)[s]
        m = self.m
        W = self.w.reshape(-1)
        base = (rows[:, None] * m + np.arange(m)[None, :]) * BUCKETS          # (r, m)
        scale = self.scale[rows] * self.g
        big = scale > self.RENORM
        if big.any():
            r, j = np.nonzero(big)
            rr = rows[r]
            f = 1.0 / self.RENORM
            self.w[rr, j] *= f
            self.total[rr, j] *= f
            self.below[rr, j] *= f
            scale[r, j] *= f
        self.scale[rows] = scale
        add = np.where(weight_on[:, None], scale, 0.0)
        W[base + k] += add
        total = self.total[rows] + add
        self.total[rows] = total
        kq = self.kq[rows]
        below = self.below[rows] + np.where(k[:, :, None] < kq, add[:, :, None], 0.0)
        target = self.q * total[:, :, None]
        bq = np.broadcast_to(base[:, :, None], kq.shape).reshape(-1)
        kq, below, target = kq.reshape(-1), below.reshape(-1), target.reshape(-1)
        # Move each quantile up while the cumulative weight through its bucket is short of q,
        # down while the weight below it already reaches q. Only entries that moved in the last
        # round can move again, so later rounds touch just those (gathers from W dominate).
        active = np.arange(len(kq))
        for _ in range(self.STEPS):
            kk, bb, tt = kq[active], below[active], target[active]
            wk = W[bq[active] + kk]
            up = (bb + wk < tt) & (kk < BUCKETS - 1)
            down = (kk > 0) & (bb >= tt)
            moved = up | down
            if not moved.any():
                active = active[:0]
                break
            bb = np.where(up, bb + wk, bb)
            kk = kk + up - down
            d = np.flatnonzero(down)
            bb[d] = bb[d] - W[bq[active[d]] + kk[d]]
            kq[active], below[active] = kk, bb
            active = active[moved]
        if len(active):
            kk, bb, tt = kq[active], below[active], target[active]
            wk = W[bq[active] + kk]
            far = ((bb + wk < tt) & (kk < BUCKETS - 1)) | ((kk > 0) & (bb >= tt))
            if far.any():   # a big move (new job, step change): recompute those exactly
                f = active[far]
                hist = W.reshape(-1, BUCKETS)[bq[f] // BUCKETS]
                cum = np.cumsum(hist.T, axis=0).T    # row-wise running sums, vectorised across rows
                kk = np.minimum((cum < target[f][:, None]).sum(axis=1), BUCKETS - 1)
                kq[f] = kk
                ar = np.arange(len(kk))
                below[f] = cum[ar, kk] - hist[ar, kk]
        kq, below = kq.reshape(len(rows), m, -1), below.reshape(len(rows), m, -1)
        self.kq[rows], self.below[rows] = kq, below
        old_top = self.top[rows]
        top = np.where(weight_on[:, None] & (k > old_top), k, old_top).reshape(-1)
        thresh = (0.01 * scale).reshape(-1)
        bt = base.reshape(-1)
        active = np.arange(len(top))
        for _ in range(self.STEPS):
            tp = top[active]
            down = (tp > 0) & (W[bt[active] + tp] < thresh[active])
            if not down.any():
                active = active[:0]
                break
            active = active[down]
            top[active] = top[active] - 1
        if len(active):
            tp = top[active]
            down = (tp > 0) & (W[bt[active] + tp] < thresh[active])
            if down.any():
                f = active[down]
                present = W.reshape(-1, BUCKETS)[bt[f] // BUCKETS] >= thresh[f][:, None]
                top[f] = np.where(present.any(axis=1), BUCKETS - 1 - np.argmax(present[:, ::-1], axis=1), 0)
        self.top[rows] = top.reshape(len(rows), m)

    def stats(self, s) -> np.ndarray:
        return np.concatenate([self.kq[s], self.top[s][:, :, None]], axis=2)


def _bucket(ratio: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore"):
        k = np.floor(np.log(np.maximum(ratio, 1e-300) / BUCKET_FIRST) / _LOG_GROWTH)
    return np.clip(k, 0, BUCKETS - 1).astype(np.int64)


def log2_edges(k: np.ndarray) -> np.ndarray:
    """log2 of the (relative) upper edge of buckets ``k``."""
    return _LOG2_EDGES[k]
