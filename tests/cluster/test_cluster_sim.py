"""Rightsizing dynamics: peaks, OOM kills and restarts, throttling and backlog, evictions, histograms,
metrics, config and action errors — on tiny VM files written in the Bitbrains format."""

import numpy as np
import pytest

from feedbackgym.envs.cluster.config import RightsizingConfig
from feedbackgym.envs.cluster.env import ClusterRightsizingEnv
from feedbackgym.envs.cluster.sim import BUCKETS, QUANTILES, DecayedQuantiles

HEADER = ("Timestamp [ms];\tCPU cores;\tCPU capacity provisioned [MHZ];\tCPU usage [MHZ];\t"
          "Memory capacity provisioned [KB];\tMemory usage [KB]")
SIMPLE = RightsizingConfig.simple_model()


def vm(tmp_path, mem_mib, cpu_cores=None, name="vm1", req_mib=4096.0, cores=4):
    """A VM file: memory usage (MiB) per window, CPU usage (cores), 1000 MHz per core."""
    mem_mib = np.asarray(mem_mib, dtype=float)
    cpu = np.full(len(mem_mib), 0.5) if cpu_cores is None else np.asarray(cpu_cores, dtype=float)
    rows = [f"{1372629600 + 300 * i};\t{cores};\t{cores * 1000.0};\t{cpu[i] * 1000.0};\t{req_mib * 1024};\t"
            f"{mem_mib[i] * 1024}" for i in range(len(mem_mib))]
    p = tmp_path / f"{name}.csv"
    p.write_text("\n".join([HEADER] + rows) + "\n")
    return str(p)


def make(path, **kw):
    return ClusterRightsizingEnv(workloads=path, episode_days=None, random_start=False, job_order="sequential",
                                 **kw)


def test_oom_kill_truncates_usage_restarts_and_resumes(tmp_path):
    mem = [1000.0] * 6 + [3000.0] * 6
    env = make(vm(tmp_path, mem), **{**SIMPLE, "restart_windows": 2})
    env.reset(seed=0)
    lim = {"memory_limit_mib": 2000.0, "cpu_limit_cores": 4.0}
    infos = [env.step(lim)[4] for _ in range(8)]
    # windows 1..5 fit; window 6 peaks at 3000 > 2000: killed, usage seen at the limit
    assert not any(i["oom"] for i in infos[:5])
    assert infos[5]["oom"] and infos[5]["memory_usage_mib"] == 2000.0
    assert infos[5]["reward_components"]["oom_kills"] == 1.0
    assert infos[5]["reward_components"]["slo_violation_minutes"] == 5.0
    # two windows down: no usage, SLO minutes, no new OOM
    for i in infos[6:8]:
        assert not i["running"] and i["memory_usage_mib"] == 0.0 and not i["oom"]
        assert i["reward_components"]["slo_violation_minutes"] == 5.0
    # then the trace resumes (and kills again at this limit)
    _, _, _, _, info = env.step(lim)
    assert info["running"] and info["oom"]


def test_simple_model_has_no_restart(tmp_path):
    env = make(vm(tmp_path, [1000.0, 3000.0, 3000.0, 1000.0]), **SIMPLE)
    env.reset(seed=0)
    lim = {"memory_limit_mib": 2000.0}
    ooms = [env.step(lim)[4]["oom"] for _ in range(3)]
    assert ooms == [True, True, False]


@pytest.mark.parametrize("model, kw, expect_oom", [
    ("average", {}, False),
    ("ratio", {"memory_peak_ratio": 0.1}, True),       # peak = 1.1 x 1000 > 1050
    ("lognormal", {"memory_peak_ratio": 0.0, "memory_peak_sigma": 0.0}, False),
])
def test_peak_model(tmp_path, model, kw, expect_oom):
    env = make(vm(tmp_path, [1000.0] * 3), **{**SIMPLE, "memory_peak_model": model, **kw})
    env.reset(seed=0)
    assert env.step({"memory_limit_mib": 1050.0})[4]["oom"] == expect_oom


def test_lognormal_peaks_are_above_average_and_fixed_per_window(tmp_path):
    p = vm(tmp_path, [1000.0] * 400)
    e1 = make(p, memory_peak_sigma=0.1)
    e2 = make(p, memory_peak_sigma=0.1)
    peaks = e1.table.memory_peak_mib
    assert np.all(peaks >= 1000.0 * 1.02) and np.array_equal(peaks, e2.table.memory_peak_mib)
    assert 1.02 * np.exp(0.1 * 0.5) < np.mean(peaks / 1000.0) < 1.02 * np.exp(0.1 * 1.1)


def test_trace_peak_model_needs_recorded_peaks(tmp_path):
    with pytest.raises(ValueError, match="records no window peaks"):
        make(vm(tmp_path, [1000.0] * 3), memory_peak_model="trace")


