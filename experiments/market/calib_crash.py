"""Calibration probe (not a published result): per-seed crash-signature pass rate of ``flash_crash``
under ``stop_logic`` for candidate preset overrides, on calibration seeds (never the published
3000-3009).

    .venv/bin/python experiments/market/calib_crash.py --seeds 12 --first-seed 0 \
        --candidate '{}' --candidate '{"noise_withdraw": 0.3}'
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from multiprocessing import get_context

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from crash_lib import CHECKS, REBOUND_CHECK, ExchangeRule, run_episode, signature  # noqa: E402

from feedbackgym.envs.market.sim import scenario_params  # noqa: E402


def _one(job):
    over, seed = job
    p = scenario_params("flash_crash", **over)
    s = signature(run_episode(p, seed, ExchangeRule("stop_logic")), p)
    ok = "".join("Y" if c(s) else "n" for _, c in CHECKS + (REBOUND_CHECK,))
    return json.dumps(over, sort_keys=True), seed, ok, s


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, default=12)
    ap.add_argument("--first-seed", type=int, default=0)
    ap.add_argument("--candidate", action="append", default=[], help="JSON dict of flash_crash overrides")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args()
    cands = [json.loads(c) for c in (args.candidate or ["{}"])]
    jobs = [(c, s) for c in cands for s in range(args.first_seed, args.first_seed + args.seeds)]
    res: dict = {}
    with get_context("spawn").Pool(args.workers) as pool:
        for key, seed, ok, s in pool.imap_unordered(_one, jobs):
            res.setdefault(key, []).append((seed, ok, s))
    for key, rows in res.items():
        rows.sort()
        n_all = sum(ok == "Y" * len(ok) for _, ok, _ in rows)
        per_check = [sum(ok[i] == "Y" for _, ok, _ in rows) for i in range(len(rows[0][1]))]
        print(f"{n_all:2d}/{len(rows)} all  per-check {per_check}  {key}", flush=True)
        if args.verbose:
            for seed, ok, s in rows:
                print(f"   seed {seed} {ok} dd {s['drawdown_pct']:.2f} leg {s['last_leg_30s_pct']:.2f} "
                      f"spread {s['spread_at_trough_ticks']:.0f} reb {s['rebound_5min_frac']:.2f} "
                      f"pre {s['pre_range_pct']:.2f} halts {s['n_halts']}")


if __name__ == "__main__":
    main()
