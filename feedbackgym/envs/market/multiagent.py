"""PettingZoo view of the flash-crash market: a regulator, market makers and executors learning on one book.

Needs the extra ``multiagent`` (``pip install 'feedbackgym[multiagent]'``: PettingZoo; SuperSuit for
the SB3 recipe). ``import feedbackgym`` never imports PettingZoo; this module does.

::

    from feedbackgym.envs.market.multiagent import parallel_env

    env = parallel_env(agent_makers=2, executors=1, scenario="flash_crash")
    obs, infos = env.reset(seed=0)
    while env.agents:
        actions = {a: env.action_space(a).sample() for a in env.agents}
        obs, rewards, terminations, truncations, infos = env.step(actions)
"""

from __future__ import annotations

import dataclasses
import functools
import math
import operator
import warnings
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np
from pettingzoo import ParallelEnv

from ...config import boolean, config_reset_option, number, one_of, override, param, to_dict
from .breakers import make_breaker
from .config import MarketConfig
from .env import build_reward, scalar_reward
from .episode import SECOND_FIELDS, RegulatorEpisode, exchange_view
from .metrics import COMPONENTS
from .observe import OBS_BOUND, feature_names
from .sim import ACTION_NAMES, CONTINUE, MarketSim, scenario_params

__all__ = ["MultiAgentMarketConfig", "FlashCrashMultiAgentEnv", "parallel_env", "raw_env",
           "MAKER_ACTIONS", "EXEC_MULTIPLES", "EXEC_RATES", "EXEC_ACTION_NAMES", "MAKER_COMPONENTS",
           "EXECUTOR_COMPONENTS",
           "MAKER_FEATURES", "EXECUTOR_FEATURES", "RuleMaker", "RuleExecutor"]

#: the maker's quoting menu, as FlashCrashMarketMaker-v0's: half-spread h and skew s in ticks; the
#: bid rests h + s ticks below the mid and the ask h - s above it (each at least 1 tick; a positive
#: skew sells more eagerly, what a long maker does); then "pull" (no quotes) and "dump"
HALF_TICKS = (1, 2, 4, 8)
SKEW_TICKS = (-4, -2, 0, 2, 4)
QUOTE, PULL, DUMP = range(3)
MAKER_ACTIONS: tuple[tuple[int, int, int], ...] = tuple(
    [(h, sk, QUOTE) for h in HALF_TICKS for sk in SKEW_TICKS] + [(0, 0, PULL), (0, 0, DUMP)])
MAKER_ACTION_NAMES = tuple([f"half{h}_skew{sk:+d}" for h, sk, _ in MAKER_ACTIONS[:-2]] + ["pull", "dump"])
PULL_ACTION, DUMP_ACTION = len(MAKER_ACTIONS) - 2, len(MAKER_ACTIONS) - 1
#: the executor's schedule menu, as FlashCrashExecution-v0's: multiples of the catch-up rate (what
#: is left / time left to the deadline), then participation rates of the trailing minute's volume
EXEC_MULTIPLES = (0.0, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0)
EXEC_RATES = (0.03, 0.06, 0.09, 0.12, 0.18, 0.25)
EXEC_ACTION_NAMES = tuple([f"pace_x{m:g}" for m in EXEC_MULTIPLES] + [f"pov_{int(round(r * 100))}pct"
                                                                     for r in EXEC_RATES])

#: the maker's reward components (FlashCrashMarketMaker-v0's names and meanings), per second, summed
#: over the step
MAKER_COMPONENTS = ("spread_pnl", "inventory_pnl", "inventory_sq", "inventory_risk", "at_cap_s", "two_sided_s")
_PNL = {"spread_pnl": 1.0, "inventory_pnl": 1.0}
#: reward presets of the maker (as FlashCrashMarketMaker-v0's)
MAKER_REWARD_PRESETS = {
    "maker_quadratic": {**_PNL, "inventory_sq": -0.5, "at_cap_s": -0.5},
    "maker_cara": {**_PNL, "inventory_risk": -0.0005},
    "maker_pnl": dict(_PNL),
    "maker_stable": {**_PNL, "inventory_sq": -0.5, "at_cap_s": -0.5, "two_sided_s": 0.1},
}
EXECUTOR_COMPONENTS = ("shortfall_bps", "unfilled_frac", "drawdown_pct")
#: reward presets of the executor (as FlashCrashExecution-v0's): an unsold fraction costs 1,000 bps
EXECUTOR_REWARD_PRESETS = {
    "exec_balanced": {"shortfall_bps": -0.01, "unfilled_frac": -10.0, "drawdown_pct": -0.5},
    "exec_shortfall": {"shortfall_bps": -0.01, "unfilled_frac": -10.0},
    "exec_stable": {"shortfall_bps": -0.01, "unfilled_frac": -10.0, "drawdown_pct": -2.0},
}
MAKER_FEATURES = ("inventory", "at_cap", "bought", "sold", "bid_resting", "ask_resting")
EXECUTOR_FEATURES = ("remaining", "time_left", "schedule_pressure", "executed_last", "shortfall_so_far",
                     "drawdown_so_far", "started")
_TRAILING_S = 60   # the executor's participation rate refers to this trailing window of volume
_AT_CAP = 0.9      # "at the cap": abs(inventory) >= 90 % of it


