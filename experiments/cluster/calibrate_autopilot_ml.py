"""Calibrate the Autopilot ML recommender's overrun weight on the ``train`` split only.

Autopilot's weights are not published; a public re-implementation used w_o 0.5, w_u 0.25,
w_dL = w_dm = 0.1. With one memory sample per 5-minute window that w_o tolerates far too many
OOMs, so w_o is chosen here: the smallest mean memory slack whose OOMs per task-day do not
exceed the moving-window recommender's on the same jobs (w_u, w_dL, w_dm kept).

Usage: .venv/bin/python experiments/cluster/calibrate_autopilot_ml.py [--episodes 6] [--out results/cluster]
Writes autopilot_ml_calibration.json (the chosen weight is then the AutopilotMl default).
"""

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import feedbackgym  # noqa: E402,F401
from feedbackgym.agents.baselines.cluster.rightsizing import AutopilotMl, AutopilotWindow  # noqa: E402
from feedbackgym.agents.evaluation import evaluate  # noqa: E402
from feedbackgym.files import atomic_write  # noqa: E402

ENV = "feedbackgym/ClusterRightsizing-v0"


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--episodes", type=int, default=6)
    ap.add_argument("--weights", default="0.5,5,25,100")
    ap.add_argument("--out", default=str(ROOT / "results" / "cluster"))
    args = ap.parse_args(argv)
    rows = {}
    t = time.time()
    ref = evaluate(ENV, "autopilot_window", traces="train", episodes=args.episodes, policy_obj=AutopilotWindow())
    rows["autopilot_window"] = {k: ref.aggregate[k] for k in ("memory_slack_mean", "oom_per_task_day")}
    print("autopilot_window", rows["autopilot_window"], f"[{time.time() - t:.0f} s]", flush=True)
    for w in args.weights.split(","):
        t = time.time()
        r = evaluate(ENV, "autopilot_ml", traces="train", episodes=args.episodes,
                     policy_obj=AutopilotMl(overrun_weight=float(w)))
        rows[f"w_o={w}"] = {k: r.aggregate[k] for k in ("memory_slack_mean", "oom_per_task_day",
                                                        "limit_changes_per_day_p99")}
        print(f"w_o={w}", rows[f"w_o={w}"], f"[{time.time() - t:.0f} s]", flush=True)
    ok = {k: v for k, v in rows.items() if k.startswith("w_o") and
          v["oom_per_task_day"] <= rows["autopilot_window"]["oom_per_task_day"]}
    best = min(ok, key=lambda k: ok[k]["memory_slack_mean"]) if ok else \
        min((k for k in rows if k.startswith("w_o")), key=lambda k: rows[k]["oom_per_task_day"])
    out = {"split": "train", "episodes": args.episodes, "results": rows, "chosen": best}
    atomic_write(Path(args.out) / "autopilot_ml_calibration.json", json.dumps(out, indent=1) + "\n")
    print("chosen", best)


if __name__ == "__main__":
    main()
