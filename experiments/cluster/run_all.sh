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

# train_copy ALGO SEED RECIPE RUN NAME: train one recipe (experiments/cluster/RECIPE) into runs/RUN,
# then copy its best model to results/cluster/models/NAME.zip and its run record to results/cluster/runs/NAME/
train_copy() {
  local algo=$1 seed=$2 recipe=$3 run=$4 name=$5
  $FG train ClusterRightsizing-v0 --algo "$algo" --seed "$seed" --hyperparams "experiments/cluster/$recipe" \
      --run-dir "runs/$run" --no-progress-bar
  mkdir -p results/cluster/models "results/cluster/runs/$name"
  cp "runs/$run/best_model.zip" "results/cluster/models/$name.zip"
  for f in evaluations.csv pretrain.json command.txt best_model.json config.json; do
    cp "runs/$run/$f" "results/cluster/runs/$name/"
  done
}

# 3. agents: behaviour clone of `headroom`, then PPO / DQN on the twin (train split)
train_copy ppo 0 hyperparams.yml cluster_ppo0 ppo
train_copy dqn 0 hyperparams_dqn.yml cluster_dqn0 dqn
train_copy ppo 1 hyperparams.yml cluster_ppo1 ppo_seed1

# 3b. the same recipe with a 1000x OOM weight (reported beside ppo)
train_copy ppo 0 hyperparams_oom1000.yml cluster_ppo_oom1000 ppo_oom1000

# 3c. a more conservative expert: the in-menu rule grid on train (selects `headroom_safe`), then
#     PPO from its clone at the preset's OOM weight (-200), at -100, and for 1M steps
$PY experiments/cluster/headroom_grid.py
for v in safe safe_oom100 safe_long; do
  train_copy ppo 0 "hyperparams_$v.yml" "cluster_ppo_$v" "ppo_$v"
done

# 3d. the meta action mode (action_mode=meta: each action picks a recommender arm, arm 0 = VPA):
#     the fixed arms on train (selects meta_best), then PPO from its clone
$PY experiments/cluster/meta_grid.py --days 7
train_copy ppo 0 hyperparams_meta.yml cluster_ppo_meta ppo_meta

# 3e. the meta action mode from a hindsight-labelled clone (feedbackgym/envs/cluster/hindsight.py):
#     the labeller and its clones on train (selects the recipe), then PPO from the clone
$PY experiments/cluster/hindsight_grid.py --grid 6:0:all,24:0:all,24:0.1:all,12:0:max12,24:0:max12,48:0:max12 \
    --episodes 60 --epochs 3
$PY experiments/cluster/hindsight_grid.py --grid 12:0:max12 --episodes 100 --epochs 5 --dagger-rounds 2
$PY experiments/cluster/hindsight_grid.py --grid 12:0:max12 --episodes 100 --epochs 5 --dagger-rounds 2 --safe-weight 3
for v in hindsight hindsight_long hindsight_w3; do
  train_copy ppo 0 "hyperparams_$v.yml" "cluster_ppo_$v" "ppo_$v"
done

# 3f. round 2 of the hindsight selector: PPO on the train VMs mixed with 20 synthetic jobs
#     (workloads: train+synthetic), and DQN in the meta mode from the same hindsight clone
train_copy ppo 0 hyperparams_hindsight_mix.yml cluster_ppo_hindsight_mix ppo_hindsight_mix
train_copy ppo 0 hyperparams_hindsight_mix_long.yml cluster_ppo_hindsight_mix_long ppo_hindsight_mix_long
train_copy dqn 0 hyperparams_hindsight_dqn.yml cluster_dqn_hindsight dqn_hindsight
train_copy dqn 0 hyperparams_hindsight_dqn_m3.yml cluster_dqn_hindsight_m3 dqn_hindsight_m3
train_copy ppo 1 hyperparams_hindsight_mix_long.yml cluster_ppo_hindsight_mix_long_s1 ppo_hindsight_mix_long_s1

# 4. test split: every baseline and the agents; table, Pareto plot, per-job CDFs
$PY experiments/cluster/evaluate_test.py
$PY experiments/cluster/evaluate_test.py --policies results/cluster/models/ppo_seed1.zip,results/cluster/models/ppo_oom1000.zip
$PY experiments/cluster/evaluate_test.py --policies results/cluster/models/ppo_safe.zip,results/cluster/models/ppo_safe_oom100.zip,results/cluster/models/ppo_safe_long.zip

$PY experiments/cluster/evaluate_test.py --policies meta_vpa,meta_best,meta_safe,results/cluster/models/ppo_meta.zip \
    --env-kwargs '{"action_mode": "meta"}'
M=results/cluster/models
$PY experiments/cluster/evaluate_test.py --policies $M/ppo_hindsight.zip,$M/ppo_hindsight_long.zip,$M/ppo_hindsight_w3.zip \
    --env-kwargs '{"action_mode": "meta"}'
$PY experiments/cluster/evaluate_test.py --policies $M/ppo_hindsight_mix.zip,$M/ppo_hindsight_mix_long.zip,$M/dqn_hindsight.zip,$M/dqn_hindsight_m3.zip \
    --env-kwargs '{"action_mode": "meta"}'
$PY experiments/cluster/evaluate_test.py --policies $M/ppo_hindsight_mix_long_s1.zip --env-kwargs '{"action_mode": "meta"}'

# 4b. the Autopilot-window calibration gap: one procedural knob at a time (30 VMs, whole month, simple model)
$PY experiments/cluster/autopilot_window_gap.py

# 4c. the causal frontier: ~360 history-only rules (meta arms, wider margins, whole-history max, warm-ups)
#     on test and train (frontier selected on test: an optimistic bound) and trace statistics of the test VMs
$PY experiments/cluster/causal_frontier.py --workers 2

# 5. speed (the numba kernel vs its numpy reference; the envs through `feedbackgym bench`)
$PY experiments/cluster/bench_kernel.py
$FG bench ClusterRightsizing-v0 --num-envs 4096 --sync-envs 64 --steps 20000 --repeats 3 --out results/cluster/bench.md
$FG bench ClusterRightsizing-v0 --num-envs 1024 --steps 20000 --repeats 3 --only twin --out results/cluster/bench_n1024.md
