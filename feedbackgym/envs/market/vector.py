"""Vector twin of :class:`~feedbackgym.envs.market.env.FlashCrashRegulatorEnv`.

All sub-envs' markets live in one :class:`~feedbackgym.envs.market.sim.MarketBatch`
(:class:`~feedbackgym.envs.market.batch_episode.RegulatorBatch`): per simulated second one
compiled call steps every market and one accounts every market's observation, metrics and
reward components; rewards are one numpy weighted sum, and a step's infos are built as arrays in
Gymnasium's vector layout. A simulator class other than :class:`MarketSim` (the tests' stand-ins)
runs one :class:`~feedbackgym.envs.market.episode.RegulatorEpisode` per sub-env instead, with the
same formulas (the same kernels, on batches of one).
"""

from __future__ import annotations

import numpy as np
from gymnasium import spaces
from gymnasium.utils import seeding
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from ...config import autoreset_mode_of, override, to_dict
from .config import MarketConfig
from .env import FlashCrashRegulatorEnv, build_reward
from .batch_episode import RegulatorBatch
from .episode import RegulatorEpisode
from .metrics import COMPONENTS
from .observe import OBS_BOUND
from .sim import ACTION_NAMES, MarketSim
from ..vector_utils import seeds_per_env, split_reset_options, stack_infos

_COMPONENT_INDEX = {key: k for k, key in enumerate(COMPONENTS)}


