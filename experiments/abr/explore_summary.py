"""Summarise exploration runs (runs/explore/*/evaluations.csv) as the table in NOTES.md.

    .venv/bin/python experiments/abr/explore_summary.py runs/explore
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path


def main(root: str = "runs/explore") -> None:
    print("| run | steps evaluated | step-0 valid | best valid (step) | last valid | fcc_test at best | "
          "hsdpa_holdout at best | valid bitrate / rebuffer s / switches at last |")
    print("|---|---:|---:|---:|---:|---:|---:|---|")
    for run in sorted(Path(root).iterdir()):
        path = run / "evaluations.csv"
        if not path.is_file():
            continue
        rows = list(csv.DictReader(open(path)))
        by = {}
        for r in rows:
            by.setdefault(int(float(r["timesteps"])), {})[r["eval"]] = r
        steps = sorted(by)
        val = [(s, float(by[s]["validation"]["qoe_per_chunk"])) for s in steps if "validation" in by[s]]
        best_s, best_v = max(val, key=lambda x: x[1])
        first = f"{val[0][1]:.3f}" if val[0][0] == 0 else "—"
        last = by[val[-1][0]]["validation"]
        best = by[best_s]
        at = lambda split, best=best: f"{float(best[split]['qoe_per_chunk']):.3f}" if split in best else ""
        print(f"| {run.name} | {val[-1][0]} | {first} | {best_v:.3f} ({best_s}) | {val[-1][1]:.3f} | "
              f"{at('fcc_test')} | "
              f"{at('hsdpa_holdout')} | {float(last['mean_bitrate_mbps']):.2f} / {float(last['rebuffer_s']):.2f} / "
              f"{float(last['switches']):.1f} |")


if __name__ == "__main__":
    main(*sys.argv[1:])
