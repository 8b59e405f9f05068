"""Hindsight-labelled clones of the meta action mode on the ``train`` split: for each labeller
setting (horizon, margin), clone :class:`~feedbackgym.envs.cluster.hindsight.HindsightArm` into a
PPO policy (the recipe's network) and score the labeller and its clone (greedy) on the 20 train
VMs beside VPA and ``meta_best`` (selection on train only; test is never read).

Usage::

    .venv/bin/python experiments/cluster/hindsight_grid.py [--days 7] [--grid 6:0,12:0,...]
        [--out results/cluster/hindsight_grid.json]

Each of the 20 train VMs once from its first window for ``--days`` days (no history), default
model, as ``meta_grid.py``. Memory slack (mean over job-days) @ OOMs per task-day (pooled), p99
limit changes per job-day (pooled).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import gymnasium as gym

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import feedbackgym  # noqa: E402,F401
from feedbackgym.envs.cluster.hindsight import HindsightArm, pretrain  # noqa: E402
from feedbackgym.envs.cluster.meta import ARMS, ArmRule  # noqa: E402
from feedbackgym.files import atomic_write  # noqa: E402
from meta_grid import score  # noqa: E402  (this folder, sys.path[0] when run as a script)

ENV = "feedbackgym/ClusterRightsizing-v0"
#: candidate arm sets of the labeller (names of the meta mode's arms)
ARM_SETS = {"all": None,
            "max": [a[0] for a in ARMS if a[1] == "max"],
            "max12": [a[0] for a in ARMS if a[1] == "max" and a[2] == 12.0],
            "safe": [a[0] for a in ARMS if a[1] == "max" or (a[1] == "p98" and a[3] >= 1.2)]}


class Greedy:
    def __init__(self, model):
        self.model = model

    def reset(self, env, obs, info):
        pass

    def act(self, obs, info):
        return int(self.model.predict(obs, deterministic=True)[0])


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--days", type=float, default=7.0)
    ap.add_argument("--grid", default="24:0:max12,24:0:max", help="horizon_h:margin:arm set, comma separated")
    ap.add_argument("--episodes", type=int, default=200)
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--dagger-rounds", type=int, default=0)
    ap.add_argument("--safe-weight", type=int, default=1,
                    help="repeat samples labelled with an arm other than the set's first (lowest margin) k times")
    ap.add_argument("--out", default=str(ROOT / "results" / "cluster" / "hindsight_grid.json"))
    args = ap.parse_args(argv)
    import torch as th
    from stable_baselines3 import PPO
    th.set_num_threads(1)
    env = gym.make(ENV, workloads="train", action_mode="meta", episode_days=args.days, random_start=False)
    jobs = range(env.unwrapped.num_jobs)
    out = Path(args.out)
    res = json.loads(out.read_text()) if out.is_file() else {}
    for name, pol in (("vpa", ArmRule("vpa")), ("meta_best", ArmRule("max_12h_x1.1"))):
        if name not in res:
            res[name] = score(env, pol, jobs)
            print(name, res[name], flush=True)
    train_kwargs = {"workloads": "train", "episode_days": 3.0, "action_mode": "meta"}
    for item in args.grid.split(","):
        hs, ms, arm_set = item.split(":")
        h, m, arms = float(hs), float(ms), ARM_SETS[arm_set]
        key = (f"h{h:g}_m{m:g}_{arm_set}" + (f"_dagger{args.dagger_rounds}" if args.dagger_rounds else "")
               + (f"_w{args.safe_weight}" if args.safe_weight > 1 else ""))
        names = [a[0] for a in ARMS[1:]] if arms is None else arms
        weights = ({a: args.safe_weight for a in names if float(a.split("_x")[1]) > 1.0}
                   if args.safe_weight > 1 else None)
        t = time.time()
        row = {"horizon_h": h, "margin": m, "arms": arm_set, "dagger_rounds": args.dagger_rounds,
               "safe_weight": args.safe_weight,
               "labeller": score(env, HindsightArm(h, m, arms), jobs)}
        model = PPO("MlpPolicy", gym.make(ENV, **train_kwargs), seed=0, device="cpu",
                    policy_kwargs=dict(net_arch=dict(pi=[128, 128], vf=[128, 128])))
        st = pretrain(model, ENV, train_kwargs, horizon_h=h, margin=m, arms=arms, episodes=args.episodes,
                      epochs=args.epochs, dagger_rounds=args.dagger_rounds, label_weights=weights)
        row["clone"] = score(env, Greedy(model), jobs)
        row["clone_fit"] = {k: st[k] for k in ("samples", "train_accuracy", "holdout_accuracy", "bc_loss",
                                               "label_fraction_per_arm")}
        res[key] = row
        print(key, json.dumps({k: row[k] for k in ("labeller", "clone")}), f"[{time.time() - t:.0f} s]", flush=True)
        atomic_write(out, json.dumps(res, indent=1) + "\n")


if __name__ == "__main__":
    main()