def maker_action(half_ticks: float, skew_ticks: float, pull: bool = False, dump: bool = False) -> int:
    """The menu action nearest to quoting ``half_ticks`` around the mid shifted down by
    ``skew_ticks`` (or to pulling, or dumping)."""
    if dump:
        return DUMP_ACTION
    if pull:
        return PULL_ACTION
    h = min(range(len(HALF_TICKS)), key=lambda i: abs(math.log(HALF_TICKS[i]) - math.log(max(half_ticks, 0.5))))
    k = min(range(len(SKEW_TICKS)), key=lambda i: abs(SKEW_TICKS[i] - skew_ticks))
    return h * len(SKEW_TICKS) + k


def _weights(components, presets=None):
    def check(name, v):
        if isinstance(v, str) and presets is not None:
            if v not in presets:
                raise ValueError(f"{name}: expected one of {sorted(presets)} or a weights dict, got {v!r}")
            return v
        if not isinstance(v, dict) or not v:
            raise ValueError(f"{name}: expected a non-empty dict of weights over {list(components)}, got {v!r}")
        bad = sorted(set(v) - set(components))
        if bad:
            raise ValueError(f"{name}: unknown component(s) {bad}; known: {list(components)}")
        for k, w in v.items():
            if isinstance(w, bool) or not isinstance(w, (int, float)) or not math.isfinite(w):
                raise ValueError(f"{name}[{k!r}]: expected a finite number, got {w!r}")
        return {k: float(w) for k, w in v.items()}
    return check


@dataclass(frozen=True)
class MultiAgentMarketConfig(MarketConfig):
    """The regulator env's fields (:class:`~feedbackgym.envs.market.config.MarketConfig`: scenario,
    market overrides, decision_s, horizons_s, stress_s, the regulator's ``reward``) plus who plays."""

    regulator: bool = param(True, "a learning regulator agent ('regulator'); false: regulator_rule decides",
                            boolean)
    regulator_rule: str = param("none", "the circuit-breaker rule applied when there is no regulator agent",
                                one_of("none", "stop_logic", "dynamic_cb", "luld", "mwcb"))
    agent_makers: int = param(2, "learning market makers maker_0 .. maker_{k-1}", number(0, 16, integer=True))
    replace_makers: bool = param(True, "agent makers replace as many of the scenario's rule makers (the market "
                                 "keeps its number of intermediaries); false: they come on top", boolean)
    maker_inventory_cap: int = param(0, "an agent maker's inventory cap, contracts: its quotes never let "
                                     "abs(inventory) pass it (0: the scenario's maker_inventory_cap, a rule maker's)",
                                     number(0, 100_000, integer=True))
    maker_quote_size: int = param(0, "contracts per side an agent maker quotes (0: the scenario's maker_quote_size "
                                  "x maker_levels, what a rule maker shows)", number(0, 10000, integer=True))
    maker_dump_size: int = param(20, "contracts the 'dump' action sends at market towards a flat position",
                                 number(1, 100_000, integer=True))
    maker_reward: Any = param("maker_quadratic", "the makers' reward: a preset (maker_quadratic, maker_cara, "
                              f"maker_pnl, maker_stable) or weights over {list(MAKER_COMPONENTS)}",
                              _weights(MAKER_COMPONENTS, MAKER_REWARD_PRESETS))
    executors: int = param(0, "learning executors executor_0 .. (each sells its own parent order; the "
                           "scenario's POV seller stays)", number(0, 16, integer=True))
    executor_size: int = param(3000, "contracts each executor must sell", number(1, 10**6, integer=True))
    executor_start_s: int = param(-1, "second the executors start (-1: the scenario's seller_start_s)",
                                  number(-1, 10**7, integer=True))
    executor_deadline_s: int = param(1800, "seconds from the start by which the parent order should be done",
                                     number(1, 10**7, integer=True))
    executor_reward: Any = param("exec_balanced", "the executors' reward: a preset (exec_balanced, exec_shortfall, "
                                 f"exec_stable) or weights over {list(EXECUTOR_COMPONENTS)}",
                                 _weights(EXECUTOR_COMPONENTS, EXECUTOR_REWARD_PRESETS))

    def __post_init__(self):
        super().__post_init__()   # validates every field, these included
        n_agents = int(self.regulator) + self.agent_makers + self.executors
        if n_agents == 0:
            raise ValueError("MultiAgentMarketConfig: expected at least one agent (regulator, agent_makers or "
                             "executors)")
        if self.agent_makers + self.executors > 16:
            raise ValueError(f"MultiAgentMarketConfig.agent_makers + executors: expected at most 16 (the kernel's "
                             f"external-trader slots), got {self.agent_makers + self.executors}")
        for scenario in self.scenario_mix or (self.scenario,):
            n = scenario_params(scenario, **self.market).n_makers
            if self.replace_makers and self.agent_makers > n:
                raise ValueError(f"MultiAgentMarketConfig.agent_makers: with replace_makers the scenario "
                                 f"{scenario!r} has only {n} rule makers to replace, got {self.agent_makers}")

    def params(self, scenario: str | None = None, **draws):
        p = super().params(scenario, **draws)
        if self.replace_makers and self.agent_makers:
            p = dataclasses.replace(p, n_makers=p.n_makers - self.agent_makers)
        return p


class _Episode(RegulatorEpisode):
    """The regulator env's episode with a hook before and after every simulated second (the
    agents' per-second instructions and accounting); otherwise :meth:`RegulatorEpisode.advance`."""

    def advance_with(self, action: int, before, after) -> dict:
        sim, obs, met = self.sim, self.observer, self.metrics
        total = dict.fromkeys(COMPONENTS, 0.0)
        a = action
        n = self.config.decision_s
        for k in range(n):
            before(k)
            sim.step(a)
            a = 0
            last = k == n - 1 or sim.done
            s = sim.snapshot() if last else {name: getattr(sim, name) for name in SECOND_FIELDS}
            obs.update(s, write=last)
            c = met.update(s)
            for key in COMPONENTS:
                total[key] += c[key]
            after(k)
            if last:
                break
        self.snapshot = s
        self.steps += 1
        self.done = bool(sim.done)
        return total


