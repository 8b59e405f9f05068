"""What the exchange sees and what an episode costs, for many markets per compiled call.

The regulator env accounts every simulated second twice: the observer's look-back state
(:mod:`~feedbackgym.envs.market.observe`) and the episode metrics with the reward components
(:mod:`~feedbackgym.envs.market.metrics`). In Python that per-second work costs several times
the simulated second itself, so its formulas live here once, as numba kernels over a batch of
markets, and everything uses them:

* :class:`~feedbackgym.envs.market.observe.Observer` and
  :class:`~feedbackgym.envs.market.metrics.EpisodeMetrics` (one market, fed snapshot dicts: the
  single env, stand-in simulators, the multi-agent view) turn the dict into one *row* and call
  the kernels on a batch of one;
* the vectorised twin (:mod:`~feedbackgym.envs.market.vector`) calls :func:`account_batch` once
  per simulated second for all its markets, which reads the rows straight from a
  :class:`~feedbackgym.envs.market.sim.MarketBatch`'s arrays (``ist``, ``fst``, ``lv``, ``mk``;
  never the order pool) with the arithmetic of :meth:`MarketSim.snapshot`.

A row holds the snapshot's scalars (:data:`ROW_FIELDS`, in ``STATE_FIELDS`` order) as float64,
NaN where a value is absent or not finite -- exactly the values the info dict reports, so the
twin builds its infos from the rows as arrays. The arithmetic is the Python original's,
operation for operation (no fastmath; Python's ``min``/``max`` argument order kept where NaN
could tell them apart), so observations, rewards and metrics are bit for bit what they were.
"""

from __future__ import annotations

import math

import numpy as np

from . import layout as L
from .metrics import COMPONENTS
from .observe import (DEPTH_MEMORY_S, HIGH_WINDOW_S, OBS_BOUND, PCT_SCALE, PRIOR_S, RECENT_S, RET_SCALE,
                      SHARE_WINDOW_S, VOLUME_MEMORY_S)
from .rng import kernel, kernel_inline
from .sim import HALT_HALT, HALT_PAUSE, STATE_FIELDS, _mid_ticks_of

#: the snapshot's scalars in a row, in ``STATE_FIELDS`` order (what ``info`` reports, NaN: absent)
ROW_FIELDS = tuple(k for k in STATE_FIELDS if k not in ("done", "depth_bid", "depth_ask", "maker_inventory"))
_R = {k: j for j, k in enumerate(ROW_FIELDS)}
(R_T, R_MID, R_BID, R_ASK, R_SPREAD, R_DBN, R_DAN, R_LAST, R_VWAP, R_VOL, R_BUY, R_SELL, R_NTR, R_HALTED,
 R_KIND, R_HALT_REM, R_N_HALTS, R_HALTED_TOTAL, R_IND, R_BAND_PCT, R_BAND_LO, R_BAND_HI, R_LIMIT, R_FUND,
 R_REF, R_OPEN, R_SELLER_ACTIVE, R_SELLER_REM, R_SELLER_QTY, R_SELLER_VALUE, R_MAKER_INV, R_MAKER_VOL,
 R_FUND_VOL, R_TOTAL_VOL, R_EVENTS, R_TOTAL_EVENTS, R_AUCTION_VOL, R_ACTIVITY, R_AC1) = range(len(ROW_FIELDS))
assert ROW_FIELDS[R_AC1] == "event_mid_ac1" and ROW_FIELDS[R_MAKER_INV] == "maker_net_inventory"
# after the snapshot's scalars: whether the snapshot had halted_s_total / n_halts (a dict without
# them makes the metrics count halts from the flag), and the sums of the depth levels (info)
R_HAS_TOTAL, R_HAS_COUNT, R_LEVELS_BID, R_LEVELS_ASK = range(len(ROW_FIELDS), len(ROW_FIELDS) + 4)
N_ROW = len(ROW_FIELDS) + 4

# ---- the observer's state per market (float64 [N_OS]) and its rings (float64 [N_RING, ring])
(OS_T, OS_LAST_MID, OS_VOLUME_RATE, OS_DEPTH_NORMAL, OS_REOPEN_T, OS_WAS_HALTED, OS_TOT_V, OS_TOT_B, OS_TOT_S,
 OS_TOT_M) = range(10)
