"""Random search for a ``flash_crash`` preset whose crash signature holds on most seeds (a probe for
the next recalibration, not a published result; the presets are not changed by it).

    .venv/bin/python experiments/market/calib_search.py --candidates 120 --out results/market/crash/calibration

Stage 1 scores ``--candidates`` random overrides of the thin market and its seller (always with
``warmup_settle_pct=1``) on calibration seeds 100-119 by the share of seeds on which every check of
``calib_crash.py`` holds at once under ``stop_logic``; stage 2 re-scores the best ``--top`` on seeds
200-239; stage 3 scores the best two and the preset on fresh seeds 7000-7039. Seeds 3000-3009
(published) and 5000-5039 (``crash/fresh40``) are never used.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from multiprocessing import get_context

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from calib_crash import _one  # noqa: E402

from feedbackgym.files import atomic_write  # noqa: E402

SPACE = {  # field: (low, high) uniform, or a tuple of choices
    "seller_participation": (0.09, 0.13),
    "maker_inventory_cap": (35, 40, 45, 50),
    "noise_withdraw": (0.2, 0.4),
    "momentum_threshold_bps": (12.0, 25.0),
    "momentum_rate_per_s": (0.03, 0.07),
    "deep_value_discount_pct": (3.0, 5.0),
    "deep_value_rate_per_s": (0.08, 0.2),
    "stop_distance_pct": (1.5, 2.5),
    "maker_pull_move_ticks": (18.0, 30.0),
}


def draw(rng) -> dict:
    c = {"warmup_settle_pct": 1.0}
    for k, v in SPACE.items():
        if len(v) == 2 and isinstance(v[0], float):
            c[k] = round(float(rng.uniform(*v)), 3)
        else:
            c[k] = int(v[int(rng.integers(len(v)))])
    return c


def score(pool, cands, seeds) -> list:
    jobs = [(c, s) for c in cands for s in seeds]
    passed: dict = {}
    for key, _seed, ok, _s in pool.imap_unordered(_one, jobs, chunksize=4):
        passed.setdefault(key, []).append(ok == "Y" * len(ok))
    return [(sum(passed[json.dumps(c, sort_keys=True)]) / len(seeds), c) for c in cands]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--candidates", type=int, default=120)
    ap.add_argument("--top", type=int, default=8)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--out", default="results/market/crash/calibration")
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    cands = [draw(rng) for _ in range(args.candidates)]
    preset = {"warmup_settle_pct": 1.0}
    with get_context("spawn").Pool(args.workers) as pool:
        s1 = sorted(score(pool, cands + [preset], range(100, 120)), key=lambda r: -r[0])
        print("stage 1 best:", s1[:3], flush=True)
        top = [c for _, c in s1[:args.top]]
        s2 = sorted(score(pool, top + [preset], range(200, 240)), key=lambda r: -r[0])
        print("stage 2:", s2, flush=True)
        best = [c for _, c in s2 if c != preset][:2]
        s3 = score(pool, best + [preset, {}], range(7000, 7040))
        print("stage 3:", s3, flush=True)
    os.makedirs(args.out, exist_ok=True)
    atomic_write(os.path.join(args.out, "search.json"), json.dumps(
        {"command": " ".join(["python"] + sys.argv), "space": {k: list(v) for k, v in SPACE.items()},
         "stage1_seeds": [100, 119], "stage1": [[f, c] for f, c in s1],
         "stage2_seeds": [200, 239], "stage2": [[f, c] for f, c in s2],
         "stage3_seeds": [7000, 7039], "stage3": [[f, c] for f, c in s3]}, indent=1))


if __name__ == "__main__":
    main()