class _AgentBook:
    """What the env needs of the kernel's external traders: slots 0..k-1 are the makers, k.. the
    executors (each an external maker slot that only sends market orders)."""

    def __init__(self, sim):
        self.sim = sim

    def quote(self, k, bid_off, bid_size, ask_off, ask_size):
        self.sim.set_quotes(k, bid_off, bid_size, ask_off, ask_size)

    def take(self, k, qty):
        self.sim.set_take(k, int(qty))

    def inventory(self):
        return self.sim.agent_inventory

    def cash(self):
        return self.sim.agent_cash

    def resting(self, k):
        bid, ask = self.sim.agent_quote_prices(k)
        return (0.0 if math.isnan(bid) else 1.0), (0.0 if math.isnan(ask) else 1.0)


class FlashCrashMultiAgentEnv(ParallelEnv):
    """The flash-crash market with a regulator, market makers and executors as learners on one book.

    ## Description

    One limit-order-book market (:class:`~feedbackgym.envs.market.sim.MarketSim`, the market of
    ``feedbackgym/FlashCrashRegulator-v0``: noise, fundamental, deep-value and momentum traders,
    stop-loss orders, the scenario's inventory-capped rule makers and, on crash days, the POV
    seller of 6 May 2010) with three kinds of learning agents acting simultaneously every
    ``decision_s`` seconds:

    * ``regulator`` — the exchange (exactly the regulator env's agent): continue, pause, halt,
      widen or tighten the price bands. Without it (``regulator=False``) the rule
      ``regulator_rule`` decides (``stop_logic``: CME Stop Logic).
    * ``maker_0`` .. ``maker_{k-1}`` — market makers quoting one order per side around the mid
      (the kernel's external makers: re-centred on the mid each second, post-only; sizes re-cut
      every second so a fill never takes the inventory past ``maker_inventory_cap``). With
      ``replace_makers`` (default) they take the place of ``k`` of the scenario's rule makers,
      so the market keeps its number of intermediaries. Menu, reward components and presets are
      ``feedbackgym/FlashCrashMarketMaker-v0``'s.
    * ``executor_0`` .. — each sells its own parent order of ``executor_size`` contracts between
      ``executor_start_s`` and the deadline ``executor_deadline_s`` later, choosing its pace
      (``FlashCrashExecution-v0``'s menu and reward; market orders each second, void during
      halts; nothing is sold after the deadline). Unlike that env, where the agent *is* the
      scenario's seller, here the scenario's POV seller keeps selling too.

    All agents see the same public market (the regulator env's exchange-visible features:
    prices, spread, depth, returns, volume and imbalance over 5 s .. 10 min, halt and band state)
    and their own private state. Nobody sees the fundamental value or the POV seller. Each second
    of a step, the agents' instructions apply first (the kernel's external agents act at the start
    of the second), then the background flow.

    ## Action Spaces

    | agent      | space            | actions                                                        |
    |------------|------------------|----------------------------------------------------------------|
    | regulator  | ``Discrete(5)``  | continue, pause (5 s), halt (300 s), widen bands, tighten bands |
    | maker_i    | ``Discrete(22)`` | 0-19 quote: half-spread h in (1, 2, 4, 8) ticks x skew s in    |
    |            |                  | (-4, -2, 0, 2, 4) ticks (``a = 5 index(h) + index(s)``): bid   |
    |            |                  | h + s ticks below the mid, ask h - s above (each >= 1 tick);   |
    |            |                  | 20 pull; 21 dump (quotes pulled; one second later a market     |
    |            |                  | order of up to ``maker_dump_size`` towards flat)               |
    | executor_i | ``Discrete(14)`` | 0-7 pace: 0, 0.25, 0.5, 0.75, 1, 1.5, 2, 3 x the catch-up rate   |
    |            |                  | (remaining / seconds to the deadline); 8-13 participation 3,   |
    |            |                  | 6, 9, 12, 18, 25 % of the trailing 60 s volume (``EXEC_ACTION_NAMES``) |

    The maker's menu is ``FlashCrashMarketMaker-v0``'s (``MAKER_ACTION_NAMES``;
    :func:`maker_action` maps a half-spread and skew to it). A dump's market order waits one
    second after the pull so that it cannot trade against the maker's own resting quote (the
    kernel sends a second's market order before it re-posts or pulls that second's quotes).
    Discrete menus so that SB3's and RLlib's PPO and DQN all apply. Quote size per side:
    ``maker_quote_size`` (default the scenario's ``maker_quote_size`` x ``maker_levels``, what a
    rule maker shows).

    ## Observation Spaces

    ``Box(-10, 10, (n,), float32)`` each; the first ``n_market`` features are the regulator env's
    observation (50 with the default depth levels and horizons; ``env.feature_names[agent]`` lists
    them), then:

    | agent      | extra features |
    |------------|----------------|
    | regulator  | none (n = n_market) |
    | maker_i    | inventory / cap; at_cap (abs(inventory) >= 90 % of the cap); bought, sold last |
    |            | step / (decision_s x quote size); bid resting, ask resting (0/1) (n_market + 6) |
    | executor_i | remaining / size; time left / horizon; schedule pressure (remaining fraction / |
    |            | time-left fraction, at most 10); sold last step / (catch-up rate x decision_s); |
    |            | shortfall so far (bps / 100); drawdown so far (% / 5); started (n_market + 7)   |

    ## Rewards

    * regulator: the regulator env's reward (``reward=``, default ``market_balanced``: minus the
      composite loss of dislocation, excess spread, halted seconds, lost fundamental volume and
      magnet effect), components in ``infos["regulator"]["reward_components"]``.
    * maker_i: ``maker_reward`` over ``FlashCrashMarketMaker-v0``'s components, per second summed
      over the step: ``spread_pnl`` (currency: cash change + inventory change x mid),
      ``inventory_pnl`` (inventory x mid change; the two add up to the mark-to-market PnL),
      ``inventory_sq`` ((inventory / cap)^2), ``inventory_risk`` ((inventory x mid change)^2),
      ``at_cap_s`` (abs(inventory) >= 90 % of the cap), ``two_sided_s`` (both quotes resting).
      Presets as that env's: ``maker_quadratic`` (default: PnL - 0.5 inventory_sq - 0.5
      at_cap_s), ``maker_cara``, ``maker_pnl``, ``maker_stable``; or a weights dict.
    * executor_i: ``executor_reward`` over ``FlashCrashExecution-v0``'s components:
      ``shortfall_bps`` (implementation shortfall of this step's fills against the mid at the
      executor's start, bps of the parent order's arrival value), ``unfilled_frac`` (at the
      deadline: the unsold fraction, once), ``drawdown_pct`` (rise of the market's drawdown from
      the arrival mid during the step: the crash the sale causes is a cost). Presets as that
      env's: ``exec_balanced`` (default: -0.01 shortfall_bps - 10 unfilled_frac - 0.5
      drawdown_pct), ``exec_shortfall``, ``exec_stable``; or a weights dict.

    ## Starting State

    As the regulator env: a fresh market of the scenario built from the seed (``reset(seed=)``;
    one seed gives one episode, bit for bit, whatever the actions' source).

    ## Episode End

    Every agent is terminated when the session ends (``length_s``); no truncation. The last
    ``infos["regulator"]`` (or every agent's info) has ``episode_metrics``: the regulator env's
    crash metrics plus ``maker_i_*`` / ``executor_i_*`` (PnL, max |inventory|, seconds at cap,
    volume; sold, shortfall, completion).

    ## Arguments

    ``parallel_env(**fields)`` with the fields of :class:`MultiAgentMarketConfig` (the regulator
    env's fields plus ``regulator``, ``regulator_rule``, ``agent_makers``, ``replace_makers``,
    ``maker_inventory_cap``, ``maker_quote_size``, ``maker_dump_size``, ``maker_reward``,
    ``executors``, ``executor_size``,
    ``executor_start_s``, ``executor_deadline_s``, ``executor_reward``);
    ``reset(options={"config": {...}})`` changes fields that keep the agents and spaces.

    ## Version History

    * v0: initial version.
    """

    metadata = {"name": "flash_crash_market_v0", "render_modes": ["ansi"], "is_parallelizable": True}

    def __init__(self, config: MultiAgentMarketConfig | dict | None = None, render_mode: str | None = None,
                 **overrides):
        modes = ["ansi"]
        if render_mode is not None and render_mode not in modes:
            raise ValueError(f"render_mode: expected one of {modes} or None, got {render_mode!r}")
        self.render_mode = render_mode
        base = config if isinstance(config, MultiAgentMarketConfig) else override(MultiAgentMarketConfig(), config)
        self._configure(override(base, overrides))
        cfg = self.config
        self.possible_agents = ((["regulator"] if cfg.regulator else [])
                                + [f"maker_{i}" for i in range(cfg.agent_makers)]
                                + [f"executor_{i}" for i in range(cfg.executors)])
        self.agents: list[str] = []
        n = self.episode.n_features
        self.feature_names = {"regulator": list(self.market_features)}

        def box(extra):
            return gym.spaces.Box(-OBS_BOUND, OBS_BOUND, (n + extra,), np.float32)

        self.observation_spaces = {}
        self.action_spaces = {}
        for a in self.possible_agents:
            if a == "regulator":
                self.observation_spaces[a] = box(0)
                self.action_spaces[a] = gym.spaces.Discrete(len(ACTION_NAMES))
            elif a.startswith("maker_"):
                self.observation_spaces[a] = box(len(MAKER_FEATURES))
                self.action_spaces[a] = gym.spaces.Discrete(len(MAKER_ACTIONS))
                self.feature_names[a] = list(self.market_features) + list(MAKER_FEATURES)
            else:
                self.observation_spaces[a] = box(len(EXECUTOR_FEATURES))
                self.action_spaces[a] = gym.spaces.Discrete(len(EXEC_ACTION_NAMES))
                self.feature_names[a] = list(self.market_features) + list(EXECUTOR_FEATURES)
        self._np_random: np.random.Generator | None = None

    # ---------------------------------------------------------------- configuration
    def _configure(self, config: MultiAgentMarketConfig) -> None:
        self.config = config
        slots = config.agent_makers + config.executors
        self.episode = _Episode(config, functools.partial(MarketSim, agent_makers=slots))
        self._reward, self._weights = build_reward(config)
        names = feature_names(self.episode.depth_levels, config.horizons_s)
        extra = self.episode.n_features - len(names)   # optional features appended by the regulator's config
        if extra > 0:
            from . import observe
            known = list(getattr(observe, "LIQUIDITY_FEATURES", ()))[:extra]
            names += known + [f"market_extra_{i}" for i in range(len(known), extra)]
        self.market_features = names

    def observation_space(self, agent: str) -> gym.spaces.Box:
        return self.observation_spaces[agent]

    def action_space(self, agent: str) -> gym.spaces.Discrete:
        return self.action_spaces[agent]

    @property
    def sim(self):
        return self.episode.sim

    @property
    def params(self):
        return self.episode.params

    # ---------------------------------------------------------------- episode
    def reset(self, seed: int | None = None, options: dict | None = None):
        cfg, options = config_reset_option(self.config, options)
        if cfg is not self.config:
            keep = ("regulator", "agent_makers", "executors", "horizons_s", "liquidity_features")
            if (any(getattr(cfg, k, None) != getattr(self.config, k, None) for k in keep)
                    or cfg.params().depth_levels != self.episode.depth_levels):
                raise ValueError(f"reset option 'config' may not change the agents or spaces ({', '.join(keep)}, "
                                 "market.depth_levels); make a new env instead")
        if options:  # PettingZoo's API test passes an arbitrary option; say so rather than fail
            warnings.warn(f"FlashCrashMultiAgentEnv.reset: ignoring unknown option(s) {sorted(options)}; "
                          "known: config", stacklevel=2)
        if seed is not None or self._np_random is None:
            from gymnasium.utils import seeding
            self._np_random, _ = seeding.np_random(seed)
        if cfg is not self.config:
            self._configure(cfg)
        ep = self.episode
        info = ep.start(self._np_random)
        self.book = _AgentBook(ep.sim)
        cfg, p = self.config, ep.params
        self.agents = list(self.possible_agents)
        self._rule = None
        if not cfg.regulator:
            self._rule = make_breaker(cfg.regulator_rule)
            self._rule.reset({"pause_s": p.pause_s, "halt_s": p.halt_s, "day_offset_s": p.session_offset_s,
                              "day_length_s": p.session_length_s})
        self._reg_info = info
        self._cap = cfg.maker_inventory_cap or max(int(p.maker_inventory_cap), 1)
        self._quote_size = cfg.maker_quote_size or p.maker_quote_size * p.maker_levels
        k, m = cfg.agent_makers, cfg.executors
        self._maker_action = np.full(k, PULL_ACTION)
        self._dump_pending = np.zeros(k, bool)
        self._maker_sums = {c: np.zeros(k) for c in MAKER_COMPONENTS}
        self._maker_stats = {"max_abs_inventory": np.zeros(k), "dumped": np.zeros(k), "bought": np.zeros(k),
                             "sold": np.zeros(k)}
        self._maker_step = {c: np.zeros(k) for c in MAKER_COMPONENTS}
        self._exec_action = np.zeros(m, np.int64)
        self._exec_start = p.seller_start_s if cfg.executor_start_s < 0 else cfg.executor_start_s
        self._exec_arrival = math.nan
        self._exec_sold = np.zeros(m)
        self._exec_proceeds = np.zeros(m)
        self._exec_shortfall = np.zeros(m)
        self._exec_shortfall_step = np.zeros(m)
        self._exec_carry = np.zeros(m)
        self._exec_done_s = np.full(m, math.nan)
        self._exec_penalised: set[int] = set()
        self._exec_drawdown = 0.0        # the market's drawdown from the executors' arrival mid, %
        self._exec_drawdown_step = 0.0
        self._exec_last = np.zeros(m)    # contracts sold last step
        self._prev = (np.zeros(k + m), np.zeros(k + m), ep.sim.mid)   # inventory, cash, mid after the last second
        self._last_bought, self._last_sold = np.zeros(k), np.zeros(k)
        self._exec_sold_last = np.zeros(m)
        self._steps = 0
        self._reward_sums = dict.fromkeys(self.possible_agents, 0.0)
        obs = self._observations()
        infos = {a: self._agent_info(a, None) for a in self.agents}
        if "regulator" in infos:
            infos["regulator"] = dict(info)
        return obs, infos

    def step(self, actions: dict):
        if not self.agents:
            raise RuntimeError("FlashCrashMultiAgentEnv.step() called after the episode ended; call reset() first")
        if not isinstance(actions, dict):
            raise ValueError(f"actions: expected a dict agent -> action, got {type(actions).__name__}")
        unknown = sorted(set(actions) - set(self.agents))
        if unknown:
            raise ValueError(f"actions for unknown or finished agent(s) {unknown}; agents: {self.agents}")
        acts = {a: self._action(a, actions.get(a)) for a in self.agents}
        cfg, ep = self.config, self.episode
        reg_action = acts.get("regulator", CONTINUE)
        if self._rule is not None:
            reg_action = self._rule.decide(exchange_view(self._reg_info))
        for i in range(cfg.agent_makers):
            self._maker_action[i] = acts[f"maker_{i}"]
        for j in range(cfg.executors):
            self._exec_action[j] = acts[f"executor_{j}"]
        for arr in self._maker_step.values():
            arr.fill(0.0)
        vol0 = ep.sim.agent_volume.copy()
        inv0 = self._prev[0].copy()
        c = ep.advance_with(reg_action, self._before_second, self._after_second)
        for key in MAKER_COMPONENTS:
            self._maker_sums[key] += self._maker_step[key]
        self._steps += 1
        self._reg_info = ep.info()
        rewards, infos = {}, {}
        if cfg.regulator:
            rewards["regulator"] = scalar_reward(self._reward, self._weights, c)
            infos["regulator"] = {**self._reg_info, "reward_components": c, "action": int(reg_action)}
        weights: dict[str, float] = (MAKER_REWARD_PRESETS[cfg.maker_reward] if isinstance(cfg.maker_reward, str)
                                     else cfg.maker_reward)
        dv, di = ep.sim.agent_volume - vol0, self._prev[0] - inv0
        self._last_bought, self._last_sold = (dv + di) / 2, (dv - di) / 2
        for i in range(cfg.agent_makers):
            a = f"maker_{i}"
            comp = {key: float(self._maker_step[key][i]) for key in MAKER_COMPONENTS}
            rewards[a] = float(sum(w * comp[key] for key, w in weights.items()))
            infos[a] = self._agent_info(a, comp)
        ex_weights: dict[str, float] = (EXECUTOR_REWARD_PRESETS[cfg.executor_reward]
                                        if isinstance(cfg.executor_reward, str) else cfg.executor_reward)
        for j in range(cfg.executors):
            a = f"executor_{j}"
            comp = self._executor_components(j, c)
            rewards[a] = float(sum(w * comp[key] for key, w in ex_weights.items()))
            infos[a] = self._agent_info(a, comp)
        self._exec_drawdown_step = 0.0
        self._exec_sold_last = self._exec_last.copy()
        self._exec_last[:] = 0.0
        for a, r in rewards.items():
            self._reward_sums[a] += r
        obs = self._observations()
        done = bool(ep.done)
        terminations = dict.fromkeys(self.agents, done)
        truncations = dict.fromkeys(self.agents, False)
        if done:
            m = self.episode_metrics()
            for a in self.agents:
                infos[a]["episode_metrics"] = m
            self.agents = []
        return obs, rewards, terminations, truncations, infos

    # ---------------------------------------------------------------- agents, second by second
    def _action(self, agent, action) -> int:
        n = self.action_spaces[agent].n
        if action is None:   # a live agent without an action idles: continue / pull / sell nothing
            return PULL_ACTION if agent.startswith("maker_") else 0
        try:
            arr = np.asarray(action)
            a = operator.index(arr.item() if arr.ndim and arr.size == 1 else action)
        except (TypeError, ValueError):
            raise ValueError(f"{agent}: action {action!r} is not an integer of Discrete({n})") from None
        if not 0 <= a < n:
            raise ValueError(f"{agent}: action {a} is outside Discrete({n})")
        return int(a)

    def _before_second(self, k: int) -> None:
        """The agents' instructions for the coming second (``k``: its index within the step)."""
        inv = self._prev[0]
        for i in range(self.config.agent_makers):
            self._quote(i, int(inv[i]), k)
        t = self.episode.sim.t_s
        for j in range(self.config.executors):
            self._sell(j, t)

    def _quote(self, i: int, inv: int, k: int) -> None:
        book = self.book
        if self._dump_pending[i]:   # the dump decided a second ago, its quotes already pulled
            self._dump_pending[i] = False
            q = min(abs(inv), self.config.maker_dump_size)
            if q:
                book.take(i, -q if inv > 0 else q)
                self._maker_stats["dumped"][i] += q
        half, skew, mode = MAKER_ACTIONS[self._maker_action[i]]
        if mode == QUOTE:
            size, cap = self._quote_size, self._cap
            book.quote(i, max(1, half + skew), max(0, min(size, cap - inv)), max(1, half - skew),
                       max(0, min(size, cap + inv)))
            return
        book.quote(i, 1, 0, 1, 0)
        if mode == DUMP and k == 0:
            self._dump_pending[i] = True

    def _sell(self, j: int, t: int) -> None:
        cfg = self.config
        remaining = cfg.executor_size - self._exec_sold[j]
        deadline = self._exec_start + cfg.executor_deadline_s
        if t < self._exec_start or t >= deadline or remaining <= 0 or self.episode.sim.halted:
            return
        a = int(self._exec_action[j])
        if a < len(EXEC_MULTIPLES):   # pace: a multiple of the catch-up rate
            rate = EXEC_MULTIPLES[a] * remaining / max(deadline - t, 1)
        else:                         # participation of the trailing minute's volume
            obs = self.episode.observer
            ring, now = obs.ring, obs.t
            w = min(_TRAILING_S, now)
            vol = (obs.cum_v[now % ring] - obs.cum_v[(now - w) % ring]) / w if w > 0 else 0.0
            rate = EXEC_RATES[a - len(EXEC_MULTIPLES)] * vol
        self._exec_carry[j] += rate
        q = int(min(self._exec_carry[j], remaining))
        if q > 0:
            self._exec_carry[j] -= q
            self.book.take(self.config.agent_makers + j, -q)

    def _after_second(self, k: int) -> None:
        """Per-second accounting of the agents (the makers' reward components, the executors' fills)."""
        cfg, sim = self.config, self.episode.sim
        inv_prev, cash_prev, mid_prev = self._prev
        inv, cash, mid = self.book.inventory().astype(float), self.book.cash(), sim.mid
        nm = cfg.agent_makers
        if nm:
            d_inv = inv[:nm] - inv_prev[:nm]
            step = self._maker_step
            step["spread_pnl"] += (cash[:nm] - cash_prev[:nm]) + d_inv * mid
            step["inventory_pnl"] += inv_prev[:nm] * (mid - mid_prev)
            step["inventory_sq"] += (inv[:nm] / self._cap) ** 2
            step["inventory_risk"] += (inv_prev[:nm] * (mid - mid_prev)) ** 2
            step["at_cap_s"] += np.abs(inv[:nm]) >= _AT_CAP * self._cap
            for i in range(nm):
                bid, ask = self.book.resting(i)
                step["two_sided_s"][i] += bid * ask
            st = self._maker_stats
            st["max_abs_inventory"] = np.maximum(st["max_abs_inventory"], np.abs(inv[:nm]))
        for j in range(cfg.executors):
            slot = nm + j
            sold = float(inv_prev[slot] - inv[slot])
            if sold > 0:
                self._account_sale(j, sold, float(cash[slot] - cash_prev[slot]))
                self._exec_last[j] += sold
        if cfg.executors and sim.t_s > self._exec_start:
            if math.isnan(self._exec_arrival):
                self._exec_arrival = self._arrival_mid()
            dd = max(0.0, (1.0 - mid / self._exec_arrival) * 100.0) if self._exec_arrival > 0 else 0.0
            if dd > self._exec_drawdown:
                self._exec_drawdown_step += dd - self._exec_drawdown
                self._exec_drawdown = dd
        self._prev = (inv, cash, mid)

    def _account_sale(self, j: int, sold: float, proceeds: float) -> None:
        cfg, sim = self.config, self.episode.sim
        if math.isnan(self._exec_arrival):
            self._exec_arrival = self._arrival_mid()
        arrival = self._exec_arrival
        if arrival > 0:
            self._exec_shortfall_step[j] += (sold * arrival - proceeds) / (cfg.executor_size * arrival) * 1e4
        self._exec_sold[j] += sold
        self._exec_proceeds[j] += proceeds
        if self._exec_sold[j] >= cfg.executor_size and math.isnan(self._exec_done_s[j]):
            self._exec_done_s[j] = sim.t_s - self._exec_start

    def _arrival_mid(self) -> float:
        """The mid at the executors' start second (the observer keeps the last 10 minutes of mids)."""
        obs = self.episode.observer
        if 0 <= obs.t - self._exec_start < obs.ring:
            return float(obs.mids[self._exec_start % obs.ring])
        return float(self.episode.sim.mid)

    def _executor_components(self, j: int, c: dict) -> dict:
        cfg = self.config
        t = self.episode.sim.t_s
        shortfall = float(self._exec_shortfall_step[j])
        self._exec_shortfall_step[j] = 0.0
        self._exec_shortfall[j] += shortfall
        unfilled = 0.0
        if t >= min(self._exec_start + cfg.executor_deadline_s, self.episode.params.length_s) \
                and j not in self._exec_penalised:
            self._exec_penalised.add(j)
            unfilled = max(0.0, 1.0 - self._exec_sold[j] / cfg.executor_size)
        return {"shortfall_bps": shortfall, "unfilled_frac": unfilled, "drawdown_pct": self._exec_drawdown_step}

    # ---------------------------------------------------------------- observations and info
    def _observations(self) -> dict:
        market = self.episode.obs.astype(np.float32)
        out = {}
        cfg = self.config
        inv = self._prev[0]
        scale = max(cfg.decision_s * self._quote_size, 1)
        for a in self.agents:
            if a == "regulator":
                out[a] = market.copy()
            elif a.startswith("maker_"):
                i = int(a[6:])
                bid, ask = self.book.resting(i)
                extra = [inv[i] / self._cap, float(abs(inv[i]) >= _AT_CAP * self._cap),
                         self._last_bought[i] / scale, self._last_sold[i] / scale, bid, ask]
                out[a] = self._stack(market, extra)
            else:
                j = int(a[9:])
                t = self.episode.sim.t_s
                started = float(t >= self._exec_start)
                remaining = 1.0 - self._exec_sold[j] / cfg.executor_size
                left = min(max((self._exec_start + cfg.executor_deadline_s - t) / cfg.executor_deadline_s, 0.0), 1.0)
                pressure = min(remaining / left, 10.0) if left > 0 else (10.0 if remaining > 0 else 0.0)
                catch_up = max(remaining * cfg.executor_size / max(left * cfg.executor_deadline_s, 1.0), 1e-9)
                extra = [remaining, left, pressure, self._exec_sold_last[j] / (catch_up * cfg.decision_s),
                         self._exec_shortfall[j] / 100.0, self._exec_drawdown / 5.0, started]
                out[a] = self._stack(market, extra)
        return out

    @staticmethod
    def _stack(market, extra):
        return np.clip(np.concatenate([market, np.asarray(extra, np.float32)]), -OBS_BOUND, OBS_BOUND
                       ).astype(np.float32)

    def _agent_info(self, agent: str, comp: dict | None) -> dict:
        if agent == "regulator":
            return dict(self._reg_info)
        cfg = self.config
        inv, cash = self._prev[0], self._prev[1]
        mid = float(self.episode.sim.mid)
        out: dict[str, Any] = {"time_s": float(self.episode.sim.t_s), "mid": mid}
        if agent.startswith("maker_"):
            i = int(agent[6:])
            p = self.params
            out.update({"inventory": float(inv[i]), "cash": float(cash[i]), "pnl": float(cash[i] + inv[i] * mid),
                        "inventory_cap": float(self._cap), "halted": float(self.episode.sim.halted),
                        "move_10s_ticks": self._move_ticks(10),
                        # the scenario's rule-maker parameters (what RuleMaker follows by default)
                        "rule_half_spread_ticks": float(p.maker_half_spread_ticks),
                        "rule_stress_widen": float(p.maker_stress_widen),
                        "rule_pull_move_ticks": float(p.maker_pull_move_ticks),
                        "rule_dump_frac": float(p.maker_dump_frac)})
        else:
            j = int(agent[9:])
            out.update({"sold": float(self._exec_sold[j]), "remaining": float(cfg.executor_size - self._exec_sold[j]),
                        "shortfall_bps": float(self._exec_shortfall[j])})
        if comp is not None:
            out["reward_components"] = comp
        return out

    def _move_ticks(self, s: int) -> float:
        obs = self.episode.observer
        k = min(s, obs.t)
        return float((obs.mids[obs.t % obs.ring] - obs.mids[(obs.t - k) % obs.ring]) / self.params.tick_size)

    def episode_metrics(self) -> dict:
        """The regulator env's crash metrics plus each maker's and executor's."""
        ep = self.episode
        m = ep.metrics.result()
        m["steps"] = self._steps
        m["seller_size"] = ep.params.seller_size
        inv, cash = self._prev[0], self._prev[1]
        mid = ep.sim.mid
        vol = ep.sim.agent_volume
        length = max(ep.sim.t_s, 1)
        for i in range(self.config.agent_makers):
            m[f"maker_{i}_pnl"] = float(cash[i] + inv[i] * mid)
            m[f"maker_{i}_spread_pnl"] = float(self._maker_sums["spread_pnl"][i])
            m[f"maker_{i}_inventory_pnl"] = float(self._maker_sums["inventory_pnl"][i])
            m[f"maker_{i}_final_inventory"] = int(inv[i])
            m[f"maker_{i}_max_abs_inventory"] = float(self._maker_stats["max_abs_inventory"][i])
            m[f"maker_{i}_time_at_cap_frac"] = float(self._maker_sums["at_cap_s"][i] / length)
            m[f"maker_{i}_two_sided_frac"] = float(self._maker_sums["two_sided_s"][i] / length)
            m[f"maker_{i}_volume"] = int(vol[i])
            m[f"maker_{i}_dumped"] = int(self._maker_stats["dumped"][i])
        for j in range(self.config.executors):
            m[f"executor_{j}_sold"] = float(self._exec_sold[j])
            m[f"executor_{j}_shortfall_bps"] = float(self._exec_shortfall[j])
            done = self._exec_done_s[j]
            m[f"executor_{j}_completion_s"] = float(done) if not math.isnan(done) else float(
                ep.params.length_s - self._exec_start)
        for a, r in self._reward_sums.items():
            m[f"{a}_episode_reward"] = float(r)
        return m

    def render(self):
        if self.render_mode == "ansi":
            s = self.episode.snapshot
            inv = self.book.inventory().tolist() if self.agents or self._steps else []
            return (f"t {s['t_s']} s mid {s['mid']:.2f} spread {s['spread_ticks']} ticks "
                    f"{'HALTED' if s['halted'] else 'trading'} agent inventories {inv}")
        return None

    def close(self):
        return None

    def state(self) -> np.ndarray:
        """The public market features (what every agent sees)."""
        return self.episode.obs.astype(np.float32)

    def get_config(self) -> dict:
        return to_dict(self.config)


