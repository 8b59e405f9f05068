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

A halt of ``n`` seconds covers the step whose action starts it and the next ``n - 1`` steps; the
reopening auction runs at the end of the last of them, so the state after that step already shows
continuous trading (``halted_s_total`` counts the ``n`` seconds).

Halt kinds: ``HALT_NONE`` (0, continuous trading), ``HALT_PAUSE`` (1), ``HALT_HALT`` (2). During a
halt ``indicative_price`` is the price the reopening auction would clear at now (NaN if the book
does not cross), visible to traders.

Randomness: ``reset(rng)`` draws the kernel's stream seed from ``rng`` (a numpy Generator); nothing
else is random, so one seed gives one market, bit for bit.

Batches: :class:`MarketBatch` holds N markets in one set of arrays and advances them with one
compiled call per second (``step(actions)``), each market giving exactly the path it gives alone
(:class:`MarketSim` is a batch of one) -- the building block of a vectorised twin. With
``threads=k`` (k > 1) the markets are cut into k slices stepped side by side on k threads (markets
share no state, so the paths stay the same); the default, 1, starts no thread pool.

External agents
---------------
The kernel opens two roles to outside controllers (RL agents, baselines, a PettingZoo view);
with neither used, every path is bit for bit what it was before they existed.

* **Agent makers** -- ``MarketSim(params, agent_makers=K)`` (``MarketBatch(params_list,
  agent_makers=K)``; K <= 16) adds K market makers the caller controls. They are *extra* traders:
  the scenario's ``n_makers`` rule makers stay, so the background market an agent meets is the
  scenario's own, and a study that wants an agent to *replace* rule makers lowers ``n_makers``
  (e.g. ``scenario_params("flash_crash", n_makers=9)`` plus one agent maker) -- both designs are
  one keyword away and neither is forced on the other roles.
  ``set_quotes(k, bid_offset_ticks, bid_size, ask_offset_ticks, ask_size)`` sets standing
  quotes from the next second on: at the start of every second each side is re-centred on the
  mid, the bid at ``ceil(mid) - bid_offset_ticks`` and the ask at ``floor(mid) + ask_offset_ticks``
  (mid in ticks; offset 1 joins the best quotes), post-only outside halts (a quote that would
  cross rests one tick inside the opposite best). A size of 0 pulls that side. An unchanged
  quote keeps its time priority; a moved or partly filled one is cancelled and re-posted at the
  back of its level. The background flow of the whole second then meets them with price-time
  priority; during a halt they rest (limit orders are accepted in reserved state) and can trade
  in the reopening auction. ``set_take(k, qty)``: a one-shot market order (+ buy / - sell,
  contracts) at the start of the next second, e.g. to dump inventory (void during a halt). The
  caller enforces any inventory cap (the kernel only records fills).
  State: ``agent_inventory`` (contracts), ``agent_cash`` (currency: sales add price x qty,
  purchases subtract it), ``agent_volume`` (contracts filled over the episode, both sides),
  ``agent_pnl`` (currency, mark-to-market at the mid: cash + inventory x mid), one entry per
  agent maker; ``agent_quote_prices(k)`` the resting (bid, ask), NaN when none. Agent fills do
  not count in ``maker_volume`` / ``maker_inventory`` (the rule makers'); ``maker_cash`` gives
  the rule makers' cash for a like-for-like PnL. ``MarketBatch`` has the same setters with a
  market index first (``set_quotes(e, k, ...)``) and ``agent_state(e)``.
* **External seller** -- the scenario's parent order (``seller_size`` contracts from
  ``seller_start_s``; ``seller_remaining``, ``seller_executed_qty`` and
  ``seller_executed_value`` (currency) as for the POV seller) can be driven by the caller:
  ``set_seller_child(qty)`` sells ``qty`` contracts with one market order at a random point of
  the next second (at most ``seller_remaining``; nothing during a halt, where market orders are
  void; one-shot: the seconds after sell nothing unless asked again), and
  ``set_seller_participation(rate)`` runs the POV rule at another participation rate from the
  next second on (``None``: the scenario's rate). Deadlines and penalties are the caller's
  business; the kernel just executes.
* ``reset`` clears every instruction (quotes pulled, seller back on its rule); set them after
  ``reset`` and before each ``step``. External makers sit out the warm-up.

Refinements of the agreed seam: ``snapshot`` also carries ``depth_bid_near``/``depth_ask_near``,
``vwap``, ``n_halts``, ``halted_s_total``, ``band_pct_now``, ``seller_active``,
``maker_net_inventory``, ``fundamental_volume``, ``total_book_events``, ``auction_volume``,
``activity`` and ``event_mid_ac1``; ``OMNISCIENT_FIELDS`` names what a breaker must not read;
``run(n_s)`` returns per-second series for experiments.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from ...config import boolean, number, one_of, param, validate
from . import layout as L
from .params_layout import PARAM_NAMES
from .scenarios import SCENARIO_PRESETS

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
    initial_price: float = param(5000.0, "fundamental value and first mid at t=0, currency",
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
    noise_lifetime_s: float = param(20.0, "mean lifetime of a resting noise limit order before its cancel, s",
                                    number(1.0, 1e6))
    noise_depth_ticks: float = param(20.0, "mean distance of noise limit orders behind the best quote, ticks",
                                     number(0.0, 1e4))
    noise_withdraw: float = param(0.0, "liquidity withdrawal: a noise limit order's distance behind the quote "
                                  "grows by this fraction per 10 bps the mid moved against it in 60 s (at most 4x)",
                                  number(0.0, 100.0))
    size_lognormal_mu: float = param(0.7, "log-mean of lognormal order sizes", number(-5.0, 10.0))
    size_lognormal_sigma: float = param(0.8, "log-sd of lognormal order sizes", number(0.0, 5.0))
    round_lot_frac: float = param(0.3, "fraction of orders of a round lot (1, 5, 10, 25, 50, 100)", number(0.0, 1.0))
    activity_vol: float = param(1.4, "sd of the log order-arrival intensity (sum of slow and fast OU "
                                "components: volatility clustering)", number(0.0, 5.0))
    activity_feedback: float = param(0.05, "self-excitation: intensity rises with recent |mid moves|",
                                     number(0.0, 10.0))
    # ---- market makers
    n_makers: int = param(10, "inventory-capped market makers (at most 64)", number(0, 64, integer=True))
    maker_inventory_cap: int = param(150, "each maker's inventory cap, contracts (both ways)", _pos_int)
    maker_quote_size: int = param(8, "contracts per maker quote level", _pos_int)
    maker_levels: int = param(3, "quote levels per side per maker", number(1, 8, integer=True))
    maker_half_spread_ticks: float = param(1.0, "maker half spread in calm, ticks", number(0.0, 1000.0))
    maker_refresh_per_s: float = param(1.0, "requotes per maker per second", number(0.0, 100.0))
    maker_stress_widen: float = param(0.3, "half spread grows by this times the recent mid move (ticks)",
                                      number(0.0, 100.0))
    maker_pull_move_ticks: float = param(60.0, "makers pull all quotes for a while when the mid moved this "
                                         "many ticks within 10 s", number(0.0, 1e6))
    maker_dump_frac: float = param(0.7, "beyond this fraction of the cap a maker dumps inventory with "
                                   "market orders (hot potato)", number(0.0, 1.0))
    maker_value_lean_ticks: float = param(200.0, "makers centre quotes on the mid moved towards their value "
                                          "estimate (the fundamental) by at most this many ticks",
                                          number(0.0, 1e4))
    # ---- fundamental and deep-value traders
    n_fundamental: int = param(100, "fundamental buyers and sellers", _pos_int)
    fundamental_rate_per_s: float = param(0.1, "arrival rate of each fundamental trader, per second",
                                          number(0.0, 100.0))
    fundamental_threshold_bps: float = param(5.0, "fundamental traders act on mispricing beyond this, bps",
                                             number(0.0, 1e4))
    fundamental_capacity: int = param(400, "net position limit of each fundamental trader, contracts", _pos_int)
    fundamental_vol_bps: float = param(0.6, "volatility of the fundamental value, bps per sqrt(second)",
                                       number(0.0, 1e3))
    fundamental_jumps_per_hour: float = param(6.0, "rate of small jumps of the fundamental value (news flow)",
                                              number(0.0, 3600.0))
    fundamental_jump_bps: float = param(8.0, "standard deviation of those jumps, bps", number(0.0, 1e4))
    intraday_u: float = param(2.0, "U-shaped intraday activity: extra activity at the open and the close "
                              "(decaying over 30 minutes)", number(0.0, 100.0))
    n_deep_value: int = param(40, "deep-value traders (buy far below fundamental and drive recoveries; sell "
                              "far above it)", _pos_int)
    deep_value_discount_pct: float = param(3.0, "deep-value traders act when the price is this far from "
                                           "fundamental, percent (individual thresholds spread above it)",
                                           number(0.0, 100.0))
    deep_value_rate_per_s: float = param(0.1, "arrival rate of each deep-value buyer once triggered, per s",
                                         number(0.0, 100.0))
    deep_value_capacity: int = param(300, "net position limit of each deep-value trader, contracts", _pos_int)
    # ---- momentum traders and stops
    n_momentum: int = param(50, "momentum traders (the feedback loop)", _pos_int)
    momentum_rate_per_s: float = param(0.03, "arrival rate of each momentum trader, per second", number(0.0, 100.0))
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
    reopen_signal_restart: bool = param(True, "after a reopening auction the algorithms' signals (momentum "
                                        "look-back, makers' stress, noise withdrawal) are measured from "
                                        "the reopening, not across the pause (False: across it; for "
                                        "experiments/market/pause_causal.py's mechanism test)", boolean)
    warmup_settle_pct: float = param(0.0, "if the 300-s warm-up ends with the mid more than this many percent "
                                     "from the fundamental, warm up again from a fresh book (at most "
                                     "warmup_settle_attempts warm-ups in all); 0: off. A thin book can end "
                                     "its warm-up in a bubble several percent away, which then corrects in "
                                     "the episode's first minutes: a crash before any seller", number(0.0, 100.0))
    warmup_settle_attempts: int = param(5, "the most warm-ups warmup_settle_pct may run",
                                        number(1, 100, integer=True))

    def __post_init__(self):
        validate(self)
        if self.band_min_pct > self.band_max_pct:
            raise ValueError(f"MarketParams.band_min_pct: expected <= band_max_pct ({self.band_max_pct}), "
                             f"got {self.band_min_pct}")


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
    "fundamental_volume", "total_volume", "book_events", "total_book_events", "auction_volume",
    "activity", "event_mid_ac1",
)
# What an exchange sees (breakers must not read the others): STATE_FIELDS minus these.
OMNISCIENT_FIELDS = ("fundamental", "seller_active", "seller_remaining", "seller_executed_qty",
                     "seller_executed_value", "fundamental_volume", "activity")


def pack_params(params: MarketParams) -> np.ndarray:
    """The numeric fields of ``params`` as the float64 vector the kernels read."""
    return np.array([float(getattr(params, name)) for name in PARAM_NAMES], dtype=np.float64)


class MarketBatch:
    """``n`` independent markets in one set of arrays, advanced together by one compiled call.

    :class:`MarketSim` is a batch of one. The markets may have different parameters; each is
    reset with its own generator, and a market gives the same path in a batch as alone.
    State attributes are numpy arrays with one entry per market (see :class:`MarketSim`).

    ``threads``: threads that step the markets (default 1: the serial kernel on the caller's
    thread, no pool; ``None``: one per CPU this process may use; capped at the number of markets).
    With ``k`` > 1 the markets are cut into ``k`` contiguous slices, the caller steps the first and
    a pool of ``k - 1`` Python threads the others, each through the serial kernel, which releases
    the GIL (``nogil``). A market's path is the same for every thread count (markets share no
    state). The serial default
    is deliberate: a batch is often one of several envs or workers per machine, and threads only
    pay where cores are free and each slice has enough markets (measured on 2 cores: slower than
    serial at 16 markets, ~1.4x at 64, ~1.7x at 256; ``experiments/market/speed.py``).
    Python threads rather than a numba ``prange`` kernel: numba's fork-safe ``workqueue`` layer
    cost ~0.15 ms per launch (3x the work of 16 markets), and its OpenMP layer stalls on busy
    shared cores. Do not step one batch from two Python threads at once.
    """

    def __init__(self, params_list, agent_makers: int = 0, threads: int | None = 1):
        params_list = list(params_list)
        if not params_list:
            raise ValueError("MarketBatch: expected at least one MarketParams")
        if isinstance(agent_makers, bool) or not isinstance(agent_makers, (int, np.integer)) \
                or not 0 <= agent_makers <= L.MAXA:
            raise ValueError(f"agent_makers: expected an integer in [0, {L.MAXA}], got {agent_makers!r}")
        self.agent_makers = int(agent_makers)
        if threads is not None and (isinstance(threads, bool) or not isinstance(threads, (int, np.integer))
                                    or threads < 1):
            raise ValueError(f"threads: expected an integer >= 1 or None, got {threads!r}")
        for p in params_list:
            if not isinstance(p, MarketParams):
                raise ValueError(f"MarketBatch: expected MarketParams, got {type(p).__name__}")
        self.params_list = params_list
        n = len(params_list)
        self.n = n
        self.threads = min(_thread_count(threads), n)
        self.prm = np.stack([pack_params(p) for p in params_list])
        nf = max(1, max(p.n_fundamental for p in params_list))
        nd = max(1, max(p.n_deep_value for p in params_list))
        nm = max(1, max(p.n_momentum for p in params_list))
        ns = max(p.stop_orders for p in params_list)
        self.ist = np.zeros((n, L.N_IST), np.int64)
        self.fst = np.zeros((n, L.N_FST), np.float64)
        self.od = np.zeros((n, L.CAP, L.N_OD), np.int64)
        self.lv = np.zeros((n, L.N_LV, L.NL), np.int64)
        self.free = np.zeros((n, L.CAP), np.int64)
        self.fills = np.zeros((n, 4, L.MAXF), np.int64)
        self.hist = np.zeros((n, L.N_H, L.HN), np.float64)
        self.mk = np.zeros((n, L.N_MK, L.MAXM + L.MAXA), np.float64)
        self.mko = np.full((n, L.MAXM, 2 * L.MAXQ), -1, np.int64)
        self.fu = np.zeros((n, 2, nf), np.float64)
        self.dv = np.zeros((n, 2, nd), np.float64)
        self.mo = np.zeros((n, 2, nm), np.float64)
        self.st = np.zeros((n, 3, ns), np.int64)
        self.rs = np.zeros((n, 4), np.uint64)
        self.ev = np.zeros((n, L.MAXEV), np.int64)
        self.ctl = np.zeros((n, L.N_CTL), np.float64)
        self.aq = np.zeros((n, L.MAXA, L.N_AQ), np.int64)
        self.aq[:, :, L.AQ_BID_OID] = -1
        self.aq[:, :, L.AQ_ASK_OID] = -1
        self.tick = np.array([p.tick_size for p in params_list])
        self._ready = np.zeros(n, bool)
        self._pool: tuple[int, ThreadPoolExecutor] | None = None  # (owner pid, pool), made on first use
        #: the regulator actions the next :meth:`_advance` applies (``step`` fills it)
        self.actions = np.zeros(n, np.int64)
        # the compiled step's arguments, kept while every market uses its full trader tables
        # (a reset with new parameters drops them: the tables may then be cut)
        self._args: tuple | None = None

    def __getstate__(self) -> dict:
        """Copies and pickles leave the thread pool behind (the copy makes its own on first use)."""
        state = vars(self).copy()
        state["_pool"] = None
        return state

    def _uniform_tables(self) -> bool:
        """Every market uses its full trader tables (one compiled call steps them all)."""
        return all(p.n_fundamental == self.fu.shape[2] and p.n_deep_value == self.dv.shape[2]
                   and p.n_momentum == self.mo.shape[2] and p.stop_orders == self.st.shape[2]
                   for p in self.params_list)

    def _arrays(self, e=None):
        """The market state arrays (without the external agents' control)."""
        names = ("prm", "ist", "fst", "od", "lv", "free", "fills", "hist", "mk", "mko", "fu", "dv",
                 "mo", "st", "rs", "ev")
        return tuple(getattr(self, k) if e is None else getattr(self, k)[e] for k in names)

    def _kernel_args(self, e=None):
        """What the compiled kernels take: the state arrays, then ``ctl`` and ``aq``."""
        return self._arrays(e) + ((self.ctl, self.aq) if e is None else (self.ctl[e], self.aq[e]))

    def _market_args(self, e: int) -> list:
        """Market ``e``'s kernel arguments with its trader tables cut to its populations."""
        p = self.params_list[e]
        arrs = list(self._kernel_args(e))
        arrs[10] = self.fu[e][:, :p.n_fundamental]
        arrs[11] = self.dv[e][:, :p.n_deep_value]
        arrs[12] = self.mo[e][:, :p.n_momentum]
        arrs[13] = self.st[e][:, :p.stop_orders]
        return arrs

    def reset_one(self, e: int, rng: np.random.Generator, params: MarketParams | None = None) -> None:
        """Reset market ``e`` (optionally with new parameters of the same table sizes)."""
        from .populations import reset_market
        if params is not None:
            if not isinstance(params, MarketParams):
                raise ValueError(f"MarketBatch.reset_one: expected MarketParams, got {type(params).__name__}")
            if (params.n_fundamental > self.fu.shape[2] or params.n_deep_value > self.dv.shape[2]
                    or params.n_momentum > self.mo.shape[2] or params.stop_orders > self.st.shape[2]):
                raise ValueError("MarketBatch.reset_one: new params need larger trader tables; build a new batch")
            self.params_list[e] = params
            self.prm[e] = pack_params(params)
            self.tick[e] = params.tick_size
            self._args = None
        self.fu[e].fill(0.0)
        self.dv[e].fill(0.0)
        self.mo[e].fill(0.0)
        self.st[e].fill(0)
        self.rs[e] = _seed(rng)
        self.ctl[e, L.C_N_AGENTS] = self.agent_makers
        reset_market(*self._market_args(e))
        self._ready[e] = True

    def step(self, actions) -> None:
        """Advance every market one second; ``actions[e]`` is market e's regulator action."""
        a = np.asarray(actions, dtype=np.int64).reshape(self.n)
        if a.min() < 0 or a.max() > 4:
            raise ValueError(f"regulator action: expected an integer in [0, 4], got {a.tolist()}")
        if not self._ready.all():
            raise RuntimeError("MarketBatch.step called before reset")
        self.actions[:] = a
        self._advance()

    def _advance(self) -> None:
        """One second of every market under ``actions``, which the caller checked (``step``,
        :class:`MarketSim` and the regulator twin): one compiled call for the batch, serially or in
        ``threads`` slices side by side, while every market uses its full trader tables; else one
        call per market on its own cut tables."""
        args = self._args
        if args is None:
            if not self._uniform_tables():
                from .populations import step_market
                for e in range(self.n):
                    step_market(*self._market_args(e), int(self.actions[e]))  # type: ignore[call-arg]  # as above
                return
            args = self._args = self._kernel_args() + (self.actions,)
        if self.threads > 1:
            self._step_threads(args)
        else:
            _step_batch(*args)

    def _step_threads(self, args: tuple) -> None:
        """One second of the batch, its markets cut into ``threads`` slices stepped side by side."""
        from .populations import step_batch
        k = self.threads   # at most the number of markets
        cuts = np.linspace(0, self.n, k + 1).round().astype(int)
        if self._pool is None or self._pool[0] != os.getpid():  # none yet, or inherited through fork
            self._pool = (os.getpid(), ThreadPoolExecutor(self.threads - 1, thread_name_prefix="MarketBatch"))
        pool = self._pool[1]
        slices = [tuple(x[lo:hi] for x in args) for lo, hi in zip(cuts[:-1], cuts[1:])]
        futures = [pool.submit(step_batch, *part) for part in slices[1:]]
        try:
            step_batch(*slices[0])  # type: ignore[call-arg]  # numba Dispatcher stub: no *args
        finally:
            for f in futures:
                f.result()  # re-raises a slice's error after every slice has finished

    # ------------------------------------------------------------- external agents (see module doc)
    def _agent(self, e: int, k: int) -> None:
        if not 0 <= e < self.n:
            raise ValueError(f"market index: expected an integer in [0, {self.n - 1}], got {e!r}")
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 0 <= k < self.agent_makers:
            raise ValueError(f"agent maker index: expected an integer in [0, {self.agent_makers - 1}] "
                             f"(agent_makers={self.agent_makers}), got {k!r}")

    def set_quotes(self, e: int, k: int, bid_offset_ticks: int, bid_size: int, ask_offset_ticks: int,
                   ask_size: int) -> None:
        """Standing quotes of agent maker ``k`` in market ``e`` from the next second on."""
        self._agent(e, k)
        vals = {"bid_offset_ticks": bid_offset_ticks, "bid_size": bid_size, "ask_offset_ticks": ask_offset_ticks,
                "ask_size": ask_size}
        for name, v in vals.items():
            lo, hi = (1, 1000) if name.endswith("ticks") else (0, 100_000)
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or not lo <= v <= hi:
                raise ValueError(f"{name}: expected an integer in [{lo}, {hi}], got {v!r}")
        row = self.aq[e, k]
        row[L.AQ_BID_OFF], row[L.AQ_BID_SIZE] = bid_offset_ticks, bid_size
        row[L.AQ_ASK_OFF], row[L.AQ_ASK_SIZE] = ask_offset_ticks, ask_size

    def set_take(self, e: int, k: int, qty: int) -> None:
        """One-shot market order of agent maker ``k`` (contracts, + buy / - sell) at the start of the
        next second (void during a halt)."""
        self._agent(e, k)
        if isinstance(qty, bool) or not isinstance(qty, (int, np.integer)) or abs(qty) > 100_000:
            raise ValueError(f"take qty: expected an integer in [-100000, 100000], got {qty!r}")
        self.aq[e, k, L.AQ_TAKE] = qty

    def set_seller_child(self, e: int, qty: int) -> None:
        """External seller: sell ``qty`` contracts with a market order during the next second (at
        most ``seller_remaining`` and 65,535; nothing during a halt). One-shot: the seconds after sell
        nothing unless asked again; the seller stays under external control until reset."""
        if not 0 <= e < self.n:
            raise ValueError(f"market index: expected an integer in [0, {self.n - 1}], got {e!r}")
        if isinstance(qty, bool) or not isinstance(qty, (int, np.integer)) or not 0 <= qty <= 65535:
            raise ValueError(f"seller child qty: expected an integer in [0, 65535] contracts, got {qty!r}")
        self.ctl[e, L.C_SELL_MODE] = L.SELL_QTY
        self.ctl[e, L.C_SELL_VALUE] = qty

    def set_seller_participation(self, e: int, rate: float | None) -> None:
        """The seller follows its POV rule at participation ``rate`` (share of the trailing window's
        volume, in [0, 1]) from the next second on; ``None`` returns it to the scenario's rule."""
        if not 0 <= e < self.n:
            raise ValueError(f"market index: expected an integer in [0, {self.n - 1}], got {e!r}")
        if rate is None:
            self.ctl[e, L.C_SELL_MODE] = L.SELL_RULE
            self.ctl[e, L.C_SELL_VALUE] = 0.0
            return
        if isinstance(rate, bool) or not isinstance(rate, (int, float, np.number)) or not 0.0 <= rate <= 1.0:
            raise ValueError(f"seller participation: expected a number in [0, 1], got {rate!r}")
        self.ctl[e, L.C_SELL_MODE] = L.SELL_RATE
        self.ctl[e, L.C_SELL_VALUE] = float(rate)

    def agent_state(self, e: int) -> dict:
        """Agent makers of market ``e``: inventory (contracts), cash (currency), volume (contracts,
        cumulative over the episode, both sides) and mark-to-market PnL at the mid (currency),
        each an array of ``agent_makers`` entries."""
        cols = slice(L.MAXM, L.MAXM + self.agent_makers)
        inv = self.mk[e, L.MK_INV, cols].copy()
        cash = self.mk[e, L.MK_CASH, cols].copy()
        mid = _mid_ticks_of(self.ist[e]) * self.tick[e]
        return {"inventory": inv.astype(np.int64), "cash": cash, "volume": self.mk[e, L.MK_VOL, cols].astype(np.int64),
                "pnl": cash + inv * mid}


def _thread_count(threads: int | None) -> int:
    """``threads``, or one per CPU this process may use for ``None``."""
    if threads is None:
        return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1))
    return int(threads)


