"""Stylized facts of a price/volume series, with the pass bands of the realism gate.

Input: the mid price and traded volume sampled once per second (any simulator or real data on a
1-s grid), optionally the lag-1 autocorrelation of successive mid changes in event time (which a
1-s grid cannot show; :class:`~.sim.MarketSim` accumulates it as ``event_mid_ac1``).

Statistics (Cont, "Empirical properties of asset returns: stylized facts and statistical issues",
Quant. Finance 2001; Vyetrenko et al., "Get Real: Realism Metrics for Robust Limit Order Book
Market Simulations", ICAIF 2020), on log mid returns of non-overlapping intervals:

=======================  ==========================================================================
``kurt_10s/1m/5m``       excess kurtosis of 10-s, 1-min and 5-min returns
``ac1_1m``               lag-1 autocorrelation of 1-min returns
``absac1_1m``            lag-1 autocorrelation of \\|1-min returns\\|
``absac_10s_at_*``       autocorrelation of \\|10-s returns\\| at 10 s, 1, 5, 10 and 20 min (each the mean
                         over lags within +-10 % of the lag, to tame sampling noise)
``corr_vol_absret_1m``   correlation of 1-min volume with \\|1-min return\\|
``hill_1m``              Hill tail index of \\|1-min returns\\| (top 5 %, at least 10 order statistics)
``event_ac1``            lag-1 autocorrelation of mid changes in event time
``std_1m_bps``           standard deviation of 1-min returns, basis points
=======================  ==========================================================================

The pass bands are those of the realism table (NASDAQ LOBSTER samples, AAPL/AMZN/GOOG,
21 June 2012); "same order" for the 1-min volatility is read as within a factor 2 of the real
range, [2.4, 14.8] bps, and "decaying from 10 s to 20 min" as: positive at every checked lag and
smaller at 20 min than at 10 s.
"""

from __future__ import annotations

import math

import numpy as np

# Real NASDAQ ranges quoted by the realism table (not recomputed here: the samples are not shipped).
REAL_NASDAQ = {
    "kurt_10s": "6-14", "kurt_1m": "2.4-7.3", "kurt_5m": "0.5-3.8", "ac1_1m": "-0.16 to +0.02",
    "absac1_1m": "0.15-0.24", "absac_10s_at_10m": "0.04-0.06", "corr_vol_absret_1m": "0.30-0.38",
    "hill_1m": "3.3-3.5", "event_ac1": "-0.33 to -0.44", "std_1m_bps": "4.8-7.4",
}

# (name, description, check on the facts dict)
BANDS = (
    ("kurtosis", "excess kurtosis of 1-min returns in [1.5, 12] and 10 s > 1 min > 5 min",
     lambda f: 1.5 <= f["kurt_1m"] <= 12 and f["kurt_10s"] > f["kurt_1m"] > f["kurt_5m"]),
    ("ac1_1m", "|lag-1 autocorrelation of 1-min returns| <= 0.15", lambda f: abs(f["ac1_1m"]) <= 0.15),
    ("absac1_1m", "autocorrelation of |1-min returns| at lag 1 in [0.08, 0.40]",
     lambda f: 0.08 <= f["absac1_1m"] <= 0.40),
    ("long_memory", "|10-s return| autocorrelation > 0.02 at 10 min, positive at 10 s..20 min, "
     "smaller at 20 min than at 10 s",
     lambda f: (f["absac_10s_at_10m"] > 0.02
                and min(f["absac_10s_at_10s"], f["absac_10s_at_1m"], f["absac_10s_at_5m"],
                        f["absac_10s_at_10m"], f["absac_10s_at_20m"]) > 0
                and f["absac_10s_at_20m"] < f["absac_10s_at_10s"])),
    ("vol_vol_corr", "corr(1-min volume, |1-min return|) in [0.15, 0.60]",
     lambda f: 0.15 <= f["corr_vol_absret_1m"] <= 0.60),
    ("tail_index", "Hill tail index of 1-min returns in [2.5, 5]", lambda f: 2.5 <= f["hill_1m"] <= 5),
    ("event_ac1", "lag-1 autocorrelation of mid changes in event time < 0", lambda f: f["event_ac1"] < 0),
    ("std_1m", "std of 1-min returns in [2.4, 14.8] bps (same order as 4.8-7.4)",
     lambda f: 2.4 <= f["std_1m_bps"] <= 14.8),
)


