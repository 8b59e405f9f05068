"""What the exchange sees, as a normalised feature vector (the regulator env's observation).

Only exchange-visible state enters (no fundamental value, nothing about the seller): prices,
quotes, depth, trades and the exchange's own halt and band state. Look-back features over
several horizons (returns, volume relative to its running mean, order-flow imbalance) are kept
with ring buffers of cumulative sums, so each second costs the same whatever the horizons.
Every feature is scaled so typical values are of order one, then clipped to
``[-OBS_BOUND, OBS_BOUND]`` (a 50 % move would otherwise be +-10 and out of the box).
"""

from __future__ import annotations

import math

import numpy as np

from .sim import HALT_HALT, HALT_PAUSE

OBS_BOUND = 10.0
PCT_SCALE = 5.0          # price distances: 5 % -> 1
RET_SCALE = 2.0          # horizon returns: 2 % -> 1
HIGH_WINDOW_S = 600      # the recent high the drawdown feature refers to (longer if a horizon is longer)
VOLUME_MEMORY_S = 1800.0 # running mean of volume per second (normaliser of the volume features)
DEPTH_MEMORY_S = 600.0   # running mean of the bid depth near the mid (normaliser of depth_vs_normal)
PRIOR_S = 300            # return_prior: the mid move from PRIOR_S to RECENT_S seconds ago ...
RECENT_S = 20            # ... i.e. the pressure *before* the latest fast leg
SHARE_WINDOW_S = 60      # intermediaries' share of the trade sides over this many seconds
LIQUIDITY_FEATURES = ("return_prior", "maker_share_60s", "maker_inventory", "depth_vs_normal")


def feature_names(depth_levels: int, horizons_s, liquidity: bool = False) -> list[str]:
    """The features' names; ``liquidity`` appends the four liquidity-crash features
    (``MarketConfig.liquidity_features``)."""
    names = ["mid_vs_open", "mid_vs_reference", "mid_vs_high_10min", "spread", "depth_bid_near", "depth_ask_near"]
    names += [f"depth_bid_{k}" for k in range(depth_levels)] + [f"depth_ask_{k}" for k in range(depth_levels)]
    for h in horizons_s:
        names += [f"return_{h}s", f"volume_{h}s", f"imbalance_{h}s"]
    names += ["halted", "paused", "halt_long", "halt_remaining", "limit_state", "band_pct", "mid_vs_band_low",
              "band_high_vs_mid", "indicative_vs_mid", "since_reopen", "halts_so_far", "progress"]
    if liquidity:
        names += list(LIQUIDITY_FEATURES)
    return names


def _fin(x, default=math.nan) -> float:
    if x is None:
        return default
    x = float(x)
    return x if math.isfinite(x) else default


def _pos(x, default) -> float:
    """A positive finite price, else ``default``."""
    x = _fin(x)
    return x if x > 0.0 else default


