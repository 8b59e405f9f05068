"""Gymnasium env: the exchange's circuit breaker as a learning agent."""

from __future__ import annotations

import math
import operator

import gymnasium as gym
import numpy as np

from ...config import config_reset_option, override, to_dict
from ...reward import resolve
from .config import MarketConfig
from .episode import RegulatorEpisode
from .metrics import COMPONENTS
from .observe import OBS_BOUND, feature_names
from .sim import ACTION_NAMES, MarketSim


def build_reward(config: MarketConfig):
    """The reward function of ``config`` and its weights (None for a non-linear reward)."""
    fn = resolve(config.reward, components=COMPONENTS, domain="market")
    return fn, getattr(fn, "weights", None)


def scalar_reward(fn, weights, c: dict) -> float:
    if weights is not None:
        r = 0.0
        for key, w in weights:
            r = r + w * c[key]
        return r
    r = fn(c)
    try:
        r = float(r)
    except (TypeError, ValueError):
        raise ValueError(f"reward function {fn!r} returned {r!r}; expected a number") from None
    if not math.isfinite(r):
        raise ValueError(f"reward function {fn!r} returned {r!r} for components {c}")
    return r


class FlashCrashRegulatorEnv(gym.Env):
    """The exchange decides, second by second, whether to pause trading in a market that may crash.

    ## Description

    A limit-order-book market (:class:`~feedbackgym.envs.market.sim.MarketSim`: noise traders,
    inventory-capped market makers, fundamental and deep-value traders, momentum traders,
    stop-loss orders and, on crash days, a large seller targeting a share of the trailing
    minute's volume with no regard to price — the program of 6 May 2010) runs one simulated
    second at a time. The agent is the exchange: every ``decision_s`` seconds it may let trading
    continue, pause matching for a few seconds (CME Stop Logic's reserved state), halt longer
    (LULD's 5-minute pause), or widen or tighten the price bands. A well-timed short pause
    breaks the feedback loop of the crash (the CFTC-SEC report, 2010; Kirilenko et al.,
    J. Finance 2017); halting on a true news day only delays a price that must move, and halts
    keyed to price levels can draw prices toward them (the magnet effect). The circuit-breaker
    rules in force (``none``, ``stop_logic``, ``dynamic_cb``, ``luld``, ``mwcb``) are the baselines.

    ## Action Space

    ``Discrete(5)``: 0 continue, 1 pause (reserved state for ``pause_s`` = 5 s; during a halt it
    extends it to at least 5 s more), 2 halt (``halt_s`` = 300 s), 3 widen bands (x2, bands off
    stay off), 4 tighten bands (/2; bands off switch on at 20 %). Continue never ends a running
    halt early. Actions outside the space raise ``ValueError``.

    ## Observation Space

    ``Box(-10, 10, (n,), float32)``, what an exchange sees (never the fundamental value or the
    seller), each feature scaled to order one and clipped to the box
    (:mod:`feedbackgym.envs.market.observe`; ``env.unwrapped.feature_names`` lists them). With
    the default 10 depth levels and horizons 5, 30, 120, 600 s, n = 50 (54 with
    ``liquidity_features=True``, the last four rows):

    | features                          | meaning                                                |
    |-----------------------------------|--------------------------------------------------------|
    | mid_vs_open, mid_vs_reference     | mid vs the open and vs the 5-min mean trade price, % / 5 |
    | mid_vs_high_10min                 | mid vs the highest mid of the last 10 min, % / 5       |
    | spread                            | ln(1 + spread ticks) / ln 101                          |
    | depth_bid_near, depth_ask_near    | ln(1 + contracts within 1 % of the mid) / 8           |
    | depth_bid_k, depth_ask_k          | ln(1 + contracts at the k-th tick from the best) / 6   |
    | return_h                          | per horizon h: mid return % / 2                        |
    | volume_h                          | per horizon h: ln of volume per s vs its running mean / 3 |
    | imbalance_h                       | per horizon h: (buy - sell) / (buy + sell + 1)         |
    | halted, paused, halt_long         | halt state (0/1)                                       |
    | halt_remaining, limit_state       | halt seconds left / halt_s; limit-state seconds / 15   |
    | band_pct, mid_vs_band_low, band_high_vs_mid | band width / 20 %; distances to the bands, % / 5 (10 when off) |
    | indicative_vs_mid                 | reopening auction's indicative price vs the mid, % / 5 (halts) |
    | since_reopen, halts_so_far, progress | min(s since last reopening / 600, 1); halts / 10; t / episode length |
    | return_prior                      | mid move from 300 s to 20 s ago (pressure before the latest leg), % / 2 |
    | maker_share_60s                   | market makers' share of the trade sides over 60 s (hot potato) |
    | maker_inventory                   | makers' net inventory / the sum of their caps          |
    | depth_vs_normal                   | ln((bid depth within 1 %) / its 10-min running mean) / 3 |

    ## Rewards

    Per step, minus a weighted sum of the components in ``info["reward_components"]``, each
    summed over the step's seconds: ``dislocation_pct`` (abs(mid - fundamental) / fundamental,
    %), ``spread_excess_ticks`` (spread beyond one tick), ``halted_s`` (seconds halted),
    ``lost_fundamental_volume`` (fundamental volume a halted second would have traded) and
    ``magnet_pct`` (fall below the reopening price in the 2 min after a halt). Presets
    (``feedbackgym.reward.list_rewards("market")``): ``market_balanced`` (the composite loss of
    the episode metrics), ``market_price``, ``market_liquidity``; or a weights dict, a
    ``"module:function"`` string, or a callable.

    ## Starting State

    A fresh market of the scenario (drawn from ``scenario_mix`` if set) at its initial price,
    books built by the background traders from the env's seed; on ``flash_crash`` and
    ``mini_crash`` days the seller starts at ``seller_start_s`` (15 min), on ``news`` days the
    fundamental value drops at ``news_time_s``.

    ## Episode End

    ``terminated`` when the simulated session ends (``length_s``: an hour on shock days, 6.5 h
    on calm days); no truncation. ``info["episode_metrics"]`` then holds the crash metrics of
    :mod:`feedbackgym.envs.market.metrics` (drawdown, time to trough and to 50 / 90 %
    retracement, halted seconds and halts, calm and stress spreads, depth fraction, maker volume
    share and hot-potato ratio, seller completion and shortfall, dislocation, composite loss).

    ## Arguments

    ``gym.make("feedbackgym/FlashCrashRegulator-v0", **fields)`` with the fields of
    :class:`~feedbackgym.envs.market.config.MarketConfig` (``scenario``, ``market`` overrides of
    the simulator, ``scenario_mix``, ``seller_size_range``, ``news_drop_range``, ``decision_s``,
    ``horizons_s``, ``liquidity_features``, ``stress_s``, ``reward``); ``reset(options={"config": {...}})`` changes
    fields for the coming episodes (not the spaces).

    ## Vectorised version

    ``gym.make_vec("feedbackgym/FlashCrashRegulator-v0", num_envs=N)`` gives
    :class:`~feedbackgym.envs.market.vector.FlashCrashRegulatorVectorEnv`: the N markets in one
    :class:`~feedbackgym.envs.market.sim.MarketBatch`, each simulated second one compiled call
    for all of them and one for their observations, metrics and reward components (the kernels
    this env runs on a batch of one), infos built as arrays; the same transitions as N single
    envs seeded ``seed, seed+1, ...``.

    ## Version History

    * v0: initial version.
    """

    metadata = {"render_modes": ["ansi"], "render_fps": 1}
    config_class = MarketConfig
    #: the simulator class (tests swap in a stand-in)
    sim_class = MarketSim

    def __init__(self, config: MarketConfig | dict | None = None, render_mode: str | None = None, **overrides):
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode: expected one of {self.metadata['render_modes']} or None, "
                             f"got {render_mode!r}")
        self.render_mode = render_mode
        base = config if isinstance(config, MarketConfig) else override(MarketConfig(), config)
        self._configure(override(base, overrides))
        self.action_space = gym.spaces.Discrete(len(ACTION_NAMES))
        self.observation_space = gym.spaces.Box(-OBS_BOUND, OBS_BOUND, (self.episode.n_features,), np.float32)
        self._done = True

    def _configure(self, config: MarketConfig) -> None:
        self.config = config
        self.episode = RegulatorEpisode(config, self.sim_class)
        self._reward, self._weights = build_reward(config)
        self.feature_names = feature_names(self.episode.depth_levels, config.horizons_s, config.liquidity_features)

    @property
    def params(self):
        """The current episode's :class:`MarketParams`."""
        return self.episode.params

    @property
    def sim(self):
        return self.episode.sim

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        # Everything that can fail is checked before anything changes: a failed reset leaves the
        # env as it was (config, generator and the episode in progress).
        cfg, options = config_reset_option(self.config, options)
        if cfg is not self.config:
            if (cfg.horizons_s != self.config.horizons_s or cfg.params().depth_levels != self.episode.depth_levels
                    or cfg.liquidity_features != self.config.liquidity_features):
                raise ValueError("reset option 'config' may not change the observation space "
                                 "(horizons_s, market.depth_levels, liquidity_features); make a new env instead")
        if options:
            raise ValueError(f"unknown reset option(s) {sorted(options)}; known: config")
        super().reset(seed=seed)
        if cfg is not self.config:
            self._configure(cfg)
        info = self.episode.start(self.np_random)
        self._done = False
        self._reward_sum = 0.0
        self._actions = np.zeros(len(ACTION_NAMES), dtype=np.int64)
        return self.episode.obs.astype(np.float32), info

    def step(self, action):
        if self._done:
            raise RuntimeError("FlashCrashRegulatorEnv.step() called after the episode ended; call reset() first")
        try:
            a = operator.index(action)
        except TypeError:
            raise ValueError(f"action {action!r}: expected an integer in Discrete(5) "
                             f"({', '.join(ACTION_NAMES)})") from None
        if not 0 <= a < len(ACTION_NAMES):
            raise ValueError(f"action {a} is outside Discrete(5) (0..4: {', '.join(ACTION_NAMES)})")
        ep = self.episode
        c = ep.advance(a)
        reward = scalar_reward(self._reward, self._weights, c)
        self._reward_sum += reward
        self._actions[a] += 1
        info = ep.info()
        info["reward_components"] = c
        terminated = ep.done
        if terminated:
            self._done = True
            info["episode_metrics"] = self.episode_metrics()
        return ep.obs.astype(np.float32), reward, terminated, False, info

    def episode_metrics(self) -> dict:
        m = self.episode.metrics.result()
        m["steps"] = self.episode.steps
        m["seller_size"] = self.episode.params.seller_size
        for name, n in zip(ACTION_NAMES, self._actions):
            m[f"actions_{name}"] = int(n)
        return m

    def render(self):
        if self.render_mode == "ansi":
            s = self.episode.snapshot
            return (f"t {s['t_s']} s mid {s['mid']:.2f} spread {s['spread_ticks']:.0f} ticks "
                    f"{'HALTED ' + str(s['halt_remaining_s']) + ' s' if s['halted'] else 'trading'} "
                    f"fundamental {s['fundamental']:.2f}")
        return None

    def get_config(self) -> dict:
        """JSON-safe config of this env (what a run folder records)."""
        return to_dict(self.config)