def test_throttling_serving_vs_batch_backlog(tmp_path):
    cpu = [1.0] * 6
    for job_class, expected_served in (("serving", [0.5, 0.5, 0.5]), ("batch", [0.5, 0.5, 0.5])):
        env = make(vm(tmp_path, [100.0] * 6, cpu, name=job_class), **{**SIMPLE, "throttle_backlog": True},
                   job_class=job_class)
        env.reset(seed=0)
        infos = [env.step({"cpu_limit_cores": 0.5})[4] for _ in range(3)]
        assert [i["cpu_usage_cores"] for i in infos] == expected_served
        assert infos[0]["throttled_fraction"] == pytest.approx(0.5)
        slo = infos[0]["reward_components"]["slo_violation_minutes"]
        assert slo == (5.0 if job_class == "serving" else 0.0)
    # batch work queues: with a big limit the backlog is served on top of demand
    env = make(vm(tmp_path, [100.0] * 6, cpu, name="b2"), **{**SIMPLE, "throttle_backlog": True}, job_class="batch")
    env.reset(seed=0)
    env.step({"cpu_limit_cores": 0.5})
    env.step({"cpu_limit_cores": 0.5})
    info = env.step({"cpu_limit_cores": 4.0})[4]
    assert info["cpu_usage_cores"] == pytest.approx(2.0)   # 1.0 demand + 2 x 0.5 cores of queued work
    assert info["throttled_fraction"] == 0.0


def test_batch_kill_loses_work(tmp_path):
    env = make(vm(tmp_path, [100.0] * 5 + [900.0] * 3), **{**SIMPLE, "restart_windows": 1, "lost_work_windows": 3},
               job_class="batch")
    env.reset(seed=0)
    infos = [env.step({"memory_limit_mib": 500.0})[4] for _ in range(5)]
    assert infos[4]["oom"]
    assert infos[4]["reward_components"]["lost_work_core_s"] == pytest.approx(3 * 0.5 * 300)


def test_limit_increase_can_evict(tmp_path):
    env = make(vm(tmp_path, [100.0] * 8), **{**SIMPLE, "eviction_probability": 1.0, "restart_windows": 2})
    env.reset(seed=0)
    info = env.step({"memory_limit_mib": 200.0})[4]          # a decrease: no eviction
    assert info["running"] and info["reward_components"]["evictions"] == 0
    info = env.step({"memory_limit_mib": 300.0})[4]          # an increase: rescheduled
    assert info["reward_components"]["evictions"] == 1 and not info["running"]
    assert not env.step({"memory_limit_mib": 300.0})[4]["running"]
    assert env.step({"memory_limit_mib": 300.0})[4]["running"]


def test_job_day_metrics_static(tmp_path):
    mem = np.tile(np.linspace(500.0, 1500.0, 288), 3)
    env = make(vm(tmp_path, mem), **SIMPLE)
    env.reset(seed=0)
    done, info = False, None
    while not done:
        _, _, term, trunc, info = env.step({"memory_limit_mib": 4096.0, "cpu_limit_cores": 4.0})
        done = term or trunc
    assert term and not trunc                      # the whole trace played
    m = info["episode_metrics"]
    p95 = np.percentile(mem[:288], 95)
    assert m["memory_slack_mean"] == pytest.approx((4096.0 - p95) / 4096.0)
    assert m["job_days"] == 3 and m["oom_per_task_day"] == 0.0 and m["oom_free_day_fraction"] == 1.0
    assert m["limit_changes_per_day_p99"] == 0.0 and m["machine_hours_saved"] == 0.0
    assert m["cpu_slack_mean"] == pytest.approx((4.0 - 0.5) / 4.0)


def test_discrete_menu_targets_and_deadband(tmp_path):
    env = make(vm(tmp_path, [1000.0] * 20), **SIMPLE)
    env.reset(seed=0)
    mem, cpu = env.menu()
    assert mem[0] == 4096.0 and mem[1] == pytest.approx(1050.0) and mem[6] == pytest.approx(2000.0)
    assert cpu[1] == pytest.approx(0.6)
    info = env.step(4 * 4 + 1)[4]                  # memory x1.35 of the last hour's peak, CPU x1.2
    assert info["memory_limit_mib"] == pytest.approx(1350.0) and info["cpu_limit_cores"] == pytest.approx(0.6)
    info = env.step(4 * 4 + 1)[4]                  # the same target again: no change
    assert info["reward_components"]["memory_limit_change"] == 0.0
    assert env.nearest_action(1350.0, 0.6) == 0     # the current limits: hold
    assert env.nearest_action(2100.0, 1.5) == 6 * 4 + 3


