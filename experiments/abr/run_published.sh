#!/usr/bin/env bash
# Regenerate every published ABR agent result in results/abr/ (one seed each):
#   bash experiments/abr/run_published.sh
# ~1 min (clone) + 2 x ~12 min (PPO, 10M steps) + ~17 min (DQN, 2M steps) + ~2 min (report) on 2 cores.
# Runs one training process at a time (torch with one thread). Run folders go under runs/ (git-ignored).
# The recipes are the packaged hyperparameter files (feedbackgym/agents/hyperparams/{ppo,dqn}.yml,
# block feedbackgym/AbrStreaming-v0), the one copy of each.
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=.venv/bin/python
FG=.venv/bin/feedbackgym
SEED=${SEED:-0}

# 1. behaviour clone of robustMPC only (the step-0 policy of the PPO run, saved on its own)
$PY experiments/abr/bc_only.py --algo ppo --seed "$SEED" \
    --run-dir "runs/abr_bc_ppo_$SEED"
# 2. PPO fine-tuned from the clone
$FG train AbrStreaming-v0 --algo ppo --seed "$SEED" \
    --run-dir "runs/abr_ppo_bc_$SEED" --no-progress-bar
# 3. DQN from the clone
$FG train AbrStreaming-v0 --algo dqn --seed "$SEED" \
    --run-dir "runs/abr_dqn_bc_$SEED" --no-progress-bar
# 4. PPO, a second seed
$FG train AbrStreaming-v0 --algo ppo --seed $((SEED + 1)) \
    --run-dir "runs/abr_ppo_bc_$((SEED + 1))" --no-progress-bar
# 5. tables, CDF plots, learning curves, training times; models copied to results/abr/models/
$PY experiments/abr/report.py --ppo-run "runs/abr_ppo_bc_$SEED" --dqn-run "runs/abr_dqn_bc_$SEED" \
    --bc-run "runs/abr_bc_ppo_$SEED" --extra-run "ppo_seed$((SEED + 1))=runs/abr_ppo_bc_$((SEED + 1))" \
    --out results/abr
