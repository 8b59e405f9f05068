"""Gymnasium env for horizontal autoscaling of a service against a demand trace."""

from __future__ import annotations

import math
import operator
from dataclasses import dataclass
from typing import NamedTuple

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from ...config import override, to_dict
from ...reward import linear, resolve
from ...reward.registry import RewardFn
from .autoscaling_config import AutoscalingConfig
from .autoscaling_demand import LAGS, DemandSet, demand_set
from .autoscaling_sim import COMPONENTS, TOTALS, Service, episode_metrics, step_components
from .autoscaling_spec import AUTOSCALING_REWARD_PRESETS

#: observation layout (feature names, in order); demand and replica counts are divided by
#: ``obs_scale_replicas``
OBS_FEATURES = (
    "demand_lag1", "demand_lag2", "demand_lag5", "demand_lag15", "demand_max_last_hour",
    "demand_yesterday", "demand_max_next_hour_yesterday", "demand_max_next_hour_last_week",
    "ready_replicas", "provisioning_replicas", "desired_replicas",
    "sin_time_of_day", "cos_time_of_day", "sin_day_of_week", "cos_day_of_week",
)
#: the golden-ratio fraction that spreads per-trace sizes evenly over the range
GOLDEN = 0.6180339887498949
#: finite stand-in for the unbounded demand/replica features (Gymnasium's checker wants finite bounds)
OBS_HIGH = 1e6


@dataclass(frozen=True, eq=False)
class AutoscalingSetup:
    """What both envs derive from a config (shared so that they interpret it identically)."""

    config: AutoscalingConfig
    demand: DemandSet
    reward_fn: RewardFn
    delay_steps: int
    step_h: float
    step_min: float
    episode_steps: int | None       # None: to the end of the trace
    action_space: spaces.Discrete
    observation_space: spaces.Box
    deltas: np.ndarray | None       # action_mode 'delta'
    utilisations: np.ndarray | None  # action_mode 'utilisation'

    def desired_for_action(self, a: int, current: int, last_demand: float) -> int:
        cfg = self.config
        if self.deltas is not None:
            n = current + int(self.deltas[a])
        elif self.utilisations is not None:
            n = current if a == 0 else math.ceil(last_demand / self.utilisations[a - 1])
        else:
            return cfg.min_replicas + a
        return min(max(n, cfg.min_replicas), cfg.max_replicas)


def _reward_fn(spec):
    if isinstance(spec, str) and spec in AUTOSCALING_REWARD_PRESETS:
        return linear(AUTOSCALING_REWARD_PRESETS[spec][0], spec)   # works before the family registers them
    return resolve(spec, COMPONENTS, domain="cluster")


def build(cfg: AutoscalingConfig) -> AutoscalingSetup:
    ds = demand_set(cfg)
    deltas = utilisations = None
    if cfg.action_mode == "replicas":
        n_actions = cfg.max_replicas - cfg.min_replicas + 1
    elif cfg.action_mode == "delta":
        n_actions, deltas = len(cfg.scale_deltas), np.asarray(cfg.scale_deltas, dtype=np.int64)
    else:
        n_actions, utilisations = 1 + len(cfg.target_utilisations), np.asarray(cfg.target_utilisations)
    high = np.full(len(OBS_FEATURES), OBS_HIGH, dtype=np.float32)
    low = np.zeros(len(OBS_FEATURES), dtype=np.float32)
    low[-4:], high[-4:] = -1.0, 1.0
    episode_steps = None if cfg.episode_days is None else max(1, int(round(cfg.episode_days * 86400.0 / cfg.step_s)))
    return AutoscalingSetup(
        config=cfg, demand=ds, reward_fn=_reward_fn(cfg.reward),
        delay_steps=int(round(cfg.provisioning_delay_s / cfg.step_s)),
        step_h=cfg.step_s / 3600.0, step_min=cfg.step_s / 60.0, episode_steps=episode_steps,
        action_space=spaces.Discrete(n_actions),
        observation_space=spaces.Box(low, high, dtype=np.float32), deltas=deltas,
        utilisations=utilisations)


class Episode(NamedTuple):
    k: int            # trace index
    start: int        # first step (within the trace)
    steps: int        # steps in this episode
    ready: int        # replicas ready at the start
    size: float       # replicas the trace's 99th-percentile demand needs (demand multiplier)


def check_trace_index(setup: AutoscalingSetup, trace_index) -> None:
    """``reset(options={"trace_index": k})`` checked against the setup's traces."""
    n = len(setup.demand)
    if isinstance(trace_index, bool) or not isinstance(trace_index, (int, np.integer)) or not 0 <= trace_index < n:
        raise ValueError(f"reset option 'trace_index': expected an integer in [0, {n - 1}], got {trace_index!r}")


