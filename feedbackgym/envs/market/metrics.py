"""Per-second reward components and episode metrics of a market episode, computed online.

:class:`EpisodeMetrics` is fed the simulator's snapshot once per simulated second
(:meth:`EpisodeMetrics.update`, which returns that second's reward components) and gives the
episode's metrics at the end (:meth:`EpisodeMetrics.result`). Nothing is stored per second beyond
a few running sums, so a 6.5-hour day costs the same memory as a minute.

The *shock* is the second the large seller starts (``seller_start_s``) or the news hits
(``news_time_s``); on a calm day the same second is used as a placebo, so every metric is finite
and calm days give the baseline values. *Pre-shock* values average the ``pre_window_s`` seconds
before the shock (mid) or ``depth_window_s`` (depth); the *stress* window is the ``stress_s``
seconds from the shock on.

Metrics (the crash measures of the CFTC-SEC report on 6 May 2010 and of Kirilenko, Kyle, Samadi
and Tuzun, "The Flash Crash", J. Finance 2017):

==========================  ====================================================================
``max_drawdown_pct``        largest fall of the mid below the pre-shock mid, percent
``time_to_trough_s``        seconds from the shock to that trough
``retrace_50_s`` / ``_90_s``  seconds from the trough until the mid regains 50 % / 90 % of the fall
                            (censored at the episode end; ``retraced_50`` / ``retraced_90`` say
                            whether it happened)
``halted_s`` / ``n_halts``  seconds in a pause or halt; halts started
``spread_calm_ticks``       time-weighted spread before the shock (trading seconds only)
``spread_stress_ticks``     time-weighted spread in the stress window
``depth_trough_frac``       bid depth near the mid at the trough / pre-shock (the brief's "buy-side
                            depth fell to < 1 % of the morning's")
``min_depth_frac``          lowest bid depth near the mid in the stress window / pre-shock
``maker_volume_share``      market makers' share of all trade sides in the stress window
``hot_potato_ratio``        makers' gross volume / abs(net inventory change) in the stress window
``seller_completion_s``     seconds from the seller's start until done (censored at the end)
``seller_shortfall_bps``    implementation shortfall of the seller's fills against the pre-shock mid
``mean_dislocation_pct``    mean abs(mid - fundamental) / fundamental, percent
``composite_loss``          mean per-second loss: :data:`COMPOSITE_WEIGHTS` times the components
==========================  ====================================================================

Reward components (one value per simulated second, all "lower is better"):

- ``dislocation_pct``: abs(mid - fundamental) / fundamental, percent (the price is wrong);
- ``spread_excess_ticks``: spread beyond one tick, capped at ``spread_cap_ticks`` (an empty side
  counts as the cap);
- ``halted_s``: 1 in a second of pause or halt (trading denied to everyone);
- ``lost_fundamental_volume``: in a halted second, the fundamental and deep-value volume a
  trading second would have had (its running mean over trading seconds), contracts;
- ``magnet_pct``: for ``magnet_window_s`` after a reopening, how far the mid sits below the
  reopening price, percent — the further fall that level-triggered halts invite (Subrahmanyam,
  "Circuit breakers and market volatility", J. Finance 1994; China's 2016 index breaker).
"""

from __future__ import annotations

import math
from typing import Any
from collections.abc import Mapping

COMPONENTS = ("dislocation_pct", "spread_excess_ticks", "halted_s", "lost_fundamental_volume", "magnet_pct")

#: weights of the composite loss (and, negated, of the ``market_balanced`` reward). Per second:
#: 1 % of dislocation weighs as much as a 100-tick spread, one halted second, 100 contracts of
#: lost fundamental volume or a 1 % fall right after a reopening. A halted second costs as much as
#: a 1 % mispricing because nobody can trade at all: halting the whole hour must cost more than
#: the crash it prevents (about 1 % of mean dislocation on the flash-crash preset), so only
#: well-timed halts pay.
COMPOSITE_WEIGHTS = {
    "dislocation_pct": 1.0,
    "spread_excess_ticks": 0.01,
    "halted_s": 1.0,
    "lost_fundamental_volume": 0.01,
    "magnet_pct": 1.0,
}

