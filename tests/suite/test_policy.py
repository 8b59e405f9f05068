"""Saved models as policies: algorithm detection and observation statistics."""

import pytest

pytest.importorskip("stable_baselines3")

from feedbackgym.agents.evaluation import evaluate  # noqa: E402
from feedbackgym.agents.policy import Sb3Policy, make_policy, sb3_algo_of, vecnormalize_path  # noqa: E402
from feedbackgym.agents.train import train  # noqa: E402

ENV_ID = "feedbackgym/AbrStreaming-v0"


@pytest.mark.parametrize("algo", ["ppo", "dqn"])
def test_saved_models_are_recognised_and_scored(tmp_path, algo):
    run = train(ENV_ID, algo, timesteps=512, run_dir=tmp_path / algo, progress_bar=False, eval_freq=0,
                n_envs=2, normalize=True, checkpoint_freq=0, pretrain=None, **({"n_steps": 128, "batch_size": 64} if algo == "ppo"
                                                                   else {"learning_starts": 100, "buffer_size": 1000}))
    model = run / "model.zip"
    assert sb3_algo_of(model) == algo
    assert vecnormalize_path(model).is_file()
    policy = make_policy(ENV_ID, str(model))
    assert isinstance(policy, Sb3Policy) and policy.obs_normalizer is not None
    result = evaluate(ENV_ID, str(model), {"mode": "pensieve"}, traces="fcc_test", episodes=2)
    assert result.aggregate["episodes"] == 2


def test_not_a_model(tmp_path):
    bad = tmp_path / "x.zip"
    bad.write_text("nope")
    with pytest.raises(ValueError, match="not a stable-baselines3 model zip"):
        make_policy(ENV_ID, str(bad))
    with pytest.raises(ValueError, match="no such model file"):
        make_policy(ENV_ID, str(tmp_path / "missing.zip"))
    with pytest.raises(ValueError, match="not a baseline"):
        make_policy(ENV_ID, "mpc_typo")
