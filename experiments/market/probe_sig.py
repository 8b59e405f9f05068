"""Calibration probe: crash signature over a few seeds, with and without the velocity pause."""
import argparse
import json
import sys

sys.path.insert(0, "experiments/market")
from crash_lib import CHECKS, REBOUND_CHECK, ExchangeRule, run_episode, signature  # noqa: E402

from feedbackgym.envs.market.sim import scenario_params  # noqa: E402

ap = argparse.ArgumentParser()
ap.add_argument("--seeds", type=int, default=3)
ap.add_argument("--scenario", default="flash_crash")
ap.add_argument("--set", nargs="*", default=[])
ap.add_argument("--nopause", action="store_true")
ap.add_argument("--move-pct", type=float, default=1.0)
args = ap.parse_args()
over = {k: json.loads(v) for k, v in (a.split("=") for a in args.set)}
p = scenario_params(args.scenario, **over)
for seed in range(args.seeds):
    rules = [("none", None)]
    if not args.nopause:
        rules.append(("stop_logic", ExchangeRule("stop_logic", move_pct=args.move_pct)))
    for name, rule in rules:
        s = signature(run_episode(p, seed, rule), p)
        checks = CHECKS + ((REBOUND_CHECK,) if rule else ())
        ok = "".join("Y" if c(s) else "n" for _, c in checks)
        print(f"seed {seed} {name:5s} {ok:8s} " + " ".join(
            f"{k}={v:.2f}" if isinstance(v, float) else f"{k}={v}" for k, v in s.items()))
