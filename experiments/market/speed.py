"""Speed of the market simulator in simulated market seconds per wall second (issue 8, must-show 4).

    .venv/bin/python experiments/market/speed.py --out results/market/bench.md

Measures, on this machine: one ``calm`` day (23,400 one-second steps, ~1,000 background traders),
one ``flash_crash`` hour, a ``MarketBatch`` of N calm markets advanced by one compiled call per
second -- the serial kernel, and two slices of the batch stepped by two threads (``threads=2``),
interleaved in rounds on the same markets so machine load hits every variant alike -- and the same
kernel with numba disabled (pure Python, a short run in a subprocess) to show what compilation
buys. Batch steps/s are market-seconds per wall-second summed over the batch's markets. Book
events are order submissions, cancels and trades. ABIDES's figures are the
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
    t0, c0 = time.perf_counter(), time.process_time()
    while not sim.done:
        sim.step(CONTINUE)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    return {"steps": p.length_s, "wall_s": wall, "steps_per_s": p.length_s / wall, "steps_per_cpu_s": p.length_s / cpu,
            "book_events": sim.total_book_events, "book_events_per_s": sim.total_book_events / wall,
            "volume": sim.total_volume, "traders": traders(p)}


BATCH_MODES = (("serial", 1), ("2 threads", 2))


def time_batch(n, steps, seed=0, rounds=3):
    """Each mode of BATCH_MODES steps the same batch of ``n`` calm markets ``steps`` seconds in all
    through ``MarketBatch.step`` (``threads`` 1: the serial kernel; 2: two slices stepped side by
    side), in ``rounds`` interleaved chunks (the markets move on between chunks; every mode sees
    them at the same times). The markets are spread over the trading day (session offsets 0 ..
    6.5 h), so the batch meets a day's mix of busy open and close and quiet midday, as the
    one-market day does."""
    from feedbackgym.envs.market.layout import I_TOTAL_EVENTS
    day = scenario_params("calm").session_length_s
    b = MarketBatch([scenario_params("calm", length_s=100000, session_offset_s=e * (day - steps) // n)
                     for e in range(n)])
    for e in range(n):
        b.reset_one(e, np.random.default_rng(seed + e))
    a = np.zeros(n, np.int64)
    for _, k in BATCH_MODES:  # load the kernel and start the pool outside the timings
        b.threads = k
        b.step(a)
    wall = dict.fromkeys([m[0] for m in BATCH_MODES], 0.0)
    cpu = dict.fromkeys(wall, 0.0)
    events = dict.fromkeys(wall, 0)
    chunk = max(1, steps // rounds)
    for _ in range(rounds):
        for name, k in BATCH_MODES:
            b.threads = k
            ev0 = int(b.ist[:, I_TOTAL_EVENTS].sum())
            t0, c0 = time.perf_counter(), time.process_time()
            for _ in range(chunk):
                b.step(a)
            wall[name] += time.perf_counter() - t0
            cpu[name] += time.process_time() - c0
            events[name] += int(b.ist[:, I_TOTAL_EVENTS].sum()) - ev0
    done = chunk * rounds
    return [{"markets": n, "mode": name, "threads": k, "steps": done, "wall_s": wall[name],
             "steps_per_s": n * done / wall[name], "steps_per_cpu_s": n * done / cpu[name],
             "book_events_per_s": events[name] / wall[name]}
            for name, k in BATCH_MODES]


def time_env(steps: int, num_envs: int, threads: int = 1) -> dict:
    """The regulator env (``num_envs`` 1: the single env; more: its vector twin, its simulators
    stepped on ``threads`` threads) under ``continue`` for ``steps`` batched steps, beside its
    simulators' kernel time (the rest is observation, reward, metrics and info work; measured on
    one thread only: with more, the kernel's calls overlap)."""
    import gymnasium as gym

    import feedbackgym  # noqa: F401  (registers the ids)
    from feedbackgym.envs.market import populations
    if num_envs == 1:
        env = gym.make("feedbackgym/FlashCrashRegulator-v0").unwrapped
        env.reset(seed=0)

        def act():
            _, _, term, trunc, _ = env.step(CONTINUE)
            if term or trunc:
                env.reset()
    else:
        from feedbackgym.envs.market.vector import FlashCrashRegulatorVectorEnv
        env = FlashCrashRegulatorVectorEnv(num_envs, threads=threads)
        env.reset(seed=0)
        a = np.zeros(num_envs, np.int64)

        def act():
            env.step(a)
    kernel = populations.step_batch
    spent = [0.0]

    def timed(*args):
        t = time.perf_counter()
        kernel(*args)
        spent[0] += time.perf_counter() - t
    for _ in range(20):
        act()
    populations.step_batch = timed  # the envs' simulators bind it on first use: count from here on
    from feedbackgym.envs.market import sim as sim_module
    bound = sim_module._step_batch
    sim_module._step_batch = timed
    try:
        t0 = time.perf_counter()
        for _ in range(steps):
            act()
        wall = time.perf_counter() - t0
    finally:
        populations.step_batch = kernel
        sim_module._step_batch = bound
    env_steps = steps * num_envs
    return {"num_envs": num_envs, "threads": threads, "env_steps": env_steps, "wall_s": wall,
            "env_steps_per_s": env_steps / wall, "kernel_s": spent[0] if threads == 1 else None,
            "kernel_share": spent[0] / wall if threads == 1 else None}


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
    ap.add_argument("--batch", type=int, nargs="*", default=[16, 64, 256])
    ap.add_argument("--batch-steps", type=int, default=600, help="seconds per mode (256 markets: a third)")
    ap.add_argument("--python-steps", type=int, default=60)
    ap.add_argument("--env-steps", type=int, default=3000, help="env steps per env measurement (twin: >= 50 batched)")
    ap.add_argument("--twin", type=int, nargs="*", default=[16, 64, 256], help="sub-envs of the twin measurements")
    args = ap.parse_args()
    load0 = os.getloadavg()[0]  # other jobs on a shared machine slow the wall-time figures

    warm = MarketSim(scenario_params("calm", length_s=10))
    warm.reset(np.random.default_rng(0))
    warm.step(CONTINUE)  # load/compile the kernels outside the timings
    calm = time_single(scenario_params("calm"))
    crash = time_single(scenario_params("flash_crash"))
    batches = [r for n in args.batch for r in time_batch(n, args.batch_steps if n < 256 else args.batch_steps // 3)]
    envs = [time_env(args.env_steps, 1)] + [time_env(max(50, args.env_steps // n), n, k)
                                            for n in args.twin for k in (1, 2)]
    py = time_pure_python(args.python_steps)
    machine = f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}"
    res = {"machine": machine,
           "calm_day": calm, "flash_crash_hour": crash, "batch": batches, "env": envs, "pure_python": py,
           "abides_kernel_market_s_per_s": ABIDES_KERNEL_MS_PER_S, "abides_gym_market_s_per_s": ABIDES_GYM_MS_PER_S}
    lines = [
        "# Market simulator speed",
        "",
        f"Machine: {res['machine']}, 1-min load average {load0:.2f} at the start. Command: "
        "`.venv/bin/python experiments/market/speed.py --batch-steps 1800 --env-steps 20000 "
        "--out results/market/bench.md`.",
        "One step is one simulated market second, so steps/s = market-s per wall-s. Market-s per CPU-s "
        "(this process's CPU time, all its threads) is the throughput per busy core, which other jobs on a shared "
        "machine affect less than wall time.",
        "",
        "| run | traders | steps | wall s | market-s / wall-s | market-s / CPU-s | book events / s | x ABIDES kernel "
        "| x ABIDES-Gym |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, r in (("calm day, one market", calm), ("flash_crash hour, one market", crash)):
        lines.append(f"| {name} | {r['traders']} | {r['steps']} | {r['wall_s']:.2f} | {r['steps_per_s']:,.0f} | "
                     f"{r['steps_per_cpu_s']:,.0f} | "
                     f"{r['book_events_per_s']:,.0f} | {r['steps_per_s'] / ABIDES_KERNEL_MS_PER_S:.1f} | "
                     f"{r['steps_per_s'] / ABIDES_GYM_MS_PER_S:.1f} |")
    for r in batches:
        lines.append(f"| MarketBatch of {r['markets']} calm markets over the day, {r['mode']} | "
                     f"{r['markets']} x {traders(scenario_params('calm'))} | "
                     f"{r['steps']} x {r['markets']} | {r['wall_s']:.2f} | {r['steps_per_s']:,.0f} | "
                     f"{r['steps_per_cpu_s']:,.0f} | "
                     f"{r['book_events_per_s']:,.0f} | {r['steps_per_s'] / ABIDES_KERNEL_MS_PER_S:.1f} | "
                     f"{r['steps_per_s'] / ABIDES_GYM_MS_PER_S:.1f} |")
    lines.append(f"| same kernel, numba disabled (pure Python) | {traders(scenario_params('calm'))} | {py['steps']} | "
                 f"{py['wall_s']:.2f} | {py['steps_per_s']:,.1f} | | | | |")
    best = max(batches, key=lambda r: r["steps_per_s"])
    serial = {r["markets"]: r for r in batches if r["mode"] == "serial"}
    lines += [
        "",
        f"Simulator batch (`MarketBatch`): best {best['steps_per_s']:,.0f} market-s/s ({best['markets']} markets, "
        f"{best['mode']}), "
        f"{best['steps_per_s'] / best['threads']:,.0f} per thread; 2 threads vs serial: "
        + ", ".join(f"x{r['steps_per_s'] / serial[r['markets']]['steps_per_s']:.2f} ({r['markets']} markets)"
                    for r in batches if r["mode"] == "2 threads") + ".",
        "",
        f"Compilation buys x{calm['steps_per_s'] / py['steps_per_s']:,.0f} on the calm day "
        "(numba, `cache=True`: compiled once per machine, loaded from `__pycache__` afterwards).",
        f"A calm day has {calm['book_events']:,} book events ({calm['book_events'] / 23400:.0f} per market second) "
        f"against ABIDES rmsc04's ~53k; its 6.5 hours take {calm['wall_s']:.2f} s here (target <= 2.4 s).",
        f"ABIDES references (brief): kernel {ABIDES_KERNEL_MS_PER_S:,.0f} market-s/s, ABIDES-Gym "
        f"{ABIDES_GYM_MS_PER_S:,} market-s/s, both on a 2-core machine.",
        "",
        "The env adds observation, reward, metrics and info work on top (`feedbackgym bench "
        "feedbackgym/FlashCrashRegulator-v0` measures it alone; one env step = `decision_s` = 1 market second):",
        "",
        "| env | threads | env steps | wall s | env steps / s | share in the kernel |",
        "|---|---|---|---|---|---|",
    ] + [f"| {'single env' if r['num_envs'] == 1 else 'vector twin, ' + str(r['num_envs']) + ' envs'} | "
         f"{r['threads']} | {r['env_steps']:,} | {r['wall_s']:.2f} | {r['env_steps_per_s']:,.0f} | "
         + (f"{100 * r['kernel_share']:.0f}% |" if r["kernel_share"] is not None else "- |")
         for r in envs] + [
        "",
        "Gymnasium twin (observation, reward, metrics and infos batched): best {:,.0f} env steps/s ({} envs, {} "
        "thread(s)); target >= 100,000.".format(*max(((r["env_steps_per_s"], r["num_envs"], r["threads"])
                                                     for r in envs if r["num_envs"] > 1), default=(0, 0, 0))),
        "",
    ]
    atomic_write(args.out, "\n".join(lines))
    atomic_write(os.path.splitext(args.out)[0] + ".json", json.dumps(res, indent=2))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
