"""What the rightsizing env and its vectorised twin share: the action menu, the observation, the
reward, per-step info and the per-episode (job-day) metrics, all over ``n`` job slots.

The single env is this engine with ``n = 1``; the twin is the same engine with ``n = num_envs``.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from gymnasium import spaces

from ...reward import list_rewards, register_reward, resolve
from ...reward.registry import RewardFn
from .config import RightsizingConfig
from .sim import (EDGE_VALUES, HALF_LIVES, LOG2_HIGH, LOG2_LOW, QUANTILES, JobTable, RightsizingCore,
                  build_table, log2_edges)
from .workloads import WINDOWS_PER_DAY, load_workloads

# ----------------------------------------------------------------------------------- actions

#: memory choices: 0 hold; then "last hour's peak x f" for RECENT_FACTORS; then "p98 of the
#: 48 h-half-life histogram x f" for LONG_FACTORS (Autopilot's low-tolerance statistic)
MEMORY_RECENT_FACTORS = (1.05, 1.1, 1.2, 1.35, 1.5, 2.0)
MEMORY_LONG_FACTORS = (1.1, 1.25, 1.5)
#: CPU choices: 0 hold; then "last hour's served CPU peak x f"
CPU_RECENT_FACTORS = (1.2, 1.5, 2.5)
N_MEMORY = 1 + len(MEMORY_RECENT_FACTORS) + len(MEMORY_LONG_FACTORS)
N_CPU = 1 + len(CPU_RECENT_FACTORS)
N_ACTIONS = N_MEMORY * N_CPU
_P98, _H48 = QUANTILES.index(0.98), HALF_LIVES.index(576)
_EDGES = EDGE_VALUES.tolist()

REWARD_COMPONENTS = {
    "memory_slack_fraction": "(limit - window peak) / limit while running and above the peak (Autopilot's underrun)",
    "memory_overrun": "1 when the window's peak exceeded the memory limit (an OOM kill; Autopilot's overrun)",
    "oom_kills": "tasks OOM-killed in the window",
    "memory_limit_change": "1 when the memory limit changed",
    "cpu_slack_fraction": "(limit - CPU demand) / limit while running and above demand",
    "throttled_fraction": "CPU demand not served in its window / demand",
    "cpu_limit_change": "1 when the CPU limit changed",
    "slo_violation_minutes": "serving jobs: minutes of the window down or throttled beyond slo_throttle_fraction",
    "evictions": "tasks rescheduled because a limit increase did not fit",
    "lost_work_core_s": "batch jobs: CPU work lost at kills, core-seconds (re-queued)",
    "memory_slack_machine_hours": "unused memory limit x tasks in reference-machine hours",
    "cpu_slack_machine_hours": "unused CPU limit x tasks in reference-machine hours",
}

REWARD_PRESETS = {
    "rightsizing": ({"memory_slack_fraction": -1.0, "memory_overrun": -200.0, "memory_limit_change": -0.3,
                     "cpu_slack_fraction": -0.2, "throttled_fraction": -2.0, "cpu_limit_change": -0.1},
                    "cluster default: relative memory slack per window vs an OOM worth 200 windows of full "
                    "slack, throttling, limit changes"),
    "autopilot_cost": ({"memory_overrun": -0.5, "memory_slack_fraction": -0.25, "memory_limit_change": -0.1,
                        "throttled_fraction": -0.5, "cpu_slack_fraction": -0.25, "cpu_limit_change": -0.1},
                       "Autopilot ML cost (eqs. 6/8): w_o 0.5 overrun + w_u 0.25 underrun + w_dL 0.1 change, "
                       "weights of the public re-implementation, per 5-minute window"),
    "machine_cost": ({"memory_slack_machine_hours": -1.0, "cpu_slack_machine_hours": -1.0, "oom_kills": -0.5,
                      "slo_violation_minutes": -0.01, "evictions": -0.25},
                     "machine-hours of slack, an OOM kill worth 0.5 machine-hours, an SLO minute 0.01"),
}


def register_presets() -> None:
    """Register the presets when the env is used without the family (idempotent)."""
    known = list_rewards()
    for name, (weights, doc) in REWARD_PRESETS.items():
        if name not in known:
            register_reward(name, weights, domain="cluster", description=doc)


# ------------------------------------------------------------------------------- observation

OBS_FIELDS = (
    [f"memory_{h // 12}h_{q}" for h in HALF_LIVES for q in ("p50", "p90", "p95", "p98", "max")]
    + [f"cpu_{h // 12}h_{q}" for h in HALF_LIVES for q in ("p50", "p90", "p95", "p98", "max")]
    + ["memory_last", "memory_1h_max", "memory_limit", "memory_request", "memory_headroom",
       "cpu_last", "cpu_1h_max", "cpu_limit", "cpu_request", "cpu_headroom",
       "oom_recent", "throttled_recent", "down",
       "hour_sin", "hour_cos", "weekday_sin", "weekday_cos",
       "job_age_days_log2", "batch", "tolerance_minimal", "tolerance_low", "tolerance_intermediate",
       "tasks_log2", "since_change_log2"]
)
OBS_DIM = len(OBS_FIELDS)
OBS_BOUND = 64.0


@dataclass(frozen=True, eq=False)
class Setup:
    config: RightsizingConfig
    table: JobTable
    reward_fn: RewardFn
    weights: tuple | None
    max_windows: int
    max_days: int
    action_space: spaces.Discrete
    observation_space: spaces.Box


@functools.lru_cache(maxsize=16)
def _cached_table(workloads, count, seed, days, job_class, tolerance, peak_model, ratio, sigma, peak_seed):
    ws = load_workloads(workloads, seed=seed, count=count, days=days, job_class=job_class, oom_tolerance=tolerance)
    for w in ws:
        if len(w) < 2:
            raise ValueError(f"{w.source or w.name}: a job needs at least 2 windows, got {len(w)}")
    return build_table(ws, peak_model, ratio, sigma, peak_seed)


def build(cfg: RightsizingConfig) -> Setup:
    register_presets()
    table = _cached_table(cfg.workloads, cfg.synthetic_count, cfg.synthetic_seed, cfg.synthetic_days, cfg.job_class,
                          cfg.oom_tolerance, cfg.memory_peak_model, cfg.memory_peak_ratio, cfg.memory_peak_sigma,
                          cfg.memory_peak_seed)
    fn = resolve(cfg.reward, tuple(REWARD_COMPONENTS), domain="cluster")
    weights = tuple(fn.weights) if hasattr(fn, "weights") else None
    max_len = int(table.lengths.max())
    if cfg.episode_days is not None:
        max_len = min(max_len, max(2, int(round(cfg.episode_days * WINDOWS_PER_DAY))))
    return Setup(cfg, table, fn, weights, max_len, max(1, math.ceil(max_len / WINDOWS_PER_DAY)),
                 spaces.Discrete(N_ACTIONS),
                 spaces.Box(-OBS_BOUND, OBS_BOUND, (OBS_DIM,), dtype=np.float32))


# ------------------------------------------------------------------------------- episode draw


def check_job_index(setup: Setup, job_index) -> None:
    """``reset(options={"job_index": k})`` checked before the env changes anything."""
    J = len(setup.table)
    if isinstance(job_index, bool) or not isinstance(job_index, (int, np.integer)) or not 0 <= job_index < J:
        raise ValueError(f"reset option job_index: expected an integer in [0, {J}), got {job_index!r}")


def draw_episode(setup: Setup, rng: np.random.Generator, job_index, next_job: int):
    """(job, start row, windows, eviction key) for one episode, drawn in a fixed order from ``rng``;
    shared by the single env and the twin so equal seeds give equal episodes."""
    cfg, tb = setup.config, setup.table
    J = len(tb)
    if job_index is not None:
        check_job_index(setup, job_index)
        job = int(job_index)
    elif cfg.job_order == "sequential":
        job = next_job % J
    else:
        job = int(rng.integers(J))
    n = int(tb.lengths[job])
    length = n if cfg.episode_days is None else min(n, max(2, int(round(cfg.episode_days * WINDOWS_PER_DAY))))
    row = int(rng.integers(0, n - length + 1)) if cfg.random_start else 0
    # Evictions are a property of the episode (job, start window), not of the generator, so a
    # test-protocol episode plays the same whichever env or seed plays it.
    key = (job * 1_000_003 + row) * 2654435761 % (2**63 - 1)
    return job, row, length, key


# ---------------------------------------------------------------------------------- engine


class Engine:
    """The batched env logic over ``n`` slots (see the module docstring)."""

    def __init__(self, setup: Setup, n: int, single: bool = False):
        self.setup, self.n = setup, n
        self.single = single and n == 1   # the single env's scalar fast path (same arithmetic)
        self.core = RightsizingCore(setup.table, setup.config, n, setup.max_days)
        self.reward_acc = np.zeros(n)
        self.steps = np.zeros(n, dtype=np.int64)
        self._mem_targets = np.zeros((n, N_MEMORY))
        self._mem_f = np.asarray(MEMORY_RECENT_FACTORS)[None, :]
        self._long_f = np.asarray(MEMORY_LONG_FACTORS)[None, :]
        self._cpu_f = np.asarray(CPU_RECENT_FACTORS)[None, :]
        self._obs = np.zeros((n, OBS_DIM), dtype=np.float32)
        self._stats: Any = None  # int64 array of per-slot statistics, allocated on first use

    # --------------------------------------------------------------------------- episodes

    def start(self, idx: np.ndarray, draws) -> dict:
        """Start episodes in slots ``idx`` (draws: list of draw_episode tuples); plays window 0
        at the request (the job's first five minutes, before any decision)."""
        c = self.core
        job = np.asarray([d[0] for d in draws], dtype=np.int64)
        row = np.asarray([d[1] for d in draws], dtype=np.int64)
        length = np.asarray([d[2] for d in draws], dtype=np.int64)
        key = np.asarray([d[3] for d in draws], dtype=np.uint64)
        c.start(idx, job, row, length, key)
        self.reward_acc[idx] = 0.0
        self.steps[idx] = 0
        if self.single:
            out = c.window_one(float(c.mem_limit[0]), float(c.cpu_limit[0]))
            self._observe_one()
            return out
        out = c.window(idx, c.mem_limit[idx].copy(), c.cpu_limit[idx].copy())
        self._observe(idx)
        return out

    # ------------------------------------------------------------------------------ actions

    def targets(self, s) -> tuple[np.ndarray, np.ndarray]:
        """(n, N_MEMORY) memory and (n, N_CPU) CPU limits each choice would set (hold = current)."""
        c, cfg = self.core, self.setup.config
        recent = c.recent_max(s)
        stats = self._stats[s]
        mem_long = c.mem_scale[s] * EDGE_VALUES[stats[:, _H48, _P98]]
        mem = np.empty((recent.shape[0], N_MEMORY))
        mem[:, 0] = c.mem_limit[s]
        k = 1 + len(MEMORY_RECENT_FACTORS)
        mem[:, 1:k] = recent[:, 0:1] * self._mem_f
        mem[:, k:] = mem_long[:, None] * self._long_f
        mem[:, 1:] = np.clip(mem[:, 1:], cfg.min_memory_limit_mib, cfg.machine_memory_mib)
        cpu = np.empty((recent.shape[0], N_CPU))
        cpu[:, 0] = c.cpu_limit[s]
        cpu[:, 1:] = np.clip(recent[:, 1:2] * self._cpu_f, cfg.min_cpu_limit_cores, cfg.machine_cores)
        return mem, cpu

    def limits_from_actions(self, s, a: np.ndarray):
        mem_t, cpu_t = self.targets(s)
        m, k = a // N_CPU, a % N_CPU
        r = np.arange(len(a))
        mem, cpu = mem_t[r, m], cpu_t[r, k]
        cfg = self.setup.config
        up, down = cfg.change_deadband, cfg.lower_deadband
        old_m, old_c = self.core.mem_limit[s], self.core.cpu_limit[s]
        mem = np.where((mem <= old_m * (1.0 + up)) & (mem > old_m * (1.0 - down)), old_m, mem)
        cpu = np.where((cpu <= old_c * (1.0 + up)) & (cpu > old_c * (1.0 - down)), old_c, cpu)
        return mem, cpu, mem_t

    def nearest_action(self, slot: int, memory_limit_mib: float, cpu_limit_cores: float) -> int:
        """The discrete action whose limits are closest (in log) to the given ones (for cloning
        rule baselines into the agent's action space)."""
        s = np.asarray([slot])
        mem_t, cpu_t = self.targets(s)
        old_m, old_c = self.core.mem_limit[slot], self.core.cpu_limit[slot]
        m = 0 if memory_limit_mib == old_m else int(np.argmin(np.abs(np.log(mem_t[0] / memory_limit_mib))))
        k = 0 if cpu_limit_cores == old_c else int(np.argmin(np.abs(np.log(cpu_t[0] / cpu_limit_cores))))
        return m * N_CPU + k

    # ------------------------------------------------------------------------------ stepping

    def step(self, idx, mem_limit, cpu_limit, mem_targets=None):
        """One window in slots ``idx`` (None: all). Returns reward, terminated, truncated and
        the window's arrays (reward components and state)."""
        c = self.core
        s = slice(None) if idx is None else idx
        out = c.window(idx, mem_limit, cpu_limit)
        setup = self.setup
        if setup.weights is not None:
            reward = np.zeros(len(mem_limit))
            for key, w in setup.weights:
                reward = reward + w * out[key]
        else:
            reward = None   # the caller evaluates the callable
        self.steps[s] += 1
        ended = c.t[s] >= c.length[s]
        trace_end = (c.start_row[s] + c.length[s]) >= self.setup.table.lengths[c.job[s]]
        terminated = ended & trace_end
        truncated = ended & ~trace_end
        if mem_targets is not None and setup.config.counterfactual_info:
            peak, running = out["_peak"], out["_running"]
            over = running[:, None] & (peak[:, None] > mem_targets)
            out["cf_limit"] = mem_targets
            out["cf_overrun"] = over.astype(np.float64)
            out["cf_slack"] = np.where(running[:, None] & ~over, (mem_targets - peak[:, None]) / mem_targets, 0.0)
        self._observe(idx)
        return reward, terminated, truncated, out

    # --------------------------------------------------------------------------- observation

    def _observe(self, idx):
        c = self.core
        s = slice(None) if idx is None else idx
        stats = c.quantile_buckets(s)                      # (m, 2H, 5)
        if self._stats is None:
            self._stats = np.zeros((self.n,) + stats.shape[1:], dtype=np.int64)
        self._stats[s] = stats
        m = stats.shape[0]
        o = np.empty((m, OBS_DIM))
        H = len(HALF_LIVES)
        o[:, :10 * H] = log2_edges(stats.reshape(m, -1))
        j = 10 * H
        recent = c.recent_max(s)
        ms, cs = c.mem_scale[s], c.cpu_scale[s]
        tb = self.setup.table
        pos = np.minimum(c.pos[s], len(tb.timestamps_s) - 1)
        with np.errstate(divide="ignore"):
            o[:, j + 0] = np.log2(c.last_mem_obs[s] / ms)
            o[:, j + 1] = np.log2(recent[:, 0] / ms)
            o[:, j + 2] = np.log2(c.mem_limit[s] / ms)
            o[:, j + 3] = np.log2(tb.memory_request_mib[pos] / ms)
            o[:, j + 4] = np.log2(c.mem_limit[s] / np.maximum(recent[:, 0], 1e-9))
            o[:, j + 5] = np.log2(c.last_cpu_obs[s] / cs)
            o[:, j + 6] = np.log2(recent[:, 1] / cs)
            o[:, j + 7] = np.log2(c.cpu_limit[s] / cs)
            o[:, j + 8] = np.log2(tb.cpu_request_cores[pos] / cs)
            o[:, j + 9] = np.log2(c.cpu_limit[s] / np.maximum(recent[:, 1], 1e-9))
        np.clip(o[:, :j + 10], LOG2_LOW, LOG2_HIGH, out=o[:, :j + 10])
        j += 10
        o[:, j] = c.oom_recent[s]
        o[:, j + 1] = c.throttle_recent[s] / 10.0
        o[:, j + 2] = c.down[s] > 0
        ts = tb.timestamps_s[pos]
        hour = (ts % 86400) / 86400.0 * 2 * np.pi
        wd = ((ts // 86400 + 3) % 7) / 7.0 * 2 * np.pi
        o[:, j + 3], o[:, j + 4] = np.sin(hour), np.cos(hour)
        o[:, j + 5], o[:, j + 6] = np.sin(wd), np.cos(wd)
        o[:, j + 7] = np.log2(1.0 + c.t[s] / WINDOWS_PER_DAY)
        o[:, j + 8] = ~c.serving[s]
        tol = c.tolerance[s]
        o[:, j + 9], o[:, j + 10], o[:, j + 11] = tol == 0, tol == 1, tol == 2
        o[:, j + 12] = np.log2(c.tasks[s]) / 10.0
        o[:, j + 13] = np.log2(1.0 + c.since_change[s]) / 10.0
        np.clip(o, -OBS_BOUND, OBS_BOUND, out=o)
        self._obs[s] = o

    # ------------------------------------------------------------------- one slot, scalars

    def targets_one(self) -> tuple[list, list]:
        """:meth:`targets` of slot 0 as lists of floats (the same arithmetic)."""
        c, cfg = self.core, self.setup.config
        rm, rc = float(c.recent[0, 0].max()), float(c.recent[0, 1].max())
        mem_long = float(c.mem_scale[0]) * _EDGES[int(self._stats[0, _H48, _P98])]
        lo, hi = cfg.min_memory_limit_mib, cfg.machine_memory_mib
        mem = [float(c.mem_limit[0])]
        mem += [min(max(rm * f, lo), hi) for f in MEMORY_RECENT_FACTORS]
        mem += [min(max(mem_long * f, lo), hi) for f in MEMORY_LONG_FACTORS]
        lo, hi = cfg.min_cpu_limit_cores, cfg.machine_cores
        cpu = [float(c.cpu_limit[0])] + [min(max(rc * f, lo), hi) for f in CPU_RECENT_FACTORS]
        return mem, cpu

    def limits_one(self, a: int):
        mem_t, cpu_t = self.targets_one()
        m, k = divmod(a, N_CPU)
        mem, cpu = mem_t[m], cpu_t[k]
        cfg = self.setup.config
        up, down = cfg.change_deadband, cfg.lower_deadband
        old_m, old_c = mem_t[0], cpu_t[0]
        if mem <= old_m * (1.0 + up) and mem > old_m * (1.0 - down):
            mem = old_m
        if cpu <= old_c * (1.0 + up) and cpu > old_c * (1.0 - down):
            cpu = old_c
        return mem, cpu, mem_t

    def step_one(self, mem_limit: float, cpu_limit: float, mem_targets=None):
        """:meth:`step` of slot 0 with Python scalars."""
        c = self.core
        out = c.window_one(mem_limit, cpu_limit)
        setup = self.setup
        reward = None
        if setup.weights is not None:
            reward = 0.0
            for key, w in setup.weights:
                reward = reward + w * out[key]
        self.steps[0] += 1
        ended = c.t[0] >= c.length[0]
        trace_end = (c.start_row[0] + c.length[0]) >= self.setup.table.lengths[c.job[0]]
        if mem_targets is not None and setup.config.counterfactual_info:
            mt = np.asarray(mem_targets)
            peak, running = out["_peak"], out["_running"]
            over = running & (peak > mt)
            out["cf_limit"] = mt
            out["cf_overrun"] = over.astype(np.float64)
            out["cf_slack"] = np.where(running & ~over, (mt - peak) / mt, 0.0)
        self._observe_one()
        return reward, bool(ended and trace_end), bool(ended and not trace_end), out

    def _observe_one(self):
        c = self.core
        H = len(HALF_LIVES)
        st = np.concatenate([c.hist.kq[0], c.hist.top[0][:, None]], axis=1)
        if self._stats is None:
            self._stats = np.zeros((self.n,) + st.shape, dtype=np.int64)
        self._stats[0] = st
        tb = self.setup.table
        pos = min(int(c.pos[0]), len(tb.timestamps_s) - 1)
        ms, cs = float(c.mem_scale[0]), float(c.cpu_scale[0])
        rm, rc = float(c.recent[0, 0].max()), float(c.recent[0, 1].max())
        ml, cl = float(c.mem_limit[0]), float(c.cpu_limit[0])
        o = np.empty(OBS_DIM)
        j = 10 * H
        o[:j] = log2_edges(st.reshape(-1))
        with np.errstate(divide="ignore"):
            o[j:j + 10] = np.log2(np.asarray([
                float(c.last_mem_obs[0]) / ms, rm / ms, ml / ms, float(tb.memory_request_mib[pos]) / ms,
                ml / max(rm, 1e-9), float(c.last_cpu_obs[0]) / cs, rc / cs, cl / cs,
                float(tb.cpu_request_cores[pos]) / cs, cl / max(rc, 1e-9)]))
        np.clip(o[:j + 10], LOG2_LOW, LOG2_HIGH, out=o[:j + 10])
        j += 10
        o[j] = float(c.oom_recent[0])
        o[j + 1] = float(c.throttle_recent[0]) / 10.0
        o[j + 2] = float(c.down[0] > 0)
        ts = int(tb.timestamps_s[pos])
        hour = (ts % 86400) / 86400.0 * 2 * np.pi
        wd = ((ts // 86400 + 3) % 7) / 7.0 * 2 * np.pi
        sn, cn = np.sin(np.asarray([hour, wd])), np.cos(np.asarray([hour, wd]))
        o[j + 3], o[j + 4], o[j + 5], o[j + 6] = sn[0], cn[0], sn[1], cn[1]
        lg = np.log2(np.asarray([1.0 + int(c.t[0]) / WINDOWS_PER_DAY, float(c.tasks[0]),
                                 1.0 + int(c.since_change[0])]))
        o[j + 7] = lg[0]
        o[j + 8] = float(not c.serving[0])
        tol = int(c.tolerance[0])
        o[j + 9], o[j + 10], o[j + 11] = float(tol == 0), float(tol == 1), float(tol == 2)
        o[j + 12] = lg[1] / 10.0
        o[j + 13] = lg[2] / 10.0
        np.clip(o, -OBS_BOUND, OBS_BOUND, out=o)
        self._obs[0] = o

    def step_info_one(self, out) -> dict:
        """:meth:`step_info` of slot 0 as Python scalars."""
        c, tb = self.core, self.setup.table
        pos = min(int(c.pos[0]), len(tb.timestamps_s) - 1)
        info = {
            "memory_usage_mib": float(c.last_mem_obs[0]),
            "cpu_usage_cores": float(c.last_cpu_obs[0]),
            "oom": out["memory_overrun"] > 0,
            "throttled_fraction": out["throttled_fraction"],
            "running": out["_running"],
            "memory_limit_mib": float(c.mem_limit[0]),
            "cpu_limit_cores": float(c.cpu_limit[0]),
            "memory_request_mib": float(tb.memory_request_mib[pos]),
            "cpu_request_cores": float(tb.cpu_request_cores[pos]),
            "timestamp_s": int(tb.timestamps_s[pos]),
            "job_age_windows": int(c.t[0]),
            "down_windows": int(c.down[0]),
            "tasks": int(c.tasks[0]),
            "serving": bool(c.serving[0]),
            "oom_tolerance": int(c.tolerance[0]),
            "job_index": int(c.job[0]),
        }
        if "cf_limit" in out:
            info["counterfactual_memory_limit_mib"] = out["cf_limit"]
            info["counterfactual_memory_overrun"] = out["cf_overrun"]
            info["counterfactual_memory_slack_fraction"] = out["cf_slack"]
        return info

    @property
    def obs(self) -> np.ndarray:
        return self._obs

    # ----------------------------------------------------------------------------- info

    def step_info(self, s, out) -> dict:
        """Per-step info values (arrays over the slots ``s``)."""
        c, tb = self.core, self.setup.table
        pos = np.minimum(c.pos[s], len(tb.timestamps_s) - 1)
        info = {
            "memory_usage_mib": c.last_mem_obs[s].copy(),
            "cpu_usage_cores": c.last_cpu_obs[s].copy(),
            "oom": out["memory_overrun"] > 0,
            "throttled_fraction": out["throttled_fraction"],
            "running": out["_running"],
            "memory_limit_mib": c.mem_limit[s].copy(),
            "cpu_limit_cores": c.cpu_limit[s].copy(),
            "memory_request_mib": tb.memory_request_mib[pos],
            "cpu_request_cores": tb.cpu_request_cores[pos],
            "timestamp_s": tb.timestamps_s[pos],
            "job_age_windows": c.t[s].copy(),
            "down_windows": c.down[s].copy(),
            "tasks": c.tasks[s].copy(),
            "serving": c.serving[s].copy(),
            "oom_tolerance": c.tolerance[s].copy(),
            "job_index": c.job[s].copy(),
        }
        if "cf_limit" in out:
            info["counterfactual_memory_limit_mib"] = out["cf_limit"]
            info["counterfactual_memory_overrun"] = out["cf_overrun"]
            info["counterfactual_memory_slack_fraction"] = out["cf_slack"]
        return info

    # ---------------------------------------------------------------------------- metrics

    def episode_metrics(self, i: int) -> dict:
        """Autopilot's per-job-day metrics of the episode that just ended in slot ``i``."""
        c, tb, cfg = self.core, self.setup.table, self.setup.config
        job, length = int(c.job[i]), int(c.length[i])
        base = int(tb.offsets[job] + c.start_row[i])
        days = max(1, math.ceil(length / WINDOWS_PER_DAY))
        mem_slack, cpu_slack, changes, ooms_day = [], [], [], []
        new_sum = new_n = est_sum = est_n = 0.0
        for d in range(min(days, c.max_days)):
            w = int(c.day_windows[i, d])
            if w == 0 or (w < WINDOWS_PER_DAY // 2 and days > 1):
                continue
            rows = slice(base + d * WINDOWS_PER_DAY, base + d * WINDOWS_PER_DAY + w)
            mean_mem = c.day_mem_limit[i, d] / w
            mean_cpu = c.day_cpu_limit[i, d] / w
            ms = (mean_mem - float(np.percentile(tb.memory_peak_mib[rows], 95))) / mean_mem
            cs = (mean_cpu - float(np.percentile(tb.cpu_demand_cores[rows], 95))) / mean_cpu
            mem_slack.append(ms)
            cpu_slack.append(cs)
            changes.append(int(c.day_changes[i, d]))
            ooms_day.append(int(c.day_ooms[i, d]))
            if d < 2:
                new_sum, new_n = new_sum + ms, new_n + 1
            if d >= 7:
                est_sum, est_n = est_sum + ms, est_n + 1
        tot = {k: float(v[i]) for k, v in c.totals.items()}
        tasks = int(c.tasks[i])
        task_days = tasks * length / WINDOWS_PER_DAY
        n_days = len(mem_slack)
        hours = 300.0 / 3600.0
        nan = math.nan
        return {
            "job_index": job,
            "memory_slack_mean": float(np.mean(mem_slack)) if n_days else nan,
            "memory_slack_median": float(np.median(mem_slack)) if n_days else nan,
            "cpu_slack_mean": float(np.mean(cpu_slack)) if n_days else nan,
            "oom_per_task_day": tot["ooms"] / task_days,
            "oom_free_day_fraction": float(np.mean(np.asarray(ooms_day) == 0)) if n_days else nan,
            "throttled_fraction": (tot["throttled_core_s"] / tot["cpu_demand_core_s"]
                                   if tot["cpu_demand_core_s"] > 0 else 0.0),
            "limit_changes_per_day_p50": float(np.percentile(changes, 50)) if n_days else nan,
            "limit_changes_per_day_p99": float(np.percentile(changes, 99)) if n_days else nan,
            "slack_new_jobs": new_sum / new_n if new_n else nan,
            "machine_hours_saved": tot["mem_saved_mib_windows"] / cfg.machine_memory_mib * hours,
            "slo_violation_minutes": tot["slo_violation_minutes"],
            "evictions": tot["evictions"],
            # sums the family's pooled aggregations read
            "ooms": tot["ooms"], "task_days": task_days, "job_days": n_days,
            "oom_free_days": int(np.sum(np.asarray(ooms_day) == 0)),
            "memory_slack_day_sum": float(np.sum(mem_slack)), "cpu_slack_day_sum": float(np.sum(cpu_slack)),
            "new_job_slack_day_sum": new_sum, "new_job_days": new_n,
            "established_slack_day_sum": est_sum, "established_days": est_n,
            "throttled_core_s": tot["throttled_core_s"], "cpu_demand_core_s": tot["cpu_demand_core_s"],
            "limit_changes": int(np.sum(changes)),
            "limit_changes_by_day": " ".join(str(x) for x in changes),
        }
