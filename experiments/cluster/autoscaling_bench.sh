#!/usr/bin/env bash
# Env steps per second of ClusterAutoscaling-v0: single env, Gymnasium SyncVectorEnv and the twin.
# Writes results/cluster/autoscaling/bench.md. FEEDBACKGYM overrides the CLI (default .venv/bin/feedbackgym).
set -euo pipefail
cd "$(dirname "$0")/../.."
FEEDBACKGYM=${FEEDBACKGYM:-.venv/bin/feedbackgym}
mkdir -p results/cluster/autoscaling
$FEEDBACKGYM bench feedbackgym/ClusterAutoscaling-v0 --num-envs 4096 --sync-envs 64 \
    --out results/cluster/autoscaling/bench.md