METRIC_NAMES = (
    "max_drawdown_pct", "time_to_trough_s", "retrace_50_s", "retrace_90_s", "retraced_50", "retraced_90",
    "halted_s", "n_halts", "spread_calm_ticks", "spread_stress_ticks", "depth_trough_frac", "min_depth_frac",
    "maker_volume_share", "hot_potato_ratio", "seller_completion_s", "seller_done", "seller_shortfall_bps",
    "mean_dislocation_pct", "composite_loss",
)


def _f(x, default=math.nan) -> float:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return default
    return v if math.isfinite(v) else default


def shock_time_s(params) -> int:
    """The shock second of a scenario's parameters: the seller's start, else the news, else the
    seller's start anyway (a placebo on calm days), capped inside the episode."""
    if getattr(params, "seller_size", 0) > 0:
        t = params.seller_start_s
    elif getattr(params, "news_time_s", -1) >= 0:
        t = params.news_time_s
    else:
        t = getattr(params, "seller_start_s", 900)
    return int(max(1, min(t, params.length_s - 1)))


class EpisodeMetrics:
    """Online episode metrics and per-second reward components (see the module docstring)."""

    def __init__(self, shock_s: int, length_s: int, seller_size: int = 0, *, stress_s: int = 900,
                 pre_window_s: int = 60, depth_window_s: int = 300, magnet_window_s: int = 120,
                 spread_cap_ticks: float = 100.0, volume_memory_s: float = 300.0,
                 weights: Mapping[str, float] | None = None):
        self.shock_s = int(shock_s)
        self.length_s = int(length_s)
        self.seller_size = int(seller_size)
        self.stress_s = int(stress_s)
        self.pre_window_s = int(pre_window_s)
        self.depth_window_s = int(depth_window_s)
        self.magnet_window_s = int(magnet_window_s)
        self.spread_cap_ticks = float(spread_cap_ticks)
        self.volume_alpha = 1.0 / float(volume_memory_s)
        self.weights = tuple((k, float(v)) for k, v in (weights or COMPOSITE_WEIGHTS).items())
        # running state
        self.steps = 0
        self.loss_sum = 0.0
        self.dislocation_sum = 0.0
        self.halted_s = 0
        self.n_halts = 0
        self._was_halted = False
        self._halted_total = 0.0
        self._pre_mid_sum = 0.0
        self._pre_mid_n = 0
        self._pre_depth_sum = 0.0
        self._pre_depth_n = 0
        self._last_mid = math.nan
        self._spread = {"calm": [0.0, 0], "stress": [0.0, 0]}
        self.pre_mid = math.nan
        self.pre_depth = math.nan
        self.max_drawdown_pct = 0.0
        self.trough_t = self.shock_s
        self.trough_mid = math.nan
        self.depth_at_trough = math.nan
        self.min_depth = math.inf
        self.retrace_t: list[int | None] = [None, None]
        self._fund_vol_rate = 0.0
        self._fund_vol_seen = False
        self._reopen_price = math.nan
        self._reopen_t = -10**9
        self._maker_vol = 0.0
        self._sides = 0.0
        self._inv_start = math.nan
        self._inv_end = math.nan
        self.seller_done_t: int | None = None
        self._seller_qty = 0.0
        self._seller_value = 0.0

    # ------------------------------------------------------------------------------ per second

    def update(self, s: Mapping[str, Any]) -> dict[str, float]:
        """Account one simulated second (the snapshot after the step); returns its reward components."""
        t = int(s["t_s"]) - 1          # the second that just ran
        mid = _f(s.get("mid"))
        if not math.isfinite(mid) or mid <= 0.0:   # no price this second: keep the last one
            mid = self._last_mid
        self._last_mid = mid
        halted = bool(s.get("halted"))
        fundamental = _f(s.get("fundamental"), mid)
        spread = _f(s.get("spread_ticks"), self.spread_cap_ticks)
        spread = min(max(spread, 0.0), self.spread_cap_ticks)
        depth_bid = _f(s.get("depth_bid_near"), 0.0)
        volume = _f(s.get("volume"), 0.0)

        halted = self._track_halts(s, t, mid, halted)
        self._track_pre_shock(t, mid, depth_bid, halted)
        self._track_spread(t, spread, halted)
        self._track_crash(s, t, mid, depth_bid, volume, halted)
        self._track_seller(s, t)
        return self._components(s, t, mid, fundamental, spread, halted)

    def _track_halts(self, s: Mapping[str, Any], t: int, mid: float, halted: bool) -> bool:
        """Halt counters; returns whether this second counts as halted. A second counts as halted
        if the exchange halted it (the simulator's running total says so even when the market
        reopened at its end); else the flag after the second."""
        total = s.get("halted_s_total")
        if total is not None:
            total = _f(total, 0.0)
            halted_second = total > self._halted_total
            self._halted_total = total
        else:
            halted_second = halted
        if halted_second:
            self.halted_s += 1
        count = s.get("n_halts")
        if count is not None:
            self.n_halts = int(_f(count, 0.0))
        elif halted and not self._was_halted:
            self.n_halts += 1
        if self._was_halted and not halted:
            self._reopen_price, self._reopen_t = mid, t
        self._was_halted = halted
        return halted_second

    def _track_pre_shock(self, t: int, mid: float, depth_bid: float, halted: bool) -> None:
        """Pre-shock references."""
        if self.shock_s - self.pre_window_s <= t < self.shock_s and math.isfinite(mid):
            self._pre_mid_sum += mid
            self._pre_mid_n += 1
        if self.shock_s - self.depth_window_s <= t < self.shock_s and not halted:
            self._pre_depth_sum += depth_bid
            self._pre_depth_n += 1
        if t == self.shock_s or (t > self.shock_s and not math.isfinite(self.pre_mid)):
            self._freeze_pre(mid, depth_bid)

    def _track_spread(self, t: int, spread: float, halted: bool) -> None:
        """Spread, time-weighted over trading seconds."""
        if not halted:
            if t < self.shock_s:
                self._spread["calm"][0] += spread
                self._spread["calm"][1] += 1
            elif t < self.shock_s + self.stress_s:
                self._spread["stress"][0] += spread
                self._spread["stress"][1] += 1

    def _track_crash(self, s: Mapping[str, Any], t: int, mid: float, depth_bid: float, volume: float,
                     halted: bool) -> None:
        """The crash after the shock: drawdown, trough, retracement, depth, makers."""
        in_stress = self.shock_s <= t < self.shock_s + self.stress_s
        if t >= self.shock_s and math.isfinite(mid) and math.isfinite(self.pre_mid):
            dd = (self.pre_mid - mid) / self.pre_mid * 100.0
            if dd > self.max_drawdown_pct or not math.isfinite(self.trough_mid):
                if dd > self.max_drawdown_pct:
                    self.max_drawdown_pct = dd
                self.trough_t, self.trough_mid, self.depth_at_trough = t, mid, depth_bid
                self.retrace_t = [None, None]
            else:
                fall = self.pre_mid - self.trough_mid
                for k, frac in enumerate((0.5, 0.9)):
                    if self.retrace_t[k] is None and mid >= self.trough_mid + frac * fall:
                        self.retrace_t[k] = t
        if in_stress:
            if not halted:
                self.min_depth = min(self.min_depth, depth_bid)
            self._maker_vol += _f(s.get("maker_volume"), 0.0)
            self._sides += 2.0 * volume
            inv = _f(s.get("maker_net_inventory"))
            if math.isfinite(inv):
                if not math.isfinite(self._inv_start):
                    self._inv_start = inv
                self._inv_end = inv

    def _track_seller(self, s: Mapping[str, Any], t: int) -> None:
        if self.seller_size > 0:
            self._seller_qty = _f(s.get("seller_executed_qty"), self._seller_qty)
            self._seller_value = _f(s.get("seller_executed_value"), self._seller_value)
            if self.seller_done_t is None and _f(s.get("seller_remaining"), 1.0) <= 0 and self._seller_qty > 0:
                self.seller_done_t = t

    def _components(self, s: Mapping[str, Any], t: int, mid: float, fundamental: float, spread: float,
                    halted: bool) -> dict[str, float]:
        """This second's reward components; adds its loss to the episode's sums."""
        dislocation = abs(mid - fundamental) / fundamental * 100.0 if math.isfinite(mid) and fundamental > 0 else 0.0
        fund_vol = _f(s.get("fundamental_volume"), 0.0)
        if halted:
            lost = self._fund_vol_rate
        else:
            lost = 0.0
            if self._fund_vol_seen:
                self._fund_vol_rate += self.volume_alpha * (fund_vol - self._fund_vol_rate)
            else:
                self._fund_vol_rate, self._fund_vol_seen = fund_vol, True
        magnet = 0.0
        if not halted and t - self._reopen_t < self.magnet_window_s and math.isfinite(self._reopen_price) \
                and math.isfinite(mid):
            magnet = max(0.0, (self._reopen_price - mid) / self._reopen_price * 100.0)
        c = {"dislocation_pct": dislocation, "spread_excess_ticks": max(spread - 1.0, 0.0),
             "halted_s": 1.0 if halted else 0.0, "lost_fundamental_volume": lost, "magnet_pct": magnet}
        loss = 0.0
        for k, w in self.weights:
            loss += w * c[k]
        self.loss_sum += loss
        self.dislocation_sum += dislocation
        self.steps += 1
        return c

    def _freeze_pre(self, mid: float, depth_bid: float) -> None:
        self.pre_mid = self._pre_mid_sum / self._pre_mid_n if self._pre_mid_n else mid
        self.pre_depth = self._pre_depth_sum / self._pre_depth_n if self._pre_depth_n else depth_bid

    # ---------------------------------------------------------------------------- episode end

    def result(self) -> dict[str, float]:
        """The episode's metrics (all finite floats; see the module docstring)."""
        end_t = max(self.steps - 1, self.shock_s)
        pre_depth = self.pre_depth if math.isfinite(self.pre_depth) and self.pre_depth > 0 else math.nan

        def frac(d):
            if not math.isfinite(pre_depth) or not math.isfinite(d):
                return 1.0
            return d / pre_depth

        retrace = [(r - self.trough_t) if r is not None else (end_t - self.trough_t) for r in self.retrace_t]
        sc, ss = self._spread["calm"], self._spread["stress"]
        net = abs(self._inv_end - self._inv_start) if math.isfinite(self._inv_start) else 0.0
        seller_t: float
        if self.seller_size > 0:
            seller_t = (self.seller_done_t if self.seller_done_t is not None else end_t + 1) - self.shock_s
            ref = self.pre_mid if math.isfinite(self.pre_mid) else math.nan
            shortfall = ((ref * self._seller_qty - self._seller_value) / (ref * self._seller_qty) * 1e4
                         if self._seller_qty > 0 and math.isfinite(ref) else 0.0)
        else:
            seller_t, shortfall = 0.0, 0.0
        return {
            "max_drawdown_pct": float(self.max_drawdown_pct),
            "time_to_trough_s": float(self.trough_t - self.shock_s),
            "retrace_50_s": float(retrace[0]),
            "retrace_90_s": float(retrace[1]),
            "retraced_50": float(self.retrace_t[0] is not None),
            "retraced_90": float(self.retrace_t[1] is not None),
            "halted_s": float(self.halted_s),
            "n_halts": float(self.n_halts),
            "spread_calm_ticks": sc[0] / sc[1] if sc[1] else 0.0,
            "spread_stress_ticks": ss[0] / ss[1] if ss[1] else self.spread_cap_ticks,
            "depth_trough_frac": float(frac(self.depth_at_trough)),
            "min_depth_frac": float(frac(self.min_depth)) if math.isfinite(self.min_depth) else 0.0,
            "maker_volume_share": self._maker_vol / self._sides if self._sides > 0 else 0.0,
            "hot_potato_ratio": self._maker_vol / max(net, 1.0),
            "seller_completion_s": float(seller_t),
            "seller_done": float(self.seller_done_t is not None) if self.seller_size > 0 else 1.0,
            "seller_shortfall_bps": float(shortfall),
            "mean_dislocation_pct": self.dislocation_sum / self.steps if self.steps else 0.0,
            "composite_loss": self.loss_sum / self.steps if self.steps else 0.0,
        }