class FlashCrashRegulatorVectorEnv(VectorEnv):
    """``num_envs`` regulated markets stepped together.

    Gives the same observations, rewards, terminations and infos as ``num_envs`` single
    :class:`FlashCrashRegulatorEnv` seeded ``seed, seed+1, ...``, in Gymnasium's vector info layout
    (arrays plus ``_key`` masks). ``autoreset_mode`` (the enum or its name; readable back as
    ``env.autoreset_mode``): ``NEXT_STEP`` (Gymnasium's default), ``SAME_STEP``
    (``info["final_obs"]`` / ``info["final_info"]`` hold the finished episode's last observation
    and info — the form SB3's VecEnv expects) or ``DISABLED`` (the caller resets finished
    sub-envs with ``reset(options={"reset_mask": mask})``; stepping one before raises
    ``RuntimeError``). ``reset_mask`` works in every mode: only the masked sub-envs restart.
    ``threads``: threads that step the simulators (``MarketBatch(threads=)``: contiguous slices of
    the markets side by side; ``None``: one per CPU); the accounting stays on the caller's thread.
    Every count gives the same transitions; more than one pays only where cores are free.
    """

    def __init__(self, num_envs: int = 1, config: MarketConfig | dict | None = None,
                 autoreset_mode: AutoresetMode | str = AutoresetMode.NEXT_STEP, render_mode: str | None = None,
                 threads: int | None = 1, **overrides):
        if isinstance(num_envs, bool) or not isinstance(num_envs, int) or num_envs < 1:
            raise ValueError(f"num_envs: expected an integer >= 1, got {num_envs!r}")
        mode = autoreset_mode_of(autoreset_mode)
        if render_mode is not None:
            raise ValueError("render_mode: the vector market env does not render; use the single env")
        if threads is not None and (isinstance(threads, bool) or not isinstance(threads, int) or threads < 1):
            raise ValueError(f"threads: expected an integer >= 1 or None, got {threads!r}")
        self.threads = threads
        self.num_envs = num_envs
        self.render_mode = None
        self.metadata = {"autoreset_mode": mode}
        base = config if isinstance(config, MarketConfig) else override(MarketConfig(), config)
        self._configure(override(base, overrides))
        self.single_action_space = spaces.Discrete(len(ACTION_NAMES))
        self.single_observation_space = spaces.Box(-OBS_BOUND, OBS_BOUND, (self._engine.n_features,), np.float32)
        self.action_space = batch_space(self.single_action_space, num_envs)
        self.observation_space = batch_space(self.single_observation_space, num_envs)
        self._rngs: list[np.random.Generator | None] = [None] * num_envs
        self._needs_reset = np.zeros(num_envs, dtype=bool)
        self._started = False

    def _configure(self, config: MarketConfig) -> None:
        self.config = config
        sim_class = FlashCrashRegulatorEnv.sim_class
        n = self.num_envs
        self._engine: RegulatorBatch | _Episodes = (RegulatorBatch(config, n, self.threads) if sim_class is MarketSim
                                                    else _Episodes(config, n, sim_class))
        self._reward, self._weights = build_reward(config)
        self._obs = np.zeros((n, self._engine.n_features), dtype=np.float32)
        self._reward_sum = np.zeros(n)
        self._actions = np.zeros((n, len(ACTION_NAMES)), dtype=np.int64)

    @property
    def autoreset_mode(self) -> AutoresetMode:
        return self.metadata["autoreset_mode"]

    def get_config(self) -> dict:
        return to_dict(self.config)

    # ------------------------------------------------------------------------------- reset

    def reset(self, *, seed: int | list | None = None, options: dict | None = None):
        # Everything that can fail is checked before anything changes: a failed reset leaves the
        # env as it was (config, generators and the episodes in progress), as the single env does.
        mask, options = split_reset_options(options, self.num_envs)
        cfg = self.config
        if "config" in options:
            cfg = override(self.config, options.pop("config"))
            if (cfg.horizons_s != self.config.horizons_s or cfg.params().depth_levels != self._engine.depth_levels
                    or cfg.liquidity_features != self.config.liquidity_features):
                raise ValueError("reset option 'config' may not change the observation space "
                                 "(horizons_s, market.depth_levels, liquidity_features)")
        if options:
            raise ValueError(f"unknown reset option(s) {sorted(options)}; known: config, reset_mask")
        seeds = seeds_per_env(seed, self.num_envs)
        if mask is not None and not self._started:
            raise RuntimeError("reset(options={'reset_mask': ...}) before the first full reset()")
        chosen = range(self.num_envs) if mask is None else np.flatnonzero(mask).tolist()
        rngs = {i: seeding.np_random(seeds[i])[0] for i in chosen if seeds[i] is not None or self._rngs[i] is None}
        if cfg is not self.config:
            self._configure(cfg)
        rows = []
        for i in chosen:
            if i in rngs:
                self._rngs[i] = rngs[i]
            rows.append((i, self._reset_one(i)))
            self._needs_reset[i] = False
        self._started = True
        return self._obs.copy(), self._stack_infos(rows)

    def _reset_one(self, i: int) -> dict:
        rng = self._rngs[i]
        if rng is None:
            raise RuntimeError(f"sub-env {i} has no generator yet: reset() the vector env first")
        info = self._engine.start(i, rng)
        self._obs[i] = self._engine.obs[i]
        self._reward_sum[i] = 0.0
        self._actions[i] = 0
        return info

    # -------------------------------------------------------------------------------- step

    def step(self, actions):
        if not self._started:
            raise RuntimeError("FlashCrashRegulatorVectorEnv.step() called before reset()")
        a = np.asarray(actions)
        if a.shape != (self.num_envs,) or not np.issubdtype(a.dtype, np.integer):
            raise ValueError(f"actions: expected {self.num_envs} integer actions, got {actions!r}")
        if a.min() < 0 or a.max() >= len(ACTION_NAMES):
            bad = int(a[(a < 0) | (a >= len(ACTION_NAMES))][0])
            raise ValueError(f"action {bad} is outside Discrete(5) (0..4: {', '.join(ACTION_NAMES)})")
        n = self.num_envs
        mode = self.metadata["autoreset_mode"]
        if mode == AutoresetMode.DISABLED and self._needs_reset.any():
            raise RuntimeError(f"sub-env(s) {np.flatnonzero(self._needs_reset).tolist()} ended and autoreset_mode "
                               "is DISABLED: reset them with reset(options={'reset_mask': mask}) before stepping")
        same_step = mode == AutoresetMode.SAME_STEP
        stepped = ~self._needs_reset
        engine = self._engine
        terminated = engine.advance(a, stepped)
        comps = engine.comps.T
        idx = np.flatnonzero(stepped)
        self._obs[idx] = engine.obs[idx]
        self._actions[idx, a[idx]] += 1
        rc = None if self._weights is not None else [
            dict(zip(COMPONENTS, engine.comps[i].tolist())) if stepped[i] else None for i in range(n)]
        rewards = self._batch_reward(comps, rc, stepped)
        self._reward_sum += rewards
        if stepped.all() and not terminated.any() and isinstance(engine, RegulatorBatch):
            # the common step: every market stepped and none ended -- infos straight from the arrays
            values, masks = engine.comps.T.copy(), np.ones((len(COMPONENTS), n), dtype=bool)
            components: dict = {}
            for k, key in enumerate(COMPONENTS):
                components[key], components["_" + key] = values[k], masks[k]
            vinfo = engine.infos(stepped, {"reward_components": components, "_reward_components": np.ones(n, bool)})
            return self._obs.copy(), rewards, terminated, np.zeros(n, dtype=bool), vinfo
        final_obs = None
        finals: list[tuple[int, dict]] = []
        rows: list[tuple[int, dict]] = []
        for i in range(n):
            if not stepped[i]:
                rows.append((i, self._reset_one(i)))
                continue
            info = engine.info(i)
            info["reward_components"] = rc[i] if rc is not None else dict(zip(COMPONENTS, engine.comps[i].tolist()))
            if terminated[i]:
                info["episode_metrics"] = self._episode_metrics(i)
                if same_step:
                    if final_obs is None:
                        final_obs = np.full(n, None, dtype=object)
                    final_obs[i] = self._obs[i].copy()
                    finals.append((i, info))
                    info = self._reset_one(i)
            rows.append((i, info))
        vinfo = self._stack_infos(rows)
        final_info = self._stack_infos(finals) if final_obs is not None else None
        if final_obs is not None:
            vinfo.update({"final_obs": final_obs, "_final_obs": terminated.copy(),
                          "final_info": final_info, "_final_info": terminated.copy()})
        self._needs_reset = terminated.copy() if not same_step else np.zeros(n, dtype=bool)
        return self._obs.copy(), rewards, terminated, np.zeros(n, dtype=bool), vinfo

    def _stack_infos(self, rows: list[tuple[int, dict]]) -> dict:
        return stack_infos(self, rows)

    def _batch_reward(self, comps: np.ndarray, components: list | None, stepped: np.ndarray) -> np.ndarray:
        """The weighted sum over components (``comps``: [component, market]) for every market at
        once (same float operations, in the same order, as the single env); a non-linear reward
        is called per market on its ``components`` dict. Markets being reset get 0."""
        n = self.num_envs
        if self._weights is not None:
            r = np.zeros(n)
            for key, w in self._weights:
                r = r + w * comps[_COMPONENT_INDEX[key]]
        else:
            from .env import scalar_reward
            assert components is not None
            r = np.array([scalar_reward(self._reward, None, components[i]) if stepped[i] else 0.0
                          for i in range(n)])
        r[~stepped] = 0.0
        return r

    def _episode_metrics(self, i: int) -> dict:
        m = self._engine.episode_metrics(i)
        for name, k in zip(ACTION_NAMES, self._actions[i]):
            m[f"actions_{name}"] = int(k)
        return m

    def close_extras(self, **kwargs):
        pass