def draw_episode(setup: AutoscalingSetup, rng: np.random.Generator, trace_index, next_trace: int) -> Episode:
    """Draw an episode's trace and start step, in a fixed order (shared with the vector twin)."""
    cfg, ds = setup.config, setup.demand
    if trace_index is not None:
        check_trace_index(setup, trace_index)
        k = int(trace_index)
    elif cfg.trace_order == "sequential":
        k = next_trace % len(ds)
    else:
        k = int(rng.integers(len(ds)))
    n = int(ds.steps[k])
    length = n if setup.episode_steps is None else min(setup.episode_steps, n)
    start = int(rng.integers(0, n - length + 1)) if cfg.random_start else 0
    size = cfg.p99_demand_replicas
    if isinstance(size, tuple):
        lo, hi = size
        if cfg.size_draw == "per_trace":
            frac = ((k + 1) * GOLDEN) % 1.0
            size = lo * (hi / lo) ** frac
        else:
            size = float(math.exp(rng.uniform(math.log(lo), math.log(hi))))
    if cfg.initial_replicas is not None:
        ready = cfg.initial_replicas
    else:
        d0 = float(ds.demand[int(ds.offset[k]) + start]) * size
        ready = min(max(math.ceil(d0 / cfg.initial_utilisation), cfg.min_replicas), cfg.max_replicas)
    return Episode(k, start, length, ready, size)


