"""The cluster family's declaration: ``feedbackgym/ClusterRightsizing-v0`` (the family's defaults)
and ``feedbackgym/ClusterAutoscaling-v0`` (its own :class:`~feedbackgym.family.EnvSpec`, declared
in :mod:`.autoscaling_spec`). See :mod:`feedbackgym.family` for the contract.

Metrics follow Autopilot (Rzadca et al., EuroSys 2020): per job-day, pooled over the set, so
``memory_slack_mean`` is the mean over *all* job-days (a ratio of sums: slack summed over days /
days), ``oom_per_task_day`` OOMs over task-days, not a mean of per-job ratios.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ...family import (Aggregation, EnvSpec, EveryItemOnce, Family, Median, Metric, RatioOfSums, SeededEpisodes,
                       Sum)
from .autoscaling_spec import AUTOSCALING, AUTOSCALING_REWARD_PRESETS
from .engine import REWARD_COMPONENTS, REWARD_PRESETS

_BASE = "feedbackgym.agents.baselines.cluster.rightsizing"



@dataclass(frozen=True)
class PooledPercentile(Aggregation):
    """The ``q``-th percentile over every job-day of every episode (Autopilot's "p99 job-day"),
    read from a per-episode field holding the per-day values as a space-separated string (a
    string so that it crosses Gymnasium's vector info and JSON unchanged). A pooled percentile
    is not the percentile of per-episode percentiles: one bad job-day in a long job counts once,
    as in the paper."""

    q: float = 99.0
    source: str = "limit_changes_by_day"

    def sources(self, metric):
        return (self.source,)

    def __call__(self, metric, episodes):
        days = [float(x) for e in episodes if e.get(self.source) is not None
                for x in str(e[self.source]).split()]
        return float(np.percentile(days, self.q)) if days else math.nan


METRICS = (
    Metric("memory_slack_mean", RatioOfSums("memory_slack_day_sum", "job_days"),
           "relative memory slack (mean limit - p95 of window peaks) / mean limit, mean over job-days",
           higher_is_better=False),
    Metric("memory_slack_median", Median(),
           "median over jobs of each job's median job-day memory slack", higher_is_better=False),
    Metric("cpu_slack_mean", RatioOfSums("cpu_slack_day_sum", "job_days"),
           "relative CPU slack (mean limit - p95 demand) / mean limit, mean over job-days", higher_is_better=False),
    Metric("oom_per_task_day", RatioOfSums("ooms", "task_days"),
           "OOM kills per task-day, pooled over the set", higher_is_better=False),
    Metric("oom_free_day_fraction", RatioOfSums("oom_free_days", "job_days"),
           "fraction of job-days without an OOM", higher_is_better=True),
    Metric("throttled_fraction", RatioOfSums("throttled_core_s", "cpu_demand_core_s"),
           "CPU demand throttled in its window / demand, pooled", higher_is_better=False),
    Metric("limit_changes_per_day_p50", PooledPercentile(50.0),
           "median limit changes per job-day, pooled over every job-day of the set (per episode: "
           "that episode's job-days)", higher_is_better=False),
    Metric("limit_changes_per_day_p99", PooledPercentile(99.0),
           "p99 of limit changes per job-day, pooled over every job-day of the set (Autopilot's "
           "p99 job-day; per episode: that episode's job-days)", higher_is_better=False),
    Metric("slack_new_jobs", RatioOfSums("new_job_slack_day_sum", "new_job_days"),
           "memory slack of job-days 0-1 (no history yet)", higher_is_better=False),
    Metric("slack_established_jobs", RatioOfSums("established_slack_day_sum", "established_days"),
           "memory slack of job-days 7+ (NaN when no episode lasts 8 days)", higher_is_better=False),
    Metric("memory_reaction_minutes", RatioOfSums("memory_reaction_minutes_sum", "memory_reaction_events"),
           "reaction time: minutes from the first window whose memory peak exceeds the limit (a usage step, "
           "a leak, a burst) until the first window whose limit covers its peak again, mean over such "
           "events (pooled; an event still open at the episode's end counts with its time so far)",
           higher_is_better=False),
    Metric("machine_hours_saved", Sum(),
           "memory (request - limit) x tasks vs static, in reference-machine hours", higher_is_better=True),
    Metric("slo_violation_minutes", Sum(), "serving jobs' SLO-violation minutes, total", higher_is_better=False),
)

BASELINES = {
    "static": (f"{_BASE}:Static", {}, "the user's request as the limit (no rightsizing)"),
    "vpa": (f"{_BASE}:Vpa", {}, "Kubernetes VPA recommender, exact defaults: p90 target x 1.15 of a 24 h-half-life "
                                "histogram, memory peaks per 24 h over 8 days, OOM bump max(+100 MiB, 1.2x), "
                                "floors 25 mCPU / 250 MiB, updater outside [p50, p95] bounds or >= 10% drift"),
    "autopilot_window": (f"{_BASE}:AutopilotWindow", {},
                         "Autopilot moving window: memory p98/peak/max(p60, 0.5 peak) by OOM tolerance of a 48 h "
                         "half-life histogram, CPU p95 (serving) or mean (batch) of 12 h, +15% margin, max over "
                         "the last hour"),
    "autopilot_ml": (f"{_BASE}:AutopilotMl", {},
                     "Autopilot ML recommender (eqs. 4-9): ensemble of (decay, margin) models minimising "
                     "w_o overrun + w_u underrun + w_dL change, weights calibrated on 'train'"),
    "forecast": (f"{_BASE}:Forecast", {},
                 "online quantile regression (pinball loss, q 0.995) of the next hour's memory peak on time "
                 "and history features, + 5% margin"),
    "headroom": (f"{_BASE}:Headroom", {}, "a rule in the env's Discrete(40) menu: memory target max(48 h p98 x "
                                          "1.5, last hour's peak x 1.35), 2x the peak after an OOM; CPU 1.5x the "
                                          "last hour's demand; what the agents are cloned from"),
    "headroom_safe": (f"{_BASE}:Headroom", {"long_choice": 9, "recent_choice": 6, "hold_after_oom_h": 24.0},
                      "headroom's most conservative variant on the train grid (experiments/cluster/"
                      "headroom_grid.py): max(48 h p98 x 1.5, last hour's peak x 2), a day of holding after an "
                      "OOM; the expert of the ppo_safe agent"),
    "autopilot_window_replay": (f"{_BASE}:AutopilotWindow", {"replay_usage": True},
                                "autopilot_window fed the true (untruncated) window peaks, as an offline replay "
                                "would (reads the trace; calibration only)"),
    "autopilot_window_discrete": (f"{_BASE}:AutopilotWindow", {"discrete": True},
                                  "autopilot_window snapped to the nearest Discrete(40) action"),
    "meta_vpa": ("feedbackgym.envs.cluster.meta:ArmRule", {"arm": "vpa"},
                 "always the VPA arm of the meta action mode (action_mode='meta'; in the menu mode the same "
                 "limits as limit actions): reproduces vpa"),
    "meta_best": ("feedbackgym.envs.cluster.meta:ArmRule", {"arm": "max_12h_x1.1"},
                  "always the meta arm max_12h_x1.1 (decayed 12 h max x 1.1 through the deadband/hold): the least "
                  "slack of the fixed arms at no more OOMs than VPA and p99 <= 7 changes on train "
                  "(experiments/cluster/meta_grid.py); the expert of ppo_meta"),
    "meta_safe": ("feedbackgym.envs.cluster.meta:ArmRule", {"arm": "max_12h_x1.35"},
                  "always the meta arm max_12h_x1.35 (a wider margin than meta_best: train OOMs about a quarter "
                  "of VPA's)"),
    "oracle": (f"{_BASE}:Oracle", {}, "hindsight: the next window's peak x 1.001 with at most 7 changes a day "
                                      "(reads the future; a lower bound on slack at zero OOMs)"),
}

RIGHTSIZING = EnvSpec(
    "feedbackgym/ClusterRightsizing-v0",
    entry_point="feedbackgym.envs.cluster.env:ClusterRightsizingEnv",
    vector_entry_point="feedbackgym.envs.cluster.vector:ClusterRightsizingVectorEnv",
    config_class="feedbackgym.envs.cluster.config:RightsizingConfig",
    description="Rightsizing: set a job's memory and CPU limits every 5 minutes from its usage (Autopilot/VPA) "
                "on real Bitbrains requested-vs-used traces; OOM kills, throttling, limit-change evictions",
)

FAMILY = Family(
    name="cluster",
    description="cluster resource prediction: vertical rightsizing (Autopilot/VPA) and horizontal autoscaling",
    # The test protocol: every job of the test split once, whole trace, no history.
    protocol={"workloads": "test", "job_order": "sequential", "random_start": False, "episode_days": None},
    episode_plan=EveryItemOnce("num_jobs", "job_index", fallback=SeededEpisodes(10)),
    label_key="job_name",
    label_field="job",
    id_keys=("job_index",),
    data_field="workloads",
    data_sets=("train", "test", "all", "synthetic"),
    metrics=METRICS,
    headline="memory_slack_mean",
    table_columns=("memory_slack_mean", "oom_per_task_day", "oom_free_day_fraction", "cpu_slack_mean",
                   "throttled_fraction", "limit_changes_per_day_p99", "slack_new_jobs"),
    reference_policy=None,
    baselines=BASELINES,
    reward_components=REWARD_COMPONENTS,
    reward_presets={**REWARD_PRESETS, **AUTOSCALING_REWARD_PRESETS},
    test_kwargs={"episode_days": 0.5},
    test_variants=({}, {"memory_peak_model": "average", "restart_windows": 0, "lost_work_windows": 0,
                        "eviction_probability": 0.0, "throttle_backlog": False},
                   {"workloads": "synthetic", "synthetic_count": 6, "synthetic_days": 1.0, "episode_days": 0.4,
                    "eviction_probability": 0.5, "restart_windows": 3, "reward": "autopilot_cost"}),
    envs=[RIGHTSIZING, AUTOSCALING],
)
