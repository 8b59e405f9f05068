"""Gymnasium env for job rightsizing: set each job's memory and CPU limits from its usage history."""

from __future__ import annotations

import math
import operator
from collections.abc import Mapping

import gymnasium as gym
import numpy as np

from ...config import override, to_dict
from .config import RightsizingConfig
from .engine import (CPU_RECENT_FACTORS, MEMORY_LONG_FACTORS, MEMORY_RECENT_FACTORS, N_ACTIONS, N_CPU, N_MEMORY,
                     OBS_FIELDS, REWARD_COMPONENTS, Engine, Setup, build, check_job_index, draw_episode)
from .meta import N_ARMS, ArmBank, make_bank

_SLOT0 = np.zeros(1, dtype=np.int64)


class ClusterRightsizingEnv(gym.Env):
    """Rightsizing (vertical autoscaling): set a job's memory and CPU limits every 5 minutes.

    ## Description

    A job (a VM of the Bitbrains/GWA-T-12 trace, a synthetic job, or a Google/Alibaba instance)
    runs with limits the agent sets; its usage follows the recorded trace. Users ask for 2-3x what
    they use, so limits far above usage waste machines; a memory limit below the window's peak
    OOM-kills the task (restart delay, lost batch work, usage truncated then resumed), a CPU limit
    below demand throttles it (queued batch work, SLO-violation minutes for serving jobs), and a
    limit increase may force a reschedule. The job starts with no history at its request, as a new
    job does under Autopilot (Rzadca et al., EuroSys 2020) or Kubernetes' VPA. Bitbrains records
    the 5-minute *average* memory; the window peak that decides OOMs comes from a documented,
    configurable model (``memory_peak_model``).

    ## Action Space

    ``Discrete(40)`` = 10 memory choices x 4 CPU choices (``a = 4 * memory + cpu``):

    | memory choice | new memory limit                                            |
    |---------------|-------------------------------------------------------------|
    | 0             | hold the current limit                                      |
    | 1..6          | last hour's observed peak x 1.05, 1.1, 1.2, 1.35, 1.5, 2.0  |
    | 7..9          | p98 of the 48 h-half-life usage histogram x 1.1, 1.25, 1.5  |

    | CPU choice | new CPU limit                                        |
    |------------|------------------------------------------------------|
    | 0          | hold                                                 |
    | 1..3       | last hour's served-CPU peak x 1.2, 1.5, 2.5          |

    A target within ``change_deadband`` (2%) of the current limit keeps it. Why this menu: a
    relative menu (multiples of recent usage) works for jobs of any size (Bitbrains VMs range
    from 100 MiB to 96 GiB), holds cover slow changes without limit churn, and the long-window
    choices express Autopilot's moving-window recommender, so rule baselines clone into it.
    Rule baselines and the oracle may instead pass a *limit action*, a mapping
    ``{"memory_limit_mib": x, "cpu_limit_cores": y}`` (either key may be omitted to hold), applied
    exactly (no deadband), with ``env.unwrapped.nearest_action(mem, cpu)`` giving the closest
    discrete action for behaviour cloning. Anything else raises ``ValueError``.

    ``action_mode="meta"`` (opt-in) replaces the menu by ``Discrete(31)`` recommender arms
    (:mod:`feedbackgym.envs.cluster.meta`): arm 0 is Kubernetes' VPA (recommender and updater,
    exact defaults; always picking it reproduces the ``vpa`` baseline), arms 1-30 are p95 / p98 /
    max of a 12 h or 48 h half-life histogram of window peaks x 1.0-1.5 (max over the last
    hour, VPA's OOM bump), applied through a deadband and hold (``meta_raise_hold_h``,
    ``meta_lower_hold_h``). The observation then gains 31 entries: log2 of each arm's target
    over the current memory limit, clipped to [-6, 6].

    ## Observation Space

    ``Box(-64, 64, (54,), float32)``; sizes are log2 of the value over the job's request at
    episode start (so 0 = the request, -1 = half), clipped to [-12, 6]:

    | index  | meaning                                                                        |
    |--------|--------------------------------------------------------------------------------|
    | 0-14   | memory histograms, half-lives 2 h, 12 h, 48 h: p50, p90, p95, p98, max (log2)  |
    | 15-29  | CPU (served) histograms, same layout                                           |
    | 30-34  | memory: last window, last-hour max, limit, current request, log2(limit/1h max) |
    | 35-39  | CPU: the same                                                                  |
    | 40-42  | OOMs (1-day decayed count), throttled windows (decayed, / 10), task down (0/1) |
    | 43-46  | sin/cos of time of day and of day of week                                      |
    | 47-53  | log2(1 + job age days), batch, OOM tolerance one-hot (minimal, low,            |
    |        | intermediate), log2(tasks)/10, log2(1 + windows since last change)/10          |

    ``feedbackgym.envs.cluster.engine.OBS_FIELDS`` names every entry.

    ## Rewards

    Chosen with ``reward=`` from ``info["reward_components"]``: ``memory_slack_fraction``,
    ``memory_overrun``, ``oom_kills``, ``memory_limit_change``, ``cpu_slack_fraction``,
    ``throttled_fraction``, ``cpu_limit_change``, ``slo_violation_minutes``, ``evictions``,
    ``lost_work_core_s``, ``memory_slack_machine_hours``, ``cpu_slack_machine_hours``. Presets:
    ``rightsizing`` (default), ``autopilot_cost`` (Autopilot's ML cost, eqs. 6/8, with the public
    re-implementation's weights), ``machine_cost`` (slack machine-hours vs OOM/SLO cost).

    ## Starting State

    A job of the set (random, the next in order with ``job_order="sequential"``, or
    ``reset(options={"job_index": k})``), from a random window (``random_start``) or its first,
    limits at its request, empty histograms. ``reset`` plays the first window at the request
    (the job's first five minutes), so the first observation has one sample.

    ## Episode End

    ``terminated`` when the job's trace ends; ``truncated`` when an ``episode_days`` window ends
    before it. ``info["episode_metrics"]`` then holds Autopilot's job-day metrics
    (``memory_slack_mean``, ``oom_per_task_day``, ``limit_changes_per_day_p99``...).

    ## Arguments

    ``gym.make("feedbackgym/ClusterRightsizing-v0", **fields)`` with the fields of
    :class:`~feedbackgym.envs.cluster.config.RightsizingConfig`; ``reset(options={"config":
    {...}})`` changes them for the next episodes. ``RightsizingConfig.simple_model()`` gives the
    issue's independent-replay model; ``RightsizingConfig.evaluation_overrides()`` the test
    protocol (every job once, whole trace, from its first window).

    ## Vectorised version

    ``gym.make_vec("feedbackgym/ClusterRightsizing-v0", num_envs=N)`` builds
    :class:`~feedbackgym.envs.cluster.vector.ClusterRightsizingVectorEnv`: the same engine over
    N slots with numpy, identical to N single envs seeded ``seed, seed+1, ...``.

    ## Version History

    * v0: initial version.
    """

    metadata = {"render_modes": ["ansi"], "render_fps": 4}
    config_class = RightsizingConfig

    def __init__(self, config: RightsizingConfig | dict | None = None, render_mode: str | None = None, **overrides):
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode: expected one of {self.metadata['render_modes']} or None, "
                             f"got {render_mode!r}")
        self.render_mode = render_mode
        base = config if isinstance(config, RightsizingConfig) else override(RightsizingConfig(), config)
        self._configure(build(override(base, overrides)))
        self.action_space = self.setup.action_space
        self.observation_space = self.setup.observation_space
        self._next_job = 0
        self._done = True

    def _configure(self, setup: Setup) -> None:
        self.setup, self.config = setup, setup.config
        self.engine = Engine(setup, 1, single=True)
        self._weights = setup.weights
        self.meta = setup.config.action_mode == "meta"
        self.n_actions = N_ARMS if self.meta else N_ACTIONS
        self.bank: ArmBank | None = None
        self._last_info: dict = {}

    def _observation(self) -> np.ndarray:
        o = self.engine.obs[0].copy()
        if self.bank is None:
            return o
        return np.concatenate([o, self.bank.obs(float(self.engine.core.mem_limit[0])).astype(np.float32)])

    @property
    def num_jobs(self) -> int:
        """Jobs in the configured workload set."""
        return len(self.setup.table)

    def job_name(self, k: int) -> str:
        return self.setup.table.names[k]

    @property
    def table(self):
        """The job table (the oracle baseline reads the future from it)."""
        return self.setup.table

    # ------------------------------------------------------------------------------- reset

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        # Everything that can fail is checked before anything changes: a failed reset leaves the
        # env as it was (config, generator and the episode in progress).
        if options is not None and not isinstance(options, dict):
            raise ValueError(f"reset options: expected a dict such as {{'job_index': 0}} or "
                             f"{{'config': {{...}}}}, got {type(options).__name__} {options!r}")
        options = dict(options or {})
        setup = self.setup
        if "config" in options:
            setup = build(override(self.config, options.pop("config")))
        job_index = options.pop("job_index", None)
        if options:
            raise ValueError(f"unknown reset option(s) {sorted(options)}; known: config, job_index")
        if job_index is not None:
            check_job_index(setup, job_index)
        super().reset(seed=seed)
        if setup is not self.setup:
            self._configure(setup)
        d = draw_episode(self.setup, self.np_random, job_index, self._next_job)
        self._next_job = d[0] + 1
        self.engine.start(_SLOT0, [d])
        self._done = False
        info = {"job_name": self.setup.table.names[d[0]], "start_window": d[1], "episode_windows": d[2]}
        info.update(self.engine.step_info_one(self.engine.out[0].tolist(), False))
        if self.meta:
            bank = make_bank(self.config)
            bank.reset(info)
            self.bank = bank
            self._last_info = info
        return self._observation(), info

    # -------------------------------------------------------------------------------- step

    def step(self, action):
        if self._done:
            raise RuntimeError("ClusterRightsizingEnv.step() called after the episode ended; call reset() first")
        eng = self.engine
        if isinstance(action, Mapping):
            mem, cpu = self._limit_action(action)
            reward, term, trunc, row = eng.step_one(-1, mem, cpu)
        else:
            try:
                a = operator.index(action.item() if isinstance(action, np.ndarray) and action.ndim == 0 else action)
            except (TypeError, ValueError, AttributeError):
                raise ValueError(f"action {action!r}: expected an integer in Discrete({self.n_actions}) or a "
                                 "mapping {'memory_limit_mib': ..., 'cpu_limit_cores': ...}") from None
            if not 0 <= a < self.n_actions:
                raise ValueError(f"action {a} is outside Discrete({self.n_actions}) (0..{self.n_actions - 1})")
            if self.bank is not None:
                mem, cpu = self.bank.limits(a, self._last_info)
                reward, term, trunc, row = eng.step_one(-1, mem, cpu)
            else:
                reward, term, trunc, row = eng.step_one(a)
        comps = dict(zip(REWARD_COMPONENTS, row))
        if reward is None:
            r = self.setup.reward_fn(comps)
            try:
                r = float(r)
            except (TypeError, ValueError):
                raise ValueError(f"reward function {self.setup.reward_fn!r} returned {r!r}; "
                                 "expected a number") from None
            if not math.isfinite(r):
                raise ValueError(f"reward function {self.setup.reward_fn!r} returned {r!r} for components {comps}")
        else:
            r = reward
        eng.reward_acc[0] += r
        info = eng.step_info_one(row, self.config.counterfactual_info)
        info["reward_components"] = comps
        if self.bank is not None:
            self.bank.observe(info)
            self._last_info = info
        if term or trunc:
            self._done = True
            info["episode_metrics"] = eng.episode_metrics(0)
        return self._observation(), r, term, trunc, info

    def _limit_action(self, action: Mapping):
        unknown = sorted(set(action) - {"memory_limit_mib", "cpu_limit_cores"})
        if unknown:
            raise ValueError(f"limit action: unknown key(s) {unknown}; "
                             "expected memory_limit_mib and/or cpu_limit_cores")
        c = self.engine.core
        out = []
        for key, cur in (("memory_limit_mib", c.mem_limit), ("cpu_limit_cores", c.cpu_limit)):
            v = action.get(key)
            if v is None:
                out.append(float(cur[0]))
                continue
            try:
                v = float(v)
            except (TypeError, ValueError):
                raise ValueError(f"limit action {key}: expected a positive number, got {v!r}") from None
            if not (math.isfinite(v) and v > 0):
                raise ValueError(f"limit action {key}: expected a finite positive number, got {v!r}")
            lo = self.config.min_memory_limit_mib if key == "memory_limit_mib" else self.config.min_cpu_limit_cores
            out.append(max(v, lo))
        return out[0], out[1]

    def menu(self) -> tuple[np.ndarray, np.ndarray]:
        """The limits each memory choice (10) and CPU choice (4) of the next action would set;
        computed from what has been observed only."""
        mem, cpu = self.engine.targets_one()
        return np.asarray(mem), np.asarray(cpu)

    def nearest_action(self, memory_limit_mib: float, cpu_limit_cores: float) -> int:
        """The discrete action closest to the given limits (for cloning rule baselines)."""
        return self.engine.nearest_action(0, memory_limit_mib, cpu_limit_cores)

    def render(self):
        if self.render_mode == "ansi":
            c = self.engine.core
            return (f"job {self.setup.table.names[c.job[0]]} window {c.t[0]}/{c.length[0]} memory limit "
                    f"{c.mem_limit[0]:.1f} MiB (last peak {c.last_mem_obs[0]:.1f}) CPU limit {c.cpu_limit[0]:.3f} "
                    f"cores (last {c.last_cpu_obs[0]:.3f})")
        return None

    def get_config(self) -> dict:
        """JSON-safe config of this env (what a run folder records)."""
        return to_dict(self.config)


__all__ = ["ClusterRightsizingEnv", "OBS_FIELDS", "N_MEMORY", "N_CPU", "MEMORY_RECENT_FACTORS",
           "MEMORY_LONG_FACTORS", "CPU_RECENT_FACTORS"]
