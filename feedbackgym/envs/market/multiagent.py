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

from ...config import boolean, number, one_of, override, param, to_dict
from .breakers import make_breaker
from .config import MarketConfig
from .env import build_reward, scalar_reward
from .episode import RegulatorEpisode, exchange_view
from .observe import OBS_BOUND, feature_names
from .sim import ACTION_NAMES, CONTINUE, MarketSim, scenario_params

__all__ = ["MultiAgentMarketConfig", "FlashCrashMultiAgentEnv", "parallel_env", "raw_env",
           "MAKER_ACTIONS", "EXECUTOR_RATES", "MAKER_COMPONENTS", "EXECUTOR_COMPONENTS",
           "MAKER_FEATURES", "EXECUTOR_FEATURES", "RuleMaker", "RuleExecutor"]

#: maker action menu: (name, half-spread ticks or None, lean) -- lean +1 sells (ask closer, bid
#: further), -1 buys; ``None`` pulls both sides; "flatten" pulls them and sends a market order for
#: half the inventory at the start of the next step
MAKER_ACTIONS: tuple[tuple[str, int | None, int], ...] = (
    ("pull", None, 0),
    ("tight", 1, 0), ("tight_sell", 1, 1), ("tight_buy", 1, -1),
    ("mid", 2, 0), ("mid_sell", 2, 1), ("mid_buy", 2, -1),
    ("wide", 4, 0), ("wide_sell", 4, 1), ("wide_buy", 4, -1),
    ("flatten", None, 0),
)
FLATTEN = len(MAKER_ACTIONS) - 1
#: executor action menu: participation rate (share of the trailing minute's volume per second)
EXECUTOR_RATES = (0.0, 0.03, 0.06, 0.09, 0.15, 0.25)

MAKER_COMPONENTS = ("pnl_ticks", "inventory_frac_sq", "at_cap")
EXECUTOR_COMPONENTS = ("shortfall_bps", "unfinished_frac", "dislocation_pct")
MAKER_FEATURES = ("inventory_frac", "pnl", "bid_resting", "ask_resting")
EXECUTOR_FEATURES = ("remaining_frac", "active", "time_left_frac", "shortfall_so_far", "started")
MAKER_REWARD_DEFAULT = {"pnl_ticks": 0.01, "inventory_frac_sq": -0.5, "at_cap": -1.0}
EXECUTOR_REWARD_DEFAULT = {"shortfall_bps": -0.01, "unfinished_frac": -100.0, "dislocation_pct": 0.0}
_TRAILING_S = 60  # the executor's participation rate refers to this trailing window of volume
_PNL_SCALE_TICKS = 1000.0  # the maker's PnL feature: tick-contracts / 1000


