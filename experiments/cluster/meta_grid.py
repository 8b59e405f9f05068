"""Every fixed arm of the meta action mode (``action_mode="meta"``) on the ``train`` split beside
VPA: selects the arm rule the meta agent is cloned from (selection on train only).

Usage::

    .venv/bin/python experiments/cluster/meta_grid.py [--days 7] [--out results/cluster/meta_grid.json]

Each of the 20 train VMs once from its first window for ``--days`` days (no history), default
model. Memory slack (mean over job-days) @ OOMs per task-day (pooled), p99 limit changes per
job-day (pooled).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import gymnasium as gym
import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import feedbackgym  # noqa: E402,F401
from feedbackgym.agents.rollout import run_episode  # noqa: E402
from feedbackgym.envs.cluster.meta import ARMS, ArmRule  # noqa: E402
from feedbackgym.family import PlannedEpisode  # noqa: E402
from feedbackgym.files import atomic_write  # noqa: E402


def score(env, policy, jobs) -> dict:
    """``policy`` on each job once from its first window: memory slack (mean over job-days) @ OOMs
    per task-day (pooled) and the pooled job-day percentiles of limit changes (also used by
    hindsight_grid.py)."""
    eps = [run_episode(env, policy, PlannedEpisode(0, {"job_index": j})) for j in jobs]  # records hold the metrics
    days = [int(x) for e in eps for x in e["limit_changes_by_day"].split()]
    return {"memory_slack_mean": sum(e["memory_slack_day_sum"] for e in eps) / sum(e["job_days"] for e in eps),
            "oom_per_task_day": sum(e["ooms"] for e in eps) / sum(e["task_days"] for e in eps),
            "limit_changes_per_day_p99": float(np.percentile(days, 99)),
            "limit_changes_per_day_p50": float(np.percentile(days, 50))}


def run_arm(env, arm: int, jobs) -> dict:
    return {"arm": ARMS[arm][0], **score(env, ArmRule(arm), jobs)}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--days", type=float, default=7.0)
    ap.add_argument("--out", default=str(ROOT / "results" / "cluster" / "meta_grid.json"))
    args = ap.parse_args(argv)
    env = gym.make("feedbackgym/ClusterRightsizing-v0", workloads="train", action_mode="meta",
                   episode_days=args.days, random_start=False)
    jobs = range(env.unwrapped.num_jobs)
    rows = []
    for arm in range(len(ARMS)):
        t = time.time()
        row = run_arm(env, arm, jobs)
        rows.append(row)
        print(f"{row['arm']:16s} slack {row['memory_slack_mean']:.3f} oom/task-day {row['oom_per_task_day']:.4f} "
              f"changes p99 {row['limit_changes_per_day_p99']:.1f} [{time.time() - t:.0f} s]", flush=True)
    vpa = rows[0]
    ok = [r for r in rows[1:] if r["oom_per_task_day"] <= vpa["oom_per_task_day"]
          and r["limit_changes_per_day_p99"] <= 7]
    best = min(ok, key=lambda r: r["memory_slack_mean"]) if ok else None
    out = {"command": f"experiments/cluster/meta_grid.py --days {args.days:g}", "split": "train",
           "days": args.days, "arms": rows,
           "selected": best["arm"] if best else None,
           "rule": "least slack among arms with OOMs per task-day <= VPA's and p99 changes <= 7 (train only)"}
    atomic_write(Path(args.out), json.dumps(out, indent=1) + "\n")
    print("selected:", out["selected"])


if __name__ == "__main__":
    main()