N_OS = 10
RING_MID, RING_V, RING_B, RING_S, RING_M = range(5)
N_RING = 5
# its per-market constants (float64 [N_OC]): episode length s, halt length s, makers' summed caps
OC_LENGTH, OC_HALT_S, OC_CAP = range(3)
N_OC = 3

# ---- the metrics' state per market (float64 [N_MS]; NaN stands for "not yet" where Python had None)
(M_STEPS, M_LOSS_SUM, M_DISLOCATION_SUM, M_HALTED_S, M_N_HALTS, M_WAS_HALTED, M_HALTED_TOTAL, M_PRE_MID_SUM,
 M_PRE_MID_N, M_PRE_DEPTH_SUM, M_PRE_DEPTH_N, M_LAST_MID, M_CALM_SUM, M_CALM_N, M_STRESS_SUM, M_STRESS_N,
 M_PRE_MID, M_PRE_DEPTH, M_MAX_DD, M_TROUGH_T, M_TROUGH_MID, M_DEPTH_AT_TROUGH, M_MIN_DEPTH, M_RETRACE_50,
 M_RETRACE_90, M_FUND_RATE, M_FUND_SEEN, M_REOPEN_PRICE, M_REOPEN_T, M_MAKER_VOL, M_SIDES, M_INV_START,
 M_INV_END, M_SELLER_DONE_T, M_SELLER_QTY, M_SELLER_VALUE) = range(36)
N_MS = 36
# its per-market constants (float64 [N_MC])
(MC_SHOCK, MC_LENGTH, MC_SELLER_SIZE, MC_STRESS, MC_PRE_WINDOW, MC_DEPTH_WINDOW, MC_MAGNET_WINDOW,
 MC_SPREAD_CAP, MC_ALPHA) = range(9)
N_MC = 9
N_COMPONENTS = len(COMPONENTS)
# _components writes c[0..4] in this order
assert COMPONENTS == ("dislocation_pct", "spread_excess_ticks", "halted_s", "lost_fundamental_volume", "magnet_pct")


def row_of(s, row: np.ndarray, depth: np.ndarray) -> None:
    """Fill ``row`` (float64 [N_ROW]) and ``depth`` (float64 [2, depth levels]) from a snapshot dict
    ``s`` as the Python accounting read it: missing or non-numeric values become NaN, ``halted``
    its truth value, ``halt_kind`` ``int(v or 0)``."""
    nan = math.nan
    for j, k in enumerate(ROW_FIELDS):
        v = s.get(k)
        try:
            row[j] = nan if v is None else float(v)
        except (TypeError, ValueError):
            row[j] = nan
    row[R_HALTED] = 1.0 if s.get("halted") else 0.0
    row[R_KIND] = float(int(s.get("halt_kind") or 0))
    row[R_HAS_TOTAL] = float(s.get("halted_s_total") is not None)
    row[R_HAS_COUNT] = float(s.get("n_halts") is not None)
    n = depth.shape[1]
    for side, key in enumerate(("depth_bid", "depth_ask")):
        q = list(s.get(key, ()))[:n]
        depth[side, :] = 0.0
        depth[side, :len(q)] = [float(x) for x in q]


# ------------------------------------------------------------------ reading a MarketBatch


#: the mid in ticks of a market's ``ist``: sim's own function, compiled
_mid_ticks = kernel_inline(_mid_ticks_of)


