"""Quick calibration probe: stylized facts of a few calm days (not a published result).

    .venv/bin/python experiments/market/calib_calm.py --seeds 4 --set noise_orders_per_s=12
"""
import argparse
import json
import time

import numpy as np

from feedbackgym.envs.market.sim import MarketSim, scenario_params
from feedbackgym.envs.market.stylized import check_bands, stylized_facts

ap = argparse.ArgumentParser()
ap.add_argument("--seeds", type=int, default=4)
ap.add_argument("--length", type=int, default=23400)
ap.add_argument("--set", nargs="*", default=[])
args = ap.parse_args()
over = {}
for kv in args.set:
    k, v = kv.split("=")
    over[k] = json.loads(v)
p = scenario_params("calm", length_s=args.length, **over)
rows = []
for seed in range(args.seeds):
    sim = MarketSim(p)
    sim.reset(np.random.default_rng(seed))
    t = time.time()
    out = sim.run()
    dt = time.time() - t
    f = stylized_facts(out["mid"], out["volume"], sim.event_mid_ac1)
    ok = check_bands(f)
    rows.append(ok)
    print(f"seed {seed} {dt:.1f}s vol/s {out['volume'].mean():.1f} ev/s {out['book_events'].mean():.0f} "
          f"spread {np.nanmean(out['spread_ticks']):.2f} depth {np.mean(out['depth_bid_near']):.0f} "
          f"drift {100*(out['mid'][-1]/out['mid'][0]-1):.2f}% "
          f"|F-mid| {np.mean(np.abs(out['mid']-out['fundamental'])):.2f}")
    print("   " + " ".join(f"{k}={v:.3f}" for k, v in f.items()))
    print("   " + " ".join(f"{k}={'Y' if v else 'n'}" for k, v in ok.items()))
print("pass rate:", {k: sum(r[k] for r in rows) / len(rows) for k in rows[0]})
