"""Configuration of the rightsizing env (``feedbackgym/ClusterRightsizing-v0``).

Every consequence of a limit that offline replays ignore is a field here and can be turned off:
``simple_model()`` gives the issue's independent-replay model (peak = the 5-minute average, an
OOM when it exceeds the limit, no restarts, no lost work, no evictions, no throttling backlog).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ...config import boolean, number, one_of, param, validate


def _workloads(name, v):
    if not isinstance(v, str) or not v:
        raise ValueError(f"{name}: expected 'train', 'test', 'all', 'synthetic' or a path to a folder of "
                         f"Bitbrains VM CSVs, got {v!r}")
    return v


def _reward(name, v):
    if not (isinstance(v, (str, dict)) or callable(v)):
        raise ValueError(f"{name}: expected a reward name, weights dict, 'module:function' or callable, got {v!r}")
    return v


def _optional_days(name, v):
    if v is None:
        return None
    return number(1.0 / 288.0, 10000.0)(name, v)


@dataclass(frozen=True)
class RightsizingConfig:
    """Every knob of the rightsizing env. Defaults give a training env over the bundled ``train`` jobs."""

    workloads: str = param("train", "'train' (20 Bitbrains VMs), 'test' (10 other VMs), 'all', 'synthetic' "
                           "(seeded generator), or a folder/file of Bitbrains VM CSVs", _workloads)
    synthetic_count: int = param(32, "workloads='synthetic': number of jobs generated", number(1, 100000, integer=True))
    synthetic_seed: int = param(0, "workloads='synthetic': generator seed (the job set, not the episode)",
                                number(0, 2**31 - 1, integer=True))
    synthetic_days: float = param(14.0, "workloads='synthetic': days per job", number(0.1, 366.0))
    job_order: str = param("random", "'random': each episode a random job; 'sequential': jobs in order, one per "
                           "episode (the test protocol)", one_of("random", "sequential"))
    episode_days: Any = param(3.0, "episode length in days of 5-minute windows; null = the job's whole trace",
                              _optional_days)
    random_start: bool = param(True, "start each episode at a random window of the job (training) instead of "
                               "its first", boolean)
    job_class: str = param("serving", "class of Bitbrains jobs (the trace has none): serving (SLO minutes when "
                           "throttled) or batch (throttled work queues)", one_of("serving", "batch"))
    oom_tolerance: str = param("low", "OOM tolerance of Bitbrains jobs (Autopilot: low -> p98, minimal -> peak, "
                               "intermediate -> max(p60, 0.5 peak))", one_of("minimal", "low", "intermediate"))
    # --- memory peak model --------------------------------------------------------------------
    memory_peak_model: str = param(
        "lognormal", "how a window's peak memory follows from the trace: 'average' (peak = the 5-minute "
        "average, the issue's simple model), 'ratio' (average x (1 + memory_peak_ratio)), 'lognormal' "
        "(average x (1 + memory_peak_ratio) x exp(memory_peak_sigma |z|), z a fixed standard normal per "
        "job window), 'trace' (the trace's recorded peak; Google/Alibaba)",
        one_of("average", "ratio", "lognormal", "trace"))
    memory_peak_ratio: float = param(0.02, "mean excess of the window peak over the window average", number(0.0, 10.0))
    memory_peak_sigma: float = param(0.02, "log-scale spread of the peak's excess ('lognormal')", number(0.0, 5.0))
    memory_peak_seed: int = param(0, "seed of the per-window peak noise (a property of the data, not the "
                                  "episode)", number(0, 2**31 - 1, integer=True))
    # --- consequences -------------------------------------------------------------------------
    restart_windows: int = param(1, "windows a task is down after an OOM kill or eviction (usage truncated, "
                                 "then the trace resumes)", number(0, 288, integer=True))
    lost_work_windows: int = param(6, "batch jobs: windows of CPU work lost at a kill (checkpoint interval), "
                                   "re-queued as backlog", number(0, 288, integer=True))
    eviction_probability: float = param(0.05, "chance that a limit increase forces a reschedule (task down "
                                        "restart_windows)", number(0.0, 1.0))
    throttle_backlog: bool = param(True, "batch jobs: throttled CPU work queues as backlog (serving requests "
                                   "beyond a window time out)", boolean)
    slo_throttle_fraction: float = param(0.01, "serving jobs: a window with more than this fraction of CPU "
                                         "demand throttled counts 5 SLO-violation minutes", number(0.0, 1.0))
    # --- actions ------------------------------------------------------------------------------
    change_deadband: float = param(0.02, "a 'set' action whose target is above the current limit by at most "
                                   "this fraction keeps the limit (no change)", number(0.0, 1.0))
    lower_deadband: float = param(0.2, "a 'set' action whose target is below the current limit by less than "
                                  "this fraction keeps the limit: limits follow rises at once and falls only when "
                                  "large (fewer changes)", number(0.0, 1.0))
    action_mode: str = param("menu", "'menu': Discrete(40), 10 memory x 4 CPU choices (multiples of recent usage "
                             "and of the 48 h p98); 'meta': Discrete(31), each action picks a recommender arm (arm 0 "
                             "= VPA exactly; decayed-histogram p95/p98/max at 12 h/48 h half-lives x margins "
                             "1.0-1.5) applied through a deadband and hold, and the observation gains each arm's "
                             "target over the current limit (see feedbackgym.envs.cluster.meta)",
                             one_of("menu", "meta"))
    meta_raise_hold_h: float = param(1.0, "action_mode='meta', arms other than VPA: hours a limit holds before a "
                                     "rise (a rise right after an OOM does not wait)", number(0.0, 1000.0))
    meta_lower_hold_h: float = param(6.0, "action_mode='meta', arms other than VPA: hours a limit holds before a "
                                     "fall (and before the CPU limit moves alone)", number(0.0, 1000.0))
    min_memory_limit_mib: float = param(16.0, "smallest memory limit the env applies, MiB", number(0.0, 1e7))
    min_cpu_limit_cores: float = param(0.01, "smallest CPU limit the env applies, cores", number(0.0, 1e4))
    # --- machines and reward ------------------------------------------------------------------
    machine_memory_mib: float = param(65536.0, "memory of the reference machine for machine-equivalents, MiB",
                                      number(1.0, 1e9, lo_open=True))
    machine_cores: float = param(16.0, "cores of the reference machine", number(0.0, 1e6, lo_open=True))
    reward: Any = param("rightsizing", "rightsizing, autopilot_cost, machine_cost, a weights dict over reward "
                        "components, 'module:function', or a callable", _reward)
    counterfactual_info: bool = param(True, "put the cost of every candidate memory limit for the last window "
                                      "in info (off-policy learning)", boolean)

    def __post_init__(self):
        validate(self)

    @staticmethod
    def evaluation_overrides() -> dict:
        """The test protocol: every job once, in order, whole trace from its first window."""
        return {"job_order": "sequential", "random_start": False, "episode_days": None}

    @staticmethod
    def simple_model() -> dict:
        """The issue's independent-replay model: peak = average, OOM when it exceeds the limit,
        no restart, lost work, eviction or backlog."""
        return {"memory_peak_model": "average", "restart_windows": 0, "lost_work_windows": 0,
                "eviction_probability": 0.0, "throttle_backlog": False}