@kernel_inline
def _read_market(ist, fst, lv, inv, tick, depth_pct, row, depth):
    """One market's row and depth levels from its arrays, with MarketSim.snapshot's arithmetic."""
    nan = math.nan
    t, bb, ba, last, halt = ist[L.I_T], ist[L.I_BB], ist[L.I_BA], ist[L.I_LAST], ist[L.I_HALT]
    m = _mid_ticks(ist)
    has_bid, has_ask = bb >= 0, ba < L.NL
    ip, lo, hi = ist[L.I_INDICATIVE], ist[L.I_BAND_LO], ist[L.I_BAND_HI]
    row[R_T] = float(t)
    row[R_MID] = m * tick
    row[R_BID] = float(bb) * tick if has_bid else nan
    row[R_ASK] = float(ba) * tick if has_ask else nan
    row[R_SPREAD] = float(ba - bb) if (has_bid and has_ask) else nan
    # depth at the best price and each tick behind it (MarketSim._depth)
    n = depth.shape[1]
    levels_bid = 0
    levels_ask = 0
    for k in range(n):
        q = 0
        if has_bid and bb - k >= 0:
            q = lv[L.L_BQ, bb - k]
        depth[0, k] = float(q)
        levels_bid += q
        q = 0
        if has_ask and ba + k < L.NL:
            q = lv[L.L_AQ, ba + k]
        depth[1, k] = float(q)
        levels_ask += q
    row[R_LEVELS_BID] = float(levels_bid)
    row[R_LEVELS_ASK] = float(levels_ask)
    # resting quantity within depth_pct of the mid (MarketSim._near)
    a = max(int(math.ceil(m * (1 - depth_pct / 100))), 0)
    b = min(int(math.floor(m)), L.NL - 1)
    near = 0
    for x in range(a, b + 1):
        near += lv[L.L_BQ, x]
    row[R_DBN] = float(near)
    a = max(int(math.ceil(m)), 0)
    b = min(int(math.floor(m * (1 + depth_pct / 100))), L.NL - 1)
    near = 0
    for x in range(a, b + 1):
        near += lv[L.L_AQ, x]
    row[R_DAN] = float(near)
    row[R_LAST] = float(last) * tick
    row[R_VWAP] = fst[L.F_VWAP] * tick
    row[R_VOL] = float(ist[L.I_VOL])
    row[R_BUY] = float(ist[L.I_BUYVOL])
    row[R_SELL] = float(ist[L.I_SELLVOL])
    row[R_NTR] = float(ist[L.I_NTR])
    row[R_HALTED] = 1.0 if halt != 0 else 0.0
    row[R_KIND] = float(halt)
    row[R_HALT_REM] = float(ist[L.I_HALT_REM])
    row[R_N_HALTS] = float(ist[L.I_N_HALTS])
    row[R_HALTED_TOTAL] = float(ist[L.I_HALTED_TOTAL])
    row[R_IND] = float(ip) * tick if (ip >= 0 and halt != 0) else nan
    row[R_BAND_PCT] = fst[L.F_BAND_PCT]
    row[R_BAND_LO] = float(lo) * tick if lo >= 0 else nan
    row[R_BAND_HI] = float(hi) * tick if hi < L.NL else nan
    row[R_LIMIT] = float(ist[L.I_LIMIT_STATE])
    row[R_FUND] = fst[L.F_FUND] * tick
    row[R_REF] = fst[L.F_REF] * tick
    row[R_OPEN] = float(ist[L.I_OPEN]) * tick
    row[R_SELLER_ACTIVE] = 1.0 if ist[L.I_SELL_ACTIVE] != 0 else 0.0
    row[R_SELLER_REM] = float(ist[L.I_SELL_REM])
    row[R_SELLER_QTY] = float(ist[L.I_SELL_EXEC])
    row[R_SELLER_VALUE] = fst[L.F_SELL_VALUE]
    net = 0.0
    for j in range(inv.shape[0]):
        net += inv[j]
    row[R_MAKER_INV] = float(int(net))
    row[R_MAKER_VOL] = float(ist[L.I_MAKER_VOL])
    row[R_FUND_VOL] = float(ist[L.I_FUND_VOL])
    row[R_TOTAL_VOL] = float(ist[L.I_TOTAL_VOL])
    row[R_EVENTS] = float(ist[L.I_EVENTS])
    row[R_TOTAL_EVENTS] = float(ist[L.I_TOTAL_EVENTS])
    row[R_AUCTION_VOL] = float(ist[L.I_AUCTION_VOL])
    row[R_ACTIVITY] = fst[L.F_ACTIVITY]
    sq = fst[L.F_EV_SQ]
    row[R_AC1] = fst[L.F_EV_CROSS] / sq if sq > 0 else nan
    row[R_HAS_TOTAL] = 1.0
    row[R_HAS_COUNT] = 1.0


