"""One regulator episode: the simulator, what the exchange sees, the metrics — no Gymnasium.

Shared by the single env and its vectorised twin, so both give the same transitions: the
per-episode draws (scenario, seller size, news drop) come from the env's generator in a fixed
order, then the simulator is reset from the same generator.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .config import MarketConfig
from .metrics import COMPONENTS, EpisodeMetrics, shock_time_s
from .observe import Observer
from .sim import MarketSim, OMNISCIENT_FIELDS

#: info keys that are arrays or strings in the snapshot (the rest are scalars)
_ARRAY_FIELDS = ("depth_bid", "depth_ask", "maker_inventory")
_SKIP = frozenset(_ARRAY_FIELDS + ("done",))
#: what the observer's and the metrics' per-second accounting reads on the seconds between two
#: decisions (a full snapshot is taken on decision seconds only)
SECOND_FIELDS = ("t_s", "mid", "halted", "halt_kind", "n_halts", "halted_s_total", "fundamental", "spread_ticks",
                 "depth_bid_near", "volume", "buy_volume", "sell_volume", "maker_volume", "maker_net_inventory",
                 "seller_executed_qty", "seller_executed_value", "seller_remaining", "fundamental_volume")


def draw_params(config: MarketConfig, rng: np.random.Generator):
    """The episode's MarketParams: scenario from the mix, seller size and news drop from their
    ranges (each drawn only when configured, in this order)."""
    scenario = config.scenario
    if config.scenario_mix is not None:
        scenario = config.scenario_mix[int(rng.integers(len(config.scenario_mix)))]
    draws: dict[str, float] = {}
    base = config.params(scenario)
    if config.seller_size_range is not None:
        lo, hi = config.seller_size_range
        size = int(round(rng.uniform(lo, hi)))
        if base.seller_size > 0:
            draws["seller_size"] = size
    if config.news_drop_range is not None:
        lo, hi = config.news_drop_range
        drop = float(rng.uniform(lo, hi))
        if base.news_time_s >= 0:
            draws["news_drop_pct"] = drop
    return config.params(scenario, **draws) if draws else base


def episode_info(params) -> dict:
    """What a reset's info adds to the state: the episode's draws and the exchange's session."""
    return {"scenario": params.scenario, "seller_size": params.seller_size,
            "news_drop_pct": params.news_drop_pct if params.news_time_s >= 0 else 0.0,
            "pause_s": params.pause_s, "halt_s": params.halt_s,
            "session_offset_s": params.session_offset_s, "session_length_s": params.session_length_s,
            "length_s": params.length_s}


class RegulatorEpisode:
    """Runs one market at a time for the regulator env (``sim_class`` is swappable for tests)."""

    def __init__(self, config: MarketConfig, sim_class=MarketSim):
        self.config = config
        self.sim_class = sim_class
        p = config.params()
        self.depth_levels = p.depth_levels
        self.n_features = Observer(p.depth_levels, config.horizons_s, p.length_s, p.halt_s,
                                   liquidity=config.liquidity_features).size
        self.sim: Any = None  # a sim_class instance from the first start()
        self.done = True

    def start(self, rng: np.random.Generator) -> dict:
        """New episode; returns the reset info (the exchange-visible state and the session)."""
        cfg = self.config
        params = draw_params(cfg, rng)
        if params.depth_levels != self.depth_levels:
            raise ValueError("market.depth_levels may not change between episodes (it sets the observation size)")
        self.params = params
        if self.sim is None or self.sim.params != params:
            self.sim = self.sim_class(params)
        self.sim.reset(rng)
        s = self.sim.snapshot()
        self.observer = Observer(params.depth_levels, cfg.horizons_s, params.length_s, params.halt_s,
                                 maker_cap_total=params.n_makers * params.maker_inventory_cap,
                                 liquidity=cfg.liquidity_features)
        self.observer.reset(s)
        self.metrics = EpisodeMetrics(shock_time_s(params), params.length_s, params.seller_size, stress_s=cfg.stress_s)
        self.steps = 0
        self.reward_sum = 0.0
        self.done = False
        self.snapshot = s
        info = self.info(s)
        info.update(episode_info(params))
        return info

    @property
    def obs(self) -> np.ndarray:
        return self.observer.obs

    def advance(self, action: int) -> dict:
        """Apply ``action`` at the start of the next ``decision_s`` seconds, simulate them; returns
        the reward components summed over those seconds."""
        sim, obs, met = self.sim, self.observer, self.metrics
        total = dict.fromkeys(COMPONENTS, 0.0)
        a = action
        n = self.config.decision_s
        for k in range(n):
            sim.step(a)
            a = 0
            last = k == n - 1 or sim.done
            s = sim.snapshot() if last else {name: getattr(sim, name) for name in SECOND_FIELDS}
            obs.update(s, write=last)
            c = met.update(s)
            for key in COMPONENTS:
                total[key] += c[key]
            if last:
                break
        self.snapshot = s
        self.steps += 1
        self.done = bool(sim.done)
        return total

    def info(self, s: dict | None = None) -> dict:
        """Scalars of the state for ``info`` (the trajectory CSV gets each of them), as floats: the
        exchange-visible state, the fundamental and the seller's state (for plots and metrics, never
        for breakers: see :func:`exchange_view`) and the depth near the mid. A quantity that does not
        exist this second (best bid of an empty side, this second's vwap without trades, the
        indicative price outside halts, bands when off) is left out rather than NaN."""
        s = self.snapshot if s is None else s
        out = {"time_s": float(s["t_s"])}
        isfinite, skip = math.isfinite, _SKIP
        for k, v in s.items():
            if k in skip:
                continue
            v = float(v)
            if isfinite(v):      # absent when it does not exist now (no bid, no trade, no auction)
                out[k] = v
        # depth near the mid replaces the per-level arrays in the scalar view (the observation has levels)
        out["depth_bid"] = float(s["depth_bid_near"])
        out["depth_ask"] = float(s["depth_ask_near"])
        out["depth_bid_levels"] = float(sum(s["depth_bid"]))
        out["depth_ask_levels"] = float(sum(s["depth_ask"]))
        return out


def exchange_view(info: dict) -> dict:
    """``info`` without what an exchange cannot see (the fundamental value, the seller's state):
    what breakers may read."""
    return {k: v for k, v in info.items() if k not in OMNISCIENT_FIELDS}

