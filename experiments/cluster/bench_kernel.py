"""What the compiled kernel buys: the rightsizing engine stepped by the numpy reference
(``Engine(compiled=False)``: ``limits_from_actions`` + ``step_reference``) and by the numba kernel
(``Engine.step``), same slots, same random actions, no Gymnasium wrappers or info dicts; and the
envs themselves (the single env, the twin through ``gym.make_vec``).

Each rate is given twice: per second of wall time (what ``feedbackgym bench`` reports) and per
second of this process's CPU time (``time.process_time``): a wall rate below the CPU rate means
the process waited for a core; both low means a slower core (neighbours' use of the caches and
memory bandwidth). On the shared 2-core machine wall-time rates of the same code moved by up to
3x between runs minutes apart.

Usage::

    .venv/bin/python experiments/cluster/bench_kernel.py [--out results/cluster/bench_kernel.json]

Steps per second are best of ``--repeats`` rounds of at least ``--min-seconds`` each; the machine
load average is recorded beside them (the 2-core machine is shared, numbers move with it).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from feedbackgym.envs.cluster.config import RightsizingConfig  # noqa: E402
from feedbackgym.envs.cluster.engine import N_ACTIONS, Engine, build, draw_episode  # noqa: E402
from feedbackgym.files import atomic_write  # noqa: E402


def rate(setup, n: int, compiled: bool, min_seconds: float, repeats: int) -> tuple[float, float]:
    """(wall, CPU) steps per second of the engine, best of ``repeats``."""
    eng = Engine(setup, n, compiled=compiled)
    rngs = [np.random.default_rng(i) for i in range(n)]
    idx = np.arange(n)
    eng.start(idx, [draw_episode(setup, r, None, 0) for r in rngs])
    act = np.random.default_rng(0).integers(0, N_ACTIONS, (64, n))
    best = best_cpu = 0.0
    for _ in range(repeats):
        steps, t0, c0 = 0, time.perf_counter(), time.process_time()
        while time.perf_counter() - t0 < min_seconds:
            for a in act:
                if compiled:
                    _, term, trunc, _ = eng.step(None, a)
                else:
                    mem, cpu, mem_t = eng.limits_from_actions(slice(None), a)
                    _, term, trunc, _ = eng.step_reference(None, mem, cpu, mem_t)
                ended = np.flatnonzero(term | trunc)
                if len(ended):
                    eng.start(ended, [draw_episode(setup, rngs[i], None, 0) for i in ended])
                steps += n
        best = max(best, steps / (time.perf_counter() - t0))
        best_cpu = max(best_cpu, steps / (time.process_time() - c0))
    return best, best_cpu


def env_rate(n: int, min_seconds: float, repeats: int) -> tuple[float, float]:
    """(wall, CPU) steps per second of the single env (n = 1) or the twin (n > 1), random actions."""
    import gymnasium as gym
    rng = np.random.default_rng(0)
    if n == 1:
        env = gym.make("feedbackgym/ClusterRightsizing-v0").unwrapped
        env.reset(seed=0)
        acts = rng.integers(0, N_ACTIONS, 4096).tolist()

        def play():
            for a in acts:
                _, _, term, trunc, _ = env.step(a)
                if term or trunc:
                    env.reset()
            return len(acts)
    else:
        venv = gym.make_vec("feedbackgym/ClusterRightsizing-v0", num_envs=n)
        venv.reset(seed=0)
        acts2 = rng.integers(0, N_ACTIONS, (8, n))

        def play():
            for a in acts2:
                venv.step(a)
            return acts2.size
    play()   # warm-up (numba cache load, first episodes)
    best = best_cpu = 0.0
    for _ in range(repeats):
        steps, t0, c0 = 0, time.perf_counter(), time.process_time()
        while time.perf_counter() - t0 < min_seconds:
            steps += play()
        best = max(best, steps / (time.perf_counter() - t0))
        best_cpu = max(best_cpu, steps / (time.process_time() - c0))
    return best, best_cpu


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=str(ROOT / "results" / "cluster" / "bench_kernel.json"))
    ap.add_argument("--sizes", default="1,64,1024,4096")
    ap.add_argument("--min-seconds", type=float, default=1.0)
    ap.add_argument("--repeats", type=int, default=2)
    args = ap.parse_args(argv)
    setup = build(RightsizingConfig())
    rows = []
    for n in (int(x) for x in args.sizes.split(",")):
        ref, ref_cpu = rate(setup, n, False, args.min_seconds, args.repeats)
        fast, fast_cpu = rate(setup, n, True, args.min_seconds, args.repeats)
        env_wall, env_cpu = env_rate(n, args.min_seconds, args.repeats)
        rows.append({"num_slots": n, "numpy_reference_steps_per_s": round(ref), "numba_kernel_steps_per_s": round(fast),
                     "speedup": round(fast / ref, 2), "numpy_reference_steps_per_cpu_s": round(ref_cpu),
                     "numba_kernel_steps_per_cpu_s": round(fast_cpu), "speedup_cpu": round(fast_cpu / ref_cpu, 2),
                     "env": "single env (unwrapped)" if n == 1 else "twin (gym.make_vec)",
                     "env_steps_per_s": round(env_wall), "env_steps_per_cpu_s": round(env_cpu)})
        print(f"n={n:5d}  engine numpy {ref:11,.0f}/s ({ref_cpu:11,.0f}/cpu-s)  numba {fast:11,.0f}/s "
              f"({fast_cpu:11,.0f}/cpu-s)  env {env_wall:11,.0f}/s ({env_cpu:11,.0f}/cpu-s)", flush=True)
    record = {"command": "python experiments/cluster/bench_kernel.py " + " ".join(argv or sys.argv[1:]),
              "config": "RightsizingConfig() defaults (train split, 3-day episodes, counterfactual info on)",
              "load_average_1min_at_end": os.getloadavg()[0], "cpus": os.cpu_count(),
              "machine": platform.platform(), "python": platform.python_version(),
              "utc": time.strftime("%Y-%m-%d %H:%M", time.gmtime()), "rows": rows}
    atomic_write(Path(args.out), json.dumps(record, indent=1) + "\n")


if __name__ == "__main__":
    main()
