"""What the compiled kernel buys: the rightsizing engine stepped by the numpy reference
(``Engine(compiled=False)``: ``limits_from_actions`` + ``step_reference``) and by the numba kernel
(``Engine.step``), same slots, same random actions, no Gymnasium wrappers or info dicts.

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


def rate(setup, n: int, compiled: bool, min_seconds: float, repeats: int) -> float:
    eng = Engine(setup, n, compiled=compiled)
    rngs = [np.random.default_rng(i) for i in range(n)]
    idx = np.arange(n)
    eng.start(idx, [draw_episode(setup, r, None, 0) for r in rngs])
    act = np.random.default_rng(0).integers(0, N_ACTIONS, (64, n))
    best = 0.0
    for _ in range(repeats):
        steps, t0 = 0, time.perf_counter()
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
    return best


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
        ref = rate(setup, n, False, args.min_seconds, args.repeats)
        fast = rate(setup, n, True, args.min_seconds, args.repeats)
        rows.append({"num_slots": n, "numpy_reference_steps_per_s": round(ref), "numba_kernel_steps_per_s": round(fast),
                     "speedup": round(fast / ref, 2)})
        print(f"n={n:5d}  numpy {ref:12,.0f}/s  numba {fast:12,.0f}/s  x{fast / ref:.1f}", flush=True)
    record = {"command": "python experiments/cluster/bench_kernel.py " + " ".join(argv or sys.argv[1:]),
              "config": "RightsizingConfig() defaults (train split, 3-day episodes, counterfactual info on)",
              "load_average_1min_at_end": os.getloadavg()[0], "cpus": os.cpu_count(),
              "machine": platform.platform(), "python": platform.python_version(),
              "utc": time.strftime("%Y-%m-%d %H:%M", time.gmtime()), "rows": rows}
    atomic_write(Path(args.out), json.dumps(record, indent=1) + "\n")


if __name__ == "__main__":
    main()
