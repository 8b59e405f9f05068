"""A user's own env family plugs into the generic layer without touching feedbackgym.

The family below lives in this test file, as it would in a user's package: a ``Box`` action
space, no data sets (seeded episodes), metrics aggregated by median and by a ratio of sums. The
CLI's evaluate, compare and train then work on it through the declaration alone.
"""

import json
from dataclasses import dataclass

import gymnasium as gym
import numpy as np
import pytest

from feedbackgym import cli, family
from feedbackgym.config import number, param, validate

ENV_ID = "toyfamily/Tracking-v0"


@dataclass(frozen=True)
class TrackingConfig:
    steps: int = param(20, "steps per episode", number(1, 10_000, integer=True))
    noise: float = param(0.1, "std of the target's random walk", number(0.0, 10.0))

    def __post_init__(self):
        validate(self)


class TrackingEnv(gym.Env):
    """Follow a randomly walking target with a continuous action; a miss is an error above 0.5."""

    config_class = TrackingConfig

    def __init__(self, **kwargs):
        self.config = TrackingConfig(**kwargs)
        self.observation_space = gym.spaces.Box(-10.0, 10.0, (2,), np.float32)
        self.action_space = gym.spaces.Box(-1.0, 1.0, (1,), np.float32)

    def _obs(self):
        return np.array([self.target, self.t / self.config.steps], dtype=np.float32)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t, self.target, self.cost, self.misses = 0, float(self.np_random.uniform(-1, 1)), 0.0, 0
        return self._obs(), {}

    def step(self, action):
        error = abs(float(np.asarray(action).reshape(-1)[0]) - self.target)
        self.cost += error
        self.misses += int(error > 0.5)
        self.t += 1
        self.target = float(np.clip(self.target + self.np_random.normal(0, self.config.noise), -1, 1))
        done = self.t >= self.config.steps
        info = {"reward_components": {"error": error}}
        if done:
            info["episode_metrics"] = {"cost": self.cost, "misses": self.misses, "hours": self.t / 60.0}
        return self._obs(), -error, done, False, info


class Zero:
    def reset(self, env, obs, info):
        pass

    def act(self, obs, info):
        return np.zeros(1, dtype=np.float32)


class Follow:
    def reset(self, env, obs, info):
        pass

    def act(self, obs, info):
        return np.array([obs[0]], dtype=np.float32)


TOY = family.Family(
    name="toy-tracking",
    metrics=[family.Metric("cost", family.Median(), "median summed error per episode", higher_is_better=False),
             family.Metric("misses_per_hour", family.RatioOfSums("misses", "hours"), "misses per hour, pooled")],
    headline="cost",
    table_columns=["misses_per_hour"],
    baselines={"zero": (f"{__name__}:Zero", {}, "always 0"), "follow": (f"{__name__}:Follow", {}, "the target")},
    episode_plan=family.SeededEpisodes(6),
    reward_components={"error": "|action - target|"},
    envs=[family.EnvSpec(ENV_ID, entry_point=f"{__name__}:TrackingEnv", config_class=f"{__name__}:TrackingConfig",
                         description="follow a random walk (a user's toy family)")],
)


@pytest.fixture()
def toy():
    family.register_family(TOY)
    yield ENV_ID
    family.unregister_family(TOY.name)
    assert ENV_ID not in gym.registry and ENV_ID not in family.env_ids()


def test_aggregations_median_and_ratio_of_sums(toy):
    episodes = [{"cost": 1.0, "misses": 1, "hours": 1.0}, {"cost": 5.0, "misses": 0, "hours": 3.0},
                {"cost": 2.0, "misses": 3, "hours": 0.5}]
    agg = family.aggregate(toy, episodes)
    assert agg["cost"] == 2.0                        # median, not the mean 2.67
    assert agg["misses_per_hour"] == 4 / 4.5         # pooled, not the mean of ratios (1.33)
    assert agg["misses"] == pytest.approx(4 / 3)     # undeclared fields: mean


def test_cli_evaluate_compare_and_train(toy, tmp_path, capsys):
    out = tmp_path / "eval.json"
    assert cli.main(["evaluate", toy, "--policy", "follow", "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    assert result["aggregate"]["episodes"] == 6
    costs = sorted(e["cost"] for e in result["episodes"])
    assert result["aggregate"]["cost"] == pytest.approx((costs[2] + costs[3]) / 2)
    assert [e["label"] for e in result["episodes"]] == [f"seed {i}" for i in range(6)]

    assert cli.main(["compare", toy, "--policies", "zero,follow", "--out-dir", str(tmp_path / "cmp")]) == 0
    comparison = json.loads((tmp_path / "cmp" / "compare.json").read_text())
    assert comparison["metric"] == "cost"
    zero, follow = (comparison["policies"][p]["aggregate"] for p in ("zero", "follow"))
    assert follow["cost"] < zero["cost"]
    assert "misses_per_hour" in (tmp_path / "cmp" / "compare.md").read_text()

    assert cli.main(["evaluate", toy, "--policy", "zero", "--traces", "x"]) == 2
    assert "no data sets" in capsys.readouterr().err


@pytest.mark.slow
def test_cli_ppo_smoke_train_on_a_box_action_space(toy, tmp_path):
    pytest.importorskip("stable_baselines3")
    hp = tmp_path / "ppo.yml"
    hp.write_text("default:\n  policy: MlpPolicy\n  n_timesteps: 512\n  n_envs: 2\n  vec_env: dummy\n"
                  "  n_steps: 64\n  batch_size: 64\n  n_epochs: 1\n  eval_freq: 256\n  eval_episodes: 2\n")
    run = tmp_path / "run"
    assert cli.main(["train", toy, "--algo", "ppo", "--hyperparams", str(hp), "--run-dir", str(run),
                     "--no-progress-bar"]) == 0
    assert (run / "model.zip").is_file() and (run / "evaluations.csv").is_file()
    assert cli.main(["evaluate", toy, "--policy", str(run / "model.zip"), "--episodes", "2",
                     "--out", str(tmp_path / "m.json")]) == 0
    agg = json.loads((tmp_path / "m.json").read_text())["aggregate"]
    assert agg["episodes"] == 2 and np.isfinite(agg["cost"])
    assert cli.main(["train", toy, "--algo", "dqn", "--hyperparams", str(hp), "--run-dir", str(tmp_path / "d"),
                     "--no-progress-bar"]) == 2   # DQN needs Discrete actions: one clear line


def test_best_model_selection_follows_the_metric_direction(toy, tmp_path):
    """A lower-is-better metric (declared so by the family) selects the lowest score."""
    pytest.importorskip("stable_baselines3")
    import math

    from feedbackgym.agents.callbacks import PeriodicEvalCallback

    cost = PeriodicEvalCallback(toy, [], 1, tmp_path, metric="cost")
    reward = PeriodicEvalCallback(toy, [], 1, tmp_path, metric="mean_reward_per_step")
    assert not cost.higher_is_better and cost.best_score == math.inf
    assert reward.higher_is_better and reward.best_score == -math.inf
