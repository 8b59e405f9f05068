"""Why this env's Autopilot moving window (0.27 @ 2.2 on the 30 shared VMs, simple model) differs
from the issue's independent replay (0.41 @ 0.56, "slow to react to steps", 0-6 limit changes a
day): the recommender's procedure varied one knob at a time on the same data and model.

Usage::

    .venv/bin/python experiments/cluster/autopilot_window_gap.py [--shared DIR] [--only 9,10]
        [--out results/cluster/autopilot_window_gap.json]

Writes ``autopilot_window_gap.json`` (atomically, after every variant) and prints one line per variant.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import feedbackgym  # noqa: E402,F401
from feedbackgym.agents.baselines import make_baseline  # noqa: E402
from feedbackgym.agents.evaluation import evaluate  # noqa: E402
from feedbackgym.envs.cluster.config import RightsizingConfig  # noqa: E402
from feedbackgym.files import atomic_write  # noqa: E402

ENV = "feedbackgym/ClusterRightsizing-v0"
KEYS = ("memory_slack_mean", "oom_per_task_day", "oom_free_day_fraction", "limit_changes_per_day_p50",
        "limit_changes_per_day_p99", "memory_reaction_minutes")
VARIANTS = {
    "as published here (every window, max over 1 h)": {},
    "untruncated peaks (replay_usage)": {"replay_usage": True},
    "change only on >= 10% drift": {"min_change": 0.10},
    "limits set every 4 h": {"update_every_h": 4.0},
    "limits set every 24 h": {"update_every_h": 24.0},
    "max over the last 24 h": {"max_window_h": 24.0},
    "every 4 h + untruncated peaks": {"update_every_h": 4.0, "replay_usage": True},
    "every 24 h + untruncated peaks": {"update_every_h": 24.0, "replay_usage": True},
    "the peak instead of p98": {"percentile_low": 1.0},
    "margin 30% instead of 15%": {"memory_margin": 0.30},
    "margin 50%": {"memory_margin": 0.50},
    "the peak, margin 30%": {"percentile_low": 1.0, "memory_margin": 0.30},
}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--shared", default="/work/shared/data/cluster/bitbrains_rnd_2013-7")
    ap.add_argument("--out", default=str(ROOT / "results" / "cluster" / "autopilot_window_gap.json"))
    ap.add_argument("--only", default=None, help="comma-separated variant numbers (1-based) to (re)run; the "
                    "others are kept from --out")
    args = ap.parse_args(argv)
    out = Path(args.out)
    old = {r["variant"]: r for r in json.loads(out.read_text())["rows"]} if out.is_file() and args.only else {}
    only = {int(x) for x in args.only.split(",")} if args.only else None
    rows = []
    for number, (label, kw) in enumerate(VARIANTS.items(), 1):
        if only is not None and number not in only:
            if label in old:
                rows.append(old[label])
            continue
        t = time.time()
        pol = make_baseline(ENV, "autopilot_window", **kw)
        r = evaluate(ENV, "autopilot_window", env_kwargs=RightsizingConfig.simple_model(), traces=args.shared,
                     policy_obj=pol)
        row = {"variant": label, "kwargs": kw, **{k: r.aggregate.get(k) for k in KEYS}}
        rows.append(row)
        print(f"{label:48s} slack {row['memory_slack_mean']:.3f} oom/task-day {row['oom_per_task_day']:.3f} "
              f"changes/day p50 {row['limit_changes_per_day_p50']:.0f} p99 {row['limit_changes_per_day_p99']:.0f} "
              f"reaction {row['memory_reaction_minutes']:.0f} min [{time.time() - t:.0f} s]", flush=True)
        atomic_write(out, json.dumps({"data": "30 shared Bitbrains VMs, whole month", "model": "simple",
                                                 "issue_replay": "0.41 @ 0.56", "rows": rows}, indent=1) + "\n")


if __name__ == "__main__":
    main()