class Observer:
    """Feature vector of one market, updated once per simulated second."""

    def __init__(self, depth_levels: int, horizons_s, length_s: int, halt_s: float, maker_cap_total: float = 0.0,
                 liquidity: bool = False):
        self.depth_levels = int(depth_levels)
        self.maker_cap_total = float(maker_cap_total)
        self.liquidity = bool(liquidity)
        self.horizons_s = tuple(int(h) for h in horizons_s)
        self.length_s = float(length_s)
        self.halt_s = float(halt_s)
        self.size = len(feature_names(self.depth_levels, self.horizons_s, self.liquidity))
        self.ring = max(max(self.horizons_s), HIGH_WINDOW_S) + 1
        self.obs = np.zeros(self.size, dtype=np.float64)

    def reset(self, s: dict) -> None:
        n = self.ring
        mid = _fin(s["mid"], 1.0)
        mid = mid if mid > 0.0 else 1.0
        self.mids = np.full(n, mid)
        self.cum_v = [0.0] * n           # cumulative volume, buyer- and seller-initiated volume
        self.cum_b = [0.0] * n
        self.cum_s = [0.0] * n
        self.cum_m = [0.0] * n           # cumulative intermediaries' volume (sides)
        self.totals = [0.0, 0.0, 0.0, 0.0]
        self.depth_normal = math.nan
        self.t = 0
        self.volume_rate = math.nan
        self.last_mid = mid
        self.reopen_t = -math.inf
        self.was_halted = bool(s.get("halted"))
        self._write(s)

    def update(self, s: dict, write: bool = True) -> None:
        """Account the second that just ran (``s`` is the snapshot after it); ``write``: also
        recompute the feature vector (only needed on the seconds the agent decides)."""
        self.t += 1
        i = self.t % self.ring
        mid = _fin(s["mid"], self.last_mid)
        if mid <= 0.0:   # no price at all this second (both sides empty, no trade): keep the last
            mid = self.last_mid
        self.last_mid = mid
        self.mids[i] = mid
        vol = _fin(s.get("volume"), 0.0)
        tot = self.totals
        tot[0] += vol
        tot[1] += _fin(s.get("buy_volume"), 0.0)
        tot[2] += _fin(s.get("sell_volume"), 0.0)
        tot[3] += _fin(s.get("maker_volume"), 0.0)
        self.cum_v[i], self.cum_b[i], self.cum_s[i], self.cum_m[i] = tot
        halted = bool(s.get("halted"))
        if not halted:
            if math.isnan(self.volume_rate):
                self.volume_rate = vol
            else:
                self.volume_rate += (vol - self.volume_rate) / VOLUME_MEMORY_S
            depth = max(_fin(s.get("depth_bid_near"), 0.0), 0.0)
            if math.isnan(self.depth_normal):
                self.depth_normal = depth
            else:
                self.depth_normal += (depth - self.depth_normal) / DEPTH_MEMORY_S
            if self.was_halted:
                self.reopen_t = self.t
        self.was_halted = halted
        if write:
            self._write(s)

    def _write(self, s: dict) -> None:
        o = self.obs
        mid = self.last_mid
        L = self.depth_levels
        t, ring = self.t, self.ring
        o[0] = (mid / _pos(s.get("open_price"), mid) - 1.0) * 100.0 / PCT_SCALE
        o[1] = (mid / _pos(s.get("reference_price"), mid) - 1.0) * 100.0 / PCT_SCALE
        # the ring holds at least the last HIGH_WINDOW_S + 1 mids (the first mid before that)
        o[2] = (mid / self.mids.max() - 1.0) * 100.0 / PCT_SCALE
        spread = min(max(_fin(s.get("spread_ticks"), 100.0), 0.0), 100.0)
        o[3] = math.log1p(spread) / math.log(101.0)
        o[4] = math.log1p(max(_fin(s.get("depth_bid_near"), 0.0), 0.0)) / 8.0
        o[5] = math.log1p(max(_fin(s.get("depth_ask_near"), 0.0), 0.0)) / 8.0
        log1p = math.log1p
        db = [log1p(max(float(q), 0.0)) / 6.0 for q in list(s.get("depth_bid", ()))[:L]]
        da = [log1p(max(float(q), 0.0)) / 6.0 for q in list(s.get("depth_ask", ()))[:L]]
        o[6:6 + 2 * L] = (db + [0.0] * (L - len(db))) + (da + [0.0] * (L - len(da)))
        j = 6 + 2 * L
        rate = self.volume_rate if not math.isnan(self.volume_rate) else 0.0
        now = t % ring
        mids, cv, cb, cs = self.mids, self.cum_v, self.cum_b, self.cum_s
        for h in self.horizons_s:
            k = min(h, t)
            past = (t - k) % ring
            o[j] = (mid / float(mids[past]) - 1.0) * 100.0 / RET_SCALE
            if k > 0:
                v, b, sv = cv[now] - cv[past], cb[now] - cb[past], cs[now] - cs[past]
                o[j + 1] = math.log((v / k + 0.1) / (rate + 0.1)) / 3.0
                o[j + 2] = (b - sv) / (b + sv + 1.0)
            else:
                o[j + 1] = o[j + 2] = 0.0
            j += 3
        halted = bool(s.get("halted"))
        kind = int(s.get("halt_kind") or 0)
        o[j] = float(halted)
        o[j + 1] = float(halted and kind == HALT_PAUSE)
        o[j + 2] = float(halted and kind == HALT_HALT)
        o[j + 3] = _fin(s.get("halt_remaining_s"), 0.0) / self.halt_s
        o[j + 4] = _fin(s.get("limit_state_s"), 0.0) / 15.0
        o[j + 5] = _fin(s.get("band_pct_now"), 0.0) / 20.0
        lo, hi = _fin(s.get("band_low")), _fin(s.get("band_high"))
        o[j + 6] = (mid / lo - 1.0) * 100.0 / PCT_SCALE if lo > 0 else OBS_BOUND
        o[j + 7] = (hi / mid - 1.0) * 100.0 / PCT_SCALE if hi > 0 else OBS_BOUND
        ind = _fin(s.get("indicative_price"))
        o[j + 8] = (ind / mid - 1.0) * 100.0 / PCT_SCALE if halted and ind > 0 else 0.0
        o[j + 9] = min((t - self.reopen_t) / HIGH_WINDOW_S, 1.0)
        o[j + 10] = _fin(s.get("n_halts"), 0.0) / 10.0
        o[j + 11] = t / self.length_s
        if self.liquidity:
            self._write_liquidity(s, j + 12)
        np.clip(o, -OBS_BOUND, OBS_BOUND, out=o)
        if not math.isfinite(o.sum()):   # a NaN price would poison the policy: fail loudly
            bad = [n for n, v in zip(feature_names(L, self.horizons_s, self.liquidity), o) if not math.isfinite(v)]
            raise ValueError(f"market observation: non-finite feature(s) {bad} at t={t} s")

    def _write_liquidity(self, s: dict, j: int) -> None:
        """The liquidity-crash features from index ``j``."""
        o, t, ring, mids, cv = self.obs, self.t, self.ring, self.mids, self.cum_v
        now = t % ring
        # what separates a liquidity crash from a move to a new value (both fall fast): pressure
        # before the fast leg, intermediaries trading with each other (hot potato), their inventory
        # against their caps, and depth against its own recent normal
        k0, k1 = min(PRIOR_S, t), min(RECENT_S, t)
        o[j] = (float(mids[(t - k1) % ring]) / float(mids[(t - k0) % ring]) - 1.0) * 100.0 / RET_SCALE
        k = min(SHARE_WINDOW_S, t)
        past = (t - k) % ring
        v = cv[now] - cv[past]
        o[j + 1] = (self.cum_m[now] - self.cum_m[past]) / (2.0 * v) if v > 0 else 0.0
        cap = self.maker_cap_total
        o[j + 2] = _fin(s.get("maker_net_inventory"), 0.0) / cap if cap > 0 else 0.0
        normal = self.depth_normal if not math.isnan(self.depth_normal) else 0.0
        o[j + 3] = math.log((max(_fin(s.get("depth_bid_near"), 0.0), 0.0) + 1.0) / (normal + 1.0)) / 3.0
