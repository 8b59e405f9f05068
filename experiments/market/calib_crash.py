"""Calibration probe (not a published result): per-seed crash-signature pass rate of ``flash_crash``
under ``stop_logic`` for candidate preset overrides, on calibration seeds (never the published
3000-3009).

    .venv/bin/python experiments/market/calib_crash.py --seeds 12 --first-seed 0 \
        --candidate '{}' --candidate '{"noise_withdraw": 0.3}'

Per candidate: seeds passing every check at once (with our calm-before-the-seller check), the
issue's own checks at once (all but that one), each check's count, and the seeds whose mid falls
>= 4 % at some point in the hour. ``--out FILE.json`` keeps the table (written atomically).
"""
from __future__ import annotations

import argparse
import json
import os
import shlex
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


def _table(res: dict) -> list[dict]:
    table = []
    for key, rows in res.items():
        rows.sort(key=lambda r: r[0])
        n_checks = len(rows[0][1])
        table.append({
            "overrides": json.loads(key),
            "seeds": [seed for seed, _, _ in rows],
            "all_checks": sum(ok == "Y" * n_checks for _, ok, _ in rows),
            "issue_checks": sum(ok[1:] == "Y" * (n_checks - 1) for _, ok, _ in rows),
            "per_check": {name: sum(ok[i] == "Y" for _, ok, _ in rows)
                          for i, (name, _) in enumerate(CHECKS + (REBOUND_CHECK,))},
            "falls_4pct_in_hour": sum(s["time_to_4pct_s"] is not None for _, _, s in rows),
        })
    return table


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, default=12)
    ap.add_argument("--first-seed", type=int, default=0)
    ap.add_argument("--candidate", action="append", default=[], help="JSON dict of flash_crash overrides")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--verbose", action="store_true")
    ap.add_argument("--out", help="write the table as JSON here (atomically)")
    args = ap.parse_args()
    cands = [json.loads(c) for c in (args.candidate or ["{}"])]
    jobs = [(c, s) for c in cands for s in range(args.first_seed, args.first_seed + args.seeds)]
    res: dict = {}
    with get_context("spawn").Pool(args.workers) as pool:
        for key, seed, ok, s in pool.imap_unordered(_one, jobs):
            res.setdefault(key, []).append((seed, ok, s))
    for row in _table(res):
        n = len(row["seeds"])
        print(f"{row['all_checks']:3d}/{n} all  {row['issue_checks']:3d}/{n} issue's  "
              f"per-check {list(row['per_check'].values())}  falls 4 % in the hour "
              f"{row['falls_4pct_in_hour']}  {json.dumps(row['overrides'], sort_keys=True)}", flush=True)
    if args.verbose:
        for key, rows in res.items():
            print(key)
            for seed, ok, s in rows:
                print(f"   seed {seed} {ok} dd {s['drawdown_pct']:.2f} leg {s['last_leg_30s_pct']:.2f} "
                      f"spread {s['spread_at_trough_ticks']:.0f} reb {s['rebound_5min_frac']:.2f} "
                      f"pre {s['pre_range_pct']:.2f} halts {s['n_halts']}")
    if args.out:
        from feedbackgym.files import atomic_write
        cmd = "python experiments/market/calib_crash.py " + shlex.join(sys.argv[1:])
        atomic_write(args.out, json.dumps({"command": cmd, "candidates": _table(res)}, indent=1))


if __name__ == "__main__":
    main()
