"""Autoscaling dynamics: provisioning delay, removal order, violation and cost accounting."""

import math

import numpy as np
import pytest

from feedbackgym.envs.cluster.autoscaling_env import ClusterAutoscalingEnv
from feedbackgym.envs.cluster.autoscaling_sim import Service

HEADER = ("Timestamp [ms];\tCPU cores;\tCPU capacity provisioned [MHZ];\tCPU usage [MHZ];\tCPU usage [%];\t"
          "Memory capacity provisioned [KB];\tMemory usage [KB]\n")


def write_trace(path, usage_mhz, t0=1372636800):  # 2013-07-01 00:00 UTC, a Monday
    """A Bitbrains-format VM file: 1 core of 1000 MHz, the given CPU usage per 5-minute row."""
    lines = [HEADER] + [f"{t0 + 300 * i};\t1;\t1000.0;\t{u};\t{u / 10};\t1000.0;\t100.0\n"
                        for i, u in enumerate(usage_mhz)]
    path.write_text("".join(lines))
    return str(path)


def test_replicas_become_ready_after_the_provisioning_delay():
    s = Service(delay_steps=2)
    s.reset(3)
    s.apply(5)
    assert (s.ready, s.provisioning, s.desired) == (3, 2, 5)
    s.advance()
    assert (s.ready, s.provisioning) == (3, 2)
    s.advance()
    assert (s.ready, s.provisioning) == (5, 0)


def test_scale_down_cancels_the_newest_provisioning_replicas_first():
    s = Service(delay_steps=3)
    s.reset(4)
    s.apply(6)            # 2 ordered, ready in 3 step ends
    s.advance()
    s.apply(8)            # 2 more, ready in 3 step ends
    assert s.pending == [0, 2, 2]
    s.apply(5)            # remove 3: the 2 newest, then 1 of the older batch; ready untouched
    assert s.pending == [0, 1, 0] and s.ready == 4
    s.apply(2)            # remove 3 more: the last provisioning one, then 2 ready
    assert s.pending == [0, 0, 0] and s.ready == 2


def test_zero_delay_serves_at_once():
    s = Service(delay_steps=0)
    s.reset(1)
    s.apply(7)
    assert s.ready == 7 and s.provisioning == 0


def _demand_steps(env):
    ds = env.setup.demand
    return ds.demand[ds.offset[0]:ds.offset[0] + ds.steps[0]] * env.config.p99_demand_replicas


def test_violation_and_cost_accounting(tmp_path):
    # 12 windows: low load, then a jump to 8x; p99 scaling makes the jump ~10 replicas
    usage = [100.0] * 6 + [800.0] * 6
    env = ClusterAutoscalingEnv(p99_demand_replicas=10.0, traces=write_trace(tmp_path / "vm1.csv", usage),
                                trace_order="sequential", random_start=False, episode_days=None, step_s=60,
                                provisioning_delay_s=180,
                                initial_replicas=2, violation_minute_cost=2.5)
    d = _demand_steps(env)
    assert len(d) == 60 and np.all(d[:30] == d[0]) and np.all(d[30:] == d[30])
    high = math.ceil(d[30])
    _, info = env.reset(seed=0)
    assert info["ready_replicas"] == 2 and info["history_steps"] == 0 and env.history_demand().size == 0
    totals = {}
    rows = []
    for t in range(60):
        want = 2 if t < 30 else high        # purely reactive at the jump: order at step 30
        _, r, term, trunc, info = env.step(env.action_for(want))
        c = info["reward_components"]
        rows.append((t, info["served_by_replicas"], c))
        for k, v in c.items():
            totals[k] = totals.get(k, 0.0) + v
        assert r == -c["cost"]
        assert c["cost"] == c["replica_hours"] + 2.5 * c["violation_minutes"]
        assert not term and trunc == (t == 59)
    for t, ready, c in rows:
        if 30 <= t < 33:    # ordered at 30, ready from 33 (180 s); provisioning ones are billed
            assert ready == 2 and c["violation_minutes"] == 1.0
            assert c["unserved_replica_hours"] == pytest.approx((d[t] - 2) / 60)
            assert c["replica_hours"] == pytest.approx(high / 60)
        elif t >= 33:
            assert ready == high and c["violation_minutes"] == 0.0
        else:
            assert c["violation_minutes"] == (1.0 if d[t] > 2 else 0.0)
    m = info["episode_metrics"]
    assert m["days"] == pytest.approx(60 / 1440)
    for k in ("cost", "replica_hours", "violation_minutes", "unserved_replica_hours", "scaling_actions"):
        assert m[k] == pytest.approx(totals[k])
    assert m["scaling_actions"] == 1.0
    assert m["cost_per_day"] == pytest.approx(m["cost"] / m["days"])
    assert m["unserved_fraction"] == pytest.approx(m["unserved_replica_hours"] / m["demand_replica_hours"])
    assert 0 < m["utilisation"] <= 1


def test_provisioning_replicas_are_not_billed_when_configured(tmp_path):
    env = ClusterAutoscalingEnv(p99_demand_replicas=10.0, traces=write_trace(tmp_path / "vm2.csv", [100.0] * 4),
                                random_start=False, episode_days=None, bill_provisioning=False, initial_replicas=1)
    env.reset(seed=0)
    _, _, _, _, info = env.step(env.action_for(5))
    assert info["reward_components"]["replica_hours"] == pytest.approx(1 / 60)
    assert info["provisioning_replicas"] == 4


def test_delta_actions_stay_within_bounds(tmp_path):
    env = ClusterAutoscalingEnv(p99_demand_replicas=10.0, traces=write_trace(tmp_path / "vm3.csv", [100.0] * 4),
                                random_start=False, episode_days=None, action_mode="delta", min_replicas=2,
                                max_replicas=9,
                                initial_replicas=3)
    env.reset(seed=0)
    deltas = list(env.config.scale_deltas)
    _, _, _, _, info = env.step(deltas.index(8))
    assert info["desired_replicas"] == 9
    _, _, _, _, info = env.step(deltas.index(-8))
    assert info["desired_replicas"] == 2
    assert env.action_for(5) == deltas.index(2)  # +2 and +4 are both 1 away: the first (smaller) wins