@kernel
def read_markets(ist, fst, lv, mk, tick, depth_pct, n_makers, which, rows, depth) -> None:
    """Rows and depth levels of the markets ``which`` of a batch (a reset's first snapshot)."""
    for e in which:
        _read_market(ist[e], fst[e], lv[e], mk[e, L.MK_INV, :n_makers[e]], tick[e], depth_pct[e], rows[e],
                     depth[e])


# ------------------------------------------------------------------ the observer


@kernel_inline
def _fin(x, default):
    return x if math.isfinite(x) else default


@kernel_inline
def _pos(x, default):
    """A positive finite price, else ``default``."""
    return x if (math.isfinite(x) and x > 0.0) else default


@kernel_inline
def _pymax(a, b):
    """Python's max(a, b) (keeps ``a`` unless ``b > a``, also when one is NaN)."""
    return b if b > a else a


@kernel_inline
def _pymin(a, b):
    """Python's min(a, b)."""
    return b if b < a else a


@kernel_inline
def _observe_reset(row, depth, os, ring, oc, horizons, liquidity, obs) -> bool:
    mid = _fin(row[R_MID], 1.0)
    mid = mid if mid > 0.0 else 1.0
    ring[RING_MID, :] = mid
    ring[RING_V:, :] = 0.0
    os[OS_TOT_V] = os[OS_TOT_B] = os[OS_TOT_S] = os[OS_TOT_M] = 0.0
    os[OS_DEPTH_NORMAL] = math.nan
    os[OS_T] = 0.0
    os[OS_VOLUME_RATE] = math.nan
    os[OS_LAST_MID] = mid
    os[OS_REOPEN_T] = -math.inf
    os[OS_WAS_HALTED] = row[R_HALTED]
    return _observe_write(row, depth, os, ring, oc, horizons, liquidity, obs)


@kernel_inline
def _observe_update(row, depth, os, ring, oc, horizons, liquidity, obs, write) -> bool:
    """Account the second that just ran; ``write``: also the feature vector. False: a feature is
    not finite."""
    n = ring.shape[1]
    t = os[OS_T] + 1.0
    os[OS_T] = t
    i = int(t) % n
    last_mid = os[OS_LAST_MID]
    mid = _fin(row[R_MID], last_mid)
    if mid <= 0.0:   # no price at all this second (both sides empty, no trade): keep the last
        mid = last_mid
    os[OS_LAST_MID] = mid
    ring[RING_MID, i] = mid
    vol = _fin(row[R_VOL], 0.0)
    os[OS_TOT_V] += vol
    os[OS_TOT_B] += _fin(row[R_BUY], 0.0)
    os[OS_TOT_S] += _fin(row[R_SELL], 0.0)
    os[OS_TOT_M] += _fin(row[R_MAKER_VOL], 0.0)
    ring[RING_V, i] = os[OS_TOT_V]
    ring[RING_B, i] = os[OS_TOT_B]
    ring[RING_S, i] = os[OS_TOT_S]
    ring[RING_M, i] = os[OS_TOT_M]
    halted = row[R_HALTED] != 0.0
    if not halted:
        if math.isnan(os[OS_VOLUME_RATE]):
            os[OS_VOLUME_RATE] = vol
        else:
            os[OS_VOLUME_RATE] += (vol - os[OS_VOLUME_RATE]) / VOLUME_MEMORY_S
        d = _pymax(_fin(row[R_DBN], 0.0), 0.0)
        if math.isnan(os[OS_DEPTH_NORMAL]):
            os[OS_DEPTH_NORMAL] = d
        else:
            os[OS_DEPTH_NORMAL] += (d - os[OS_DEPTH_NORMAL]) / DEPTH_MEMORY_S
        if os[OS_WAS_HALTED] != 0.0:
            os[OS_REOPEN_T] = t
    os[OS_WAS_HALTED] = 1.0 if halted else 0.0
    if write:
        return _observe_write(row, depth, os, ring, oc, horizons, liquidity, obs)
    return True