def parallel_env(**kwargs) -> FlashCrashMultiAgentEnv:
    """The PettingZoo ``ParallelEnv`` (the family contract's ``multi_agent`` factory)."""
    return FlashCrashMultiAgentEnv(**kwargs)


def raw_env(**kwargs):
    """The AEC view (PettingZoo's ``parallel_to_aec`` of :func:`parallel_env`)."""
    from pettingzoo.utils.conversions import parallel_to_aec

    return parallel_to_aec(parallel_env(**kwargs))


# ------------------------------------------------------------------------------------ rule agents


class RuleMaker:
    """The simulator's stressed-maker rule on the maker menu (a baseline and the fixed opponent):
    half-spread ``half_ticks`` widened by ``widen`` x the 10-s move, quotes skewed against the
    inventory by (inventory / cap) x (half + 1) ticks, all quotes pulled after a move of
    ``pull_move_ticks`` within 10 s, a dump beyond ``dump_frac`` of the cap (the hot potato).
    Parameters left ``None`` follow the scenario's rule makers (the maker's ``info`` carries them).
    Reads the maker's ``info``."""

    def __init__(self, half_ticks: float | None = None, widen: float | None = None,
                 pull_move_ticks: float | None = None, dump_frac: float | None = None):
        self.half_ticks = half_ticks
        self.widen = widen
        self.pull_move_ticks = pull_move_ticks
        self.dump_frac = dump_frac

    @staticmethod
    def _param(own, info, key, default):
        return own if own is not None else float(info.get(key, default))

    def act(self, obs, info) -> int:
        info = info or {}
        half0 = self._param(self.half_ticks, info, "rule_half_spread_ticks", 1.0)
        if "inventory" not in info:
            return maker_action(half0, 0.0)
        inv, cap = info["inventory"], max(info.get("inventory_cap", 1.0), 1.0)
        if abs(inv) > self._param(self.dump_frac, info, "rule_dump_frac", 0.7) * cap:
            return DUMP_ACTION
        move = abs(info.get("move_10s_ticks", 0.0))
        if move >= self._param(self.pull_move_ticks, info, "rule_pull_move_ticks", 30.0):
            return PULL_ACTION
        half = half0 + self._param(self.widen, info, "rule_stress_widen", 0.3) * move
        return maker_action(half, inv / cap * (half + 1.0))


class RuleExecutor:
    """A fixed schedule: participation ``rate`` (default 9 %: the POV seller of 6 May 2010), or
    ``pace`` x the catch-up rate (1: TWAP-like, finishing on the deadline)."""

    def __init__(self, rate: float | None = 0.09, pace: float | None = None):
        if pace is not None:
            if pace not in EXEC_MULTIPLES:
                raise ValueError(f"pace: expected one of {list(EXEC_MULTIPLES)}, got {pace!r}")
            self.action = EXEC_MULTIPLES.index(pace)
        else:
            if rate not in EXEC_RATES:
                raise ValueError(f"rate: expected one of {list(EXEC_RATES)}, got {rate!r}")
            self.action = len(EXEC_MULTIPLES) + EXEC_RATES.index(rate)

    def act(self, obs, info) -> int:
        return self.action