def _weights(components):
    def check(name, v):
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
    maker_quote_size: int = param(0, "contracts per side an agent maker quotes (0: the scenario's maker_quote_size "
                                  "x maker_levels, what a rule maker shows)", number(0, 10000, integer=True))
    maker_reward: Any = param(dict(MAKER_REWARD_DEFAULT), "weights over the maker reward components "
                              f"{list(MAKER_COMPONENTS)}", _weights(MAKER_COMPONENTS))
    executors: int = param(0, "learning executors executor_0 .. (each sells its own parent order; the "
                           "scenario's POV seller stays)", number(0, 16, integer=True))
    executor_size: int = param(3000, "contracts each executor must sell", number(1, 10**6, integer=True))
    executor_start_s: int = param(-1, "second the executors start (-1: the scenario's seller_start_s)",
                                  number(-1, 10**7, integer=True))
    executor_deadline_s: int = param(1800, "seconds from the start by which the parent order should be done",
                                     number(1, 10**7, integer=True))
    executor_reward: Any = param(dict(EXECUTOR_REWARD_DEFAULT), "weights over the executor reward components "
                                 f"{list(EXECUTOR_COMPONENTS)}", _weights(EXECUTOR_COMPONENTS))

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
      (the kernel's external makers: re-centred on the mid each second, post-only, never beyond
      the inventory cap). With ``replace_makers`` (default) they take the place of ``k`` of the
      scenario's rule makers, so the market keeps its number of intermediaries.
    * ``executor_0`` .. — each sells its own parent order of ``executor_size`` contracts from
      ``executor_start_s`` on, choosing a participation rate of the trailing minute's volume
      (market orders; void during halts). The scenario's POV seller keeps selling too.

    All agents see the same public market (the regulator env's 50 exchange-visible features:
    prices, spread, depth, returns, volume and imbalance over 5 s .. 10 min, halt and band state)
    and their own private state. Nobody sees the fundamental value or the POV seller.

    ## Action Spaces

    | agent      | space           | actions                                                        |
    |------------|-----------------|----------------------------------------------------------------|
    | regulator  | ``Discrete(5)`` | continue, pause (5 s), halt (300 s), widen bands, tighten bands |
    | maker_i    | ``Discrete(11)``| 0 pull both sides; 1-9 half-spread h = 1 / 2 / 4 ticks x lean  |
    |            |                 | none / sell / buy; 10 flatten (quotes pulled now, a market     |
    |            |                 | order for half the inventory at the start of the next step)    |
    | executor_i | ``Discrete(6)`` | participation 0, 3, 6, 9, 15, 25 % of the trailing 60 s volume |

    A sell lean puts the ask max(1, h / 2) ticks from the mid and the bid 2h ticks away (a buy lean
    mirrors it).     Discrete menus so that SB3's and RLlib's PPO and DQN all apply. Quote size per side:
    ``maker_quote_size`` (default the scenario's ``maker_quote_size`` x ``maker_levels``, what a
    rule maker shows), cut so a fill can never take the inventory past ``maker_inventory_cap``.

    ## Observation Spaces

    ``Box(-10, 10, (n,), float32)`` each; the first ``n_market`` features are the regulator env's
    observation (50 with the default depth levels and horizons; ``env.feature_names[agent]`` lists
    them), then:

    | agent      | extra features |
    |------------|----------------|
    | regulator  | none (n = n_market) |
    | maker_i    | inventory / cap; mark-to-market PnL (tick-contracts / 1000); bid resting,     |
    |            | ask resting (0/1) (n = n_market + 4)                                          |
    | executor_i | remaining / size; active (started, not done); time left / deadline; shortfall |
    |            | so far (bps / 100); started (0/1) (n = n_market + 5)                          |

    ## Rewards

    * regulator: the regulator env's reward (``reward=``, default ``market_balanced``: minus the
      composite loss of dislocation, excess spread, halted seconds, lost fundamental volume and
      magnet effect), components in ``infos["regulator"]["reward_components"]``.
    * maker_i: ``maker_reward`` weights over ``pnl_ticks`` (change of mark-to-market PnL at the
      mid, tick x contracts: spread capture and inventory gains or losses), ``inventory_frac_sq``
      ((inventory / cap)^2 per second: inventory risk) and ``at_cap`` (seconds at the cap);
      default ``0.01 pnl_ticks - 0.5 inventory_frac_sq - 1 at_cap``.
    * executor_i: ``executor_reward`` weights over ``shortfall_bps`` (implementation shortfall of
      this step's fills against the mid at the executor's start, bps of the parent notional),
      ``unfinished_frac`` (at the deadline: the unsold fraction, once) and ``dislocation_pct``
      (the market's dislocation: a stability term, weight 0 by default); default
      ``-0.01 shortfall_bps - 100 unfinished_frac``.

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
    ``maker_quote_size``, ``maker_reward``, ``executors``, ``executor_size``,
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
                self.action_spaces[a] = gym.spaces.Discrete(len(EXECUTOR_RATES))
                self.feature_names[a] = list(self.market_features) + list(EXECUTOR_FEATURES)
        self._np_random: np.random.Generator | None = None

    # ---------------------------------------------------------------- configuration
    def _configure(self, config: MultiAgentMarketConfig) -> None:
        self.config = config
        slots = config.agent_makers + config.executors
        self.episode = RegulatorEpisode(config, functools.partial(MarketSim, agent_makers=slots))
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
        if options is not None and not isinstance(options, dict):
            raise ValueError(f"reset options: expected a dict such as {{'config': {{...}}}}, "
                             f"got {type(options).__name__} {options!r}")
        options = dict(options or {})
        cfg = self.config
        if "config" in options:
            cfg = override(self.config, options.pop("config"))
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
        self._cap = max(int(p.maker_inventory_cap), 1)
        self._quote_size = cfg.maker_quote_size or p.maker_quote_size * p.maker_levels
        self._tick = p.tick_size
        k, m = cfg.agent_makers, cfg.executors
        self._maker_pnl = np.zeros(k)
        self._flatten_pending = np.zeros(k, bool)
        self._maker_stats = {"max_abs_inventory": np.zeros(k), "at_cap_s": np.zeros(k)}
        self._exec_start = p.seller_start_s if cfg.executor_start_s < 0 else cfg.executor_start_s
        self._exec_arrival = math.nan
        self._exec_sold = np.zeros(m)
        self._exec_proceeds = np.zeros(m)
        self._exec_shortfall = np.zeros(m)
        self._exec_carry = np.zeros(m)
        self._exec_done_s = np.full(m, math.nan)
        self._exec_penalised: set[int] = set()
        self._last_inv = np.zeros(k + m)
        self._last_cash = np.zeros(k + m)
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
            self._apply_maker(i, acts[f"maker_{i}"])
        t0 = ep.sim.t_s
        for j in range(cfg.executors):
            self._apply_executor(j, acts[f"executor_{j}"], t0)
        c = ep.advance(reg_action)
        self._steps += 1
        self._reg_info = ep.info()
        rewards, infos = {}, {}
        if cfg.regulator:
            r = scalar_reward(self._reward, self._weights, c)
            rewards["regulator"] = r
            infos["regulator"] = {**self._reg_info, "reward_components": c, "action": int(reg_action)}
        inv, cash = self.book.inventory().astype(float), self.book.cash()
        mid = ep.sim.mid
        for i in range(cfg.agent_makers):
            a = f"maker_{i}"
            comp = self._maker_components(i, inv, cash, mid)
            rewards[a] = sum(cfg.maker_reward.get(k, 0.0) * v for k, v in comp.items())
            infos[a] = self._agent_info(a, comp)
        for j in range(cfg.executors):
            a = f"executor_{j}"
            comp = self._executor_components(j, inv, cash, c)
            rewards[a] = sum(cfg.executor_reward.get(k, 0.0) * v for k, v in comp.items())
            infos[a] = self._agent_info(a, comp)
        self._last_inv, self._last_cash = inv, cash
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

    # ---------------------------------------------------------------- agents' actions
    def _action(self, agent, action) -> int:
        n = self.action_spaces[agent].n
        if action is None:   # a live agent without an action idles: continue / pull / sell nothing
            return 0
        try:
            arr = np.asarray(action)
            a = operator.index(arr.item() if arr.ndim and arr.size == 1 else action)
        except (TypeError, ValueError):
            raise ValueError(f"{agent}: action {action!r} is not an integer of Discrete({n})") from None
        if not 0 <= a < n:
            raise ValueError(f"{agent}: action {a} is outside Discrete({n})")
        return int(a)

    def _apply_maker(self, i: int, a: int) -> None:
        inv = int(self.book.inventory()[i])
        if self._flatten_pending[i]:
            # the dump decided last step: its quotes were pulled then, so the market order cannot
            # trade against the maker's own resting quote (the kernel sends a take before it
            # re-posts or pulls the quotes of the same second)
            self._flatten_pending[i] = False
            if abs(inv) >= 2:
                self.book.take(i, -(inv // 2) if inv > 0 else (-inv) // 2)
        if a == FLATTEN:
            self.book.quote(i, 1, 0, 1, 0)
            self._flatten_pending[i] = True
            return
        _, half, lean = MAKER_ACTIONS[a]
        if half is None:
            self.book.quote(i, 1, 0, 1, 0)
            return
        if lean > 0:
            bid_off, ask_off = 2 * half, max(1, half // 2)
        elif lean < 0:
            bid_off, ask_off = max(1, half // 2), 2 * half
        else:
            bid_off = ask_off = half
        size = self._quote_size
        bid = max(0, min(size, self._cap - inv))
        ask = max(0, min(size, self._cap + inv))
        self.book.quote(i, bid_off, bid, ask_off, ask)

    def _apply_executor(self, j: int, a: int, t: int) -> None:
        cfg = self.config
        slot = cfg.agent_makers + j
        remaining = cfg.executor_size - self._exec_sold[j]
        if t < self._exec_start or remaining <= 0 or self.episode.sim.halted:
            return
        obs = self.episode.observer
        ring, now = obs.ring, obs.t
        k = min(_TRAILING_S, now)
        vol = (obs.cum_v[now % ring] - obs.cum_v[(now - k) % ring]) / k if k > 0 else 0.0
        self._exec_carry[j] += EXECUTOR_RATES[a] * vol * cfg.decision_s
        q = int(min(self._exec_carry[j], remaining))
        if q > 0:
            self._exec_carry[j] -= q
            self.book.take(slot, -q)

    # ---------------------------------------------------------------- rewards
    def _maker_components(self, i, inv, cash, mid) -> dict:
        pnl = (cash[i] + inv[i] * mid) / self._tick
        comp = {"pnl_ticks": float(pnl - self._maker_pnl[i]),
                "inventory_frac_sq": float((inv[i] / self._cap) ** 2) * self.config.decision_s,
                "at_cap": float(abs(inv[i]) >= self._cap) * self.config.decision_s}
        self._maker_pnl[i] = pnl
        st = self._maker_stats
        st["max_abs_inventory"][i] = max(st["max_abs_inventory"][i], abs(inv[i]))
        st["at_cap_s"][i] += comp["at_cap"]
        return comp

    def _executor_components(self, j, inv, cash, c) -> dict:
        cfg = self.config
        slot = cfg.agent_makers + j
        t = self.episode.sim.t_s
        if math.isnan(self._exec_arrival) and t >= self._exec_start:
            self._exec_arrival = self.episode.sim.mid if t == self._exec_start else self._arrival_mid()
        sold = float(self._last_inv[slot] - inv[slot])
        proceeds = float(cash[slot] - self._last_cash[slot])
        shortfall = 0.0
        if sold > 0 and self._exec_arrival > 0:
            shortfall = (sold * self._exec_arrival - proceeds) / (cfg.executor_size * self._exec_arrival) * 1e4
        self._exec_sold[j] += sold
        self._exec_proceeds[j] += proceeds
        self._exec_shortfall[j] += shortfall
        if self._exec_sold[j] >= cfg.executor_size and math.isnan(self._exec_done_s[j]):
            self._exec_done_s[j] = t - self._exec_start
        unfinished = 0.0
        deadline = self._exec_start + cfg.executor_deadline_s
        if t >= min(deadline, self.episode.params.length_s) and j not in self._exec_penalised:
            self._exec_penalised.add(j)
            unfinished = max(0.0, 1.0 - self._exec_sold[j] / cfg.executor_size)
        return {"shortfall_bps": shortfall, "unfinished_frac": unfinished, "dislocation_pct": c["dislocation_pct"]}

    def _arrival_mid(self) -> float:
        """The mid at the executors' start second (from the observer's ring of mids)."""
        obs = self.episode.observer
        back = obs.t - self._exec_start
        if 0 <= back < obs.ring:
            return float(obs.mids[self._exec_start % obs.ring])
        return self.episode.sim.mid

    # ---------------------------------------------------------------- observations and info
    def _observations(self) -> dict:
        market = self.episode.obs.astype(np.float32)
        out = {}
        cfg = self.config
        inv = self.book.inventory()
        for a in self.agents:
            if a == "regulator":
                out[a] = market.copy()
            elif a.startswith("maker_"):
                i = int(a[6:])
                bid, ask = self.book.resting(i)
                extra = [inv[i] / self._cap, self._maker_pnl[i] / _PNL_SCALE_TICKS, bid, ask]
                out[a] = self._stack(market, extra)
            else:
                j = int(a[9:])
                t = self.episode.sim.t_s
                started = float(t >= self._exec_start)
                remaining = 1.0 - self._exec_sold[j] / cfg.executor_size
                left = (self._exec_start + cfg.executor_deadline_s - t) / cfg.executor_deadline_s
                extra = [remaining, started * float(remaining > 0), min(max(left, -1.0), 1.0) if started else 1.0,
                         self._exec_shortfall[j] / 100.0, started]
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
        inv, cash = self.book.inventory(), self.book.cash()
        mid = float(self.episode.sim.mid)
        base = {"time_s": float(self.episode.sim.t_s), "mid": mid}
        if agent.startswith("maker_"):
            i = int(agent[6:])
            out = {**base, "inventory": float(inv[i]), "cash": float(cash[i]), "pnl": float(cash[i] + inv[i] * mid),
                   "inventory_cap": float(self._cap), "halted": float(self.episode.sim.halted),
                   "move_10s_ticks": self._move_ticks(10)}
        else:
            j = int(agent[9:])
            out = {**base, "sold": float(self._exec_sold[j]),
                   "remaining": float(cfg.executor_size - self._exec_sold[j]),
                   "shortfall_bps": float(self._exec_shortfall[j])}
        info: dict[str, Any] = dict(out)
        if comp is not None:
            info["reward_components"] = comp
        return info

    def _move_ticks(self, s: int) -> float:
        obs = self.episode.observer
        k = min(s, obs.t)
        return float((obs.mids[obs.t % obs.ring] - obs.mids[(obs.t - k) % obs.ring]) / self._tick)

    def episode_metrics(self) -> dict:
        """The regulator env's crash metrics plus each maker's and executor's."""
        ep = self.episode
        m = ep.metrics.result()
        m["steps"] = self._steps
        m["seller_size"] = ep.params.seller_size
        inv, cash = self.book.inventory(), self.book.cash()
        mid = ep.sim.mid
        vol = ep.sim.agent_volume
        for i in range(self.config.agent_makers):
            m[f"maker_{i}_pnl"] = float(cash[i] + inv[i] * mid)
            m[f"maker_{i}_final_inventory"] = int(inv[i])
            m[f"maker_{i}_max_abs_inventory"] = float(self._maker_stats["max_abs_inventory"][i])
            m[f"maker_{i}_at_cap_s"] = float(self._maker_stats["at_cap_s"][i])
            m[f"maker_{i}_volume"] = int(vol[i])
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
    quote tight, skew against inventory, widen with the 10-s move, pull after a large move and
    flatten beyond ``dump_frac`` of the cap (the hot potato). Reads the maker's ``info``."""

    def __init__(self, pull_move_ticks: float = 30.0, dump_frac: float = 0.7, lean_frac: float = 0.3):
        self.pull_move_ticks = pull_move_ticks
        self.dump_frac = dump_frac
        self.lean_frac = lean_frac

    def act(self, obs, info) -> int:
        if not info or "inventory" not in info:
            return 1
        inv, cap = info["inventory"], max(info.get("inventory_cap", 1.0), 1.0)
        if abs(inv) > self.dump_frac * cap:
            return FLATTEN
        move = abs(info.get("move_10s_ticks", 0.0))
        if move >= self.pull_move_ticks:
            return 0
        base = 1 if move < 4 else (4 if move < 12 else 7)
        if inv > self.lean_frac * cap:
            return base + 1   # lean to sell
        if inv < -self.lean_frac * cap:
            return base + 2   # lean to buy
        return base


class RuleExecutor:
    """A fixed participation rate (default 9 %: the POV seller of 6 May 2010)."""

    def __init__(self, rate: float = 0.09):
        if rate not in EXECUTOR_RATES:
            raise ValueError(f"rate: expected one of {list(EXECUTOR_RATES)}, got {rate!r}")
        self.action = EXECUTOR_RATES.index(rate)

    def act(self, obs, info) -> int:
        return self.action