class ClusterAutoscalingEnv(gym.Env):
    """Horizontal autoscaling: choose a service's replica count against a real demand trace.

    ## Description

    A service runs on identical replicas; its demand follows a real VM's CPU usage (Bitbrains
    GWA-T-12, Shen et al., CCGrid 2015) or a seeded synthetic trace, scaled so that the trace's
    99th percentile needs ``p99_demand_replicas`` fully used replicas — by default a size drawn
    log-uniformly from [3, 30] per episode, so a controller must read the service's size from
    its demand instead of assuming it. Every ``step_s`` seconds
    (default 60) the agent sets the desired replica count. New replicas serve only after a
    provisioning delay (default 180 s: boot and readiness); removed replicas stop at once
    (provisioning ones first). When demand exceeds the *ready* capacity, the step counts as
    SLO-violation minutes and the excess is unserved. Cost = replica-hours billed (provisioning
    replicas included by default) + ``violation_minute_cost`` replica-hours per violation minute.
    This is the horizontal, predictive-scaling view of the cluster family: Kubernetes' HPA and AWS
    predictive scaling are the baselines.

    ## Action Space

    ``action_mode="replicas"`` (default): ``Discrete(max_replicas - min_replicas + 1)``, action
    ``a`` sets ``min_replicas + a`` replicas. ``action_mode="delta"``: ``Discrete(len(scale_deltas))``,
    action ``a`` adds ``scale_deltas[a]`` (default -8, -4, -2, -1, 0, 1, 2, 4, 8), kept within
    ``[min_replicas, max_replicas]``. ``action_mode="utilisation"``:
    ``Discrete(1 + len(target_utilisations))``, action 0 keeps the replica count, action ``i``
    sets ``ceil(last step's demand / target_utilisations[i-1])`` (default targets 0.3 ... 1.0): a
    scale-free choice of headroom. Actions outside the space raise ``ValueError``.

    ## Observation Space

    ``Box(15,)`` float32; demand (replica units) and replica counts are divided by
    ``obs_scale_replicas`` (10). Features before the trace begins read its first value.

    | index | feature                              | meaning                                        |
    |-------|--------------------------------------|------------------------------------------------|
    | 0-3   | demand_lag1, 2, 5, 15                | demand 1, 2, 5, 15 steps ago                   |
    | 4     | demand_max_last_hour                 | max demand over the last hour                  |
    | 5     | demand_yesterday                     | demand of the coming step, one day earlier     |
    | 6     | demand_max_next_hour_yesterday       | max demand over the coming hour, a day earlier |
    | 7     | demand_max_next_hour_last_week       | the same, a week earlier                       |
    | 8-10  | ready, provisioning, desired replicas| the service now                                |
    | 11-14 | sin/cos time of day, day of week     | UTC, Monday = 0                                |

    ## Rewards

    Chosen with ``reward=`` (default ``"autoscaling_cost"`` = minus the step's ``cost``) from the
    components in ``info["reward_components"]``: ``replica_hours``, ``violation_minutes``,
    ``unserved_replica_hours``, ``scaling_actions``, ``replicas_changed``, ``cost``. Presets:
    ``autoscaling_cost``, ``autoscaling_slo_first``, ``autoscaling_unserved``; or a weights dict,
    a ``"module:function"`` string, or a callable.

    ## Starting State

    A trace (random, the next in order with ``trace_order="sequential"``, or
    ``reset(options={"trace_index": k})``), a start step (random with ``random_start``, else 0),
    and ``initial_replicas`` ready (default: the first step's demand / 0.7, rounded up), none
    provisioning. ``info["history_steps"]`` says how many steps of the trace precede the start;
    ``env.unwrapped.history_demand()`` returns their demand (up to 14 days) for forecasting
    controllers.

    ## Episode End

    Never ``terminated`` (a service does not end); ``truncated`` after ``episode_days`` (default
    2) or at the end of the trace (``episode_days=None``, the test protocol: every test trace
    once, whole). ``info["episode_metrics"]`` then holds cost, replica-hours and violation minutes
    (totals and per day), unserved fraction, utilisation, scaling actions per day, mean replicas.

    ## Arguments

    ``gym.make("feedbackgym/ClusterAutoscaling-v0", **fields)`` with the fields of
    :class:`~feedbackgym.envs.cluster.autoscaling_config.AutoscalingConfig`;
    ``reset(options={"config": {...}})`` changes fields for the coming episodes (not the spaces).

    ## Vectorised version

    ``gym.make_vec("feedbackgym/ClusterAutoscaling-v0", num_envs=N)`` gives
    :class:`~feedbackgym.envs.cluster.autoscaling_vector.ClusterAutoscalingVectorEnv`,
    numpy-batched, with the same transitions as N single envs seeded ``seed, seed+1, ...``.

    ## Version History

    * v0: initial version.
    """

    metadata = {"render_modes": ["ansi"], "render_fps": 4}
    config_class = AutoscalingConfig

    def __init__(self, config: AutoscalingConfig | dict | None = None, render_mode: str | None = None, **overrides):
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode: expected one of {self.metadata['render_modes']} or None, "
                             f"got {render_mode!r}")
        self.render_mode = render_mode
        base = config if isinstance(config, AutoscalingConfig) else override(AutoscalingConfig(), config)
        self._configure(build(override(base, overrides)))
        self.action_space = self.setup.action_space
        self.observation_space = self.setup.observation_space
        self._next_trace = 0
        self._done = True

    def _configure(self, setup: AutoscalingSetup) -> None:
        self.setup = setup
        self.config = setup.config
        self.service = Service(setup.delay_steps)
        self._weights = getattr(setup.reward_fn, "weights", None)
        self._norm = 1.0 / setup.config.obs_scale_replicas

    @property
    def num_traces(self) -> int:
        return len(self.setup.demand)

    def trace_name(self, k: int) -> str:
        return self.setup.demand.names[k]

    def action_for(self, desired: int) -> int:
        """The action that brings the desired replica count closest to ``desired`` (for baselines)."""
        cfg, s = self.config, self.setup
        desired = min(max(int(desired), cfg.min_replicas), cfg.max_replicas)
        if s.deltas is None and s.utilisations is None:
            return desired - cfg.min_replicas
        current = self.service.desired
        last = float(s.demand.demand[self._base + self._t - 1]) * self._size
        reached = [s.desired_for_action(a, current, last) for a in range(self.setup.action_space.n)]
        return int(np.argmin(np.abs(np.asarray(reached) - desired)))

    def history_demand(self, max_days: float = 14.0) -> np.ndarray:
        """The trace's genuine demand before the episode's first step (at most ``max_days``), one
        value per step: the metric history a forecasting autoscaler has (not in ``info``, whose
        arrays must have one shape across sub-envs)."""
        return self.setup.demand.history(self._k, self._start, max_days) * self._size

    def future_demand(self) -> np.ndarray:
        """Demand (replica units) from the coming step to the end of the episode: what a hindsight
        oracle reads. Not part of the observation."""
        ds = self.setup.demand
        return ds.future(self._k, self._start + self._t)[:self._steps - self._t] * self._size

    # ------------------------------------------------------------------------------- reset

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        # Everything that can fail is checked before anything changes: a failed reset leaves the
        # env as it was (config, RNG and the episode in progress).
        if options is not None and not isinstance(options, dict):
            raise ValueError(f"reset options: expected a dict such as {{'trace_index': 0}} or "
                             f"{{'config': {{...}}}}, got {type(options).__name__} {options!r}")
        options = dict(options or {})
        setup = self.setup
        if "config" in options:
            setup = build(override(self.config, options.pop("config")))
            if setup.action_space != self.action_space or setup.observation_space != self.observation_space:
                raise ValueError("reset option 'config' may not change the action or observation space "
                                 "(action_mode, replica bounds); make a new env instead")
        trace_index = options.pop("trace_index", None)
        if options:
            raise ValueError(f"unknown reset option(s) {sorted(options)}; known: config, trace_index")
        if trace_index is not None:
            check_trace_index(setup, trace_index)
        super().reset(seed=seed)
        if setup is not self.setup:
            self._configure(setup)
        ep = draw_episode(self.setup, self.np_random, trace_index, self._next_trace)
        self._next_trace = ep.k + 1
        self._k, self._start, self._steps, self._t, self._size = ep.k, ep.start, ep.steps, 0, ep.size
        self._base = int(self.setup.demand.offset[ep.k]) + ep.start
        self.service.reset(ep.ready)
        self._totals = dict.fromkeys(TOTALS, 0.0)
        self._done = False
        ds = self.setup.demand
        info = self._state_info(float(ds.demand[self._base - 1]) * ep.size)
        info.update({"trace_name": ds.names[ep.k], "start_step": ep.start, "episode_steps": ep.steps,
                     "history_steps": ep.start, "p99_demand_replicas": ep.size})
        return self._observe(), info

    # -------------------------------------------------------------------------------- step

    def step(self, action):
        if self._done:
            raise RuntimeError("ClusterAutoscalingEnv.step() called after the episode ended; call reset() first")
        try:
            a = operator.index(action)
        except TypeError:
            raise ValueError(f"action {action!r}: expected an integer in {self.action_space}") from None
        n = self.action_space.n
        if not 0 <= a < n:
            raise ValueError(f"action {a} is outside Discrete({n}) (0..{n - 1})")
        s, setup, cfg = self.service, self.setup, self.config
        previous = s.desired
        pos = self._base + self._t
        size = self._size
        s.apply(setup.desired_for_action(a, previous, float(setup.demand.demand[pos - 1]) * size))
        demand = float(setup.demand.demand[pos]) * size
        ready = s.ready
        billed = ready + s.provisioning if cfg.bill_provisioning else ready
        c = step_components(demand, ready, billed, s.desired, previous, setup.step_h, setup.step_min,
                            cfg.violation_minute_cost)
        weights = self._weights
        if weights is not None:
            reward = 0.0
            for key, w in weights:
                reward = reward + w * c[key]
        else:
            reward = self.setup.reward_fn(c)
            try:
                reward = float(reward)
            except (TypeError, ValueError):
                raise ValueError(f"reward function {self.setup.reward_fn!r} returned {reward!r}; "
                                 "expected a number") from None
            if not math.isfinite(reward):
                raise ValueError(f"reward function {self.setup.reward_fn!r} returned {reward!r} for components {c}")
        tot = self._totals
        tot["reward"] += reward
        for key in ("replica_hours", "violation_minutes", "unserved_replica_hours", "scaling_actions", "cost"):
            tot[key] += c[key]
        tot["demand_replica_hours"] += demand * setup.step_h
        tot["served_replica_hours"] += min(demand, ready) * setup.step_h
        tot["billed_replicas"] += billed
        s.advance()
        self._t += 1
        info = self._state_info(demand)
        info["served_by_replicas"] = ready
        info["reward_components"] = c
        truncated = self._t >= self._steps
        if truncated:
            self._done = True
            info["episode_metrics"] = episode_metrics(tot, self._t, cfg.step_s, self._k)
        return self._observe(), reward, False, truncated, info

    # ---------------------------------------------------------------------------- helpers

    def _observe(self) -> np.ndarray:
        ds, p, z, s, c = self.setup.demand, self._base + self._t, self._norm, self.service, self._size
        d, hm = ds.demand, ds.hour_max
        obs = np.empty(len(OBS_FEATURES), dtype=np.float32)
        obs[0], obs[1], obs[2], obs[3] = (d[p - LAGS[0]] * c * z, d[p - LAGS[1]] * c * z,
                                          d[p - LAGS[2]] * c * z, d[p - LAGS[3]] * c * z)
        obs[4] = hm[p] * c * z
        obs[5] = d[p - ds.day_steps] * c * z
        obs[6] = hm[p - ds.day_steps + ds.hour_steps] * c * z
        obs[7] = hm[p - ds.week_steps + ds.hour_steps] * c * z
        prov = s.provisioning
        obs[8], obs[9], obs[10] = s.ready * z, prov * z, (s.ready + prov) * z
        obs[11:] = ds.time_features[p]
        return obs

    def _state_info(self, demand: float) -> dict:
        s = self.service
        ds = self.setup.demand
        p = self._base + self._t
        return {"demand_replicas": demand, "ready_replicas": s.ready, "provisioning_replicas": s.provisioning,
                "desired_replicas": s.desired, "step": self._t, "time_s": float(ds.time_s[p]),
                "trace_index": self._k}

    def render(self):
        if self.render_mode == "ansi":
            s = self.service
            return (f"trace {self._k} step {self._t}/{self._steps} ready {s.ready} provisioning "
                    f"{s.provisioning} desired {s.desired}")
        return None

    def get_config(self) -> dict:
        return to_dict(self.config)