def _step_batch(*args):
    from .populations import step_batch
    global _step_batch
    _step_batch = step_batch  # bind the compiled kernel on first use (keeps numba out of import)
    step_batch(*args)


def _mid_ticks_of(ist) -> float:
    """The mid in ticks of a market's ``ist`` (as :meth:`MarketSim.mid`, in ticks)."""
    if ist[L.I_HALT] != 0:
        ip = ist[L.I_INDICATIVE]
        return float(ip if ip >= 0 else ist[L.I_LAST])
    bb, ba, last = ist[L.I_BB], ist[L.I_BA], ist[L.I_LAST]
    if bb >= 0 and ba < L.NL:
        return 0.5 * (bb + ba)
    if bb >= 0:
        return 0.5 * (bb + max(bb + 1, last + 1))
    if ba < L.NL:
        return 0.5 * (min(ba - 1, last - 1) + ba)
    return float(last)


def _seed(rng: np.random.Generator) -> np.ndarray:
    if not isinstance(rng, np.random.Generator):
        raise ValueError(f"reset: expected a numpy Generator, got {type(rng).__name__}")
    from .rng import seed_state
    return seed_state(rng)


def _price(ticks, tick):
    return float(ticks) * tick


class MarketSim:
    """One simulated market, advanced one second per :meth:`step`.

    Read-only state after :meth:`reset` / :meth:`step` (currency prices, contract quantities):

    ``t_s`` seconds simulated; ``done`` ``t_s >= length_s``; ``mid`` (the mid of the best quotes;
    during a halt the indicative price, else the last trade); ``best_bid``, ``best_ask`` (NaN when a
    side is empty; during a halt the book may be crossed); ``spread_ticks`` (NaN if a side is empty);
    ``depth_bid``/``depth_ask`` (``depth_levels``,) int arrays: resting quantity at the best price
    and each tick behind it; ``depth_bid_near``/``depth_ask_near`` resting quantity within
    ``depth_window_pct`` of the mid; ``last_price``; ``vwap`` (this second, NaN if no trade);
    ``volume``, ``buy_volume`` (buyer-initiated), ``sell_volume``, ``n_trades`` this second
    (auction prints count in ``volume`` only); ``halted``, ``halt_kind``, ``halt_remaining_s``,
    ``n_halts``, ``halted_s_total``; ``indicative_price`` (NaN unless halted with a crossed book);
    ``auction_volume`` (matched at a reopening this second); ``band_pct_now`` (0: off),
    ``band_low``, ``band_high`` (NaN when off); ``limit_state_s``; ``fundamental``;
    ``reference_price``; ``open_price`` (price at t=0); ``seller_active``, ``seller_remaining``,
    ``seller_executed_qty``, ``seller_executed_value``; ``maker_inventory`` (per maker),
    ``maker_net_inventory``, ``maker_volume`` (this second, summed over makers' sides, so a
    maker-to-maker trade counts twice: the intermediary share of volume is
    ``maker_volume / (2 volume)``); ``fundamental_volume`` (this second, fundamental and
    deep-value traders' fills); ``total_volume`` (episode); ``book_events`` (this second:
    submissions, cancels, trades), ``total_book_events``; ``activity`` (the noise traders'
    intensity multiplier); ``event_mid_ac1`` (lag-1 autocorrelation of successive mid changes in
    event time, accumulated over the episode).
    """

    def __init__(self, params: MarketParams, agent_makers: int = 0):
        if not isinstance(params, MarketParams):
            raise ValueError(f"MarketSim: expected MarketParams, got {type(params).__name__}")
        self.params = params
        self._b = MarketBatch([params], agent_makers=agent_makers)
        self.agent_makers = self._b.agent_makers
        self._ist = self._b.ist[0]
        self._fst = self._b.fst[0]
        self._lv = self._b.lv[0]
        self._tick = params.tick_size

    def __deepcopy__(self, memo: dict) -> MarketSim:
        """A fork: an independent market that continues exactly as this one would (same state,
        same random stream), for counterfactuals from one state (experiments/market/pause_causal.py).
        A plain deep copy would turn the row views ``_ist``/``_fst``/``_lv`` into detached arrays:
        the copy would advance its batch while reading stale rows. (The batch's own compiled-step
        arguments hold whole arrays, which the copy's memo maps to the copied batch's.)"""
        c = object.__new__(type(self))
        memo[id(self)] = c
        for name, value in vars(self).items():
            if name not in ("_ist", "_fst", "_lv"):
                setattr(c, name, copy.deepcopy(value, memo))
        c._ist, c._fst, c._lv = c._b.ist[0], c._b.fst[0], c._b.lv[0]
        return c

    def reset(self, rng: np.random.Generator) -> None:
        """Start a new episode; all randomness of the episode derives from ``rng``."""
        self._b.reset_one(0, rng)

    def step(self, regulator_action: int = CONTINUE) -> None:
        """Apply ``regulator_action`` (see module docstring), then simulate one second."""
        a = int(regulator_action)
        if a != regulator_action or not 0 <= a <= 4:
            raise ValueError(f"regulator action: expected an integer in [0, 4], got {regulator_action!r}")
        b = self._b
        if not b._ready[0]:
            raise RuntimeError("MarketSim.step called before reset")
        if self._ist[L.I_T] >= self.params.length_s:
            raise RuntimeError("MarketSim.step called after the episode ended (t_s >= length_s); call reset")
        b.actions[0] = a
        b._advance()

    def run(self, n_s: int | None = None, action: int = CONTINUE) -> dict:
        """Step ``n_s`` seconds (default: to the end) under a constant action; per-second series."""
        n_s = self.params.length_s - self.t_s if n_s is None else int(n_s)
        keys = ("mid", "best_bid", "best_ask", "spread_ticks", "volume", "buy_volume", "sell_volume",
                "depth_bid_near", "depth_ask_near", "halted", "fundamental", "maker_net_inventory",
                "maker_volume", "seller_executed_qty", "last_price", "book_events")
        out: dict[str, np.ndarray] = {k: np.empty(n_s) for k in keys}
        for k in range(n_s):
            self.step(action)
            for key in keys:
                out[key][k] = getattr(self, key)
        out["t_s"] = np.arange(self.t_s - n_s + 1, self.t_s + 1)
        return out

    # ---------------------------------------------------------------- state (read-only)
    @property
    def t_s(self) -> int:
        return int(self._ist[L.I_T])

    @property
    def done(self) -> bool:
        return self.t_s >= self.params.length_s

    @property
    def halted(self) -> bool:
        return bool(self._ist[L.I_HALT] != 0)

    @property
    def halt_kind(self) -> int:
        return int(self._ist[L.I_HALT])

    @property
    def halt_remaining_s(self) -> int:
        return int(self._ist[L.I_HALT_REM])

    @property
    def n_halts(self) -> int:
        return int(self._ist[L.I_N_HALTS])

    @property
    def halted_s_total(self) -> int:
        return int(self._ist[L.I_HALTED_TOTAL])

    @property
    def best_bid(self) -> float:
        bb = self._ist[L.I_BB]
        return float(bb) * self._tick if bb >= 0 else math.nan

    @property
    def best_ask(self) -> float:
        ba = self._ist[L.I_BA]
        return float(ba) * self._tick if ba < L.NL else math.nan

    @property
    def spread_ticks(self) -> float:
        bb, ba = self._ist[L.I_BB], self._ist[L.I_BA]
        return float(ba - bb) if (bb >= 0 and ba < L.NL) else math.nan

    def _mid_ticks(self) -> float:
        return _mid_ticks_of(self._ist)

    @property
    def mid(self) -> float:
        return float(self._mid_ticks() * self._tick)

    def _depth(self, side: int) -> np.ndarray:
        n = self.params.depth_levels
        out = np.zeros(n, np.int64)
        if side > 0:
            bb = self._ist[L.I_BB]
            if bb >= 0:
                lo = max(bb - n + 1, 0)
                seg = self._lv[L.L_BQ, lo:bb + 1][::-1]
                out[:len(seg)] = seg
        else:
            ba = self._ist[L.I_BA]
            if ba < L.NL:
                seg = self._lv[L.L_AQ, ba:min(ba + n, L.NL)]
                out[:len(seg)] = seg
        return out

    @property
    def depth_bid(self) -> np.ndarray:
        return self._depth(1)

    @property
    def depth_ask(self) -> np.ndarray:
        return self._depth(-1)

    def _near(self, m: float, side: int) -> int:
        """Resting quantity within ``depth_window_pct`` of the mid ``m`` (ticks) on ``side``."""
        if side > 0:
            lo = max(int(math.ceil(m * (1 - self.params.depth_window_pct / 100))), 0)
            hi = min(int(math.floor(m)), L.NL - 1)
            return int(self._lv[L.L_BQ, lo:hi + 1].sum()) if hi >= lo else 0
        lo = max(int(math.ceil(m)), 0)
        hi = min(int(math.floor(m * (1 + self.params.depth_window_pct / 100))), L.NL - 1)
        return int(self._lv[L.L_AQ, lo:hi + 1].sum()) if hi >= lo else 0

    @property
    def depth_bid_near(self) -> int:
        return self._near(self._mid_ticks(), 1)

    @property
    def depth_ask_near(self) -> int:
        return self._near(self._mid_ticks(), -1)

    @property
    def last_price(self) -> float:
        return float(self._ist[L.I_LAST]) * self._tick

    @property
    def vwap(self) -> float:
        return float(self._fst[L.F_VWAP]) * self._tick

    @property
    def volume(self) -> int:
        return int(self._ist[L.I_VOL])

    @property
    def buy_volume(self) -> int:
        return int(self._ist[L.I_BUYVOL])

    @property
    def sell_volume(self) -> int:
        return int(self._ist[L.I_SELLVOL])

    @property
    def n_trades(self) -> int:
        return int(self._ist[L.I_NTR])

    @property
    def auction_volume(self) -> int:
        return int(self._ist[L.I_AUCTION_VOL])

    @property
    def indicative_price(self) -> float:
        ip = self._ist[L.I_INDICATIVE]
        return float(ip) * self._tick if (ip >= 0 and self.halted) else math.nan

    @property
    def band_pct_now(self) -> float:
        return float(self._fst[L.F_BAND_PCT])

    @property
    def band_low(self) -> float:
        lo = self._ist[L.I_BAND_LO]
        return float(lo) * self._tick if lo >= 0 else math.nan

    @property
    def band_high(self) -> float:
        hi = self._ist[L.I_BAND_HI]
        return float(hi) * self._tick if hi < L.NL else math.nan

    @property
    def limit_state_s(self) -> int:
        return int(self._ist[L.I_LIMIT_STATE])

    @property
    def fundamental(self) -> float:
        return float(self._fst[L.F_FUND]) * self._tick

    @property
    def reference_price(self) -> float:
        return float(self._fst[L.F_REF]) * self._tick

    @property
    def open_price(self) -> float:
        return float(self._ist[L.I_OPEN]) * self._tick

    @property
    def seller_active(self) -> bool:
        return bool(self._ist[L.I_SELL_ACTIVE])

    @property
    def seller_remaining(self) -> int:
        return int(self._ist[L.I_SELL_REM])

    @property
    def seller_executed_qty(self) -> int:
        return int(self._ist[L.I_SELL_EXEC])

    @property
    def seller_executed_value(self) -> float:
        return float(self._fst[L.F_SELL_VALUE])

    @property
    def maker_inventory(self) -> np.ndarray:
        return self._b.mk[0, L.MK_INV, :self.params.n_makers].astype(np.int64)

    @property
    def maker_net_inventory(self) -> int:
        return int(self._b.mk[0, L.MK_INV, :self.params.n_makers].sum())

    @property
    def maker_volume(self) -> int:
        return int(self._ist[L.I_MAKER_VOL])

    @property
    def fundamental_volume(self) -> int:
        return int(self._ist[L.I_FUND_VOL])

    @property
    def total_volume(self) -> int:
        return int(self._ist[L.I_TOTAL_VOL])

    @property
    def book_events(self) -> int:
        return int(self._ist[L.I_EVENTS])

    @property
    def total_book_events(self) -> int:
        return int(self._ist[L.I_TOTAL_EVENTS])

    @property
    def activity(self) -> float:
        return float(self._fst[L.F_ACTIVITY])

    @property
    def event_mid_ac1(self) -> float:
        sq = self._fst[L.F_EV_SQ]
        return float(self._fst[L.F_EV_CROSS] / sq) if sq > 0 else math.nan

    # ------------------------------------------------------------- external agents (see module doc)
    def set_quotes(self, k: int, bid_offset_ticks: int, bid_size: int, ask_offset_ticks: int, ask_size: int) -> None:
        """Standing quotes of agent maker ``k`` from the next second on (offsets >= 1 tick from the
        mid; size 0 pulls that side)."""
        self._b.set_quotes(0, k, bid_offset_ticks, bid_size, ask_offset_ticks, ask_size)

    def set_take(self, k: int, qty: int) -> None:
        """One-shot market order of agent maker ``k`` next second (contracts, + buy / - sell)."""
        self._b.set_take(0, k, qty)

    def set_seller_child(self, qty: int) -> None:
        """External seller: sell ``qty`` contracts (market order) during the next second only."""
        self._b.set_seller_child(0, qty)

    def set_seller_participation(self, rate: float | None) -> None:
        """The seller's POV rate from the next second on (``None``: the scenario's rule)."""
        self._b.set_seller_participation(0, rate)

    def _agent_cols(self) -> slice:
        return slice(L.MAXM, L.MAXM + self.agent_makers)

    @property
    def agent_inventory(self) -> np.ndarray:
        """Agent makers' inventories, contracts (int64, one per agent maker)."""
        return self._b.mk[0, L.MK_INV, self._agent_cols()].astype(np.int64)

    @property
    def agent_cash(self) -> np.ndarray:
        """Agent makers' cash, currency (sales add price x qty, purchases subtract it)."""
        return self._b.mk[0, L.MK_CASH, self._agent_cols()].copy()

    @property
    def agent_volume(self) -> np.ndarray:
        """Agent makers' filled volume over the episode, contracts (both sides)."""
        return self._b.mk[0, L.MK_VOL, self._agent_cols()].astype(np.int64)

    @property
    def agent_pnl(self) -> np.ndarray:
        """Agent makers' mark-to-market PnL, currency: cash + inventory x mid."""
        return self.agent_cash + self._b.mk[0, L.MK_INV, self._agent_cols()] * self.mid

    def agent_quote_prices(self, k: int) -> tuple[float, float]:
        """(bid, ask) prices, currency, of agent maker ``k``'s resting quotes (NaN: none resting)."""
        self._b._agent(0, k)
        out = []
        for col, side in ((L.AQ_BID_OID, 1), (L.AQ_ASK_OID, -1)):
            oid = self._b.aq[0, k, col]
            od = self._b.od[0]
            live = oid >= 0 and od[oid, L.O_SIDE] == side and od[oid, L.O_OWNER] == L.T_AGENT * L.OWNER_BASE + k
            out.append(float(od[oid, L.O_PRICE]) * self._tick if live else math.nan)
        return out[0], out[1]

    @property
    def maker_cash(self) -> np.ndarray:
        """Rule makers' cash, currency (their PnL is ``maker_cash + maker_inventory * mid``)."""
        return self._b.mk[0, L.MK_CASH, :self.params.n_makers].copy()

    def snapshot(self) -> dict:
        """The read-only state as a dict of python scalars (arrays as lists): every name of
        ``STATE_FIELDS``, in that order, with the value its property gives (the same arithmetic,
        read from one copy of the scalar state instead of ~40 property calls)."""
        ist = self._ist.tolist()
        fst = self._fst.tolist()
        tick = self._tick
        nan = math.nan
        p = self.params
        t, bb, ba, last, halt = ist[L.I_T], ist[L.I_BB], ist[L.I_BA], ist[L.I_LAST], ist[L.I_HALT]
        m = _mid_ticks_of(self._ist)
        has_bid, has_ask = bb >= 0, ba < L.NL
        ip, lo, hi = ist[L.I_INDICATIVE], ist[L.I_BAND_LO], ist[L.I_BAND_HI]
        inv = self._b.mk[0, L.MK_INV, :p.n_makers]
        sq = fst[L.F_EV_SQ]
        return {
            "t_s": t, "done": t >= p.length_s, "mid": float(m * tick),
            "best_bid": float(bb) * tick if has_bid else nan, "best_ask": float(ba) * tick if has_ask else nan,
            "spread_ticks": float(ba - bb) if (has_bid and has_ask) else nan,
            "depth_bid": self._depth(1).tolist(), "depth_ask": self._depth(-1).tolist(),
            "depth_bid_near": self._near(m, 1), "depth_ask_near": self._near(m, -1),
            "last_price": float(last) * tick, "vwap": fst[L.F_VWAP] * tick,
            "volume": ist[L.I_VOL], "buy_volume": ist[L.I_BUYVOL], "sell_volume": ist[L.I_SELLVOL],
            "n_trades": ist[L.I_NTR], "halted": halt != 0, "halt_kind": halt, "halt_remaining_s": ist[L.I_HALT_REM],
            "n_halts": ist[L.I_N_HALTS], "halted_s_total": ist[L.I_HALTED_TOTAL],
            "indicative_price": float(ip) * tick if (ip >= 0 and halt != 0) else nan,
            "band_pct_now": fst[L.F_BAND_PCT], "band_low": float(lo) * tick if lo >= 0 else nan,
            "band_high": float(hi) * tick if hi < L.NL else nan, "limit_state_s": ist[L.I_LIMIT_STATE],
            "fundamental": fst[L.F_FUND] * tick, "reference_price": fst[L.F_REF] * tick,
            "open_price": float(ist[L.I_OPEN]) * tick, "seller_active": bool(ist[L.I_SELL_ACTIVE]),
            "seller_remaining": ist[L.I_SELL_REM], "seller_executed_qty": ist[L.I_SELL_EXEC],
            "seller_executed_value": fst[L.F_SELL_VALUE], "maker_inventory": inv.astype(np.int64).tolist(),
            "maker_net_inventory": int(inv.sum()), "maker_volume": ist[L.I_MAKER_VOL],
            "fundamental_volume": ist[L.I_FUND_VOL], "total_volume": ist[L.I_TOTAL_VOL],
            "book_events": ist[L.I_EVENTS], "total_book_events": ist[L.I_TOTAL_EVENTS],
            "auction_volume": ist[L.I_AUCTION_VOL], "activity": fst[L.F_ACTIVITY],
            "event_mid_ac1": fst[L.F_EV_CROSS] / sq if sq > 0 else nan,
        }
