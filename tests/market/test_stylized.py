"""Stylized facts: known answers on synthetic series, bad input."""

import math

import numpy as np
import pytest

from feedbackgym.envs.market.stylized import BANDS, check_bands, hill_index, stylized_facts


def _gaussian_walk(n, seed=0, sd_bps=1.0):
    rng = np.random.default_rng(seed)
    return 100.0 * np.exp(np.cumsum(rng.normal(0, sd_bps * 1e-4, n)))


def test_gaussian_random_walk_has_no_stylized_facts():
    mid = _gaussian_walk(23400)
    f = stylized_facts(mid, np.ones(23400))
    assert abs(f["kurt_1m"]) < 1.0 and abs(f["ac1_1m"]) < 0.15 and abs(f["absac1_1m"]) < 0.15
    assert f["std_1m_bps"] == pytest.approx(math.sqrt(60), rel=0.1)
    ok = check_bands(f)
    assert not ok["kurtosis"] and not ok["long_memory"] and not ok["event_ac1"]  # event_ac1 NaN fails


def test_stochastic_volatility_shows_clustering_and_volume_correlation():
    rng = np.random.default_rng(1)
    n = 23400
    logvol = np.zeros(n)
    for t in range(1, n):  # slow AR(1) log-volatility
        logvol[t] = 0.999 * logvol[t - 1] + 0.06 * rng.normal()
    vol = np.exp(logvol)
    mid = 100 * np.exp(np.cumsum(vol * rng.normal(0, 1e-4, n)))
    volume = rng.poisson(10 * vol)
    f = stylized_facts(mid, volume)
    assert f["kurt_1m"] > 0.5 and f["absac1_1m"] > 0.08 and f["absac_10s_at_10m"] > 0.02
    assert f["corr_vol_absret_1m"] > 0.15


def test_hill_index_of_pareto_tail():
    rng = np.random.default_rng(2)
    x = rng.pareto(3.0, 200000) + 1.0
    assert hill_index(x, frac=0.01) == pytest.approx(3.0, rel=0.1)


def test_every_band_is_checked_and_bad_input_raises():
    assert len(BANDS) == 8
    with pytest.raises(ValueError, match="at least 3600"):
        stylized_facts(np.ones(100), np.ones(100))
    with pytest.raises(ValueError, match="equal length"):
        stylized_facts(np.ones(4000), np.ones(3999))
    bad = np.ones(4000)
    bad[5] = np.nan
    with pytest.raises(ValueError, match="finite and positive"):
        stylized_facts(bad, np.ones(4000))
