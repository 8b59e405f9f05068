#!/usr/bin/env bash
# Regenerates everything under results/cluster/ (except autoscaling/): run from the repository root.
# Wall time on the shared 2-core machine: about an hour (training dominates).
set -euo pipefail
PY=.venv/bin/python
FG=.venv/bin/feedbackgym

# 0. bundled data (only when the shared copy changes)
# $PY experiments/cluster/make_bundled_data.py /work/shared/data/cluster/bitbrains_rnd_2013-7

# 1. calibration against the replay (simple model, 30 VMs, whole month from the published files)
$PY experiments/cluster/calibration.py --sets full --models simple
$PY experiments/cluster/calibration.py --sets full --models default --policies static,vpa,autopilot_window,oracle

# 2. Autopilot ML overrun weight, on train only
$PY experiments/cluster/calibrate_autopilot_ml.py --episodes 6

# 3. agents: behaviour clone of `headroom`, then PPO / DQN on the twin (train split)
$FG train ClusterRightsizing-v0 --algo ppo --seed 0 --hyperparams experiments/cluster/hyperparams.yml \
    --run-dir runs/cluster_ppo0 --no-progress-bar
$FG train ClusterRightsizing-v0 --algo dqn --seed 0 --hyperparams experiments/cluster/hyperparams_dqn.yml \
    --run-dir runs/cluster_dqn0 --no-progress-bar
$FG train ClusterRightsizing-v0 --algo ppo --seed 1 --hyperparams experiments/cluster/hyperparams.yml \
    --run-dir runs/cluster_ppo1 --no-progress-bar
mkdir -p results/cluster/models results/cluster/runs/ppo results/cluster/runs/dqn results/cluster/runs/ppo_seed1
cp runs/cluster_ppo1/best_model.zip results/cluster/models/ppo_seed1.zip
for f in evaluations.csv pretrain.json command.txt best_model.json config.json; do
  cp runs/cluster_ppo1/$f results/cluster/runs/ppo_seed1/
done
cp runs/cluster_ppo0/best_model.zip results/cluster/models/ppo.zip
cp runs/cluster_dqn0/best_model.zip results/cluster/models/dqn.zip
for r in ppo dqn; do
  for f in evaluations.csv pretrain.json command.txt best_model.json config.json; do
    cp runs/cluster_${r}0/$f results/cluster/runs/$r/
  done
done

# 3b. the same recipe with a 1000x OOM weight (reported beside ppo)
$FG train ClusterRightsizing-v0 --algo ppo --seed 0 --hyperparams experiments/cluster/hyperparams_oom1000.yml \
    --run-dir runs/cluster_ppo_oom1000 --no-progress-bar
mkdir -p results/cluster/runs/ppo_oom1000
cp runs/cluster_ppo_oom1000/best_model.zip results/cluster/models/ppo_oom1000.zip
for f in evaluations.csv pretrain.json command.txt best_model.json config.json; do
  cp runs/cluster_ppo_oom1000/$f results/cluster/runs/ppo_oom1000/
done

# 4. test split: every baseline and both agents; table, Pareto plot, per-job CDFs
$PY experiments/cluster/evaluate_test.py
$PY experiments/cluster/evaluate_test.py --policies results/cluster/models/ppo_seed1.zip,results/cluster/models/ppo_oom1000.zip

# 5. speed
$FG bench ClusterRightsizing-v0 --num-envs 4096 --sync-envs 64 --steps 20000 --repeats 1 --out results/cluster/bench.md