class _Episodes:
    """One :class:`RegulatorEpisode` (its own ``sim_class`` simulator) per sub-env, with
    :class:`RegulatorBatch`'s interface: the twin's engine for simulators other than MarketSim."""

    def __init__(self, config: MarketConfig, n: int, sim_class):
        self.episodes = [RegulatorEpisode(config, sim_class) for _ in range(n)]
        self.depth_levels = self.episodes[0].depth_levels
        self.n_features = self.episodes[0].n_features
        self.obs = np.zeros((n, self.n_features))
        self.comps = np.zeros((n, len(COMPONENTS)))

    def start(self, i: int, rng: np.random.Generator) -> dict:
        info = self.episodes[i].start(rng)
        self.obs[i] = self.episodes[i].obs
        return info

    def advance(self, actions: np.ndarray, stepping: np.ndarray) -> np.ndarray:
        ended = np.zeros(len(self.episodes), dtype=bool)
        for i in np.flatnonzero(stepping).tolist():
            ep = self.episodes[i]
            c = ep.advance(int(actions[i]))
            self.comps[i] = [c[key] for key in COMPONENTS]
            self.obs[i] = ep.obs
            ended[i] = ep.done
        return ended

    def info(self, i: int) -> dict:
        return self.episodes[i].info()

    def episode_metrics(self, i: int) -> dict:
        ep = self.episodes[i]
        m = ep.metrics.result()
        m["steps"] = ep.steps
        m["seller_size"] = ep.params.seller_size
        return m
