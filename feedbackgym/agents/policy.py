"""What ``--policy`` names: a baseline of the env's family or a saved SB3 model (``.zip``).

Policies follow :class:`feedbackgym.agents.rollout.Policy`: ``reset(env, obs, info)`` at each
episode start, ``act(obs, info) -> action`` per step, optionally ``end_episode(obs, info)``.
Baselines read ``info`` (the field's own quantities); learned models read the observation.

**A model file is code**: an SB3 zip contains pickles, and loading one can run anything its
author put in it (``feedbackgym.agents.model_file``). Load only models you trained yourself or
got from someone you trust. Only :func:`sb3_algo_of` reads a zip without unpickling (its JSON
``data`` member).

Names win over files: ``--policy bb`` is the baseline ``bb`` even if a file named ``bb`` lies
in the working folder; a model path needs a path separator or the ``.zip`` suffix.
"""

from __future__ import annotations

import json
import os
import warnings
import zipfile
from pathlib import Path
from typing import Any

from gymnasium.spaces import Discrete

from .. import family
from .baselines import baseline_names, make_baseline
from .model_file import ObsNormalizer, load_model, read_meta

#: SB3 algorithm classes by the module their policy class lives in.
_ALGOS = {"ppo": "PPO", "dqn": "DQN", "a2c": "A2C", "sac": "SAC", "td3": "TD3"}


def sb3_algo_of(path: str | Path) -> str:
    """Which SB3 algorithm saved ``path``, read from the zip's JSON ``data`` member (this reads,
    and unpickles, nothing else).

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
    """Where older runs saved a model's observation statistics beside it (``model.zip`` ->
    ``vecnormalize.pkl``, ``best_model.zip`` -> ``best_vecnormalize.pkl``). Runs now keep them
    inside the zip (``feedbackgym.json``); the pickle is read only for zips without them."""
    p = Path(model_path)
    return p.with_name(p.stem.replace("model", "vecnormalize") + ".pkl")


class Sb3Policy:
    """A saved SB3 model acting deterministically (the greedy / mode action).

    Loading unpickles the zip: **a model file is code**, load only your own (module docstring).
    If the run normalised observations (``VecNormalize``), the statistics stored in the zip are
    applied, so the model sees what it saw in training. The model's spaces are checked against
    the env before the first action (:meth:`check_env`); an env configured differently from the
    training env (a config field outside the family's test protocol, data set and reward) gives a
    warning.
    """

    def __init__(self, path: str | Path, deterministic: bool = True):
        import stable_baselines3 as sb3

        self.path = str(path)
        self.algo = sb3_algo_of(path)
        self.meta = read_meta(path)
        self.model = load_model(getattr(sb3, _ALGOS[self.algo]), self.path, device="cpu")
        self.deterministic = deterministic
        self.obs_normalizer: Any = None
        self._checked: set[int] = set()
        stats = self.meta.get("obs_normalization")
        if stats:
            self.obs_normalizer = ObsNormalizer.from_json(stats, self.path)
        elif vecnormalize_path(path).is_file():  # runs saved before the statistics moved into the zip
            import pickle

            with open(vecnormalize_path(path), "rb") as f:
                self.obs_normalizer = pickle.load(f)  # a VecNormalize without its venv: code, like the zip
            self.obs_normalizer.training = False

    def check_env(self, env) -> None:
        """Refuse an env whose spaces differ from the model's; warn when it is configured unlike
        the training env in a field the test protocol does not set."""
        space = self.model.observation_space
        if space.shape != env.observation_space.shape:
            raise ValueError(f"{self.path}: model expects observations of shape {space.shape}, "
                             f"the env gives {env.observation_space.shape}")
        if self.model.action_space != env.action_space:
            raise ValueError(f"{self.path}: model acts in {self.model.action_space}, the env expects "
                             f"{env.action_space}")
        self._warn_config(env)

    def _warn_config(self, env) -> None:
        trained = self.meta.get("env_config")
        get = getattr(env.unwrapped, "get_config", None)
        if not isinstance(trained, dict) or get is None:
            return
        try:
            now = json.loads(json.dumps(get(), default=str))
        except (TypeError, ValueError):
            return
        skip = {"reward"}
        env_id = getattr(getattr(env, "spec", None), "id", None) or self.meta.get("env_id")
        if isinstance(env_id, str) and env_id.split(":", 1)[-1] in family.env_ids():
            s = family.spec(env_id)
            skip |= set(s.protocol) | ({s.data_field} if s.data_field else set())
        diff = sorted(k for k in trained if k in now and k not in skip and trained[k] != now[k])
        if diff:
            shown = ", ".join(f"{k}={now[k]!r} (trained with {trained[k]!r})" for k in diff[:4])
            warnings.warn(f"{self.path}: evaluated in an env configured unlike its training env: {shown}",
                          UserWarning, stacklevel=3)

    def reset(self, env, obs, info) -> None:
        if id(env) not in self._checked:
            self.check_env(env)
            self._checked.add(id(env))

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
    """A model path, not a baseline name: it ends in ``.zip`` or has a path separator."""
    return spec.endswith(".zip") or "/" in spec or os.sep in spec or (os.altsep is not None and os.altsep in spec)


def model_file(spec: str) -> Path:
    """The model file a policy path names: the file itself, or a run folder's ``model.zip`` (SB3 and
    RLlib runs export one), so ``--policy RUN_DIR`` scores a run's final model."""
    p = Path(spec)
    return p / "model.zip" if p.is_dir() else p


def make_policy(env_id: str, spec: str, env=None):
    """A baseline by name (see ``feedbackgym baselines ENV_ID``) or a saved model path.

    ``env``: the env the policy will play; a model whose spaces do not match it fails here, at
    load, rather than at its first episode."""
    if is_model_path(spec):
        if not model_file(spec).is_file():
            raise ValueError(f"policy {spec!r}: no such model file (nor a run folder with a model.zip)")
        policy = Sb3Policy(model_file(spec))
        if env is not None:
            policy.check_env(env)
            policy._checked.add(id(env))
        return policy
    if spec in baseline_names(env_id):
        return make_baseline(env_id, spec)
    hint = " (a model path needs a '/' or the .zip suffix)" if Path(spec).is_file() else ""
    raise ValueError(f"policy {spec!r}: not a baseline of {env_id} ({sorted(baseline_names(env_id))}) "
                     f"nor a saved model .zip{hint}")


def policy_label(spec: str) -> str:
    """Short name for tables and plots: the baseline name, or the model's run folder / file stem."""
    if is_model_path(spec):
        p = model_file(spec)
        return p.parent.name if p.stem in ("model", "best_model", "final_model") else p.stem
    return spec
