"""Behaviour cloning only: the PPO (or DQN) network of a hyperparameter block, fitted to a
baseline by the block's ``pretrain`` function, no RL.

This is step 0 of the ``pretrain`` runs of ``feedbackgym train`` — the same stages of
:class:`feedbackgym.agents.experiment.Experiment` (same model construction, same seed, same
cloning), stopped after ``pretrain`` and saved, so its scores can be reported next to the
fine-tuned agents. The recipe is the packaged one (``feedbackgym/agents/hyperparams/<algo>.yml``)
unless ``--hyperparams`` names another file.

    .venv/bin/python experiments/abr/bc_only.py --algo ppo --seed 0 --run-dir runs/abr_bc_ppo_0

writes ``RUN_DIR/model.zip``, ``RUN_DIR/pretrain.json`` (cloning statistics and wall time) and
``RUN_DIR/evaluations.csv`` (the validation split ``train_fit`` under the test protocol; with
``--report-splits`` also the report-only test splits), each atomically.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import feedbackgym  # noqa: F401
from feedbackgym.agents.evaluation import evaluate
from feedbackgym.agents.experiment import Experiment
from feedbackgym.agents.model_policy import ModelPolicy
from feedbackgym.agents.run_folder import RunFolder
from feedbackgym.agents.settings import check_hyperparams, resolve_hyperparams
from feedbackgym.files import atomic_write, write_csv

ENV_ID = "feedbackgym/AbrStreaming-v0"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--hyperparams", default=None, help="hyperparameter file (default: the packaged one)")
    p.add_argument("--algo", default="ppo", choices=["ppo", "dqn"])
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--run-dir", required=True)
    p.add_argument("--report-splits", default="", help="comma-separated report-only splits to evaluate too")
    args = p.parse_args(argv)

    import torch

    hp, source = resolve_hyperparams(ENV_ID, args.algo, args.hyperparams)
    settings, algo_kwargs = check_hyperparams(hp, args.algo, source)
    if not settings.pretrain:
        p.error(f"{source} has no pretrain block for {ENV_ID}")
    run = RunFolder(args.run_dir)
    exp = Experiment(ENV_ID, args.algo, settings, algo_kwargs, args.seed, run, hyperparams=hp, progress_bar=False)
    torch.set_num_threads(settings.torch_threads)
    exp.seed_everything()
    venv = exp.make_env()
    try:
        model = exp.make_model(venv)
        t0 = time.time()
        stats = exp.pretrain(model) or {}
        seconds = time.time() - t0
        exp.save(model)
    finally:
        venv.close()
    atomic_write(run.path / "command.txt", " ".join([sys.executable] + sys.argv) + "\n")
    stats = {**stats, "wall_s": seconds, "hyperparams": source, "seed": args.seed}
    atomic_write(run.path / "pretrain.json", json.dumps(stats, indent=2, default=float) + "\n")

    env_kwargs = dict(settings.env_kwargs)
    splits = [settings.eval_env_kwargs.get("traces") or "train_fit"] + [s for s in args.report_splits.split(",") if s]
    rows = []
    policy = ModelPolicy(model, None)
    for i, split in enumerate(splits):
        res = evaluate(ENV_ID, "bc", env_kwargs={"mode": env_kwargs.get("mode", "default")}, traces=split,
                       policy_obj=policy)
        rows.append({"timesteps": 0, "eval": "validation" if i == 0 else split, "traces": split,
                     "wall_s": round(seconds, 1), **res.aggregate})
        print(f"{split}: qoe_per_chunk {res.aggregate['qoe_per_chunk']:.4f}")
    write_csv(run.path / "evaluations.csv", rows)
    print(f"cloned {stats['samples']} samples in {seconds:.1f} s: accuracy {stats['train_accuracy']:.3f} "
          f"(held out {stats['holdout_accuracy']:.3f}) -> {run.model_path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