@kernel_inline
def _observe_write(row, depth, os, ring, oc, horizons, liquidity, obs) -> bool:
    """The feature vector (observe.feature_names), clipped; False if a feature is not finite."""
    o = obs
    mid = os[OS_LAST_MID]
    nl = depth.shape[1]
    t = int(os[OS_T])
    n = ring.shape[1]
    mids = ring[RING_MID]
    o[0] = (mid / _pos(row[R_OPEN], mid) - 1.0) * 100.0 / PCT_SCALE
    o[1] = (mid / _pos(row[R_REF], mid) - 1.0) * 100.0 / PCT_SCALE
    # the ring holds at least the last HIGH_WINDOW_S + 1 mids (the first mid before that)
    high = mids[0]
    for x in range(1, n):
        if mids[x] > high:   # no NaN in the ring (a second without a price keeps the last mid)
            high = mids[x]
    o[2] = (mid / high - 1.0) * 100.0 / PCT_SCALE
    spread = _pymin(_pymax(_fin(row[R_SPREAD], 100.0), 0.0), 100.0)
    o[3] = math.log1p(spread) / math.log(101.0)
    o[4] = math.log1p(_pymax(_fin(row[R_DBN], 0.0), 0.0)) / 8.0
    o[5] = math.log1p(_pymax(_fin(row[R_DAN], 0.0), 0.0)) / 8.0
    for k in range(nl):
        o[6 + k] = math.log1p(_pymax(depth[0, k], 0.0)) / 6.0
        o[6 + nl + k] = math.log1p(_pymax(depth[1, k], 0.0)) / 6.0
    j = 6 + 2 * nl
    rate = os[OS_VOLUME_RATE] if not math.isnan(os[OS_VOLUME_RATE]) else 0.0
    now = t % n
    for h in horizons:
        k = min(h, t)
        past = (t - k) % n
        o[j] = (mid / mids[past] - 1.0) * 100.0 / RET_SCALE
        if k > 0:
            v = ring[RING_V, now] - ring[RING_V, past]
            b = ring[RING_B, now] - ring[RING_B, past]
            sv = ring[RING_S, now] - ring[RING_S, past]
            o[j + 1] = math.log((v / k + 0.1) / (rate + 0.1)) / 3.0
            o[j + 2] = (b - sv) / (b + sv + 1.0)
        else:
            o[j + 1] = 0.0
            o[j + 2] = 0.0
        j += 3
    halted = row[R_HALTED] != 0.0
    kind = row[R_KIND]
    o[j] = 1.0 if halted else 0.0
    o[j + 1] = 1.0 if (halted and kind == HALT_PAUSE) else 0.0
    o[j + 2] = 1.0 if (halted and kind == HALT_HALT) else 0.0
    o[j + 3] = _fin(row[R_HALT_REM], 0.0) / oc[OC_HALT_S]
    o[j + 4] = _fin(row[R_LIMIT], 0.0) / 15.0
    o[j + 5] = _fin(row[R_BAND_PCT], 0.0) / 20.0
    lo, hi = row[R_BAND_LO], row[R_BAND_HI]
    o[j + 6] = (mid / lo - 1.0) * 100.0 / PCT_SCALE if (math.isfinite(lo) and lo > 0) else OBS_BOUND
    o[j + 7] = (hi / mid - 1.0) * 100.0 / PCT_SCALE if (math.isfinite(hi) and hi > 0) else OBS_BOUND
    ind = row[R_IND]
    o[j + 8] = (ind / mid - 1.0) * 100.0 / PCT_SCALE if (halted and math.isfinite(ind) and ind > 0) else 0.0
    o[j + 9] = _pymin((t - os[OS_REOPEN_T]) / HIGH_WINDOW_S, 1.0)
    o[j + 10] = _fin(row[R_N_HALTS], 0.0) / 10.0
    o[j + 11] = t / oc[OC_LENGTH]
    if liquidity:
        j += 12
        # what separates a liquidity crash from a move to a new value (both fall fast): pressure
        # before the fast leg, intermediaries trading with each other (hot potato), their inventory
        # against their caps, and depth against its own recent normal
        k0, k1 = min(PRIOR_S, t), min(RECENT_S, t)
        o[j] = (mids[(t - k1) % n] / mids[(t - k0) % n] - 1.0) * 100.0 / RET_SCALE
        k = min(SHARE_WINDOW_S, t)
        past = (t - k) % n
        v = ring[RING_V, now] - ring[RING_V, past]
        o[j + 1] = (ring[RING_M, now] - ring[RING_M, past]) / (2.0 * v) if v > 0 else 0.0
        cap = oc[OC_CAP]
        o[j + 2] = _fin(row[R_MAKER_INV], 0.0) / cap if cap > 0 else 0.0
        normal = os[OS_DEPTH_NORMAL] if not math.isnan(os[OS_DEPTH_NORMAL]) else 0.0
        o[j + 3] = math.log((_pymax(_fin(row[R_DBN], 0.0), 0.0) + 1.0) / (normal + 1.0)) / 3.0
    finite = True
    for x in range(o.shape[0]):
        v = o[x]
        if v < -OBS_BOUND:
            o[x] = -OBS_BOUND
        elif v > OBS_BOUND:
            o[x] = OBS_BOUND
        elif not math.isfinite(v):
            finite = False
    return finite


