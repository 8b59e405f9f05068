"""Behaviour cloning only: the PPO (or DQN) network of a hyperparameters file, fitted to a
baseline by ``feedbackgym.agents.imitation.pretrain`` with that file's ``pretrain:`` block, no RL.

This is step 0 of the ``pretrain`` runs of ``feedbackgym train`` (same model construction, same
seed, same cloning), saved on its own so its scores can be reported next to the fine-tuned agents.

    .venv/bin/python experiments/abr/bc_only.py --hyperparams experiments/abr/ppo_bc.yml \
        --algo ppo --seed 0 --run-dir runs/abr_bc_ppo_0

writes ``RUN_DIR/model.zip``, ``RUN_DIR/pretrain.json`` (cloning statistics and wall time) and
``RUN_DIR/evaluations.csv`` (the validation split ``train_fit`` under the test protocol; with
``--report-splits`` also the report-only test splits).
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from pathlib import Path

import torch

import feedbackgym  # noqa: F401
from feedbackgym.agents.callbacks import ModelPolicy
from feedbackgym.agents.evaluation import evaluate
from feedbackgym.agents.imitation import pretrain
from feedbackgym.agents.train import _algo_class, _seed_everything, resolve_hyperparams, split_hyperparams

ENV_ID = "feedbackgym/AbrStreaming-v0"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--hyperparams", required=True)
    p.add_argument("--algo", default="ppo", choices=["ppo", "dqn"])
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--run-dir", required=True)
    p.add_argument("--report-splits", default="", help="comma-separated report-only splits to evaluate too")
    args = p.parse_args(argv)

    hp, source = resolve_hyperparams(ENV_ID, args.algo, args.hyperparams)
    settings, algo_kwargs = split_hyperparams(hp, args.algo)
    if not settings["pretrain"]:
        p.error(f"{args.hyperparams} has no pretrain block")
    torch.set_num_threads(settings["torch_threads"])
    _seed_everything(args.seed)
    from feedbackgym.agents.sb3_vec import make_sb3_vec_env

    env_kwargs = dict(settings["env_kwargs"])
    venv = make_sb3_vec_env(ENV_ID, settings["n_envs"], settings["vec_env"], env_kwargs)
    model = _algo_class(args.algo)(settings["policy"], venv, seed=args.seed, device=settings["device"], **algo_kwargs)
    t0 = time.time()
    block = dict(settings["pretrain"])
    block.setdefault("seed", args.seed)  # as feedbackgym train does
    stats = pretrain(model, ENV_ID, env_kwargs, **block)
    seconds = time.time() - t0
    run = Path(args.run_dir)
    run.mkdir(parents=True, exist_ok=True)
    model.save(run / "model.zip")
    (run / "command.txt").write_text(" ".join([sys.executable] + sys.argv) + "\n")
    stats = {**stats, "wall_s": seconds, "hyperparams": source, "seed": args.seed}
    (run / "pretrain.json").write_text(json.dumps(stats, indent=2, default=float) + "\n")

    splits = [settings["eval_env_kwargs"].get("traces") or "train_fit"] + [s for s in args.report_splits.split(",") if s]
    rows = []
    policy = ModelPolicy(model, None)
    for i, split in enumerate(splits):
        res = evaluate(ENV_ID, "bc", env_kwargs={"mode": env_kwargs.get("mode", "default")}, traces=split,
                       policy_obj=policy)
        rows.append({"timesteps": 0, "eval": "validation" if i == 0 else split, "traces": split,
                     "wall_s": round(seconds, 1), **res.aggregate})
        print(f"{split}: qoe_per_chunk {res.aggregate['qoe_per_chunk']:.4f}")
    with open(run / "evaluations.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    print(f"cloned {stats['samples']} samples in {seconds:.1f} s: accuracy {stats['train_accuracy']:.3f} "
          f"(held out {stats['holdout_accuracy']:.3f}) -> {run / 'model.zip'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
