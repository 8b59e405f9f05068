"""Vector twins of the market-maker and execution envs: ``num_envs`` single envs in lock-step.

The order-book simulator is a scalar event-by-event kernel, so batching cannot make it faster;
these twins exist so that ``gym.make_vec(id, num_envs=N)`` and the trainer's default
``vec_env: twin`` work, giving exactly the transitions of N single envs seeded ``seed, seed+1,
...`` in Gymnasium's vector layout and autoreset modes (``NEXT_STEP``, ``SAME_STEP``,
``DISABLED`` with ``reset(options={"reset_mask": mask})``).
"""

from __future__ import annotations

import numpy as np
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from ...config import autoreset_mode_of, override
from ..vector_utils import seeds_per_env, split_reset_options, stack_infos
from .execution_env import FlashCrashExecutionEnv
from .maker_env import FlashCrashMarketMakerEnv
from .roles_base import RoleEnv


class RoleVectorEnv(VectorEnv):
    """``num_envs`` copies of :attr:`env_class` stepped together (see the module docstring)."""

    env_class: type[RoleEnv]

    def __init__(self, num_envs: int = 1, config=None, autoreset_mode: AutoresetMode | str = AutoresetMode.NEXT_STEP,
                 render_mode: str | None = None, **overrides):
        if isinstance(num_envs, bool) or not isinstance(num_envs, int) or num_envs < 1:
            raise ValueError(f"num_envs: expected an integer >= 1, got {num_envs!r}")
        mode = autoreset_mode_of(autoreset_mode)
        if render_mode is not None:
            raise ValueError("render_mode: the vector role envs do not render; use the single env")
        self.num_envs = num_envs
        self.render_mode = None
        self.metadata = {"autoreset_mode": mode}
        self.envs = [self.env_class(config, **overrides) for _ in range(num_envs)]
        self.config = self.envs[0].config
        self.single_action_space = self.envs[0].action_space
        self.single_observation_space = self.envs[0].observation_space
        self.action_space = batch_space(self.single_action_space, num_envs)
        self.observation_space = batch_space(self.single_observation_space, num_envs)
        self._obs = np.zeros((num_envs, len(self.env_class.feature_names)), np.float32)
        self._needs_reset = np.zeros(num_envs, dtype=bool)
        self._started = False

    @property
    def autoreset_mode(self) -> AutoresetMode:
        return self.metadata["autoreset_mode"]

    def get_config(self) -> dict:
        return self.envs[0].get_config()

    def reset(self, *, seed: int | list | None = None, options: dict | None = None):
        mask, options = split_reset_options(options, self.num_envs)
        cfg = self.config
        if "config" in options:
            cfg = override(self.config, options.pop("config"))   # checked before anything changes
        if options:
            raise ValueError(f"unknown reset option(s) {sorted(options)}; known: config, reset_mask")
        seeds = seeds_per_env(seed, self.num_envs)
        if mask is not None and not self._started:
            raise RuntimeError("reset(options={'reset_mask': ...}) before the first full reset()")
        chosen = range(self.num_envs) if mask is None else np.flatnonzero(mask).tolist()
        if cfg is not self.config:
            for env in self.envs:
                env._configure(cfg)
            self.config = cfg
        rows = []
        for i in chosen:
            obs, inf = self.envs[i].reset(seed=seeds[i])
            self._obs[i] = obs
            rows.append((i, inf))
            self._needs_reset[i] = False
        self._started = True
        return self._obs.copy(), self._stack_infos(rows)

    def step(self, actions):
        if not self._started:
            raise RuntimeError(f"{type(self).__name__}.step() called before reset()")
        a = np.asarray(actions)
        if a.shape != (self.num_envs,) or not np.issubdtype(a.dtype, np.integer):
            raise ValueError(f"actions: expected {self.num_envs} integer actions, got {actions!r}")
        n = self.num_envs
        mode = self.metadata["autoreset_mode"]
        if mode == AutoresetMode.DISABLED and self._needs_reset.any():
            raise RuntimeError(f"sub-env(s) {np.flatnonzero(self._needs_reset).tolist()} ended and autoreset_mode "
                               "is DISABLED: reset them with reset(options={'reset_mask': mask}) before stepping")
        same_step = mode == AutoresetMode.SAME_STEP
        rewards = np.zeros(n)
        terminated = np.zeros(n, dtype=bool)
        truncated = np.zeros(n, dtype=bool)
        final_obs = None
        finals: list[tuple[int, dict]] = []
        rows: list[tuple[int, dict]] = []
        for i, env in enumerate(self.envs):
            if self._needs_reset[i]:
                obs, info = env.reset()
            else:
                obs, r, term, trunc, info = env.step(int(a[i]))
                rewards[i], terminated[i], truncated[i] = r, term, trunc
                if (term or trunc) and same_step:
                    if final_obs is None:
                        final_obs = np.full(n, None, dtype=object)
                    final_obs[i] = obs
                    finals.append((i, info))
                    obs, info = env.reset()
            self._obs[i] = obs
            rows.append((i, info))
        done = terminated | truncated
        vinfo = self._stack_infos(rows)
        if final_obs is not None:
            vinfo.update({"final_obs": final_obs, "_final_obs": done.copy(),
                          "final_info": self._stack_infos(finals), "_final_info": done.copy()})
        self._needs_reset = done.copy() if not same_step else np.zeros(n, dtype=bool)
        return self._obs.copy(), rewards, terminated, truncated, vinfo

    def _stack_infos(self, rows: list[tuple[int, dict]]) -> dict:
        return stack_infos(self, rows)

    def close_extras(self, **kwargs):
        pass


class FlashCrashMarketMakerVectorEnv(RoleVectorEnv):
    """Vector twin of :class:`~.maker_env.FlashCrashMarketMakerEnv`."""

    env_class = FlashCrashMarketMakerEnv


class FlashCrashExecutionVectorEnv(RoleVectorEnv):
    """Vector twin of :class:`~.execution_env.FlashCrashExecutionEnv`."""

    env_class = FlashCrashExecutionEnv