@kernel
def observe_reset(rows, depth, os, rings, oc, horizons, liquidity, obs, which) -> int:
    """Start the observers of markets ``which`` from their first rows; the first market with a
    non-finite feature, else -1."""
    bad = -1
    for e in which:
        if not _observe_reset(rows[e], depth[e], os[e], rings[e], oc[e], horizons, liquidity, obs[e]) and bad < 0:
            bad = e
    return bad


@kernel
def observe_seconds(rows, depth, os, rings, oc, horizons, liquidity, obs, which, write) -> int:
    """Account one second of markets ``which`` (``write``: and their feature vectors); the first
    market with a non-finite feature, else -1."""
    bad = -1
    for e in which:
        if not _observe_update(rows[e], depth[e], os[e], rings[e], oc[e], horizons, liquidity, obs[e], write) \
                and bad < 0:
            bad = e
    return bad


# ------------------------------------------------------------------ the metrics


@kernel_inline
def _metrics_update(row, ms, mc, widx, wval, c) -> None:
    """Account one second (metrics.EpisodeMetrics.update); its reward components into ``c``."""
    t = row[R_T] - 1.0               # the second that just ran
    mid = row[R_MID]
    if not math.isfinite(mid) or mid <= 0.0:   # no price this second: keep the last one
        mid = ms[M_LAST_MID]
    ms[M_LAST_MID] = mid
    cap = mc[MC_SPREAD_CAP]
    spread = _pymin(_pymax(_fin(row[R_SPREAD], cap), 0.0), cap)
    depth_bid = _fin(row[R_DBN], 0.0)
    halted = _track_halts(row, ms, t, mid)
    _track_pre_shock(ms, mc, t, mid, depth_bid, halted)
    _track_spread(ms, mc, t, spread, halted)
    _track_crash(row, ms, mc, t, mid, depth_bid, halted)
    _track_seller(row, ms, mc, t)
    _components(row, ms, mc, widx, wval, c, t, mid, spread, halted)


@kernel_inline
def _track_halts(row, ms, t, mid) -> bool:
    """Halt counters; returns whether this second counts as halted. A second counts as halted if
    the exchange halted it (the simulator's running total says so even when the market reopened
    at its end); else the flag after the second."""
    flag = row[R_HALTED] != 0.0
    if row[R_HAS_TOTAL] != 0.0:
        total = _fin(row[R_HALTED_TOTAL], 0.0)
        halted = total > ms[M_HALTED_TOTAL]
        ms[M_HALTED_TOTAL] = total
    else:
        halted = flag
    if halted:
        ms[M_HALTED_S] += 1.0
    if row[R_HAS_COUNT] != 0.0:
        ms[M_N_HALTS] = float(int(_fin(row[R_N_HALTS], 0.0)))
    elif flag and ms[M_WAS_HALTED] == 0.0:
        ms[M_N_HALTS] += 1.0
    if ms[M_WAS_HALTED] != 0.0 and not flag:
        ms[M_REOPEN_PRICE] = mid
        ms[M_REOPEN_T] = t
    ms[M_WAS_HALTED] = 1.0 if flag else 0.0
    return halted


