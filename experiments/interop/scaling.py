"""Env steps/s and training steps/s: SB3 (single process, SubprocVecEnv, the vector twin) and RLlib
(1 and 2 env runners), on one machine. Writes ``results/scaling/scaling.{json,md}``.

Run in the venv that has both SB3 and Ray (``make test-rllib`` builds ``.venv-ray``)::

    .venv-ray/bin/python experiments/interop/scaling.py [--env-id ID] [--steps N] [--out results/scaling]

Env steps/s: random actions through the SB3 ``VecEnv`` interface (what SB3's rollout loop calls).
Training steps/s: env steps per wall-clock second of ``PPO.learn`` (SB3, n_steps=256, one torch
thread) and of RLlib PPO ``train()`` iterations after a warm-up iteration (2048-step batches,
minibatch 256, 4 epochs). The machine's load average is recorded next to every number: on a shared
machine the numbers are lower bounds and vary between runs.
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

from feedbackgym.files import atomic_write  # noqa: E402


def load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def env_steps_per_s(env_id: str, kind: str, n: int, steps: int) -> float:
    from feedbackgym.agents.sb3_vec import make_sb3_vec_env

    venv = make_sb3_vec_env(env_id, n, kind, {}, seed=0)
    try:
        venv.reset()
        rng = np.random.default_rng(0)
        k = int(venv.action_space.n)
        t0 = time.perf_counter()
        done = 0
        while done < steps:
            venv.step(rng.integers(0, k, size=n))
            done += n
        return done / (time.perf_counter() - t0)
    finally:
        venv.close()


def sb3_train_steps_per_s(env_id: str, kind: str, n: int, steps: int) -> float:
    import torch
    from stable_baselines3 import PPO

    from feedbackgym.agents.sb3_vec import make_sb3_vec_env

    torch.set_num_threads(1)
    venv = make_sb3_vec_env(env_id, n, kind, {}, seed=0)
    try:
        model = PPO("MlpPolicy", venv, n_steps=max(256 // n, 16), batch_size=64, n_epochs=4, seed=0, device="cpu")
        t0 = time.perf_counter()
        model.learn(steps)
        return model.num_timesteps / (time.perf_counter() - t0)
    finally:
        venv.close()


def rllib_train_steps_per_s(env_id: str, runners: int, per_runner: int, iterations: int) -> dict:
    import ray

    from feedbackgym.agents import rllib_backend as rb

    ray.init(runtime_env=rb.ray_runtime_env(), include_dashboard=False, log_to_driver=False, logging_level="ERROR")
    try:
        rb.register_rllib_envs()
        config = rb.build_config(env_id, "ppo", 0, {}, runners, per_runner,
                                 {"train_batch_size_per_learner": 2048, "minibatch_size": 256, "num_epochs": 4})
        algo = config.build_algo()
        algo.train()  # warm-up: actors, first weights sync
        before = None
        t0 = time.perf_counter()
        for _ in range(iterations):
            r = algo.train()
            if before is None:
                before = int(r["num_env_steps_sampled_lifetime"]) - 2048
        seconds = time.perf_counter() - t0
        steps = int(r["num_env_steps_sampled_lifetime"]) - before
        sample_s = r.get("timers", {}).get("env_runner_sampling_timer")
        algo.stop()
        return {"train_steps_per_s": steps / seconds, "sampling_s_per_iter": sample_s}
    finally:
        ray.shutdown()


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--env-id", default="feedbackgym/AbrStreaming-v0")
    p.add_argument("--steps", type=int, default=20_000, help="env steps per SB3 measurement")
    p.add_argument("--rllib-iterations", type=int, default=3)
    p.add_argument("--out", default=str(ROOT / "results" / "scaling"))
    args = p.parse_args(argv)
    import gymnasium

    import feedbackgym  # noqa: F401

    rows = []

    def record(what, config, value, unit):
        rows.append({"what": what, "config": config, "value": round(value, 1), "unit": unit, "load_avg": load()})
        print(f"{what:<34} {config:<34} {value:>12,.0f} {unit}  load {load()}", flush=True)

    for kind, n in (("dummy", 1), ("subproc", 2), ("twin", 8), ("twin", 256)):
        record("env steps/s (SB3 VecEnv.step)", f"{kind} n={n}", env_steps_per_s(args.env_id, kind, n, args.steps),
               "steps/s")
    for kind, n in (("dummy", 1), ("subproc", 2), ("twin", 8)):
        record("training steps/s (SB3 PPO)", f"{kind} n={n}",
               sb3_train_steps_per_s(args.env_id, kind, n, args.steps), "steps/s")
    for runners in (1, 2):
        r = rllib_train_steps_per_s(args.env_id, runners, 4, args.rllib_iterations)
        record("training steps/s (RLlib PPO)", f"{runners} env runner(s) x 4 twin envs", r["train_steps_per_s"],
               "steps/s")
    meta = {"env_id": args.env_id, "cpus": os.cpu_count(), "python": platform.python_version(),
            "gymnasium": gymnasium.__version__, "command": " ".join([sys.executable] + sys.argv),
            "note": "shared 2-core machine, busy with other jobs during the measurement (see load_avg)",
            "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    out = Path(args.out)
    atomic_write(out / "scaling.json", json.dumps({"meta": meta, "rows": rows}, indent=2) + "\n")
    lines = [f"# Scaling on one machine: {args.env_id}", "",
             f"{meta['cpus']} CPUs, Python {meta['python']}, Gymnasium {meta['gymnasium']}, {meta['time']}. "
             f"**{meta['note']}**: treat the numbers as lower bounds.", "",
             "| measurement | configuration | value | load avg (1/5/15 min) |", "|---|---|---:|---|"]
    lines += [f"| {r['what']} | {r['config']} | {r['value']:,.0f} {r['unit']} | {r['load_avg']} |" for r in rows]
    lines += ["", f"Command: `{meta['command']}`", ""]
    atomic_write(out / "scaling.md", "\n".join(lines))


if __name__ == "__main__":
    main()
