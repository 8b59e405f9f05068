"""Rightsizing baselines: VPA's exact defaults, Autopilot's rules, forecast, oracle, discrete snapping."""

import numpy as np
import pytest

from feedbackgym.agents.baselines.cluster.rightsizing import (AutopilotMl, AutopilotWindow, DecayingHistogram,
                                                              Forecast, Headroom, Oracle, Static, Vpa, vpa_starts)
from feedbackgym.envs.cluster.config import RightsizingConfig
from feedbackgym.envs.cluster.env import ClusterRightsizingEnv

HEADER = ("Timestamp [ms];\tCPU cores;\tCPU capacity provisioned [MHZ];\tCPU usage [MHZ];\t"
          "Memory capacity provisioned [KB];\tMemory usage [KB]")
SIMPLE = RightsizingConfig.simple_model()


def vm(tmp_path, mem_mib, cpu_cores=0.5, req_mib=8192.0, name="vm1"):
    mem_mib = np.asarray(mem_mib, dtype=float)
    rows = [f"{1372629600 + 300 * i};\t4;\t4000.0;\t{cpu_cores * 1000.0};\t{req_mib * 1024};\t{mem_mib[i] * 1024}"
            for i in range(len(mem_mib))]
    p = tmp_path / f"{name}.csv"
    p.write_text("\n".join([HEADER] + rows) + "\n")
    return str(p)


def play(path, policy, **kw):
    env = ClusterRightsizingEnv(workloads=path, episode_days=None, random_start=False, **{**SIMPLE, **kw})
    obs, info = env.reset(seed=0)
    policy.reset(env, obs, info)
    limits, done = [], False
    while not done:
        a = policy.act(obs, info)
        obs, r, term, trunc, info = env.step(a)
        limits.append((info["memory_limit_mib"], info["cpu_limit_cores"], info["oom"]))
        done = term or trunc
    return np.asarray(limits, dtype=float), info["episode_metrics"]


def test_vpa_buckets_and_percentile_are_vpas():
    s = vpa_starts(0.01, 1000.0)
    i = np.arange(len(s))
    assert np.allclose(s, 0.01 * (1.05 ** i - 1) / 0.05)     # bucket i starts at first*(1.05^i - 1)/0.05
    assert s[-2] < 1000.0 <= s[-1]
    h = DecayingHistogram(s, 24 * 12)
    for v in (0.1, 0.2, 0.3, 0.4, 1.0):
        h.add(v)
    k = h.bucket(0.4)
    assert h.percentile(0.8) == pytest.approx(s[k + 1])      # the END of the bucket reaching 80%


def test_vpa_floor_and_target(tmp_path):
    lim, m = play(vm(tmp_path, [50.0] * (3 * 288), req_mib=2048.0), Vpa())
    assert lim[-1, 0] == pytest.approx(250.0)                  # 50 MiB used: the 250 MiB floor
    assert lim[-1, 1] == pytest.approx(0.5 * 1.15, rel=0.06)   # CPU p90 x 1.15 (bucket end)
    assert m["oom_per_task_day"] == 0.0
    # with little history the upper bound p95 x 1.15 x (1 + 1/days) is above the request: no change
    # for the first half hour (1 + 288/6 = 49 x 57.5 MiB > 2048), then the request leaves the bounds
    assert np.all(lim[:6, 0] == 2048.0) and lim[8, 0] == pytest.approx(250.0)


def test_vpa_oom_bump(tmp_path):
    mem = [1000.0] * (2 * 288) + [1400.0] * 288
    lim, m = play(vm(tmp_path, mem, req_mib=1200.0), Vpa())
    first_oom = int(np.flatnonzero(lim[:, 2])[0])
    # after the OOM the interval's peak is max(used + 100 MiB, 1.2 x used) of the usage seen (the limit)
    assert lim[first_oom + 1, 0] >= 1.2 * lim[first_oom, 0] * 1.15 * 0.95
    assert m["ooms"] <= 3


def test_autopilot_window_constant_job(tmp_path):
    lim, m = play(vm(tmp_path, [1000.0] * 600), AutopilotWindow())
    assert 1150.0 <= lim[-1, 0] <= 1150.0 * 1.04               # p98 x 1.15 (400 log buckets)
    assert m["oom_per_task_day"] == 0.0
    assert lim[-1, 1] == pytest.approx(0.5 * 1.15, rel=0.04)


def test_autopilot_window_reacts_to_a_step_slowly(tmp_path):
    mem = [1000.0] * 600 + [1600.0] * 300
    lim, m = play(vm(tmp_path, mem), AutopilotWindow())
    assert m["ooms"] >= 1                     # a 60% step above a 15% margin: OOMs until p98 moves
    assert lim[-1, 0] >= 1600.0


def test_autopilot_ml_and_forecast_cover_usage(tmp_path):
    rng = np.random.default_rng(0)
    mem = 1000.0 * (1 + 0.05 * rng.random(900))
    for pol in (AutopilotMl(), Forecast()):
        lim, m = play(vm(tmp_path, mem, name=type(pol).__name__), pol)
        assert np.all(lim[-300:, 0] > 1000.0) and np.all(lim[-300:, 0] < 2000.0), type(pol).__name__
        assert m["oom_per_task_day"] <= 1.0


def test_oracle_hindsight(tmp_path):
    rng = np.random.default_rng(1)
    mem = 1000.0 + 500.0 * np.sin(np.arange(3 * 288) / 288 * 2 * np.pi) + 50 * rng.random(3 * 288)
    lim, m = play(vm(tmp_path, mem), Oracle())
    assert m["ooms"] == 0 and m["throttled_fraction"] == 0.0
    assert m["limit_changes_per_day_p99"] <= 8
    _, ms = play(vm(tmp_path, mem, name="s"), Static())
    assert m["memory_slack_mean"] < ms["memory_slack_mean"]


def test_discrete_variants_answer_menu_actions(tmp_path):
    p = vm(tmp_path, [1000.0] * 100)
    env = ClusterRightsizingEnv(workloads=p, episode_days=None, random_start=False, **SIMPLE)
    obs, info = env.reset(seed=0)
    for pol in (AutopilotWindow(discrete=True), Headroom()):
        pol.reset(env, obs, info)
        a = pol.act(obs, info)
        assert isinstance(a, int) and 0 <= a < 40


def test_autopilot_window_update_interval(tmp_path):
    """update_every_h=1: limits change only on the first window of each hour of the job's age."""
    mem = np.r_[np.full(30, 1000.0), np.linspace(1000.0, 3000.0, 60), np.full(30, 3000.0)]
    limits, _ = play(vm(tmp_path, mem), AutopilotWindow(update_every_h=1.0))
    changed = np.flatnonzero(np.diff(limits[:, 0]) != 0) + 2      # job age (windows) of each change
    assert len(changed) > 2 and np.all(changed % 12 == 1)
    every, _ = play(vm(tmp_path, mem, name="vm2"), AutopilotWindow())
    assert np.sum(np.diff(every[:, 0]) != 0) > len(changed)