@kernel_inline
def _track_pre_shock(ms, mc, t, mid, depth_bid, halted) -> None:
    """Pre-shock references."""
    shock = mc[MC_SHOCK]
    if shock - mc[MC_PRE_WINDOW] <= t < shock and math.isfinite(mid):
        ms[M_PRE_MID_SUM] += mid
        ms[M_PRE_MID_N] += 1.0
    if shock - mc[MC_DEPTH_WINDOW] <= t < shock and not halted:
        ms[M_PRE_DEPTH_SUM] += depth_bid
        ms[M_PRE_DEPTH_N] += 1.0
    if t == shock or (t > shock and not math.isfinite(ms[M_PRE_MID])):
        ms[M_PRE_MID] = ms[M_PRE_MID_SUM] / ms[M_PRE_MID_N] if ms[M_PRE_MID_N] != 0.0 else mid
        ms[M_PRE_DEPTH] = ms[M_PRE_DEPTH_SUM] / ms[M_PRE_DEPTH_N] if ms[M_PRE_DEPTH_N] != 0.0 else depth_bid


@kernel_inline
def _track_spread(ms, mc, t, spread, halted) -> None:
    """Spread, time-weighted over trading seconds."""
    if not halted:
        if t < mc[MC_SHOCK]:
            ms[M_CALM_SUM] += spread
            ms[M_CALM_N] += 1.0
        elif t < mc[MC_SHOCK] + mc[MC_STRESS]:
            ms[M_STRESS_SUM] += spread
            ms[M_STRESS_N] += 1.0


@kernel_inline
def _track_crash(row, ms, mc, t, mid, depth_bid, halted) -> None:
    """The crash after the shock: drawdown, trough, retracement, depth, makers."""
    shock = mc[MC_SHOCK]
    pre_mid = ms[M_PRE_MID]
    if t >= shock and math.isfinite(mid) and math.isfinite(pre_mid):
        dd = (pre_mid - mid) / pre_mid * 100.0
        if dd > ms[M_MAX_DD] or not math.isfinite(ms[M_TROUGH_MID]):
            if dd > ms[M_MAX_DD]:
                ms[M_MAX_DD] = dd
            ms[M_TROUGH_T] = t
            ms[M_TROUGH_MID] = mid
            ms[M_DEPTH_AT_TROUGH] = depth_bid
            ms[M_RETRACE_50] = math.nan
            ms[M_RETRACE_90] = math.nan
        else:
            fall = pre_mid - ms[M_TROUGH_MID]
            if math.isnan(ms[M_RETRACE_50]) and mid >= ms[M_TROUGH_MID] + 0.5 * fall:
                ms[M_RETRACE_50] = t
            if math.isnan(ms[M_RETRACE_90]) and mid >= ms[M_TROUGH_MID] + 0.9 * fall:
                ms[M_RETRACE_90] = t
    if shock <= t < shock + mc[MC_STRESS]:
        if not halted:
            ms[M_MIN_DEPTH] = _pymin(ms[M_MIN_DEPTH], depth_bid)
        ms[M_MAKER_VOL] += _fin(row[R_MAKER_VOL], 0.0)
        ms[M_SIDES] += 2.0 * _fin(row[R_VOL], 0.0)
        inv = row[R_MAKER_INV]
        if math.isfinite(inv):
            if not math.isfinite(ms[M_INV_START]):
                ms[M_INV_START] = inv
            ms[M_INV_END] = inv


@kernel_inline
def _track_seller(row, ms, mc, t) -> None:
    if mc[MC_SELLER_SIZE] > 0:
        ms[M_SELLER_QTY] = _fin(row[R_SELLER_QTY], ms[M_SELLER_QTY])
        ms[M_SELLER_VALUE] = _fin(row[R_SELLER_VALUE], ms[M_SELLER_VALUE])
        if math.isnan(ms[M_SELLER_DONE_T]) and _fin(row[R_SELLER_REM], 1.0) <= 0 and ms[M_SELLER_QTY] > 0:
            ms[M_SELLER_DONE_T] = t


