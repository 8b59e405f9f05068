"""What ``--policy`` names: a baseline of the env's family or a saved SB3 model (``.zip``).

Policies follow :class:`feedbackgym.agents.rollout.Policy`: ``reset(env, obs, info)`` at each
episode start, ``act(obs, info) -> action`` per step, optionally ``end_episode(obs, info)``.
Baselines read ``info`` (the field's own quantities); learned models read the observation.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

from gymnasium.spaces import Discrete

from .baselines import baseline_names, make_baseline

#: SB3 algorithm classes by the module their policy class lives in.
_ALGOS = {"ppo": "PPO", "dqn": "DQN", "a2c": "A2C", "sac": "SAC", "td3": "TD3"}


def sb3_algo_of(path: str | Path) -> str:
    """Which SB3 algorithm saved ``path``, read from the zip's metadata (nothing unpickled).

    PPO and A2C share ``ActorCriticPolicy``, so the policy module alone cannot tell them apart;
    the saved hyperparameters can (``clip_range`` is PPO's, ``target_update_interval`` DQN's).
    """
    try:
        with zipfile.ZipFile(path) as z:
            data = json.loads(z.read("data"))
    except (zipfile.BadZipFile, KeyError, json.JSONDecodeError, OSError) as e:
        raise ValueError(f"{path}: not a stable-baselines3 model zip ({e})") from None
    module = data.get("policy_class", {}).get("__module__", "")
    for key in _ALGOS:
        if f".{key}." in module:
            return key
    if "clip_range" in data:
        return "ppo"
    if "target_update_interval" in data or "exploration_fraction" in data:
        return "dqn"
    if "n_steps" in data:
        return "a2c"
    raise ValueError(f"{path}: cannot tell which SB3 algorithm saved it (policy module {module!r})")


def vecnormalize_path(model_path: str | Path) -> Path:
    """Where training saved the observation statistics of a model (``model.zip`` ->
    ``vecnormalize.pkl``, ``best_model.zip`` -> ``best_vecnormalize.pkl``), if it normalised."""
    p = Path(model_path)
    return p.with_name(p.stem.replace("model", "vecnormalize") + ".pkl")


class Sb3Policy:
    """A saved SB3 model acting deterministically (the greedy / mode action).

    If the run normalised observations (``VecNormalize``), the statistics saved beside the
    model are applied, so the model sees what it saw in training.
    """

    def __init__(self, path: str | Path, deterministic: bool = True):
        import pickle

        import stable_baselines3 as sb3

        self.path = str(path)
        self.algo = sb3_algo_of(path)
        self.model = getattr(sb3, _ALGOS[self.algo]).load(self.path, device="cpu")
        self.deterministic = deterministic
        self.obs_normalizer = None
        stats = vecnormalize_path(path)
        if stats.is_file():
            with open(stats, "rb") as f:
                self.obs_normalizer = pickle.load(f)  # a VecNormalize without its venv
            self.obs_normalizer.training = False

    def reset(self, env, obs, info) -> None:
        space = self.model.observation_space
        if space.shape != env.observation_space.shape:
            raise ValueError(f"{self.path}: model expects observations of shape {space.shape}, "
                             f"the env gives {env.observation_space.shape}")
        if self.model.action_space != env.action_space:
            raise ValueError(f"{self.path}: model acts in {self.model.action_space}, the env expects "
                             f"{env.action_space}")

    def act(self, obs, info):
        if self.obs_normalizer is not None:
            obs = self.obs_normalizer.normalize_obs(obs)
        action, _ = self.model.predict(obs, deterministic=self.deterministic)
        if isinstance(self.model.action_space, Discrete):
            return int(action)
        return action

    def __repr__(self) -> str:
        return f"Sb3Policy({self.path!r}, algo={self.algo})"


def is_model_path(spec: str) -> bool:
    return spec.endswith(".zip") or Path(spec).is_file()


def make_policy(env_id: str, spec: str):
    """A baseline by name (see ``feedbackgym baselines ENV_ID``) or a saved model ``.zip``."""
    if is_model_path(spec):
        if not Path(spec).is_file():
            raise ValueError(f"policy {spec!r}: no such model file")
        return Sb3Policy(spec)
    if spec in baseline_names(env_id):
        return make_baseline(env_id, spec)
    raise ValueError(f"policy {spec!r}: not a baseline of {env_id} ({sorted(baseline_names(env_id))}) "
                     "nor a saved model .zip")


def policy_label(spec: str) -> str:
    """Short name for tables and plots: the baseline name, or the model's run folder / file stem."""
    if is_model_path(spec):
        p = Path(spec)
        return p.parent.name if p.stem in ("model", "best_model", "final_model") else p.stem
    return spec
