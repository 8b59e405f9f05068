"""Numpy-batched vector twin of :class:`~feedbackgym.envs.cluster.env.ClusterRightsizingEnv`."""

from __future__ import annotations


import numpy as np
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from ...config import autoreset_mode_of, override, to_dict
from .config import RightsizingConfig
from .engine import N_ACTIONS, REWARD_COMPONENTS, Engine, Setup, build, draw_episode
from .meta import N_ARMS, make_bank, slot_info
from ..vector_utils import index_mask as _mask
from ..vector_utils import reset_generators, split_reset_options
from ..vector_utils import merge_info as _merge


class ClusterRightsizingVectorEnv(VectorEnv):
    """``num_envs`` rightsizing envs stepped together: the single env's engine over N slots.

    Same observations, rewards, ends and infos as ``num_envs`` single envs seeded
    ``seed, seed+1, ...``, in Gymnasium's vector info layout (arrays plus ``_key`` masks). Each
    sub-env draws its episodes (job, start, eviction key) from its own generator, as the single
    env does. Actions are integers of ``Discrete(40)``; limit actions (mappings) are for the
    single env.

    ``autoreset_mode`` (the enum or its name, e.g. ``"SAME_STEP"``; readable back as
    ``env.autoreset_mode``), as Gymnasium's own vector envs (https://farama.org/Vector-Autoreset-Mode):
    ``NEXT_STEP`` (Gymnasium's default: the step after an episode ends resets that sub-env,
    ignoring its action), ``SAME_STEP`` (reset within the step; ``info["final_obs"]`` and
    ``info["final_info"]`` hold the finished episode, as SB3 expects) or ``DISABLED`` (nothing
    resets by itself; the caller resets finished sub-envs with ``reset(options={"reset_mask":
    mask})``, TorchRL's and RLlib's way; stepping a finished sub-env before that raises
    ``RuntimeError``). ``reset_mask`` works in every mode: only the sub-envs where the boolean
    mask is true start a new episode (seeded by their entry of ``seed``, if given); the others
    keep their state and observation, and the info holds the reset sub-envs only.
    """

    def __init__(self, num_envs: int = 1, config: RightsizingConfig | dict | None = None,
                 autoreset_mode: AutoresetMode | str = AutoresetMode.NEXT_STEP, render_mode: str | None = None,
                 **overrides):
        if isinstance(num_envs, bool) or not isinstance(num_envs, int) or num_envs < 1:
            raise ValueError(f"num_envs: expected an integer >= 1, got {num_envs!r}")
        mode = autoreset_mode_of(autoreset_mode)
        if render_mode is not None:
            raise ValueError("render_mode: the vector rightsizing env does not render; use the single env")
        self.num_envs = num_envs
        self.render_mode = None
        self.metadata = {"autoreset_mode": mode}
        base = config if isinstance(config, RightsizingConfig) else override(RightsizingConfig(), config)
        self._configure(build(override(base, overrides)))
        self.single_action_space = self.setup.action_space
        self.single_observation_space = self.setup.observation_space
        self.action_space = batch_space(self.single_action_space, num_envs)
        self.observation_space = batch_space(self.single_observation_space, num_envs)
        self._rngs: list = [None] * num_envs
        self._next_job = np.zeros(num_envs, dtype=np.int64)
        self._needs_reset = np.zeros(num_envs, dtype=bool)
        self._started = False

    def _configure(self, setup: Setup) -> None:
        self.setup, self.config = setup, setup.config
        self.engine = Engine(setup, self.num_envs)
        self._all = np.ones(self.num_envs, dtype=bool)
        self.meta = setup.config.action_mode == "meta"
        self.n_actions = N_ARMS if self.meta else N_ACTIONS
        self._banks: list = [None] * self.num_envs
        self._last: list = [None] * self.num_envs
        self._meta_obs = np.zeros((self.num_envs, N_ARMS), dtype=np.float32)

    def _observation(self) -> np.ndarray:
        if not self.meta:
            return self.engine.obs.copy()
        return np.concatenate([self.engine.obs, self._meta_obs], axis=1)

    def _meta_observe(self, idx, info: dict, first: bool) -> None:
        """Feed each slot's bank the window that just ended (``first``: a new episode's bank)."""
        lim = self.engine.core.mem_limit
        for i in idx:
            i = int(i)
            si = slot_info(info, i)
            if first:
                self._banks[i] = make_bank(self.config)
                self._banks[i].reset(si)
            else:
                self._banks[i].observe(si)
            self._last[i] = si
            self._meta_obs[i] = self._banks[i].obs(float(lim[i]))

    @property
    def autoreset_mode(self) -> AutoresetMode:
        return self.metadata["autoreset_mode"]

    @property
    def num_jobs(self) -> int:
        return len(self.setup.table)

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
        return self._observation(), info

    def _reset_envs(self, idx: np.ndarray) -> dict:
        draws = []
        for i in idx:
            d = draw_episode(self.setup, self._rngs[i], None, int(self._next_job[i]))
            self._next_job[i] = d[0] + 1
            draws.append(d)
        self.engine.start(idx, draws)
        n = self.num_envs
        mask = _mask(idx, n)
        names = np.full(n, None, dtype=object)
        start, windows = np.zeros(n, dtype=np.int64), np.zeros(n, dtype=np.int64)
        for i, d in zip(idx, draws):
            names[i], start[i], windows[i] = self.setup.table.names[d[0]], d[1], d[2]
        info = {"job_name": names, "_job_name": mask, "start_window": start, "_start_window": mask,
                "episode_windows": windows, "_episode_windows": mask}
        info.update(self._info(idx, self.engine.window_arrays(idx)))
        if self.meta:
            self._meta_observe(idx, info, True)
        return info

    # -------------------------------------------------------------------------------- step

    def step(self, actions):
        if not self._started:
            raise RuntimeError("ClusterRightsizingVectorEnv.step() called before reset()")
        a = np.asarray(actions)
        if a.shape != (self.num_envs,) or not np.issubdtype(a.dtype, np.integer):
            raise ValueError(f"actions: expected {self.num_envs} integers in Discrete({self.n_actions}), got "
                             f"{actions!r}")
        na = self.n_actions
        if a.min() < 0 or a.max() >= na:
            bad = int(a[(a < 0) | (a >= na)][0])
            raise ValueError(f"action {bad} is outside Discrete({na}) (0..{na - 1})")
        n = self.num_envs
        mode = self.metadata["autoreset_mode"]
        if mode == AutoresetMode.DISABLED and self._needs_reset.any():
            raise RuntimeError(f"sub-env(s) {np.flatnonzero(self._needs_reset).tolist()} ended and autoreset_mode "
                               "is DISABLED: reset them with reset(options={'reset_mask': mask}) before stepping")
        resetting = self._needs_reset
        idx = None if not resetting.any() else np.flatnonzero(~resetting)
        rewards = np.zeros(n)
        terminated = np.zeros(n, dtype=bool)
        truncated = np.zeros(n, dtype=bool)
        info: dict = {}
        if idx is None or len(idx):
            r, term, trunc, info = self._step_envs(a if idx is None else a[idx], idx)
            sel = slice(None) if idx is None else idx
            rewards[sel], terminated[sel], truncated[sel] = r, term, trunc
        if idx is not None:
            info = _merge(info, self._reset_envs(np.flatnonzero(resetting)))
        obs = self._observation()
        done = terminated | truncated
        if mode != AutoresetMode.SAME_STEP:
            self._needs_reset = done.copy()
        elif done.any():
            d = np.flatnonzero(done)
            final_obs = np.full(n, None, dtype=object)
            for i in d:
                final_obs[i] = obs[i]
            final_info = info
            info = self._reset_envs(d)
            info.update({"final_obs": final_obs, "_final_obs": done.copy(),
                         "final_info": final_info, "_final_info": done.copy()})
            obs = self._observation()
        return obs, rewards, terminated, truncated, info

    def _step_envs(self, a: np.ndarray, idx):
        eng, n = self.engine, self.num_envs
        sel = slice(None) if idx is None else idx
        if self.meta:
            slots = np.arange(n) if idx is None else np.asarray(idx)
            lims = [self._banks[int(i)].limits(int(ai), self._last[int(i)]) for i, ai in zip(slots, a)]
            reward, term, trunc, out = eng.step_limits(idx, np.asarray([m for m, _ in lims]),
                                                       np.asarray([c for _, c in lims]))
        else:
            reward, term, trunc, out = eng.step(idx, a)
        comps = {k: out[k] for k in REWARD_COMPONENTS}
        if reward is None:
            reward = np.asarray(self.setup.reward_fn(comps), dtype=np.float64)
            if reward.shape != a.shape or not np.all(np.isfinite(reward)):
                raise ValueError(f"reward function {self.setup.reward_fn!r} must return {len(a)} finite values for "
                                 f"array components, got {reward!r}")
        eng.reward_acc[sel] += reward
        info = self._info(idx, out)
        if self.meta:
            self._meta_observe(np.arange(n) if idx is None else idx, info, False)
        m = self._all if idx is None else _mask(idx, n)
        info["reward_components"] = {k: _spread(v, idx, n) for k, v in comps.items()}
        info["reward_components"].update({"_" + k: m for k in comps})
        info["_reward_components"] = m
        ended = term | trunc
        if ended.any():
            done = np.zeros(n, dtype=bool)
            done[sel] = ended
            metrics = {}
            records = {int(i): eng.episode_metrics(int(i)) for i in np.flatnonzero(done)}
            keys = next(iter(records.values())).keys()
            for k in keys:
                vals = [records[i][k] for i in records]
                dtype = object if isinstance(vals[0], str) else np.asarray(vals).dtype
                full = np.zeros(n, dtype=dtype) if dtype is not object else np.full(n, None, dtype=object)
                for i, v in zip(records, vals):
                    full[i] = v
                metrics[k], metrics["_" + k] = full, done
            info["episode_metrics"], info["_episode_metrics"] = metrics, done
        return reward, term, trunc, info

    def _info(self, idx, out) -> dict:
        n = self.num_envs
        sel = slice(None) if idx is None else idx
        vals = self.engine.step_info(sel, out)
        m = self._all if idx is None else _mask(idx, n)
        info = {}
        for k, v in vals.items():
            info[k], info["_" + k] = _spread(np.asarray(v), idx, n), m
        return info

    def close_extras(self, **kwargs):
        pass


def _spread(v: np.ndarray, idx, n: int) -> np.ndarray:
    if idx is None:
        return v
    full = np.zeros((n,) + v.shape[1:], dtype=v.dtype)
    full[idx] = v
    return full
