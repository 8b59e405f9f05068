#!/usr/bin/env bash
# Train the published autoscaling agents and copy their validation-selected models into
# results/cluster/models/ (autoscaling_ppo.zip, autoscaling_dqn.zip). About half a CPU-hour each on
# one core; FEEDBACKGYM overrides the CLI (default .venv/bin/feedbackgym).
set -euo pipefail
cd "$(dirname "$0")/../.."
FEEDBACKGYM=${FEEDBACKGYM:-.venv/bin/feedbackgym}
mkdir -p results/cluster/models
for algo in ppo dqn; do
    nice -n 5 $FEEDBACKGYM train feedbackgym/ClusterAutoscaling-v0 --algo $algo \
        --hyperparams experiments/cluster/autoscaling_$algo.yml --seed 0 \
        --run-dir runs/autoscaling_${algo}_0 --no-progress-bar
    cp runs/autoscaling_${algo}_0/best_model.zip results/cluster/models/autoscaling_$algo.zip
    cp runs/autoscaling_${algo}_0/evaluations.csv results/cluster/autoscaling/training_$algo.csv
    cp runs/autoscaling_${algo}_0/pretrain.json results/cluster/autoscaling/pretrain_$algo.json
done
