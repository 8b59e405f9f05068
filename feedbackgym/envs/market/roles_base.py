"""The Gymnasium plumbing the market-maker and execution envs share: config handling, reset
options (checked before anything changes), action checks, the reward from named components."""

from __future__ import annotations

import operator

import gymnasium as gym
import numpy as np

from ...config import config_reset_option, override, to_dict
from ...reward import resolve
from .env import scalar_reward
from .roles_common import OBS_BOUND


class RoleEnv(gym.Env):
    """Base of the role envs; subclasses set the config class, the episode class, the action
    names, the feature names, the reward components and the reward domain."""

    metadata = {"render_modes": ["ansi"], "render_fps": 1}
    config_class: type
    episode_class: type
    action_names: tuple
    feature_names: tuple
    components: dict
    domain: str

    def __init__(self, config=None, render_mode: str | None = None, **overrides):
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode: expected one of {self.metadata['render_modes']} or None, "
                             f"got {render_mode!r}")
        self.render_mode = render_mode
        base = config if isinstance(config, self.config_class) else override(self.config_class(), config)
        self._configure(override(base, overrides))
        self.action_space = gym.spaces.Discrete(len(self.action_names))
        self.observation_space = gym.spaces.Box(-OBS_BOUND, OBS_BOUND, (len(self.feature_names),), np.float32)
        self._done = True

    def _configure(self, config) -> None:
        self.config = config
        self.episode = self.episode_class(config)
        self._reward = resolve(config.reward, components=tuple(self.components), domain=self.domain)
        self._weights = getattr(self._reward, "weights", None)

    @property
    def sim(self):
        return self.episode.sim

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        cfg, options = config_reset_option(self.config, options)
        if options:
            raise ValueError(f"unknown reset option(s) {sorted(options)}; known: config")
        super().reset(seed=seed)
        if cfg is not self.config:
            self._configure(cfg)
        info = self.episode.start(self.np_random)
        self._done = False
        return self.episode.obs, info

    def step(self, action):
        if self._done:
            raise RuntimeError(f"{type(self).__name__}.step() called after the episode ended; call reset() first")
        n = len(self.action_names)
        try:
            a = operator.index(action)
        except TypeError:
            raise ValueError(f"action {action!r}: expected an integer in Discrete({n})") from None
        if not 0 <= a < n:
            raise ValueError(f"action {a} is outside Discrete({n}) (0..{n - 1}: see env.unwrapped.action_names)")
        ep = self.episode
        c = ep.advance(a)
        reward = scalar_reward(self._reward, self._weights, c)
        info = ep.info()
        info["reward_components"] = c
        terminated = ep.done
        if terminated:
            self._done = True
            info["episode_metrics"] = ep.metrics()
        return ep.obs, reward, terminated, False, info

    def render(self):
        if self.render_mode == "ansi":
            info = self.episode.info()
            return " ".join(f"{k} {v:.4g}" for k, v in info.items())
        return None

    def get_config(self) -> dict:
        """JSON-safe config of this env (what a run folder records)."""
        return to_dict(self.config)
