"""The market simulator: one limit order book, background traders, halts (no Gymnasium here).

This module is the seam between the simulation core and the regulator env. Everything the env
needs is here: the regulator actions, :class:`MarketParams` (every knob, JSON-safe), the scenario
presets (:func:`scenario_params`) and :class:`MarketSim`, whose read-only state after ``reset`` and
each ``step`` is what an exchange (and, for metrics, an omniscient observer) sees.

Time and prices
---------------
* One ``step`` is one simulated second. Within the second the background traders' orders arrive
  one by one in random order and are matched with price-time priority on an integer tick grid
  (``book.py``; the kernel is compiled with numba).
* Prices reported by :class:`MarketSim` are in **currency** (``tick_size`` per tick) unless the
  name says ``_ticks``. Quantities are in contracts (integers).
* The regulator's action is applied at the **start** of the step.

Regulator actions
-----------------
``CONTINUE``       nothing changes (does not end a running halt early).
``PAUSE``          reserved state for ``pause_s`` seconds (CME Stop Logic): orders are accepted, none
                   is matched; market and IOC orders are cancelled; reopening by a call auction. During
                   a running halt it extends the remaining time to at least ``pause_s``.
``HALT``           the same mechanics for ``halt_s`` seconds (a trading pause, e.g. LULD's 5 minutes);
                   upgrades a running pause.
``WIDEN_BANDS``    price bands x ``band_step_factor`` (at most ``band_max_pct``; bands off stay off).
``TIGHTEN_BANDS``  price bands / ``band_step_factor`` (at least ``band_min_pct``; bands off become
                   ``band_max_pct``).

Price bands (``band_pct > 0``) are checked on every trade: no trade executes outside
``[band_low, band_high]`` around ``reference_price`` (mean trade price over ``reference_window_s``);
an order that would trade beyond the band rests at the band instead. A best quote resting at a band
puts the market in *limit state*; ``limit_state_s`` counts its seconds. Whether a limit state turns
into a halt is the regulator's decision (the LULD rule returns ``HALT`` after 15 s).

Halt kinds: ``HALT_NONE`` (0, continuous trading), ``HALT_PAUSE`` (1), ``HALT_HALT`` (2). During a
halt ``indicative_price`` is the price the reopening auction would clear at now (NaN if the book
does not cross), visible to traders.

Randomness: ``reset(rng)`` draws the kernel's stream seed from ``rng`` (a numpy Generator); nothing
else is random, so one seed gives one market, bit for bit.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from ...config import boolean, number, one_of, param, validate

CONTINUE, PAUSE, HALT, WIDEN_BANDS, TIGHTEN_BANDS = range(5)
ACTION_NAMES = ("continue", "pause", "halt", "widen_bands", "tighten_bands")
HALT_NONE, HALT_PAUSE, HALT_HALT = range(3)
SCENARIOS = ("calm", "flash_crash", "news", "mini_crash")

_pos_int = number(0, 10**9, integer=True)


@dataclass(frozen=True)
class MarketParams:
    """Every knob of the simulated market (plain JSON-safe values).

    Build one with :func:`scenario_params` (scenario presets + overrides) rather than directly:
    the scenario presets set the seller, the news and the episode length consistently.
    """

    # ---- scenario and clock
    scenario: str = param("calm", "calm | flash_crash | news | mini_crash", one_of(*SCENARIOS))
    length_s: int = param(23400, "episode length, simulated seconds (a 6.5-hour day is 23,400)",
                          number(1, 10**7, integer=True))
    session_offset_s: int = param(0, "seconds since the session open at t=0 (LULD open/close doubling)",
                                  number(0, 10**6, integer=True))
    session_length_s: int = param(23400, "trading-session length for open/close band doubling, s",
                                  number(1, 10**7, integer=True))
    # ---- instrument
    tick_size: float = param(0.25, "price tick, currency (E-mini: 0.25 index points)", number(1e-6, 1e6, lo_open=True))
    initial_price: float = param(1000.0, "fundamental value and first mid at t=0, currency",
                                 number(1e-6, 1e9, lo_open=True))
    depth_levels: int = param(10, "price levels from the best quote reported in depth_bid/depth_ask",
                              number(1, 100, integer=True))
    depth_window_pct: float = param(1.0, "depth_bid_near/depth_ask_near count resting quantity within this "
                                    "percentage of the mid", number(0.01, 50.0))
    # ---- noise traders
    n_noise: int = param(800, "noise traders", _pos_int)
    noise_orders_per_s: float = param(12.0, "mean noise-trader orders per second (all noise traders together)",
                                      number(0.0, 10000.0))
    noise_market_frac: float = param(0.2, "fraction of noise orders that are market orders", number(0.0, 1.0))
    noise_ioc_frac: float = param(0.05, "fraction of noise orders that are IOC limit orders", number(0.0, 1.0))
    noise_lifetime_s: float = param(120.0, "mean lifetime of a resting noise limit order before its cancel, s",
                                    number(1.0, 1e6))
    noise_depth_ticks: float = param(6.0, "mean distance of noise limit orders behind the best quote, ticks",
                                     number(0.0, 1e4))
    size_lognormal_mu: float = param(0.7, "log-mean of lognormal order sizes", number(-5.0, 10.0))
    size_lognormal_sigma: float = param(0.8, "log-sd of lognormal order sizes", number(0.0, 5.0))
    round_lot_frac: float = param(0.3, "fraction of orders of a round lot (1, 5, 10, 25, 50, 100)", number(0.0, 1.0))
    activity_vol: float = param(0.6, "sd of the log order-arrival intensity (sum of slow and fast OU "
                                "components: volatility clustering)", number(0.0, 5.0))
    activity_feedback: float = param(0.3, "self-excitation: intensity rises with recent |mid moves|",
                                     number(0.0, 10.0))
    # ---- market makers
    n_makers: int = param(10, "inventory-capped market makers (at most 64)", number(0, 64, integer=True))
    maker_inventory_cap: int = param(150, "each maker's inventory cap, contracts (both ways)", _pos_int)
    maker_quote_size: int = param(8, "contracts per maker quote level", _pos_int)
    maker_levels: int = param(3, "quote levels per side per maker", number(1, 8, integer=True))
    maker_half_spread_ticks: float = param(1.0, "maker half spread in calm, ticks", number(0.0, 1000.0))
    maker_refresh_per_s: float = param(1.0, "requotes per maker per second", number(0.0, 100.0))
    maker_stress_widen: float = param(2.0, "half spread grows by this times the recent mid move (ticks)",
                                      number(0.0, 100.0))
    maker_pull_move_ticks: float = param(12.0, "makers pull all quotes for a while when the mid moved this "
                                         "many ticks within 10 s", number(0.0, 1e6))
    maker_dump_frac: float = param(0.7, "beyond this fraction of the cap a maker dumps inventory with "
                                   "market orders (hot potato)", number(0.0, 1.0))
    # ---- fundamental and deep-value traders
    n_fundamental: int = param(100, "fundamental buyers and sellers", _pos_int)
    fundamental_rate_per_s: float = param(0.02, "arrival rate of each fundamental trader, per second",
                                          number(0.0, 100.0))
    fundamental_threshold_bps: float = param(15.0, "fundamental traders act on mispricing beyond this, bps",
                                             number(0.0, 1e4))
    fundamental_capacity: int = param(400, "contracts each fundamental trader may trade per day", _pos_int)
    fundamental_vol_bps: float = param(0.0, "volatility of the fundamental value, bps per sqrt(second)",
                                       number(0.0, 1e3))
    n_deep_value: int = param(40, "deep-value buyers (arrive far below fundamental; drive recovery)", _pos_int)
    deep_value_discount_pct: float = param(3.0, "deep-value buyers act when the price is this far below "
                                           "fundamental, percent (individual thresholds spread above it)",
                                           number(0.0, 100.0))
    deep_value_rate_per_s: float = param(0.1, "arrival rate of each deep-value buyer once triggered, per s",
                                         number(0.0, 100.0))
    deep_value_capacity: int = param(300, "contracts each deep-value buyer may buy", _pos_int)
    # ---- momentum traders and stops
    n_momentum: int = param(50, "momentum traders (the feedback loop)", _pos_int)
    momentum_rate_per_s: float = param(0.05, "arrival rate of each momentum trader, per second", number(0.0, 100.0))
    momentum_lookback_s: int = param(60, "momentum signal: mid change over this many seconds",
                                     number(1, 3600, integer=True))
    momentum_threshold_bps: float = param(20.0, "momentum traders trade when |move| exceeds this, bps",
                                          number(0.0, 1e4))
    momentum_max_position: int = param(100, "position limit of each momentum trader, contracts", _pos_int)
    stop_orders: int = param(200, "resting stop-loss orders kept around the price (half sell stops below, "
                             "half buy stops above)", number(0, 4096, integer=True))
    stop_distance_pct: float = param(1.0, "mean distance of stop triggers from the price, percent",
                                     number(0.0, 100.0))
    # ---- the POV seller
    seller_size: int = param(0, "contracts the large seller must sell (0: no seller)", _pos_int)
    seller_participation: float = param(0.09, "seller's target share of the trailing window's volume",
                                        number(0.0, 1.0))
    seller_window_s: int = param(60, "trailing volume window of the seller, s", number(1, 3600, integer=True))
    seller_start_s: int = param(900, "second at which the seller starts", _pos_int)
    # ---- news
    news_time_s: int = param(-1, "second of a true fundamental jump (-1: none)", number(-1, 10**7, integer=True))
    news_drop_pct: float = param(0.0, "size of the fundamental drop at news_time_s, percent", number(-100.0, 100.0))
    # ---- exchange rules
    pause_s: int = param(5, "length of a PAUSE (reserved state), s", number(1, 3600, integer=True))
    halt_s: int = param(300, "length of a HALT, s", number(1, 36000, integer=True))
    band_pct: float = param(0.0, "price band around the reference price, percent (0: no bands)",
                            number(0.0, 100.0))
    band_min_pct: float = param(1.0, "tightest band TIGHTEN_BANDS reaches, percent", number(0.0, 100.0, lo_open=True))
    band_max_pct: float = param(20.0, "widest band WIDEN_BANDS reaches, percent", number(0.0, 100.0, lo_open=True))
    band_step_factor: float = param(2.0, "WIDEN/TIGHTEN multiply/divide the band by this", number(1.0, 100.0))
    band_double_open_close: bool = param(False, "double the band in the session's first 15 and last 25 "
                                         "minutes (LULD)", boolean)
    reference_window_s: int = param(300, "reference price: mean trade price over this many seconds",
                                    number(1, 36000, integer=True))

    def __post_init__(self):
        validate(self)
        if self.band_min_pct > self.band_max_pct:
            raise ValueError(f"MarketParams.band_min_pct: expected <= band_max_pct ({self.band_max_pct}), "
                             f"got {self.band_min_pct}")


# Scenario presets: overrides of the MarketParams defaults (which are the calm day).
SCENARIO_PRESETS: dict[str, dict[str, Any]] = {
    "calm": {},
    "flash_crash": {"length_s": 3600, "seller_size": 6000, "seller_start_s": 900},
    "news": {"length_s": 3600, "news_time_s": 900, "news_drop_pct": 4.0},
    "mini_crash": {"length_s": 3600, "seller_size": 2000, "seller_start_s": 900},
}


def scenario_params(name: str, **overrides) -> MarketParams:
    """The preset of scenario ``name`` with ``overrides`` applied (unknown names raise ValueError)."""
    if name not in SCENARIO_PRESETS:
        raise ValueError(f"scenario: expected one of {list(SCENARIO_PRESETS)}, got {name!r}")
    known = {f.name for f in dataclasses.fields(MarketParams)}
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise ValueError(f"MarketParams: unknown field(s) {unknown}; known fields: {sorted(known)}")
    return MarketParams(**{**SCENARIO_PRESETS[name], **overrides, "scenario": name})


# Names of the read-only state (see MarketSim); snapshot() returns them as python scalars/lists.
STATE_FIELDS = (
    "t_s", "done", "mid", "best_bid", "best_ask", "spread_ticks", "depth_bid", "depth_ask",
    "depth_bid_near", "depth_ask_near", "last_price", "vwap", "volume", "buy_volume", "sell_volume",
    "n_trades", "halted", "halt_kind", "halt_remaining_s", "n_halts", "halted_s_total",
    "indicative_price", "band_pct_now", "band_low", "band_high", "limit_state_s", "fundamental",
    "reference_price", "open_price", "seller_active", "seller_remaining", "seller_executed_qty",
    "seller_executed_value", "maker_inventory", "maker_net_inventory", "maker_volume",
    "fundamental_volume", "total_volume", "book_events", "total_book_events",
)
# What an exchange sees (breakers must not read the others): STATE_FIELDS minus these.
OMNISCIENT_FIELDS = ("fundamental", "seller_active", "seller_remaining", "seller_executed_qty",
                     "seller_executed_value", "fundamental_volume")


class MarketSim:
    """One simulated market, advanced one second per :meth:`step`.

    Read-only state after :meth:`reset` / :meth:`step` (currency prices, contract quantities):

    ``t_s`` seconds simulated; ``done`` ``t_s >= length_s``; ``mid``, ``best_bid``, ``best_ask``
    (NaN when a side is empty; ``mid`` then falls back to the other side or the last price);
    ``spread_ticks``; ``depth_bid``/``depth_ask`` (``depth_levels``,) int arrays: resting quantity at
    the best price and each tick behind it; ``depth_bid_near``/``depth_ask_near`` resting quantity
    within ``depth_window_pct`` of the mid; ``last_price``; ``vwap`` (this second, NaN if no trade);
    ``volume``, ``buy_volume`` (buyer-initiated), ``sell_volume``, ``n_trades`` this second;
    ``halted``, ``halt_kind``, ``halt_remaining_s``, ``n_halts``, ``halted_s_total``;
    ``indicative_price``; ``band_pct_now`` (0: off), ``band_low``, ``band_high`` (NaN when off);
    ``limit_state_s``; ``fundamental``; ``reference_price``; ``open_price``; ``seller_active``,
    ``seller_remaining``, ``seller_executed_qty``, ``seller_executed_value``; ``maker_inventory``
    (per maker), ``maker_net_inventory``, ``maker_volume`` (this second, gross); ``fundamental_volume``
    (this second, fundamental and deep-value traders); ``total_volume`` (episode); ``book_events``
    (this second: submissions, cancels, trades), ``total_book_events``.
    """

    def __init__(self, params: MarketParams):
        if not isinstance(params, MarketParams):
            raise ValueError(f"MarketSim: expected MarketParams, got {type(params).__name__}")
        self.params = params

    def reset(self, rng: np.random.Generator) -> None:
        """Start a new episode; all randomness of the episode derives from ``rng``."""
        raise NotImplementedError

    def step(self, regulator_action: int = CONTINUE) -> None:
        """Apply ``regulator_action`` (see module docstring), then simulate one second."""
        raise NotImplementedError

    def snapshot(self) -> dict:
        """The read-only state as a dict of python scalars (arrays as lists)."""
        out = {}
        for name in STATE_FIELDS:
            v = getattr(self, name)
            out[name] = v.tolist() if isinstance(v, np.ndarray) else (v.item() if hasattr(v, "item") else v)
        return out
