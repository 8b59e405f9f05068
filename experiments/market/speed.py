"""Speed of the market simulator in simulated market seconds per wall second (issue 8, must-show 4).

    .venv/bin/python experiments/market/speed.py --out results/market/bench.md

Measures, on this machine: one ``calm`` day (23,400 one-second steps, ~1,000 background traders),
one ``flash_crash`` hour, a ``MarketBatch`` of N markets advanced by one compiled call per second,
and the same kernel with numba disabled (pure Python, a short run in a subprocess) to show what
compilation buys. Book events are order submissions, cancels and trades. ABIDES's figures are the
brief's (rmsc04 kernel: 1,117 agents, ~53k book events, 23,400 market seconds in 9.3 s on a 2-core
machine; ABIDES-Gym: 60-s steps at ~22/s). Reported, never asserted in tests.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time

import numpy as np

from feedbackgym.envs.market.sim import CONTINUE, MarketBatch, MarketSim, scenario_params
from feedbackgym.files import atomic_write

ABIDES_KERNEL_MS_PER_S = 23400 / 9.3   # ~2,516 market-s per wall-s
ABIDES_GYM_MS_PER_S = 60 * 22          # ~1,320


def traders(p) -> int:
    return p.n_noise + p.n_makers + p.n_fundamental + p.n_deep_value + p.n_momentum + (1 if p.seller_size else 0)


def time_single(p, seed=0):
    sim = MarketSim(p)
    sim.reset(np.random.default_rng(seed))
    t0 = time.perf_counter()
    while not sim.done:
        sim.step(CONTINUE)
    wall = time.perf_counter() - t0
    return {"steps": p.length_s, "wall_s": wall, "steps_per_s": p.length_s / wall,
            "book_events": sim.total_book_events, "book_events_per_s": sim.total_book_events / wall,
            "volume": sim.total_volume, "traders": traders(p)}


def time_batch(p, n, steps, seed=0):
    b = MarketBatch([p] * n)
    for e in range(n):
        b.reset_one(e, np.random.default_rng(seed + e))
    a = np.zeros(n, np.int64)
    b.step(a)  # compile outside the timing
    from feedbackgym.envs.market.layout import I_TOTAL_EVENTS
    ev0 = int(b.ist[:, I_TOTAL_EVENTS].sum())
    t0 = time.perf_counter()
    for _ in range(steps):
        b.step(a)
    wall = time.perf_counter() - t0
    from feedbackgym.envs.market.layout import I_TOTAL_EVENTS
    ev = int(b.ist[:, I_TOTAL_EVENTS].sum()) - ev0
    return {"markets": n, "steps": steps, "wall_s": wall, "steps_per_s": n * steps / wall,
            "book_events_per_s": ev / wall}


def time_pure_python(steps: int) -> dict:
    code = (
        "import time, numpy as np\n"
        "from feedbackgym.envs.market.sim import MarketSim, scenario_params\n"
        "p = scenario_params('calm', length_s=100000)\n"
        "s = MarketSim(p); s.reset(np.random.default_rng(0))\n"
        f"t = time.perf_counter()\nfor _ in range({steps}): s.step(0)\n"
        "print(time.perf_counter() - t)\n")
    env = {**os.environ, "NUMBA_DISABLE_JIT": "1"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    wall = float(out.stdout.strip().splitlines()[-1])
    return {"steps": steps, "wall_s": wall, "steps_per_s": steps / wall}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="results/market/bench.md")
    ap.add_argument("--batch", type=int, nargs="*", default=[16, 64])
    ap.add_argument("--batch-steps", type=int, default=600)
    ap.add_argument("--python-steps", type=int, default=60)
    args = ap.parse_args()

    warm = MarketSim(scenario_params("calm", length_s=10))
    warm.reset(np.random.default_rng(0))
    warm.step(CONTINUE)  # load/compile the kernels outside the timings
    calm = time_single(scenario_params("calm"))
    crash = time_single(scenario_params("flash_crash"))
    batches = [time_batch(scenario_params("calm", length_s=100000), n, args.batch_steps) for n in args.batch]
    py = time_pure_python(args.python_steps)
    machine = f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}"
    res = {"machine": machine,
           "calm_day": calm, "flash_crash_hour": crash, "batch": batches, "pure_python": py,
           "abides_kernel_market_s_per_s": ABIDES_KERNEL_MS_PER_S, "abides_gym_market_s_per_s": ABIDES_GYM_MS_PER_S}
    lines = [
        "# Market simulator speed",
        "",
        f"Machine: {res['machine']} (shared with other jobs while measured). Command: "
        "`.venv/bin/python experiments/market/speed.py --out results/market/bench.md`.",
        "One step is one simulated market second, so steps/s = market-s per wall-s.",
        "",
        "| run | traders | steps | wall s | market-s / wall-s | book events / s | x ABIDES kernel | x ABIDES-Gym |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, r in (("calm day, one market", calm), ("flash_crash hour, one market", crash)):
        lines.append(f"| {name} | {r['traders']} | {r['steps']} | {r['wall_s']:.2f} | {r['steps_per_s']:,.0f} | "
                     f"{r['book_events_per_s']:,.0f} | {r['steps_per_s'] / ABIDES_KERNEL_MS_PER_S:.1f} | "
                     f"{r['steps_per_s'] / ABIDES_GYM_MS_PER_S:.1f} |")
    for r in batches:
        lines.append(f"| MarketBatch of {r['markets']} calm markets | "
                     f"{r['markets']} x {traders(scenario_params('calm'))} | "
                     f"{r['steps']} x {r['markets']} | {r['wall_s']:.2f} | {r['steps_per_s']:,.0f} | "
                     f"{r['book_events_per_s']:,.0f} | {r['steps_per_s'] / ABIDES_KERNEL_MS_PER_S:.1f} | "
                     f"{r['steps_per_s'] / ABIDES_GYM_MS_PER_S:.1f} |")
    lines.append(f"| same kernel, numba disabled (pure Python) | {traders(scenario_params('calm'))} | {py['steps']} | "
                 f"{py['wall_s']:.2f} | {py['steps_per_s']:,.1f} | | | |")
    lines += [
        "",
        f"Compilation buys x{calm['steps_per_s'] / py['steps_per_s']:,.0f} on the calm day "
        "(numba, `cache=True`: compiled once per machine, loaded from `__pycache__` afterwards).",
        f"A calm day has {calm['book_events']:,} book events ({calm['book_events'] / 23400:.0f} per market second) "
        f"against ABIDES rmsc04's ~53k; its 6.5 hours take {calm['wall_s']:.2f} s here (target <= 2.4 s).",
        f"ABIDES references (brief): kernel {ABIDES_KERNEL_MS_PER_S:,.0f} market-s/s, ABIDES-Gym "
        f"{ABIDES_GYM_MS_PER_S:,} market-s/s, both on a 2-core machine.",
        "The env (`feedbackgym bench feedbackgym/FlashCrashRegulator-v0`) adds observation and reward work on top.",
        "",
    ]
    atomic_write(args.out, "\n".join(lines))
    atomic_write(os.path.splitext(args.out)[0] + ".json", json.dumps(res, indent=2))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
