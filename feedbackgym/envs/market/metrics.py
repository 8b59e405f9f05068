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


def metric_constants(shock_s: int, length_s: int, seller_size: int = 0, *, stress_s: int = 900,
                     pre_window_s: int = 60, depth_window_s: int = 300, magnet_window_s: int = 120,
                     spread_cap_ticks: float = 100.0, volume_memory_s: float = 300.0) -> list[float]:
    """A market's metric constants as the kernels read them (``batch_observe.MC_*`` order)."""
    return [float(int(shock_s)), float(int(length_s)), float(int(seller_size)), float(int(stress_s)),
            float(int(pre_window_s)), float(int(depth_window_s)), float(int(magnet_window_s)),
            float(spread_cap_ticks), 1.0 / float(volume_memory_s)]


def weight_arrays(weights: Mapping[str, float] | None = None):
    """The composite loss's weights as (component indices, weights) in the mapping's order (the
    order the loss is summed in)."""
    import numpy as np
    pairs = tuple((k, float(v)) for k, v in (weights or COMPOSITE_WEIGHTS).items())
    return (np.array([COMPONENTS.index(k) for k, _ in pairs], dtype=np.int64),
            np.array([w for _, w in pairs], dtype=np.float64))


class EpisodeMetrics:
    """Online episode metrics and per-second reward components of one market (see the module
    docstring): snapshot dicts in; the per-second formulas are
    :mod:`~feedbackgym.envs.market.batch_observe`'s kernel on a batch of one."""

    def __init__(self, shock_s: int, length_s: int, seller_size: int = 0, *, stress_s: int = 900,
                 pre_window_s: int = 60, depth_window_s: int = 300, magnet_window_s: int = 120,
                 spread_cap_ticks: float = 100.0, volume_memory_s: float = 300.0,
                 weights: Mapping[str, float] | None = None):
        import numpy as np

        from . import batch_observe as B
        self._mc = np.array([metric_constants(shock_s, length_s, seller_size, stress_s=stress_s,
                                              pre_window_s=pre_window_s, depth_window_s=depth_window_s,
                                              magnet_window_s=magnet_window_s, spread_cap_ticks=spread_cap_ticks,
                                              volume_memory_s=volume_memory_s)])
        self._ms = B.metrics_state(self._mc[0])[None, :]
        self._widx, self._wval = weight_arrays(weights)
        self._row = np.zeros((1, B.N_ROW))
        self._depth = np.zeros((1, 2, 0))
        self._c = np.zeros((1, len(COMPONENTS)))
        self._which = np.zeros(1, dtype=np.int64)

    @property
    def steps(self) -> int:
        """Seconds accounted."""
        from .batch_observe import M_STEPS
        return int(self._ms[0, M_STEPS])

    def update(self, s: Mapping[str, Any]) -> dict[str, float]:
        """Account one simulated second (the snapshot after the step); returns its reward components."""
        from . import batch_observe as B
        B.row_of(s, self._row[0], self._depth[0])
        B.metrics_seconds(self._row, self._ms, self._mc, self._widx, self._wval, self._c, self._which)
        return dict(zip(COMPONENTS, self._c[0].tolist()))

    def result(self) -> dict[str, float]:
        """The episode's metrics (all finite floats; see the module docstring)."""
        return metrics_result(self._ms[0], self._mc[0])


def metrics_result(ms, mc) -> dict[str, float]:
    """The episode's metrics from a market's metric state ``ms`` and constants ``mc`` (see
    :mod:`~feedbackgym.envs.market.batch_observe`; all finite floats)."""
    from . import batch_observe as B
    st = ms.tolist()
    steps = int(st[B.M_STEPS])
    shock_s = int(mc[B.MC_SHOCK])
    seller_size = int(mc[B.MC_SELLER_SIZE])
    trough_t = int(st[B.M_TROUGH_T])
    end_t = max(steps - 1, shock_s)
    pre_depth = st[B.M_PRE_DEPTH] if math.isfinite(st[B.M_PRE_DEPTH]) and st[B.M_PRE_DEPTH] > 0 else math.nan

    def frac(d):
        if not math.isfinite(pre_depth) or not math.isfinite(d):
            return 1.0
        return d / pre_depth

    retrace_t = [None if math.isnan(st[k]) else int(st[k]) for k in (B.M_RETRACE_50, B.M_RETRACE_90)]
    retrace = [(r - trough_t) if r is not None else (end_t - trough_t) for r in retrace_t]
    sc = (st[B.M_CALM_SUM], int(st[B.M_CALM_N]))
    ss = (st[B.M_STRESS_SUM], int(st[B.M_STRESS_N]))
    inv_start, inv_end = st[B.M_INV_START], st[B.M_INV_END]
    net = abs(inv_end - inv_start) if math.isfinite(inv_start) else 0.0
    seller_done_t = None if math.isnan(st[B.M_SELLER_DONE_T]) else int(st[B.M_SELLER_DONE_T])
    seller_qty, seller_value = st[B.M_SELLER_QTY], st[B.M_SELLER_VALUE]
    maker_vol, sides = st[B.M_MAKER_VOL], st[B.M_SIDES]
    seller_t: float
    if seller_size > 0:
        seller_t = (seller_done_t if seller_done_t is not None else end_t + 1) - shock_s
        ref = st[B.M_PRE_MID] if math.isfinite(st[B.M_PRE_MID]) else math.nan
        shortfall = ((ref * seller_qty - seller_value) / (ref * seller_qty) * 1e4
                     if seller_qty > 0 and math.isfinite(ref) else 0.0)
    else:
        seller_t, shortfall = 0.0, 0.0
    min_depth = st[B.M_MIN_DEPTH]
    return {
        "max_drawdown_pct": float(st[B.M_MAX_DD]),
        "time_to_trough_s": float(trough_t - shock_s),
        "retrace_50_s": float(retrace[0]),
        "retrace_90_s": float(retrace[1]),
        "retraced_50": float(retrace_t[0] is not None),
        "retraced_90": float(retrace_t[1] is not None),
        "halted_s": float(st[B.M_HALTED_S]),
        "n_halts": float(st[B.M_N_HALTS]),
        "spread_calm_ticks": sc[0] / sc[1] if sc[1] else 0.0,
        "spread_stress_ticks": ss[0] / ss[1] if ss[1] else float(mc[B.MC_SPREAD_CAP]),
        "depth_trough_frac": float(frac(st[B.M_DEPTH_AT_TROUGH])),
        "min_depth_frac": float(frac(min_depth)) if math.isfinite(min_depth) else 0.0,
        "maker_volume_share": maker_vol / sides if sides > 0 else 0.0,
        "hot_potato_ratio": maker_vol / max(net, 1.0),
        "seller_completion_s": float(seller_t),
        "seller_done": float(seller_done_t is not None) if seller_size > 0 else 1.0,
        "seller_shortfall_bps": float(shortfall),
        "mean_dislocation_pct": st[B.M_DISLOCATION_SUM] / steps if steps else 0.0,
        "composite_loss": st[B.M_LOSS_SUM] / steps if steps else 0.0,
    }
