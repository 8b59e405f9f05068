#!/usr/bin/env bash
# Every autoscaling number of results/cluster/autoscaling/: the test protocol (each of the 10 test
# VMs once, whole 14-day trace, fixed service sizes), every baseline and the committed agents.
# FEEDBACKGYM overrides the CLI (default .venv/bin/feedbackgym).
set -euo pipefail
cd "$(dirname "$0")/../.."
FEEDBACKGYM=${FEEDBACKGYM:-.venv/bin/feedbackgym}
ID=feedbackgym/ClusterAutoscaling-v0
OUT=results/cluster/autoscaling
# baselines with exact replica counts (action_mode 'replicas', the default)
$FEEDBACKGYM compare $ID --policies static,hpa,hpa_50,hpa_90,predictive,oracle --out-dir $OUT/baselines
# the agents act in action_mode 'utilisation'; HPA and predictive there too (nearest reachable count)
$FEEDBACKGYM compare $ID --env-kwargs '{"action_mode": "utilisation"}' \
    --policies hpa,predictive,results/cluster/models/autoscaling_ppo.zip,results/cluster/models/autoscaling_dqn.zip \
    --out-dir $OUT/utilisation_actions

# the validation set that selected the agents (training VMs, first 3 days), for the validation/test gap
$FEEDBACKGYM compare $ID --env-kwargs '{"traces": "train", "episode_days": 3, "action_mode": "utilisation"}' \
    --policies hpa,predictive,oracle,results/cluster/models/autoscaling_ppo.zip,results/cluster/models/autoscaling_dqn.zip \
    --out-dir $OUT/validation
.venv/bin/python experiments/cluster/autoscaling_report.py
