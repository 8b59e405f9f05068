"""A grid over the in-menu ``headroom`` rule's choices on the ``train`` split (test protocol: every
train VM once, whole trace), beside VPA on the same jobs: which rule in the agent's own action
menu sits lowest in slack at VPA's OOM level — the expert to clone. Selection uses train only.

Usage::

    .venv/bin/python experiments/cluster/headroom_grid.py [--out results/cluster/headroom_grid.json]
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import feedbackgym  # noqa: E402,F401
from feedbackgym.agents.baselines import make_baseline  # noqa: E402
from feedbackgym.agents.evaluation import evaluate  # noqa: E402
from feedbackgym.files import atomic_write  # noqa: E402

ENV = "feedbackgym/ClusterRightsizing-v0"
KEYS = ("memory_slack_mean", "oom_per_task_day", "limit_changes_per_day_p99", "memory_reaction_minutes")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=str(ROOT / "results" / "cluster" / "headroom_grid.json"))
    ap.add_argument("--split", default="train")
    args = ap.parse_args(argv)
    rows = []

    def run(label, kwargs, name="headroom"):
        t = time.time()
        pol = make_baseline(ENV, name, **kwargs)
        r = evaluate(ENV, name, traces=args.split, policy_obj=pol)
        row = {"policy": label, "kwargs": kwargs, **{k: r.aggregate.get(k) for k in KEYS}}
        rows.append(row)
        print(f"{label:40s} slack {row['memory_slack_mean']:.3f} oom/task-day {row['oom_per_task_day']:.3f} "
              f"p99 changes {row['limit_changes_per_day_p99']:.0f} [{time.time() - t:.0f} s]", flush=True)
        atomic_write(Path(args.out), json.dumps({"split": args.split, "rows": rows}, indent=1) + "\n")

    run("vpa", {}, "vpa")
    for long_c, recent_c, hold_h in itertools.product((7, 8, 9), (3, 4, 5, 6), (6.0, 24.0)):
        run(f"headroom long={long_c} recent={recent_c} hold={hold_h:g}h",
            {"long_choice": long_c, "recent_choice": recent_c, "hold_after_oom_h": hold_h})


if __name__ == "__main__":
    main()
