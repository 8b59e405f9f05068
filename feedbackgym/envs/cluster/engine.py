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
from . import kernel as K
from .config import RightsizingConfig
from .meta import N_ARMS
from .sim import (_LOG2_EDGES, _LOG_GROWTH, BUCKET_FIRST, EDGE_VALUES, HALF_LIVES, LOG2_HIGH, LOG2_LOW, QUANTILES,
                  DecayedQuantiles, JobTable, RightsizingCore, build_table, log2_edges)
from .workloads import WINDOW_S, WINDOWS_PER_DAY, load_workloads

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
assert OBS_FIELDS[K.OBS_LOG_AT] == "memory_last" and OBS_FIELDS[K.OBS_LOG_AT + 17] == "job_age_days_log2"
assert tuple(REWARD_COMPONENTS) == K.OUT_COMPONENTS

#: info keys of the counterfactual costs (``counterfactual_info``): for every memory choice of the
#: menu (10) its limit, whether the window's peak overran it (an OOM) and the slack it left; for
#: every CPU choice (4) its limit, the throttled fraction of demand and the slack it left. The
#: window is replayed with that limit from the same state (backlog, running or down); later
#: windows (restart, backlog carried over) are not.
CF_INFO_KEYS = ("counterfactual_memory_limit_mib", "counterfactual_memory_overrun",
                "counterfactual_memory_slack_fraction", "counterfactual_cpu_limit_cores",
                "counterfactual_cpu_throttled_fraction", "counterfactual_cpu_slack_fraction")
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
    meta = cfg.action_mode == "meta"
    return Setup(cfg, table, fn, weights, max_len, max(1, math.ceil(max_len / WINDOWS_PER_DAY)),
                 spaces.Discrete(N_ARMS if meta else N_ACTIONS),
                 spaces.Box(-OBS_BOUND, OBS_BOUND, (OBS_DIM + (N_ARMS if meta else 0),), dtype=np.float32))


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


@functools.lru_cache(maxsize=16)
def _packed_table(table: JobTable) -> np.ndarray:
    """The job table's per-row values the kernel reads, packed (rows x kernel.NTAB), with the
    time-of-day and day-of-week sin/cos computed once per row (numpy, as the reference does)."""
    tab = np.empty((len(table.timestamps_s), K.NTAB))
    tab[:, K.TAB_PEAK] = table.memory_peak_mib
    tab[:, K.TAB_DEMAND] = table.cpu_demand_cores
    tab[:, K.TAB_MEM_REQ] = table.memory_request_mib
    tab[:, K.TAB_CPU_REQ] = table.cpu_request_cores
    hour, wd = _time_angles(table.timestamps_s)
    tab[:, K.TAB_HOUR_SIN], tab[:, K.TAB_HOUR_COS] = np.sin(hour), np.cos(hour)
    tab[:, K.TAB_WD_SIN], tab[:, K.TAB_WD_COS] = np.sin(wd), np.cos(wd)
    return tab


