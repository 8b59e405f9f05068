"""rl-zoo3 (2.9.x) trains on a feedbackgym env with our packaged hyperparameter file, unchanged.

`python -m rl_zoo3.train --conf-file feedbackgym/agents/hyperparams/ppo.yml` must read the file
(our trainer's extra settings sit in a section rl-zoo3 ignores), build the same PPO as
`feedbackgym train` does from it (rollout size, minibatches, discount, network, entropy decay
through our callback), and train. Needs the `interop` extra; skipped without rl_zoo3.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("rl_zoo3")
pytest.importorskip("stable_baselines3")

ENV_ID = "feedbackgym/AbrStreaming-v0"
ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_rl_zoo3_trains_with_the_packaged_ppo_file(tmp_path):
    from stable_baselines3 import PPO

    from feedbackgym.agents.experiment import Experiment
    from feedbackgym.agents.settings import check_hyperparams, hyperparams_path, resolve_hyperparams

    conf = hyperparams_path("ppo")
    steps = 16384  # two rollouts of the recipe (16 envs x 512 steps)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "rl_zoo3.train", "--algo", "ppo", "--env", ENV_ID, "--gym-packages", "feedbackgym",
           "--conf-file", str(conf), "-n", str(steps), "--eval-freq", "-1", "--save-freq", "-1", "--seed", "0",
           "--num-threads", "1", "--device", "cpu", "-f", str(tmp_path / "logs")]
    proc = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]

    (saved,) = (tmp_path / "logs" / "ppo").glob("feedbackgym-AbrStreaming-v0_*/feedbackgym-AbrStreaming-v0.zip")
    zoo = PPO.load(saved, device="cpu")
    assert zoo.num_timesteps == steps

    # the PPO our trainer builds from the same block
    hp, source = resolve_hyperparams(ENV_ID, "ppo")
    settings, kwargs = check_hyperparams(hp, "ppo", source)
    exp = Experiment(ENV_ID, "ppo", settings, kwargs, seed=0, run=tmp_path / "ours")
    venv = exp.make_env()
    try:
        ours = exp.make_model(venv)
    finally:
        venv.close()
    for attr in ("n_envs", "n_steps", "batch_size", "n_epochs", "gamma", "gae_lambda", "max_grad_norm"):
        assert getattr(zoo, attr) == getattr(ours, attr), attr
    for progress in (1.0, 0.5):
        assert zoo.lr_schedule(progress) == ours.lr_schedule(progress)
        assert zoo.clip_range(progress) == ours.clip_range(progress)
    assert zoo.policy_kwargs == ours.policy_kwargs
    assert [p.shape for p in zoo.policy.parameters()] == [p.shape for p in ours.policy.parameters()]
    # the entropy schedule ran through rl-zoo3's `callback:`: 0.02 at step 0, linear to 0.005 at the
    # end, so the second rollout (from step 8192 of 16384) ran with 0.0125
    assert ours.ent_coef == pytest.approx(0.02) and zoo.ent_coef == pytest.approx(0.0125)
    # env kwargs (pensieve mode, train_fit traces) as rl-zoo3 recorded them
    config = (saved.parent / ENV_ID.replace("/", "-") / "config.yml").read_text()
    assert "pensieve" in config and "train_fit" in config and "EntropyScheduleCallback" in config


@pytest.mark.slow
def test_rl_zoo3_trains_with_the_packaged_dqn_file(tmp_path):
    from stable_baselines3 import DQN

    from feedbackgym.agents.settings import check_hyperparams, hyperparams_path, resolve_hyperparams

    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "rl_zoo3.train", "--algo", "dqn", "--env", ENV_ID, "--gym-packages", "feedbackgym",
           "--conf-file", str(hyperparams_path("dqn")), "-n", "2000", "--eval-freq", "-1", "--save-freq", "-1",
           "--seed", "0", "--num-threads", "1", "--device", "cpu", "-f", str(tmp_path / "logs")]
    proc = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    (saved,) = (tmp_path / "logs" / "dqn").glob("feedbackgym-AbrStreaming-v0_*/feedbackgym-AbrStreaming-v0.zip")
    zoo = DQN.load(saved, device="cpu")
    hp, source = resolve_hyperparams(ENV_ID, "dqn")
    _, kwargs = check_hyperparams(hp, "dqn", source)
    for key in ("buffer_size", "batch_size", "gamma", "target_update_interval", "exploration_initial_eps",
                "exploration_final_eps", "max_grad_norm", "learning_starts"):
        assert getattr(zoo, key) == kwargs[key], key
    assert zoo.policy_kwargs["net_arch"] == [256, 256]
