"""Quick probe of a crash scenario (not a published result): a line every 30 s.

    .venv/bin/python experiments/market/probe_crash.py --scenario flash_crash --pause-rule --set k=v ...
"""
import argparse
import json

import numpy as np

from feedbackgym.envs.market.sim import CONTINUE, PAUSE, MarketSim, scenario_params

ap = argparse.ArgumentParser()
ap.add_argument("--scenario", default="flash_crash")
ap.add_argument("--seed", type=int, default=0)
ap.add_argument("--pause-rule", action="store_true", help="5-s pause when the mid falls > 1.5% in 30 s")
ap.add_argument("--every", type=int, default=30)
ap.add_argument("--set", nargs="*", default=[])
args = ap.parse_args()
over = {k: json.loads(v) for k, v in (a.split("=") for a in args.set)}
p = scenario_params(args.scenario, **over)
sim = MarketSim(p)
sim.reset(np.random.default_rng(args.seed))
mids = []
pre = None
mv = 0
vol = 0
cooldown = 0
while not sim.done:
    a = CONTINUE
    if args.pause_rule and len(mids) > 30 and cooldown <= 0 and not sim.halted:
        if mids[-1] / mids[-31] - 1 < -0.015:
            a = PAUSE
            cooldown = 60
    cooldown -= 1
    sim.step(a)
    mids.append(sim.mid)
    mv += sim.maker_volume
    vol += sim.volume
    if sim.t_s == p.seller_start_s:
        pre = (sim.mid, sim.depth_bid_near)
    if sim.t_s % args.every == 0:
        dd = (sim.mid / pre[0] - 1) * 100 if pre else 0.0
        print(f"t={sim.t_s:5d} mid={sim.mid:8.2f} dd={dd:6.2f}% F={sim.fundamental:8.2f} spr={sim.spread_ticks:5.0f} "
              f"dbid={sim.depth_bid_near:5d} dask={sim.depth_ask_near:5d} vol={vol:5d} "
              f"mkshare={mv / max(2 * vol, 1):.2f} "
              f"mkinv={sim.maker_net_inventory:5d} sold={sim.seller_executed_qty:5d} halts={sim.n_halts}")
        mv = vol = 0
m = np.array(mids)
print("min mid", m.min(), "at", m.argmin() + 1, "pre", pre)
