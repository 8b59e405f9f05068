"""Ray RLlib (extra ``distributed``; ``make test-rllib`` runs these in ``.venv-ray``).

A tiny PPO training on a local Ray instance (1 env runner, the vector twin, ~2k steps) through the
CLI, with the bare id in the env runner, then resume, the run folder layout, the TensorBoard tags
shared with the SB3 backend, and the exported ``model.zip`` scored by ``evaluate``. Skipped when
Ray is not installed. Generic: the first declared id with a vector twin and a Discrete action space.
"""

import json

import gymnasium as gym
import pytest

pytest.importorskip("ray.rllib")
pytest.importorskip("torch")

from feedbackgym import family  # noqa: E402
from feedbackgym.agents import rllib_backend  # noqa: E402
from feedbackgym.cli import main  # noqa: E402
from feedbackgym.registration import env_ids  # noqa: E402

ENV_ID = next(i for i in env_ids() if family.spec(i).vector_entry_point is not None
              and isinstance(gym.make(i, **family.spec(i).test_kwargs).action_space, gym.spaces.Discrete))


def test_every_id_gets_an_rllib_env_creator():
    names = rllib_backend.register_rllib_envs()
    for env_id in env_ids():
        assert env_id in names and f"feedbackgym:{env_id}" in names
        kwargs = dict(family.spec(env_id).test_kwargs)
        single = rllib_backend._create_env(env_id, kwargs)
        assert isinstance(single, gym.Env)
        vec = rllib_backend._create_env(env_id, {**kwargs, "num_envs": 2})
        assert vec.num_envs == 2
        if family.spec(env_id).vector_entry_point:
            assert type(vec).__module__.startswith("feedbackgym.envs")  # the twin, not SyncVectorEnv
        single.close()
        vec.close()


def test_env_config_must_be_json():
    assert rllib_backend.env_config_of({"reward": {"a": 1}}) == {"reward": {"a": 1}}
    with pytest.raises(ValueError, match="JSON"):
        rllib_backend.env_config_of({"reward": lambda c: 0.0})


@pytest.mark.slow
def test_tiny_ppo_on_local_ray_resume_and_evaluate(tmp_path):
    run = tmp_path / "run"
    kwargs = json.dumps(family.spec(ENV_ID).test_kwargs)
    base = ["train", ENV_ID, "--algo", "ppo", "--backend", "rllib", "--num-env-runners", "1",
            "--envs-per-runner", "4", "--run-dir", str(run), "--env-kwargs", kwargs]
    assert main(base + ["--timesteps", "2000"]) == 0
    config = json.loads((run / "config.json").read_text())
    assert config["backend"] == "rllib" and config["env_id"] == ENV_ID and config["num_timesteps"] >= 2000
    assert config["vectorize_mode"] == "vector_entry_point"
    steps = sorted(int(p.name[5:]) for p in (run / "checkpoints").iterdir() if p.name.startswith("step_"))
    assert steps and all((run / "checkpoints" / f"step_{s}" / f) .exists()
                         for s in steps for f in ("rllib", "state.json", "model.zip"))
    assert (run / "model.zip").is_file() and (run / "command.txt").is_file()

    assert main(base + ["--timesteps", str(steps[-1] + 2000), "--resume"]) == 0
    config = json.loads((run / "config.json").read_text())
    assert config["resumes"][-1]["from_step"] == steps[-1]
    assert config["num_timesteps"] >= steps[-1] + 2000
    assert "# resumed at step" in (run / "command.txt").read_text()

    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(run / "tb"))
    acc.Reload()
    tags = set(acc.Tags()["scalars"])
    assert {"rollout/ep_rew_mean", "rollout/ep_len_mean", "time/fps", "train/value_loss"} <= tags
    kpis = {f"env/{m.name}" for m in family.spec(ENV_ID).metrics}
    assert kpis & tags, f"no env/<kpi> tag among {sorted(tags)}"
    assert any(t.startswith("env/reward_components/") for t in tags)

    out = tmp_path / "eval.json"
    assert main(["evaluate", ENV_ID, "--policy", str(run / "model.zip"), "--episodes", "2",
                 "--env-kwargs", kwargs, "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    assert result["aggregate"]["episodes"] == 2
