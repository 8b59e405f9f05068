"""Sanity of the autoscaling baselines: HPA's defaults, predictive scales out only, static and oracle."""

import math

import numpy as np

from feedbackgym.agents.baselines.cluster.autoscaling import Hpa, Oracle, Predictive, StaticPeak
from feedbackgym.envs.cluster.autoscaling_env import ClusterAutoscalingEnv

from .test_autoscaling_sim import write_trace

TEST_KW = dict(traces="test", trace_order="sequential", random_start=False, episode_days=1.0)


def play(env, policy, trace_index=0):
    obs, info = env.reset(seed=0, options={"trace_index": trace_index})
    policy.reset(env, obs, info)
    infos = [info]
    done = False
    while not done:
        obs, _, _, done, info = env.step(policy.act(obs, info))
        infos.append(info)
    return infos


def test_hpa_sizes_for_its_target_and_waits_300_s_before_scaling_down(tmp_path):
    usage = [800.0] * 6 + [100.0] * 6            # p99 -> 10 replicas, then 1.25
    env = ClusterAutoscalingEnv(p99_demand_replicas=10.0, traces=write_trace(tmp_path / "vm1.csv", usage),
                                random_start=False, episode_days=None, initial_replicas=10, provisioning_delay_s=0)
    infos = play(env, Hpa())
    desired = [i["desired_replicas"] for i in infos[1:]]
    assert desired[1] == math.ceil(10 / 0.7)      # first decision sees 10 replicas of demand at 10 ready
    assert all(d == 15 for d in desired[1:30])
    # demand drops in step 30, seen from step 31 on. The last recommendation of 15 came from step
    # 30's last 15-s sync (1845 s); 300 s later is step 35's last sync: the count drops then.
    assert all(d == 15 for d in desired[31:35])
    assert all(d == math.ceil(1.25 / 0.7) for d in desired[35:])


def test_hpa_tolerance_keeps_the_count():
    h = Hpa()
    h.clock, h.recs, h.syncs_per_step, h.sync_dt = 0.0, __import__("collections").deque(), 1, 60.0
    h.min_replicas, h.max_replicas = 1, 50
    info = {"demand_replicas": 7.3, "ready_replicas": 10, "provisioning_replicas": 0, "desired_replicas": 10}
    assert h.desired(info) == 10                  # 0.73 / 0.7 = 1.04: within 0.1
    info["demand_replicas"] = 8.0                 # 1.14: scale to ceil(11.4)
    assert h.desired(info) == 12


def test_hpa_scale_up_is_rate_limited_per_sync():
    h = Hpa(sync_s=60.0)
    h.clock, h.recs, h.syncs_per_step, h.sync_dt = 0.0, __import__("collections").deque(), 1, 60.0
    h.min_replicas, h.max_replicas = 1, 100
    info = {"demand_replicas": 30.0, "ready_replicas": 1, "provisioning_replicas": 0, "desired_replicas": 1}
    assert h.desired(info) == 5                   # max(100 %, 4 pods): 1 -> 5


def test_predictive_never_scales_below_the_reactive_count():
    env = ClusterAutoscalingEnv(**{**TEST_KW, "random_start": True, "episode_days": 2.0})
    pred, shadow = Predictive(), Hpa()
    obs, info = env.reset(seed=3, options={"trace_index": 2})
    assert len(env.history_demand()) >= 1440   # a day of history: the forecast is on
    pred.reset(env, obs, info)
    shadow.reset(env, obs, info)
    above = 0
    done = False
    while not done:
        p, r = pred.desired(info), shadow.desired(info)
        assert p >= r
        above += p > r
        obs, _, _, done, info = env.step(env.action_for(p))
    assert above > 0                               # the forecast did raise capacity sometimes


def test_oracle_and_static_have_no_violations_and_oracle_is_cheapest():
    env = ClusterAutoscalingEnv(**TEST_KW, initial_replicas=50)
    results = {}
    for name, pol in {"oracle": Oracle(), "static": StaticPeak(), "hpa": Hpa(), "predictive": Predictive()}.items():
        m = [play(env, pol, k)[-1]["episode_metrics"] for k in range(3)]
        results[name] = {k: sum(e[k] for e in m) for k in ("replica_hours", "violation_minutes")}
    assert results["oracle"]["violation_minutes"] == 0 and results["static"]["violation_minutes"] == 0
    for name in ("static", "hpa", "predictive"):
        assert results["oracle"]["replica_hours"] <= results[name]["replica_hours"], name
    assert results["hpa"]["replica_hours"] < results["static"]["replica_hours"]


def test_baselines_work_in_delta_mode():
    env = ClusterAutoscalingEnv(**TEST_KW, action_mode="delta")
    m = play(env, Hpa())[-1]["episode_metrics"]
    assert np.isfinite(m["cost_per_day"]) and m["scaling_actions"] > 0