def test_decayed_quantiles_match_brute_force():
    rng = np.random.default_rng(1)
    T, n = 400, 3
    hl = (5, 50)
    h = DecayedQuantiles(n, 2, hl)
    ks = np.zeros((T, n, 2), dtype=np.int64)
    on = np.ones(n, dtype=bool)
    for t in range(T):
        centre = 30 if t < 200 else 70                                  # a step change
        ks[t] = np.clip(rng.normal(centre, 4, (n, 2)), 0, BUCKETS - 1).astype(np.int64)
        ks[t, :, 1] = ks[t, :, 0]
        h.add(slice(None), ks[t], on)
        if t in (10, 199, 205, 260, 399):
            stats = h.stats(slice(None))
            for j, half in enumerate(hl):
                age = t - np.arange(t + 1)
                w = 2.0 ** (-age / half)
                for i in range(n):
                    hist = np.bincount(ks[:t + 1, i, j], weights=w, minlength=BUCKETS)
                    c = np.cumsum(hist)
                    for qi, q in enumerate(QUANTILES):
                        exact = int((c < q * c[-1] * (1 - 1e-12)).sum())
                        assert abs(stats[i, j, qi] - exact) <= 1, (t, j, q)
                    top = int(np.flatnonzero(hist >= 0.01)[-1])
                    assert abs(stats[i, j, -1] - top) <= 1


def test_config_errors_name_the_field():
    with pytest.raises(ValueError, match=r"RightsizingConfig.eviction_probability: expected a number in \[0.0, 1.0\]"):
        ClusterRightsizingEnv(eviction_probability=2.0)
    with pytest.raises(ValueError, match=r"unknown field\(s\) \['limit'\]"):
        ClusterRightsizingEnv(limit=3)
    with pytest.raises(ValueError, match="memory_peak_model"):
        ClusterRightsizingEnv(memory_peak_model="max")
    with pytest.raises(ValueError, match="no such workload"):
        ClusterRightsizingEnv(workloads="/nonexistent/folder")


def test_action_errors(tmp_path):
    env = make(vm(tmp_path, [100.0] * 5))
    env.reset(seed=0)
    with pytest.raises(ValueError, match=r"outside Discrete\(40\)"):
        env.step(40)
    with pytest.raises(ValueError, match="expected an integer"):
        env.step("big")
    with pytest.raises(ValueError, match=r"unknown key\(s\) \['memory'\]"):
        env.step({"memory": 3})
    with pytest.raises(ValueError, match="finite positive"):
        env.step({"memory_limit_mib": -1.0})
    with pytest.raises(ValueError, match="job_index"):
        env.reset(options={"job_index": 5})


@pytest.mark.parametrize("raise_at, minutes", [(10, 30.0), (None, 100.0)])
def test_reaction_time_minutes_until_the_limit_covers_a_step(tmp_path, raise_at, minutes):
    """A usage step at window 4 above a 2000 MiB limit: the reaction time runs until the first
    window whose limit covers the peak (window 10: 6 windows = 30 minutes), or to the episode's
    end when the limit never follows (counted with its 20 windows so far)."""
    env = make(vm(tmp_path, [1000.0] * 4 + [3000.0] * 20), **SIMPLE)
    env.reset(seed=0)
    done, t, info = False, 0, {}
    while not done:
        t += 1
        limit = 3500.0 if raise_at is not None and t >= raise_at else 2000.0
        _, _, term, trunc, info = env.step({"memory_limit_mib": limit})
        done = term or trunc
    m = info["episode_metrics"]
    assert m["memory_reaction_events"] == 1
    assert m["memory_reaction_minutes"] == minutes == m["memory_reaction_minutes_sum"]


def test_pooled_limit_change_percentiles_pool_job_days():
    from feedbackgym.envs.cluster.family import PooledPercentile
    episodes = [{"limit_changes_by_day": "0 0 0 0"}, {"limit_changes_by_day": "10"}, {}]
    assert PooledPercentile(50.0)("x", episodes) == 0.0
    assert PooledPercentile(100.0)("x", episodes) == 10.0
    assert np.isnan(PooledPercentile(99.0)("x", [{}]))


def test_counterfactual_info_memory_and_cpu(tmp_path):
    """Every menu limit's cost for the last window, memory (overrun, slack) and CPU (throttled
    fraction, slack); the held choice (0) is the limit in force, and it is the window's own cost."""
    env = make(vm(tmp_path, [1000.0] * 30, cpu_cores=[1.0] * 15 + [3.0] * 15), **SIMPLE)
    env.reset(seed=0)
    for t in range(20):
        _, _, _, _, info = env.step(0 if t < 14 else 4 * 1 + 1)
    lim = info["counterfactual_cpu_limit_cores"]
    assert lim.shape == (4,) and info["counterfactual_memory_limit_mib"].shape == (10,)
    thr = info["counterfactual_cpu_throttled_fraction"]
    # the window ran with choice 1's CPU limit (last hour's peak x 1.2) unless the deadband held it
    k = int(np.flatnonzero(lim == info["cpu_limit_cores"])[0])
    assert thr[k] == info["reward_components"]["throttled_fraction"]
    assert info["counterfactual_cpu_slack_fraction"][k] == info["reward_components"]["cpu_slack_fraction"]
    for key in ("counterfactual_memory_overrun", "counterfactual_memory_slack_fraction"):
        assert info[key].shape == (10,)
    env2 = make(vm(tmp_path, [1000.0] * 5, name="vm2"), counterfactual_info=False)
    env2.reset(seed=0)
    assert not any(k.startswith("counterfactual") for k in env2.step(0)[4])