def _time_angles(ts):
    """Angles of the time of day and of the day of week (1970-01-01 was a Thursday)."""
    return (ts % 86400) / 86400.0 * 2 * np.pi, ((ts // 86400 + 3) % 7) / 7.0 * 2 * np.pi


_OBS_LOG = slice(K.OBS_LOG_AT, K.OBS_LOG_AT + 10)
_OBS_AGE, _OBS_TASKS, _OBS_SINCE_CHANGE = K.OBS_LOG_AT + 17, K.OBS_LOG_AT + 22, K.OBS_LOG_AT + 23
_KERNEL_CONSTS = np.asarray([float(WINDOW_S), float(WINDOWS_PER_DAY), BUCKET_FIRST, _LOG_GROWTH,
                             DecayedQuantiles.RENORM, float(DecayedQuantiles.STEPS), float(_H48), float(_P98),
                             LOG2_LOW, LOG2_HIGH, OBS_BOUND])
_MEM_F = np.asarray(MEMORY_RECENT_FACTORS)
_LONG_F = np.asarray(MEMORY_LONG_FACTORS)
_CPU_F = np.asarray(CPU_RECENT_FACTORS)
_QS = np.asarray(QUANTILES)
_COMPONENT_COLUMN = {k: c for c, k in enumerate(K.OUT_COMPONENTS)}


class Engine:
    """The batched env logic over ``n`` slots (see the module docstring).

    ``compiled=True`` (what the envs use) steps through :func:`.kernel.step_slots`;
    ``compiled=False`` runs the numpy reference (:meth:`limits_from_actions`,
    :meth:`step_reference`), kept as the readable specification the kernel is tested against.
    """

    def __init__(self, setup: Setup, n: int, single: bool = False, compiled: bool = True):
        self.setup, self.n = setup, n
        self.single = single and n == 1
        self.compiled = compiled
        cfg = setup.config
        self.core = RightsizingCore(setup.table, cfg, n, setup.max_days)
        self.reward_acc = np.zeros(n)
        self.steps = np.zeros(n, dtype=np.int64)
        self._mem_f = _MEM_F[None, :]
        self._long_f = _LONG_F[None, :]
        self._cpu_f = _CPU_F[None, :]
        self._obs = np.zeros((n, OBS_DIM), dtype=np.float32)
        self._stats: Any = None  # reference path: int64 per-slot statistics, allocated on first use
        # kernel buffers
        # (the twin hands views of fresh out/cf buffers to its info each step instead of copying)
        self.out = np.zeros((n, K.NOUT))
        self.cf_mem = np.zeros((3, n, N_MEMORY))
        self.cf_cpu = np.zeros((3, n, N_CPU))
        self.ratios = np.ones((n, K.N_RATIOS))
        self._tab = _packed_table(setup.table)
        c = self.core
        params = np.zeros(K.P_G0 + c.hist.m)
        params[K.P_EVICT] = cfg.eviction_probability
        params[K.P_RESTART] = cfg.restart_windows
        params[K.P_LOST] = cfg.lost_work_windows
        params[K.P_BACKLOG] = float(cfg.throttle_backlog)
        params[K.P_SLO] = cfg.slo_throttle_fraction
        params[K.P_UP], params[K.P_DOWN] = cfg.change_deadband, cfg.lower_deadband
        params[K.P_MEM_LO], params[K.P_MEM_HI] = cfg.min_memory_limit_mib, cfg.machine_memory_mib
        params[K.P_CPU_LO], params[K.P_CPU_HI] = cfg.min_cpu_limit_cores, cfg.machine_cores
        params[K.P_RECENT_DECAY] = c.recent_decay
        params[K.P_MAX_DAYS] = c.max_days
        params[K.P_HAS_WEIGHTS] = float(setup.weights is not None)
        params[K.P_G0:] = c.hist.g[0]
        self._params = params
        w = setup.weights or ()
        self._wcols = np.asarray([_COMPONENT_COLUMN[k] for k, _ in w], dtype=np.int64)
        self._wvals = np.asarray([float(v) for _, v in w], dtype=np.float64)
        self._all_slots = np.arange(n, dtype=np.int64)
        self._no_action = np.full(n, -1, dtype=np.int64)
        self._one_action = np.zeros(1, dtype=np.int64)
        self._one_mem, self._one_cpu = np.zeros(1), np.zeros(1)

    # --------------------------------------------------------------------------- episodes

    def start(self, idx: np.ndarray, draws) -> dict | None:
        """Start episodes in slots ``idx`` (draws: list of draw_episode tuples); plays window 0
        at the request (the job's first five minutes, before any decision). The reference path
        returns the window's arrays; the compiled one leaves them in its buffers."""
        c = self.core
        job = np.asarray([d[0] for d in draws], dtype=np.int64)
        row = np.asarray([d[1] for d in draws], dtype=np.int64)
        length = np.asarray([d[2] for d in draws], dtype=np.int64)
        key = np.asarray([d[3] for d in draws], dtype=np.uint64)
        c.start(idx, job, row, length, key)
        self.reward_acc[idx] = 0.0
        self.steps[idx] = 0
        if not self.compiled:
            out = c.window(idx, c.mem_limit[idx].copy(), c.cpu_limit[idx].copy())
            self._observe(idx)
            return out
        slots = np.asarray(idx, dtype=np.int64)
        self._run(slots, self._no_action[:len(slots)], c.mem_limit[slots], c.cpu_limit[slots],
                  None if len(slots) < self.n else slice(None))
        return None

    # ------------------------------------------------------------------------------ actions

    def targets(self, s) -> tuple[np.ndarray, np.ndarray]:
        """(n, N_MEMORY) memory and (n, N_CPU) CPU limits each choice would set (hold = current)."""
        c, cfg = self.core, self.setup.config
        recent = c.recent_max(s)
        mem_long = c.mem_scale[s] * EDGE_VALUES[c.hist.kq[s][:, _H48, _P98]]
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
        """Reference: the limits discrete actions ``a`` set in slots ``s`` (menu, deadbands)."""
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

    def _run(self, slots: np.ndarray, actions: np.ndarray, mem: np.ndarray, cpu: np.ndarray, whole) -> None:
        """The kernel over ``slots`` then the numpy log2 entries of their observation.
        ``whole``: ``slice(None)`` when ``slots`` is every slot in order (views, no gathers)."""
        c, h = self.core, self.core.hist
        if not self.single:
            self.out = np.empty((self.n, K.NOUT))
            self.cf_mem = np.empty((3, self.n, N_MEMORY))
            self.cf_cpu = np.empty((3, self.n, N_CPU))
        K.step_slots(slots, actions, mem, cpu,
                     c.F, c.I, c.serving, c.key, c.T, c.dayf, c.dayi, c.recent,
                     h.w, h.scale, h.total, h.kq, h.below, h.top,
                     self._tab, self.setup.table.lengths, self._params, self._wcols, self._wvals,
                     self.out, self.cf_mem, self.cf_cpu, self._obs, self.ratios,
                     _MEM_F, _LONG_F, _CPU_F, _QS, EDGE_VALUES, _LOG2_EDGES, _KERNEL_CONSTS)
        # the observation's log2 entries, by numpy (see the kernel's module docstring); float32
        # assignment rounds as the reference's final cast does
        s = slots if whole is None else whole
        lg = np.log2(self.ratios[s])
        o = self._obs
        o[s, _OBS_LOG] = np.clip(lg[:, :10], LOG2_LOW, LOG2_HIGH)
        o[s, _OBS_AGE] = lg[:, 10]
        o[s, _OBS_TASKS] = lg[:, 11] / 10.0
        o[s, _OBS_SINCE_CHANGE] = lg[:, 12] / 10.0

    def step(self, idx, actions: np.ndarray):
        """One window with discrete ``actions`` in slots ``idx`` (None: all). Returns reward
        (None: the caller evaluates a callable reward), terminated, truncated and the window's
        arrays (reward components, state, counterfactuals when configured)."""
        slots = self._all_slots if idx is None else np.asarray(idx, dtype=np.int64)
        a = np.asarray(actions, dtype=np.int64)
        self._run(slots, a, self._one_mem, self._one_cpu, slice(None) if idx is None else None)
        return self._finish(idx, slots)

    def step_limits(self, idx, mem_limit: np.ndarray, cpu_limit: np.ndarray):
        """:meth:`step` with the limits given (applied exactly, as limit actions; the meta action
        mode), one per slot of ``idx`` (None: all)."""
        slots = self._all_slots if idx is None else np.asarray(idx, dtype=np.int64)
        a = np.full(len(slots), -1, dtype=np.int64)
        self._run(slots, a, np.asarray(mem_limit, dtype=np.float64), np.asarray(cpu_limit, dtype=np.float64),
                  slice(None) if idx is None else None)
        return self._finish(idx, slots)

    def _finish(self, idx, slots):
        s = slice(None) if idx is None else slots
        self.steps[s] += 1
        o = self.out[s]
        reward = o[:, K.OUT_REWARD] if self.setup.weights is not None else None
        out: dict[str, Any] = {k: o[:, c] for c, k in enumerate(K.OUT_COMPONENTS)}
        out["_running"] = o[:, K.OUT_RUNNING] > 0
        if self.setup.config.counterfactual_info:
            cm, cc = self.cf_mem[:, s], self.cf_cpu[:, s]
            out["cf"] = (cm[K.CF_LIMIT], cm[K.CF_COST], cm[K.CF_SLACK], cc[K.CF_LIMIT], cc[K.CF_COST], cc[K.CF_SLACK])
        return reward, o[:, K.OUT_TERMINATED] > 0, o[:, K.OUT_TRUNCATED] > 0, out

    def window_arrays(self, idx) -> dict:
        """The last window's arrays (reward components and ``_running``) of slots ``idx``, as
        :meth:`step` returns them (without counterfactuals): what a reset's info reports."""
        o = self.out[np.asarray(idx, dtype=np.int64)]
        out: dict[str, Any] = {k: o[:, c] for c, k in enumerate(K.OUT_COMPONENTS)}
        out["_running"] = o[:, K.OUT_RUNNING] > 0
        return out

    def step_reference(self, idx, mem_limit, cpu_limit, mem_targets=None):
        """Reference (numpy) of one window in slots ``idx`` (None: all). Returns reward,
        terminated, truncated and the window's arrays (reward components and state)."""
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
        """Reference (numpy) observation of slots ``idx``."""
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
        hour, wd = _time_angles(tb.timestamps_s[pos])
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
        """:meth:`targets` of slot 0 as lists of floats."""
        mem, cpu = self.targets(np.asarray([0]))
        return mem[0].tolist(), cpu[0].tolist()

    def step_one(self, action: int, mem_limit: float = 0.0, cpu_limit: float = 0.0):
        """One window of slot 0 (the single env): ``action >= 0`` a discrete action, ``-1`` the
        limits given. Returns (reward or None, terminated, truncated, the output row as floats)."""
        self._one_action[0] = action
        self._one_mem[0], self._one_cpu[0] = mem_limit, cpu_limit
        self._run(self._all_slots, self._one_action, self._one_mem, self._one_cpu, slice(None))
        self.steps[0] += 1
        row = self.out[0].tolist()
        reward = row[K.OUT_REWARD] if self.setup.weights is not None else None
        return reward, row[K.OUT_TERMINATED] > 0, row[K.OUT_TRUNCATED] > 0, row

    def step_info_one(self, row: list, with_cf: bool) -> dict:
        """:meth:`step_info` of slot 0 as Python scalars (``row``: :meth:`step_one`'s output row)."""
        c, tb = self.core, self.setup.table
        fv, iv = c.F[0].tolist(), c.I[0].tolist()
        pos = min(iv[K.I_POS], len(tb.timestamps_s) - 1)
        tab = self._tab[pos].tolist()
        info = {
            "memory_usage_mib": fv[K.F_LAST_MEM],
            "cpu_usage_cores": fv[K.F_LAST_CPU],
            "oom": row[1] > 0,
            "throttled_fraction": row[5],
            "running": row[K.OUT_RUNNING] > 0,
            "memory_limit_mib": fv[K.F_MEM_LIMIT],
            "cpu_limit_cores": fv[K.F_CPU_LIMIT],
            "memory_request_mib": tab[K.TAB_MEM_REQ],
            "cpu_request_cores": tab[K.TAB_CPU_REQ],
            "timestamp_s": int(tb.timestamps_s[pos]),
            "job_age_windows": iv[K.I_T],
            "down_windows": iv[K.I_DOWN],
            "tasks": iv[K.I_TASKS],
            "serving": bool(c.serving[0]),
            "oom_tolerance": iv[K.I_TOLERANCE],
            "job_index": iv[K.I_JOB],
        }
        if with_cf:
            cm, cc = self.cf_mem[:, 0], self.cf_cpu[:, 0]
            info["counterfactual_memory_limit_mib"] = cm[K.CF_LIMIT].copy()
            info["counterfactual_memory_overrun"] = cm[K.CF_COST].copy()
            info["counterfactual_memory_slack_fraction"] = cm[K.CF_SLACK].copy()
            info["counterfactual_cpu_limit_cores"] = cc[K.CF_LIMIT].copy()
            info["counterfactual_cpu_throttled_fraction"] = cc[K.CF_COST].copy()
            info["counterfactual_cpu_slack_fraction"] = cc[K.CF_SLACK].copy()
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
        if "cf" in out:
            for k, v in zip(CF_INFO_KEYS, out["cf"]):
                info[k] = v
        elif "cf_limit" in out:     # the reference path (memory only)
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
        reaction_windows, reaction_events = tot["reaction_windows"], tot["reaction_events"]
        if c.under_since[i] >= 0:    # still under-provisioned at the end: counted, as a lower bound
            reaction_windows += int(c.t[i]) - int(c.under_since[i])
            reaction_events += 1
        reaction_minutes = reaction_windows * WINDOW_S / 60.0
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
            "memory_reaction_minutes": reaction_minutes / reaction_events if reaction_events else nan,
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
            "memory_reaction_minutes_sum": reaction_minutes, "memory_reaction_events": int(reaction_events),
            "limit_changes_by_day": " ".join(str(x) for x in changes),
        }
