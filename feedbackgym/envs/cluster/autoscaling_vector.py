"""Numpy-batched vector twin of :class:`~feedbackgym.envs.cluster.autoscaling_env.ClusterAutoscalingEnv`."""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from ...config import autoreset_mode_of, override, to_dict
from .autoscaling_config import AutoscalingConfig
from .autoscaling_demand import LAGS
from .autoscaling_env import OBS_FEATURES, AutoscalingSetup, build, draw_episode
from .autoscaling_sim import TOTALS, BatchedServices, episode_metrics, step_components_batch
from ..vector_utils import index_mask as _mask
from ..vector_utils import reset_generators, split_reset_options
from ..vector_utils import merge_info as _merge


class ClusterAutoscalingVectorEnv(VectorEnv):
    """``num_envs`` autoscaled services stepped together with numpy.

    Gives the same observations, rewards, truncations and infos as ``num_envs`` single
    :class:`ClusterAutoscalingEnv` seeded ``seed, seed+1, ...``, in Gymnasium's vector info
    layout (arrays plus ``_key`` masks). Episode draws (trace, start step) use one generator per
    sub-env exactly as the single env does; replica dynamics and features run batched.

    ``autoreset_mode`` (the enum or its name, e.g. ``"SAME_STEP"``; readable back as
    ``env.autoreset_mode``), as Gymnasium's own vector envs (https://farama.org/Vector-Autoreset-Mode):

    - ``NEXT_STEP`` (Gymnasium's default): the step after an episode ends resets that sub-env,
      ignoring its action.
    - ``SAME_STEP``: the sub-env resets within the step; ``info["final_obs"]`` and
      ``info["final_info"]`` hold the finished episode's last observation and info.
    - ``DISABLED``: nothing resets by itself; the caller resets finished sub-envs with
      ``reset(options={"reset_mask": mask})`` (TorchRL's and RLlib's way). Stepping a finished
      sub-env before that raises ``RuntimeError``.

    ``reset(options={"reset_mask": mask})`` works in every mode: only the sub-envs where the
    boolean ``mask`` is true start a new episode (seeded by their entry of ``seed``, if given); the
    others keep their state and observation, and the info holds the reset sub-envs only.
    """

    def __init__(self, num_envs: int = 1, config: AutoscalingConfig | dict | None = None,
                 autoreset_mode: AutoresetMode | str = AutoresetMode.NEXT_STEP, render_mode: str | None = None,
                 **overrides):
        if isinstance(num_envs, bool) or not isinstance(num_envs, int) or num_envs < 1:
            raise ValueError(f"num_envs: expected an integer >= 1, got {num_envs!r}")
        mode = autoreset_mode_of(autoreset_mode)
        if render_mode is not None:
            raise ValueError("render_mode: the vector autoscaling env does not render; use the single env")
        self.num_envs = num_envs
        self.render_mode = None
        self.metadata = {"autoreset_mode": mode}
        base = config if isinstance(config, AutoscalingConfig) else override(AutoscalingConfig(), config)
        self._configure(build(override(base, overrides)))
        self.single_action_space = self.setup.action_space
        self.single_observation_space = self.setup.observation_space
        self.action_space = batch_space(self.single_action_space, num_envs)
        self.observation_space = batch_space(self.single_observation_space, num_envs)
        self._rngs: list[np.random.Generator | None] = [None] * num_envs
        self._next_trace = np.zeros(num_envs, dtype=np.int64)
        self._needs_reset = np.zeros(num_envs, dtype=bool)
        self._started = False

    def _configure(self, setup: AutoscalingSetup) -> None:
        n = self.num_envs
        self.setup, self.config = setup, setup.config
        self.services = BatchedServices(n, setup.delay_steps)
        self._weights = getattr(setup.reward_fn, "weights", None)
        self._norm = 1.0 / setup.config.obs_scale_replicas
        self._size = np.ones(n)
        self._k = np.zeros(n, dtype=np.int64)
        self._base = np.zeros(n, dtype=np.int64)
        self._t = np.zeros(n, dtype=np.int64)
        self._steps = np.ones(n, dtype=np.int64)
        self._totals = {key: np.zeros(n) for key in TOTALS}
        self._obs = np.zeros((n, len(OBS_FEATURES)), dtype=np.float32)
        self._all = np.ones(n, dtype=bool)

    @property
    def autoreset_mode(self) -> AutoresetMode:
        return self.metadata["autoreset_mode"]

    @property
    def num_traces(self) -> int:
        return len(self.setup.demand)

    def get_config(self) -> dict:
        return to_dict(self.config)

    # ------------------------------------------------------------------------------- reset

    def reset(self, *, seed: int | list | None = None, options: dict | None = None):
        # Everything that can fail is checked before anything changes: a failed reset leaves the
        # env as it was (config, generators and the episodes in progress), as the single env does.
        mask, options = split_reset_options(options, self.num_envs)
        setup = self.setup
        if "config" in options:
            setup = build(override(self.config, options.pop("config")))
            if setup.action_space != self.single_action_space or \
                    setup.observation_space != self.single_observation_space:
                raise ValueError("reset option 'config' may not change the action or observation space")
        if options:
            raise ValueError(f"unknown reset option(s) {sorted(options)}; known: config, reset_mask")
        chosen, rngs = reset_generators(seed, mask, self._rngs, self._started)
        if setup is not self.setup:
            self._configure(setup)
        for i, rng in rngs.items():
            self._rngs[i] = rng
        self._started = True
        info = self._reset_envs(chosen)
        self._needs_reset[chosen] = False
        return self._obs.copy(), info

    def _reset_envs(self, idx: np.ndarray) -> dict:
        setup, ds, n = self.setup, self.setup.demand, self.num_envs
        names = np.full(n, None, dtype=object)
        start = np.zeros(n, dtype=np.int64)
        size = np.zeros(n)
        ready = np.zeros(len(idx), dtype=np.int64)
        for j, i in enumerate(idx):
            ep = draw_episode(setup, self._rngs[i], None, int(self._next_trace[i]))
            self._next_trace[i] = ep.k + 1
            self._k[i], self._t[i], self._steps[i] = ep.k, 0, ep.steps
            self._base[i] = int(ds.offset[ep.k]) + ep.start
            ready[j] = ep.ready
            names[i], start[i], size[i] = ds.names[ep.k], ep.start, ep.size
            self._size[i] = ep.size
        self.services.reset(idx, ready)
        for acc in self._totals.values():
            acc[idx] = 0.0
        self._observe(idx)
        mask = _mask(idx, n)
        info = {"trace_name": names, "start_step": start, "episode_steps": self._steps.copy(),
                "history_steps": start.copy(), "p99_demand_replicas": size}
        info.update({"_" + key: mask for key in list(info)})
        info.update(self._state_info(idx, ds.demand[self._base[idx] - 1] * self._size[idx]))
        return info

    # -------------------------------------------------------------------------------- step

    def step(self, actions):
        if not self._started:
            raise RuntimeError("ClusterAutoscalingVectorEnv.step() called before reset()")
        a = np.asarray(actions)
        n_actions = self.single_action_space.n
        if a.shape != (self.num_envs,) or not np.issubdtype(a.dtype, np.integer):
            raise ValueError(f"actions: expected {self.num_envs} integer actions, got {actions!r}")
        if a.min() < 0 or a.max() >= n_actions:
            bad = int(a[(a < 0) | (a >= n_actions)][0])
            raise ValueError(f"action {bad} is outside Discrete({n_actions}) (0..{n_actions - 1})")
        n = self.num_envs
        mode = self.metadata["autoreset_mode"]
        if mode == AutoresetMode.DISABLED and self._needs_reset.any():
            raise RuntimeError(f"sub-env(s) {np.flatnonzero(self._needs_reset).tolist()} ended and autoreset_mode "
                               "is DISABLED: reset them with reset(options={'reset_mask': mask}) before stepping")
        resetting = self._needs_reset
        idx = None if not resetting.any() else np.flatnonzero(~resetting)
        rewards = np.zeros(n)
        truncated = np.zeros(n, dtype=bool)
        info: dict = {}
        if idx is None or len(idx):
            r, trunc, info = self._step_envs(a if idx is None else a[idx], idx)
            sel = slice(None) if idx is None else idx
            rewards[sel], truncated[sel] = r, trunc
        if idx is not None:
            info = _merge(info, self._reset_envs(np.flatnonzero(resetting)))
        obs = self._obs.copy()
        if mode != AutoresetMode.SAME_STEP:
            self._needs_reset = truncated.copy()
        elif truncated.any():
            done = np.flatnonzero(truncated)
            final_obs = np.full(n, None, dtype=object)
            for i in done:
                final_obs[i] = obs[i]
            final_info = info
            info = self._reset_envs(done)
            info.update({"final_obs": final_obs, "_final_obs": truncated.copy(),
                         "final_info": final_info, "_final_info": truncated.copy()})
            obs = self._obs.copy()
        return obs, rewards, np.zeros(n, dtype=bool), truncated, info

    def _step_envs(self, a: np.ndarray, idx):
        n, setup, cfg, sv = self.num_envs, self.setup, self.config, self.services
        sel = slice(None) if idx is None else idx
        previous = sv.desired[sel].copy()
        pos = self._base[sel] + self._t[sel]
        size = self._size[sel]
        if setup.deltas is not None:
            desired = np.minimum(np.maximum(previous + setup.deltas[a], cfg.min_replicas), cfg.max_replicas)
        elif setup.utilisations is not None:
            u = setup.utilisations[np.maximum(a - 1, 0)]
            sized = np.ceil(setup.demand.demand[pos - 1] * size / u).astype(np.int64)
            desired = np.minimum(np.maximum(np.where(a == 0, previous, sized), cfg.min_replicas), cfg.max_replicas)
        else:
            desired = cfg.min_replicas + a
        sv.apply(desired, idx)
        demand = setup.demand.demand[pos] * size
        ready = sv.ready[sel].copy()
        billed = ready + sv.pending[sel].sum(axis=1) if cfg.bill_provisioning else ready
        c = step_components_batch(demand, ready, billed, desired, previous, setup.step_h, setup.step_min,
                                  cfg.violation_minute_cost)
        if self._weights is not None:
            total: Any = 0.0
            for key, w in self._weights:
                total = total + w * c[key]
            reward = np.broadcast_to(total, (len(a),)).astype(np.float64)
        else:
            reward = np.asarray(setup.reward_fn(c), dtype=np.float64)
            if reward.shape != a.shape or not np.all(np.isfinite(reward)):
                raise ValueError(f"reward function {setup.reward_fn!r} must return {len(a)} finite values for "
                                 f"array components, got {reward!r}")
        tot = self._totals
        tot["reward"][sel] += reward
        for key in ("replica_hours", "violation_minutes", "unserved_replica_hours", "scaling_actions", "cost"):
            tot[key][sel] += c[key]
        tot["demand_replica_hours"][sel] += demand * setup.step_h
        tot["served_replica_hours"][sel] += np.minimum(demand, ready) * setup.step_h
        tot["billed_replicas"][sel] += billed
        sv.advance(idx)
        self._t[sel] += 1
        self._observe(idx)
        truncated = self._t[sel] >= self._steps[sel]
        m = self._all if idx is None else _mask(idx, n)
        info = self._state_info(idx, demand)
        info["served_by_replicas"], info["_served_by_replicas"] = _spread(ready, idx, n), m
        info["reward_components"] = {key: _spread(v, idx, n) for key, v in c.items()}
        info["reward_components"].update({"_" + key: m for key in c})
        info["_reward_components"] = m
        if truncated.any():
            done = np.zeros(n, dtype=bool)
            done[sel] = truncated
            t = np.flatnonzero(done)
            em = episode_metrics({key: v[t] for key, v in tot.items()}, self._t[t], cfg.step_s, self._k[t])
            metrics = {}
            for key, v in em.items():
                full = np.zeros(n, dtype=np.asarray(v).dtype)
                full[t] = v
                metrics[key], metrics["_" + key] = full, done
            info["episode_metrics"], info["_episode_metrics"] = metrics, done
        return reward, truncated, info

    def _observe(self, idx) -> None:
        ds, z, sv = self.setup.demand, self._norm, self.services
        sel = slice(None) if idx is None else idx
        p = self._base[sel] + self._t[sel]
        c = self._size[sel]
        d, hm = ds.demand, ds.hour_max
        obs = np.empty((len(p), len(OBS_FEATURES)), dtype=np.float32)
        for j, lag in enumerate(LAGS):
            obs[:, j] = d[p - lag] * c * z
        obs[:, 4] = hm[p] * c * z
        obs[:, 5] = d[p - ds.day_steps] * c * z
        obs[:, 6] = hm[p - ds.day_steps + ds.hour_steps] * c * z
        obs[:, 7] = hm[p - ds.week_steps + ds.hour_steps] * c * z
        ready = sv.ready[sel]
        prov = sv.pending[sel].sum(axis=1)
        obs[:, 8], obs[:, 9], obs[:, 10] = ready * z, prov * z, (ready + prov) * z
        obs[:, 11:] = ds.time_features[p]
        self._obs[sel] = obs

    def _state_info(self, idx, demand) -> dict:
        n, sv, ds = self.num_envs, self.services, self.setup.demand
        sel = slice(None) if idx is None else idx
        values = {
            "demand_replicas": np.asarray(demand, dtype=np.float64),
            "ready_replicas": sv.ready[sel].copy(),
            "provisioning_replicas": sv.pending[sel].sum(axis=1),
            "desired_replicas": sv.desired[sel].copy(),
            "step": self._t[sel].copy(),
            "time_s": ds.time_s[self._base[sel] + self._t[sel]],
            "trace_index": self._k[sel].copy(),
        }
        m = self._all if idx is None else _mask(idx, n)
        info = {}
        for key, v in values.items():
            info[key], info["_" + key] = _spread(v, idx, n), m
        return info

    def close_extras(self, **kwargs):
        pass


def _spread(v: np.ndarray, idx, n: int) -> np.ndarray:
    """Values of sub-envs ``idx`` as a full-length array (zeros elsewhere)."""
    if idx is None or len(v) == n and isinstance(idx, np.ndarray) and len(idx) == n:
        return v
    full = np.zeros((n,) + v.shape[1:], dtype=v.dtype)
    full[idx] = v
    return full
