"""What the market-maker and execution envs share: a per-second tape of the market and the
market features both observe (no Gymnasium here).

Both roles see what a trader sees: the book's best quotes and depth, trades (volume, aggressor
side), the halt state -- never the fundamental value or the other traders' state.
"""

from __future__ import annotations

import math

import numpy as np

#: return / imbalance horizons, seconds
HORIZONS_S = (5, 30, 120, 600)
#: observation features are scaled to order one and clipped to [-OBS_BOUND, OBS_BOUND]
OBS_BOUND = 10.0
#: half-life of the per-second variance estimate of mid changes, seconds
VAR_HALFLIFE_S = 60.0

MARKET_FEATURES = (
    [f"return_{h}s" for h in HORIZONS_S]
    + ["spread", "depth_bid_near", "depth_ask_near", "volume_30s", "volume_300s", "imbalance_30s",
       "imbalance_120s", "volatility", "move_10s", "halted", "mid_vs_start"]
)


class Tape:
    """Per-second mid, volume and signed volume since ``t = 0`` (arrays long enough for the
    episode), plus an exponentially weighted variance of one-second mid changes (ticks^2)."""

    def __init__(self, length_s: int, tick: float):
        n = length_s + 2
        self.tick = tick
        self.mid = np.zeros(n)
        self.vol = np.zeros(n)
        self.buy = np.zeros(n)
        self.sell = np.zeros(n)
        self.n = 0
        self.var_ticks2 = 0.0
        self._alpha = 1.0 - 0.5 ** (1.0 / VAR_HALFLIFE_S)

    def record(self, sim) -> None:
        """Append the second ``sim`` just simulated (or the starting state when empty)."""
        i = self.n
        self.mid[i] = sim.mid
        self.vol[i] = sim.volume
        self.buy[i] = sim.buy_volume
        self.sell[i] = sim.sell_volume
        if i > 0:
            d = (self.mid[i] - self.mid[i - 1]) / self.tick
            self.var_ticks2 += self._alpha * (d * d - self.var_ticks2)
        self.n = i + 1

    def seed_variance(self, var_ticks2: float) -> None:
        self.var_ticks2 = float(var_ticks2)

    def back(self, h: int) -> int:
        """Index of ``h`` seconds before the latest record (clamped at the first)."""
        return max(self.n - 1 - h, 0)

    def window_sum(self, arr: np.ndarray, h: int) -> float:
        lo = max(self.n - h, 0)
        return float(arr[lo:self.n].sum())

    def move_ticks(self, h: int) -> float:
        """abs(mid now - mid ``h`` seconds ago), ticks."""
        return abs(self.mid[self.n - 1] - self.mid[self.back(h)]) / self.tick


def market_features(tape: Tape, sim, start_mid: float) -> list[float]:
    """The market part of both roles' observations (names in :data:`MARKET_FEATURES`)."""
    mid = tape.mid[tape.n - 1]
    out = []
    for h in HORIZONS_S:
        past = tape.mid[tape.back(h)]
        out.append((mid / past - 1.0) * 1e4 / 20.0 if past > 0 else 0.0)   # bps / 20
    spread = sim.spread_ticks
    out.append(math.log1p(spread) / math.log(101.0) if math.isfinite(spread) else 1.0)
    out.append(math.log1p(sim.depth_bid_near) / 8.0)
    out.append(math.log1p(sim.depth_ask_near) / 8.0)
    for h in (30, 300):
        out.append(math.log1p(tape.window_sum(tape.vol, h) / h) / 5.0)
    for h in (30, 120):
        b, s = tape.window_sum(tape.buy, h), tape.window_sum(tape.sell, h)
        out.append((b - s) / (b + s + 1.0))
    out.append(math.sqrt(max(tape.var_ticks2, 0.0)) / 5.0)
    out.append(tape.move_ticks(10) / 30.0)
    out.append(1.0 if sim.halted else 0.0)
    out.append((mid / start_mid - 1.0) * 1e4 / 50.0 if start_mid > 0 else 0.0)       # bps / 50
    return out


def clip_obs(values) -> np.ndarray:
    return np.clip(np.asarray(values, dtype=np.float64), -OBS_BOUND, OBS_BOUND).astype(np.float32)


def sharpe_of(series: np.ndarray) -> float:
    """Mean / standard deviation of the increments of ``series`` (0 when it never moves)."""
    d = np.diff(np.asarray(series, dtype=float))
    if d.size < 2:
        return 0.0
    sd = float(d.std(ddof=1))
    return float(d.mean() / sd) if sd > 0 else 0.0