@kernel_inline
def _components(row, ms, mc, widx, wval, c, t, mid, spread, halted) -> None:
    """This second's reward components into ``c``; its loss into the episode's sums."""
    fundamental = _fin(row[R_FUND], mid)
    dislocation = abs(mid - fundamental) / fundamental * 100.0 if (math.isfinite(mid) and fundamental > 0) else 0.0
    fund_vol = _fin(row[R_FUND_VOL], 0.0)
    if halted:
        lost = ms[M_FUND_RATE]
    else:
        lost = 0.0
        if ms[M_FUND_SEEN] != 0.0:
            ms[M_FUND_RATE] += mc[MC_ALPHA] * (fund_vol - ms[M_FUND_RATE])
        else:
            ms[M_FUND_RATE] = fund_vol
            ms[M_FUND_SEEN] = 1.0
    magnet = 0.0
    reopen_price = ms[M_REOPEN_PRICE]
    if not halted and t - ms[M_REOPEN_T] < mc[MC_MAGNET_WINDOW] and math.isfinite(reopen_price) \
            and math.isfinite(mid):
        magnet = _pymax(0.0, (reopen_price - mid) / reopen_price * 100.0)
    c[0] = dislocation
    c[1] = _pymax(spread - 1.0, 0.0)
    c[2] = 1.0 if halted else 0.0
    c[3] = lost
    c[4] = magnet
    loss = 0.0
    for x in range(widx.shape[0]):
        loss += wval[x] * c[widx[x]]
    ms[M_LOSS_SUM] += loss
    ms[M_DISLOCATION_SUM] += dislocation
    ms[M_STEPS] += 1.0


@kernel
def metrics_seconds(rows, ms, mc, widx, wval, comps, which) -> None:
    """Account one second of markets ``which``; their reward components into ``comps``."""
    for e in which:
        _metrics_update(rows[e], ms[e], mc[e], widx, wval, comps[e])


def metrics_state(mc_row: np.ndarray) -> np.ndarray:
    """A fresh metrics state for a market with constants ``mc_row``."""
    ms = np.zeros(N_MS)
    nan = math.nan
    for k in (M_LAST_MID, M_PRE_MID, M_PRE_DEPTH, M_TROUGH_MID, M_DEPTH_AT_TROUGH, M_RETRACE_50, M_RETRACE_90,
              M_REOPEN_PRICE, M_INV_START, M_INV_END, M_SELLER_DONE_T):
        ms[k] = nan
    ms[M_TROUGH_T] = mc_row[MC_SHOCK]
    ms[M_MIN_DEPTH] = math.inf
    ms[M_REOPEN_T] = -1e9
    return ms


# ------------------------------------------------------------------ a batch's second


@kernel
def account_batch(ist, fst, lv, mk, tick, depth_pct, n_makers, which, write, rows, depth, os, rings, oc,
                  horizons, liquidity, obs, ms, mc, widx, wval, comps, c) -> int:
    """One simulated second of the markets ``which`` of a MarketBatch: read each market's row,
    account it for the observer (``write[e]``: and write its feature vector) and the metrics, and
    add its reward components to ``comps[e]`` (``c``: scratch, [markets, components]). Returns
    the first market with a non-finite feature, else -1."""
    bad = -1
    for e in which:
        row = rows[e]
        _read_market(ist[e], fst[e], lv[e], mk[e, L.MK_INV, :n_makers[e]], tick[e], depth_pct[e], row, depth[e])
        if not _observe_update(row, depth[e], os[e], rings[e], oc[e], horizons, liquidity, obs[e], write[e]) \
                and bad < 0:
            bad = e
        ce = c[e]
        _metrics_update(row, ms[e], mc[e], widx, wval, ce)
        for k in range(N_COMPONENTS):
            comps[e, k] += ce[k]
    return bad