def _returns(log_mid: np.ndarray, every: int) -> np.ndarray:
    x = log_mid[::every]
    return np.diff(x)


def _acf(x: np.ndarray, lag: int) -> float:
    if len(x) <= lag + 2:
        return math.nan
    a = x[:-lag] - x.mean()
    b = x[lag:] - x.mean()
    den = ((x - x.mean()) ** 2).mean()
    return float((a * b).mean() / den) if den > 0 else math.nan


def _excess_kurtosis(x: np.ndarray) -> float:
    x = x - x.mean()
    v = (x ** 2).mean()
    return float((x ** 4).mean() / v ** 2 - 3.0) if v > 0 else math.nan


def hill_index(x: np.ndarray, frac: float = 0.05, min_k: int = 10) -> float:
    """Hill estimator of the tail index of ``|x|`` from its top ``frac`` order statistics."""
    a = np.sort(np.abs(x[np.isfinite(x)]))[::-1]
    a = a[a > 0]
    k = max(min_k, int(frac * len(a)))
    if len(a) <= k:
        return math.nan
    logs = np.log(a[:k]) - math.log(a[k])
    m = logs.mean()
    return float(1.0 / m) if m > 0 else math.nan


def stylized_facts(mid: np.ndarray, volume: np.ndarray, event_ac1: float = math.nan) -> dict:
    """The statistics of the module docstring from 1-s mid and volume series."""
    mid = np.asarray(mid, dtype=np.float64)
    volume = np.asarray(volume, dtype=np.float64)
    if mid.ndim != 1 or volume.shape != mid.shape:
        raise ValueError(f"stylized_facts: expected 1-d mid and volume of equal length, "
                         f"got {mid.shape} and {volume.shape}")
    if len(mid) < 3600:
        raise ValueError(f"stylized_facts: expected at least 3600 one-second samples, got {len(mid)}")
    if not np.all(np.isfinite(mid)) or np.any(mid <= 0):
        raise ValueError("stylized_facts: mid must be finite and positive at every second")
    lm = np.log(mid)
    r10 = _returns(lm, 10)
    r60 = _returns(lm, 60)
    r300 = _returns(lm, 300)
    n60 = len(r60)
    # r60[k] spans samples k*60 .. (k+1)*60; its volume was traded in seconds k*60+1 .. (k+1)*60
    vol60 = volume[1:1 + n60 * 60].reshape(n60, 60).sum(axis=1)
    a10 = np.abs(r10)

    def ac_around(lag: int) -> float:
        lags = range(max(1, int(round(lag * 0.9))), int(round(lag * 1.1)) + 1)
        vals = [_acf(a10, k) for k in lags]
        vals = [v for v in vals if math.isfinite(v)]
        return float(np.mean(vals)) if vals else math.nan

    c = np.corrcoef(vol60, np.abs(r60))[0, 1] if n60 > 2 and np.std(vol60) > 0 and np.std(r60) > 0 else math.nan
    return {
        "kurt_10s": _excess_kurtosis(r10),
        "kurt_1m": _excess_kurtosis(r60),
        "kurt_5m": _excess_kurtosis(r300),
        "ac1_1m": _acf(r60, 1),
        "absac1_1m": _acf(np.abs(r60), 1),
        "absac_10s_at_10s": ac_around(1),
        "absac_10s_at_1m": ac_around(6),
        "absac_10s_at_5m": ac_around(30),
        "absac_10s_at_10m": ac_around(60),
        "absac_10s_at_20m": ac_around(120),
        "corr_vol_absret_1m": float(c),
        "hill_1m": hill_index(r60),
        "event_ac1": float(event_ac1),
        "std_1m_bps": float(np.std(r60) * 1e4),
    }


def check_bands(facts: dict) -> dict:
    """``{band name: passed}`` for every band of :data:`BANDS` (NaN statistics fail)."""
    out = {}
    for name, _doc, check in BANDS:
        try:
            out[name] = bool(check(facts))
        except (TypeError, ValueError):
            out[name] = False
    return out
