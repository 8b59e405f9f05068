#!/usr/bin/env bash
# Regenerates everything under results/cluster/ (except autoscaling/): run from the repository root.
# Wall time on the shared 2-core machine: about an hour (training dominates).
set -euo pipefail
PY=.venv/bin/python
FG=.venv/bin/feedbackgym

# 0. bundled data (only when the shared copy changes)
# $PY experiments/cluster/make_bundled_data.py /work/shared/data/cluster/bitbrains_rnd_2013-7

# 1. calibration against the issue's replay (simple model, 30 VMs, whole month from the published files)
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

# 3c. a more conservative expert: the in-menu rule grid on train (selects `headroom_safe`), then
#     PPO from its clone at the preset's OOM weight (-200), at -100, and for 1M steps
$PY experiments/cluster/headroom_grid.py
for v in safe safe_oom100 safe_long; do
  $FG train ClusterRightsizing-v0 --algo ppo --seed 0 --hyperparams experiments/cluster/hyperparams_$v.yml \
      --run-dir runs/cluster_ppo_$v --no-progress-bar
  mkdir -p results/cluster/runs/ppo_$v
  cp runs/cluster_ppo_$v/best_model.zip results/cluster/models/ppo_$v.zip
  for f in evaluations.csv pretrain.json command.txt best_model.json config.json; do
    cp runs/cluster_ppo_$v/$f results/cluster/runs/ppo_$v/
  done
done

# 3d. the meta action mode (action_mode=meta: each action picks a recommender arm, arm 0 = VPA):
#     the fixed arms on train (selects meta_best), then PPO from its clone
$PY experiments/cluster/meta_grid.py --days 7
$FG train ClusterRightsizing-v0 --algo ppo --seed 0 --hyperparams experiments/cluster/hyperparams_meta.yml \
    --run-dir runs/cluster_ppo_meta --no-progress-bar
mkdir -p results/cluster/runs/ppo_meta
cp runs/cluster_ppo_meta/best_model.zip results/cluster/models/ppo_meta.zip
for f in evaluations.csv pretrain.json command.txt best_model.json config.json; do
  cp runs/cluster_ppo_meta/$f results/cluster/runs/ppo_meta/
done

# 3e. the meta action mode from a hindsight-labelled clone (feedbackgym/envs/cluster/hindsight.py):
#     the labeller and its clones on train (selects the recipe), then PPO from the clone
$PY experiments/cluster/hindsight_grid.py --grid 6:0:all,24:0:all,24:0.1:all,12:0:max12,24:0:max12,48:0:max12 \
    --episodes 60 --epochs 3
$PY experiments/cluster/hindsight_grid.py --grid 12:0:max12 --episodes 100 --epochs 5 --dagger-rounds 2
$PY experiments/cluster/hindsight_grid.py --grid 12:0:max12 --episodes 100 --epochs 5 --dagger-rounds 2 --safe-weight 3
for v in hindsight hindsight_long hindsight_w3; do
  $FG train ClusterRightsizing-v0 --algo ppo --seed 0 --hyperparams experiments/cluster/hyperparams_$v.yml \
      --run-dir runs/cluster_ppo_$v --no-progress-bar
  mkdir -p results/cluster/runs/ppo_$v
  cp runs/cluster_ppo_$v/best_model.zip results/cluster/models/ppo_$v.zip
  for f in evaluations.csv pretrain.json command.txt best_model.json config.json; do
    cp runs/cluster_ppo_$v/$f results/cluster/runs/ppo_$v/
  done
done

# 3f. round 2 of the hindsight selector: PPO on the train VMs mixed with 20 synthetic jobs
#     (workloads: train+synthetic), and DQN in the meta mode from the same hindsight clone
for r in ppo:hindsight_mix:ppo_hindsight_mix ppo:hindsight_mix_long:ppo_hindsight_mix_long \
         dqn:hindsight_dqn:dqn_hindsight dqn:hindsight_dqn_m3:dqn_hindsight_m3; do
  IFS=: read -r algo recipe name <<< "$r"
  $FG train ClusterRightsizing-v0 --algo $algo --seed 0 --hyperparams experiments/cluster/hyperparams_$recipe.yml \
      --run-dir runs/cluster_$name --no-progress-bar
  mkdir -p results/cluster/runs/$name
  cp runs/cluster_$name/best_model.zip results/cluster/models/$name.zip
  for f in evaluations.csv pretrain.json command.txt best_model.json config.json; do
    cp runs/cluster_$name/$f results/cluster/runs/$name/
  done
done
$FG train ClusterRightsizing-v0 --algo ppo --seed 1 --hyperparams experiments/cluster/hyperparams_hindsight_mix_long.yml \
    --run-dir runs/cluster_ppo_hindsight_mix_long_s1 --no-progress-bar
mkdir -p results/cluster/runs/ppo_hindsight_mix_long_s1
cp runs/cluster_ppo_hindsight_mix_long_s1/best_model.zip results/cluster/models/ppo_hindsight_mix_long_s1.zip
for f in evaluations.csv pretrain.json command.txt best_model.json config.json; do
  cp runs/cluster_ppo_hindsight_mix_long_s1/$f results/cluster/runs/ppo_hindsight_mix_long_s1/
done

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

# 5. speed (the numba kernel vs its numpy reference; the envs through `feedbackgym bench`)
$PY experiments/cluster/bench_kernel.py
$FG bench ClusterRightsizing-v0 --num-envs 4096 --sync-envs 64 --steps 20000 --repeats 3 --out results/cluster/bench.md
$FG bench ClusterRightsizing-v0 --num-envs 1024 --steps 20000 --repeats 3 --only twin --out results/cluster/bench_n1024.md
