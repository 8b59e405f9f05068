"""Realism gate of the calm day (issue 8, must-show 1): stylized facts per seed vs NASDAQ.

    .venv/bin/python experiments/market/realism.py --seeds 20 --out results/market/realism

Runs ``calm`` (a 6.5-hour day, 23,400 one-second steps, no breaker) for each seed, computes the
stylized facts of :mod:`feedbackgym.envs.market.stylized` from the 1-s mid and volume trajectory
(plus the event-time mid-change autocorrelation the simulator accumulates), and checks every
band of the brief's table. Writes ``per_seed.csv``, ``per_seed.md`` and ``summary.md`` (pass rate
of each band, median of each statistic beside the real NASDAQ ranges quoted by the brief).
The calibration used seeds 0-5; the published seeds start at 2000.
"""

from __future__ import annotations

import argparse
import os

import numpy as np

from feedbackgym.envs.market.sim import MarketSim, scenario_params
from feedbackgym.envs.market.stylized import BANDS, REAL_NASDAQ, check_bands, stylized_facts
from feedbackgym.files import atomic_write, csv_text


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=20)
    ap.add_argument("--first-seed", type=int, default=2000)
    ap.add_argument("--out", default="results/market/realism")
    args = ap.parse_args()
    p = scenario_params("calm")
    rows = []
    for k in range(args.seeds):
        seed = args.first_seed + k
        sim = MarketSim(p)
        sim.reset(np.random.default_rng(seed))
        out = sim.run()
        f = stylized_facts(out["mid"], out["volume"], sim.event_mid_ac1)
        ok = check_bands(f)
        rows.append({"seed": seed, **{key: round(v, 4) for key, v in f.items()},
                     **{f"pass_{key}": v for key, v in ok.items()},
                     "mean_spread_ticks": round(float(np.nanmean(out["spread_ticks"])), 3),
                     "volume_per_s": round(float(out["volume"].mean()), 2),
                     "book_events_per_s": round(float(out["book_events"].mean()), 1),
                     "day_return_pct": round(100 * (out["mid"][-1] / out["mid"][0] - 1), 3)})
        print(seed, sum(ok.values()), "/", len(ok), flush=True)
    os.makedirs(args.out, exist_ok=True)
    atomic_write(os.path.join(args.out, "per_seed.csv"), csv_text(rows))
    stats = [k for k in rows[0] if not k.startswith("pass_") and k != "seed"]
    head = "| seed | " + " | ".join(stats) + " | bands passed |"
    lines = ["# Calm day: stylized facts per seed", "", head, "|" + "---|" * (len(stats) + 2)]
    for r in rows:
        passed = sum(r[f"pass_{n}"] for n, _, _ in BANDS)
        lines.append(f"| {r['seed']} | " + " | ".join(f"{r[s]:.3g}" for s in stats) + f" | {passed}/{len(BANDS)} |")
    atomic_write(os.path.join(args.out, "per_seed.md"), "\n".join(lines) + "\n")
    n = len(rows)
    summ = ["# Realism gate: the calm day vs NASDAQ (issue 8, must-show 1)", "",
            f"`calm` scenario, no breaker, {n} seeds ({args.first_seed}..{args.first_seed + n - 1}) of a 6.5-hour day "
            f"(23,400 one-second steps). Command: `.venv/bin/python experiments/market/realism.py --seeds {n} "
            f"--first-seed {args.first_seed} --out {args.out}`. Per seed: `per_seed.md`, `per_seed.csv`.",
            "Real NASDAQ column: the brief's LOBSTER measurements (AAPL/AMZN/GOOG, 21 June 2012), quoted, "
            "not recomputed.",
            "", "| band | pass rate (target >= 80%) |", "|---|---|"]
    for name, doc, _ in BANDS:
        k = sum(r[f"pass_{name}"] for r in rows)
        summ.append(f"| {doc} | {k}/{n} ({100 * k / n:.0f}%){'' if k >= 0.8 * n else ' **below target**'} |")
    allb = sum(all(r[f"pass_{name}"] for name, _, _ in BANDS) for r in rows)
    summ += [f"| every band at once | {allb}/{n} |", "",
             "| statistic | simulated median [10th, 90th percentile] | real NASDAQ |", "|---|---|---|"]
    for s in stats:
        v = np.array([r[s] for r in rows], dtype=float)
        v = v[np.isfinite(v)]
        if len(v):
            summ.append(f"| {s} | {np.median(v):.3g} [{np.percentile(v, 10):.3g}, {np.percentile(v, 90):.3g}] | "
                        f"{REAL_NASDAQ.get(s, '')} |")
    atomic_write(os.path.join(args.out, "summary.md"), "\n".join(summ) + "\n")
    print("\n".join(summ))


if __name__ == "__main__":
    main()
