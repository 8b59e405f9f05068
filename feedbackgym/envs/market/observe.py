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


class Observer:
    """Feature vector of one market, updated once per simulated second (snapshot dicts in; the
    formulas are :mod:`~feedbackgym.envs.market.batch_observe`'s kernels on a batch of one)."""

    def __init__(self, depth_levels: int, horizons_s, length_s: int, halt_s: float, maker_cap_total: float = 0.0,
                 liquidity: bool = False):
        self.depth_levels = int(depth_levels)
        self.maker_cap_total = float(maker_cap_total)
        self.liquidity = bool(liquidity)
        self.horizons_s = tuple(int(h) for h in horizons_s)
        self.length_s = float(length_s)
        self.halt_s = float(halt_s)
        self.size = len(feature_names(self.depth_levels, self.horizons_s, self.liquidity))
        self.ring = ring_size(self.horizons_s)
        self._obs = np.zeros((1, self.size), dtype=np.float64)
        self.obs = self._obs[0]

    def reset(self, s: dict) -> None:
        from . import batch_observe as B
        self._row = np.zeros((1, B.N_ROW))
        self._depth = np.zeros((1, 2, self.depth_levels))
        self._os = np.zeros((1, B.N_OS))
        self._rings = np.zeros((1, B.N_RING, self.ring))
        self._oc = np.array([[self.length_s, self.halt_s, self.maker_cap_total]])
        self._horizons = np.array(self.horizons_s, dtype=np.int64)
        self._which = np.zeros(1, dtype=np.int64)
        B.row_of(s, self._row[0], self._depth[0])
        bad = B.observe_reset(self._row, self._depth, self._os, self._rings, self._oc, self._horizons,
                              self.liquidity, self._obs, self._which)
        self._check(bad)

    def update(self, s: dict, write: bool = True) -> None:
        """Account the second that just ran (``s`` is the snapshot after it); ``write``: also
        recompute the feature vector (only needed on the seconds the agent decides)."""
        from . import batch_observe as B
        B.row_of(s, self._row[0], self._depth[0])
        bad = B.observe_seconds(self._row, self._depth, self._os, self._rings, self._oc, self._horizons,
                                self.liquidity, self._obs, self._which, bool(write))
        self._check(bad)

    @property
    def t(self) -> int:
        """Seconds accounted since the reset."""
        from .batch_observe import OS_T
        return int(self._os[0, OS_T])

    @property
    def mids(self) -> np.ndarray:
        """The ring of mids (second ``t`` at ``t % ring``; read-only use)."""
        from .batch_observe import RING_MID
        return self._rings[0, RING_MID]

    @property
    def cum_v(self) -> np.ndarray:
        """The ring of cumulative volumes, contracts (second ``t`` at ``t % ring``; read-only use)."""
        from .batch_observe import RING_V
        return self._rings[0, RING_V]

    def _check(self, bad: int) -> None:
        if bad >= 0:
            raise_non_finite(self._obs[bad], self.depth_levels, self.horizons_s, self.liquidity, self.t)


def ring_size(horizons_s) -> int:
    """Seconds of mids and cumulative volumes an observer keeps (the longest look-back + 1)."""
    return max(max(int(h) for h in horizons_s), HIGH_WINDOW_S) + 1


def raise_non_finite(obs: np.ndarray, depth_levels: int, horizons_s, liquidity: bool, t: int) -> None:
    """A NaN price would poison the policy: fail loudly, naming the features."""
    bad = [n for n, v in zip(feature_names(depth_levels, horizons_s, liquidity), obs) if not math.isfinite(v)]
    raise ValueError(f"market observation: non-finite feature(s) {bad} at t={t} s")
