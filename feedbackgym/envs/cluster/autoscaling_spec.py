"""Declaration of ``feedbackgym/ClusterAutoscaling-v0`` for the cluster family.

Only strings and declarations (nothing heavy is imported): the cluster family module imports
:data:`AUTOSCALING` into its ``envs`` list and merges :data:`AUTOSCALING_REWARD_PRESETS` into its
``reward_presets``. Every field that differs from the rightsizing env is set here, at the
:class:`~feedbackgym.family.EnvSpec` level, so the family's defaults never leak into this env.
"""

from __future__ import annotations

from ...family import EnvSpec, EveryItemOnce, Metric, Percentile, RatioOfSums, SeededEpisodes, Mean

_BASE = "feedbackgym.agents.baselines.cluster.autoscaling"

#: Reward presets (weights over ``info["reward_components"]``), registered under the cluster
#: family. ``cost`` is the step's replica-hours plus ``violation_minute_cost`` replica-hours per
#: SLO-violation minute (config field), so this preset follows the configured price.
AUTOSCALING_REWARD_PRESETS = {
    "autoscaling_cost": ({"cost": -1.0},
                         "autoscaling: -(replica-hours + violation_minute_cost x SLO-violation minutes) per step"),
    "autoscaling_slo_first": ({"replica_hours": -1.0, "violation_minutes": -10.0},
                              "autoscaling: -(replica-hours + 10 replica-hours per SLO-violation minute)"),
    "autoscaling_unserved": ({"replica_hours": -1.0, "unserved_replica_hours": -60.0, "scaling_actions": -0.01},
                             "autoscaling: -(replica-hours + 60 x unserved demand in replica-hours "
                             "+ 0.01 per scaling action)"),
}

AUTOSCALING_REWARD_COMPONENTS = {
    "replica_hours": "replicas billed this step (ready + provisioning) x step length, replica-hours",
    "violation_minutes": "step length in minutes if demand exceeded ready capacity, else 0",
    "unserved_replica_hours": "demand above ready capacity x step length, replica-hours",
    "scaling_actions": "1 if the desired replica count changed this step, else 0",
    "replicas_changed": "|change of the desired replica count| this step",
    "cost": "replica_hours + violation_minute_cost x violation_minutes (the env's cost, replica-hours)",
}

AUTOSCALING_METRICS = (
    Metric("cost_per_day", RatioOfSums("cost", "days"),
           "replica-hours + violation_minute_cost x violation minutes, per day (pooled over traces)",
           higher_is_better=False),
    Metric("replica_hours_per_day", RatioOfSums("replica_hours", "days"),
           "replica-hours billed per day (pooled)", higher_is_better=False),
    Metric("violation_minutes_per_day", RatioOfSums("violation_minutes", "days"),
           "SLO-violation minutes (demand above ready capacity) per day (pooled)", higher_is_better=False),
    Metric("violation_minutes_per_day_p95", Percentile(95.0, source="violation_minutes_per_day"),
           "95th percentile over traces of violation minutes per day", higher_is_better=False),
    Metric("unserved_fraction", RatioOfSums("unserved_replica_hours", "demand_replica_hours"),
           "demand above ready capacity / total demand (pooled)", higher_is_better=False),
    Metric("utilisation", RatioOfSums("served_replica_hours", "replica_hours"),
           "demand served / replica capacity billed (pooled)", higher_is_better=True),
    Metric("scaling_actions_per_day", RatioOfSums("scaling_actions", "days"),
           "changes of the desired replica count per day (pooled)", higher_is_better=False),
    Metric("mean_replicas", Mean(), "mean replicas billed per step, per trace", higher_is_better=False),
)

AUTOSCALING_BASELINES = {
    "hpa": (f"{_BASE}:Hpa", {},
            "Kubernetes HPA defaults: target utilisation 0.7, tolerance 0.1, 15-s sync, scale-up <= max(100%, 4 "
            "pods)/15 s, scale-down stabilisation 300 s"),
    "hpa_50": (f"{_BASE}:Hpa", {"target_utilisation": 0.5}, "HPA defaults with target utilisation 0.5"),
    "hpa_90": (f"{_BASE}:Hpa", {"target_utilisation": 0.9}, "HPA defaults with target utilisation 0.9"),
    "predictive": (f"{_BASE}:Predictive", {},
                   "AWS predictive scaling: hourly forecast from >= 24 h (<= 14 d) history, refreshed every 6 h, "
                   "scale out only, plus HPA-style reactive scaling"),
    "static": (f"{_BASE}:StaticPeak", {}, "static peak provisioning: the trace's peak demand all the time "
                                            "(hindsight peak, zero violations)"),
    "oracle": (f"{_BASE}:Oracle", {}, "hindsight: the fewest replicas with zero SLO violations given the "
                                       "provisioning delay (reads the future demand)"),
}

#: The test protocol: every trace of the test split once, whole trace from its first row, each with
#: a fixed service size.
AUTOSCALING_PROTOCOL = {"traces": "test", "trace_order": "sequential", "random_start": False, "episode_days": None,
                        "size_draw": "per_trace"}

AUTOSCALING = EnvSpec(
    "feedbackgym/ClusterAutoscaling-v0",
    entry_point="feedbackgym.envs.cluster.autoscaling_env:ClusterAutoscalingEnv",
    vector_entry_point="feedbackgym.envs.cluster.autoscaling_vector:ClusterAutoscalingVectorEnv",
    config_class="feedbackgym.envs.cluster.autoscaling_config:AutoscalingConfig",
    description="Horizontal autoscaling of a service's replicas against real (Bitbrains) or synthetic demand "
                "with a provisioning delay; cost = replica-hours + SLO-violation minutes",
    protocol=AUTOSCALING_PROTOCOL,
    episode_plan=EveryItemOnce("num_traces", "trace_index", fallback=SeededEpisodes(10),
                               only_if=("trace_order", "sequential")),
    label_key="trace_name",
    label_field="trace",
    id_keys=("trace_index",),
    data_field="traces",
    data_sets=("train", "test", "synthetic"),
    metrics=AUTOSCALING_METRICS,
    headline="cost_per_day",
    table_columns=("replica_hours_per_day", "violation_minutes_per_day", "utilisation", "scaling_actions_per_day"),
    reference_policy=None,
    baselines=AUTOSCALING_BASELINES,
    reward_components=AUTOSCALING_REWARD_COMPONENTS,
    multi_agent=None,
    # the packaged training blocks act in action_mode 'utilisation'; the smoke test evaluates the
    # trained model with test_kwargs alone, so they name the same action space
    test_kwargs={"episode_days": 0.25, "action_mode": "utilisation"},
    test_variants=({}, {"action_mode": "delta", "provisioning_delay_s": 0.0},
                   {"action_mode": "replicas", "p99_demand_replicas": 12.0},
                   {"traces": "synthetic", "step_s": 300.0, "provisioning_delay_s": 600.0,
                    "reward": "autoscaling_unserved"}),
)
