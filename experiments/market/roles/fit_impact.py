"""Fit Almgren-Chriss impact parameters on the simulator (the execution role's baseline).

For each scenario, the parent order of ``FlashCrashExecution-v0`` arrives after ``start_s`` calm
seconds and is sold at a constant rate ``v`` contracts/s for ``sale_s`` seconds with market orders
(the kernel's external seller), over several rates and seeds:

* temporary impact: the average concession per contract of each second's child order vs the mid
  just before it, ``c(v) = epsilon + eta v`` by least squares (``eta``: currency per contract/s;
  ``epsilon``: the half-spread paid by any market order);
* permanent impact: the mid ``settle_s`` after the sale vs the arrival mid, ``-gamma X`` through
  the origin (``gamma``: currency per contract of the order ``X = v sale_s``);
* volatility: the RMS of one-second mid changes in the ``start_s`` seconds before the arrival
  (``sigma``: currency per sqrt(second)).

Writes JSON (atomically); ``feedbackgym.agents.baselines.market_roles.AC_FIT`` holds the
``flash_crash`` numbers and a test checks that they match this file.

    .venv/bin/python experiments/market/roles/fit_impact.py --seeds 8 --out results/market/roles/impact_fit.json
"""

from __future__ import annotations

import argparse
import json
import sys

import numpy as np

from feedbackgym.envs.market.roles_config import ExecutionConfig
from feedbackgym.envs.market.sim import MarketSim
from feedbackgym.files import atomic_write

RATES = (1, 2, 4, 8)


def one_run(scenario: str, rate: int, seed: int, sale_s: int, settle_s: int) -> dict:
    cfg = ExecutionConfig(scenario=scenario, horizon_s=sale_s + settle_s, decision_s=1, parent_size=rate * sale_s)
    sim = MarketSim(cfg.params())
    sim.reset(np.random.default_rng(seed))
    mids = [sim.mid]
    while sim.t_s < cfg.start_s:
        sim.step()
        mids.append(sim.mid)
    arrival = sim.mid
    conc_value, conc_qty = 0.0, 0
    for _ in range(sale_s):
        before, q0, v0 = sim.mid, sim.seller_executed_qty, sim.seller_executed_value
        sim.set_seller_child(rate)
        sim.step()
        dq, dv = sim.seller_executed_qty - q0, sim.seller_executed_value - v0
        conc_value += dq * before - dv
        conc_qty += dq
    for _ in range(settle_s):
        sim.step()
    d = np.diff(np.asarray(mids))
    return {"rate": rate, "order": sim.seller_executed_qty, "concession": conc_value / conc_qty if conc_qty else np.nan,
            "perm_move": sim.mid - arrival, "var_1s": float(np.mean(d * d))}


def fit(scenario: str, seeds: int, first_seed: int, sale_s: int, settle_s: int) -> dict:
    runs = [one_run(scenario, v, first_seed + s, sale_s, settle_s) for v in RATES for s in range(seeds)]
    v = np.array([r["rate"] for r in runs], float)
    c = np.array([r["concession"] for r in runs], float)
    ok = np.isfinite(c)
    A = np.stack([np.ones(ok.sum()), v[ok]], axis=1)
    (eps, eta), *_ = np.linalg.lstsq(A, c[ok], rcond=None)
    pred = A @ np.array([eps, eta])
    r2 = 1.0 - float(((c[ok] - pred) ** 2).sum() / ((c[ok] - c[ok].mean()) ** 2).sum())
    x = np.array([r["order"] for r in runs], float)
    dm = np.array([r["perm_move"] for r in runs], float)
    gamma = float(-(x * dm).sum() / (x * x).sum())
    sigma = float(np.sqrt(np.mean([r["var_1s"] for r in runs])))
    per_rate = {str(int(r)): {"concession_mean": float(np.nanmean(c[v == r])),
                              "perm_move_mean": float(dm[v == r].mean())} for r in RATES}
    return {"eta": float(eta), "epsilon": float(eps), "r2_temporary": r2, "gamma": gamma, "sigma": sigma,
            "runs": len(runs), "per_rate": per_rate}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", type=int, default=8)
    ap.add_argument("--first-seed", type=int, default=500)
    ap.add_argument("--sale-s", type=int, default=300)
    ap.add_argument("--settle-s", type=int, default=60)
    ap.add_argument("--out", required=True)
    a = ap.parse_args(argv)
    out = {"command": "python " + " ".join(sys.argv),
           "units": {"eta": "currency per (contract/s)", "epsilon": "currency per contract",
                     "gamma": "currency per contract", "sigma": "currency per sqrt(s)"},
           "rates_per_s": list(RATES), "sale_s": a.sale_s, "settle_s": a.settle_s}
    for scenario in ("flash_crash", "calm"):
        out[scenario] = fit(scenario, a.seeds, a.first_seed, a.sale_s, a.settle_s)
        print(scenario, {k: v for k, v in out[scenario].items() if k != "per_rate"})
    atomic_write(a.out, json.dumps(out, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
