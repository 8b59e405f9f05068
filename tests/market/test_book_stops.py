"""Stop-loss orders fire on the print that crosses them and cascade within the same second."""

import numpy as np

from feedbackgym.envs.market import layout as L
from feedbackgym.envs.market.book import submit
from feedbackgym.envs.market.populations import _stop_extremes, after_submit
from feedbackgym.envs.market.sim import MarketSim, scenario_params


def test_stops_cascade_down_the_book():
    sim = MarketSim(scenario_params("calm", length_s=100, stop_orders=6))
    sim.reset(np.random.default_rng(0))
    b = sim._b
    prm, ist, fst, od, lv, free, fills, hist, mk, mko, fu, dv, mo, st, rs, ev = b._arrays(0)
    bb = int(ist[L.I_BB])
    # three sell stops, each just below the previous one's sweep, and nothing else
    st[:, :] = 0
    for k, trig in enumerate((bb - 1, bb - 3, bb - 6)):
        st[L.S_TRIG, k], st[L.S_QTY, k], st[L.S_SIDE, k] = trig, 10_000, -1
    _stop_extremes(ist, st)
    ist[L.I_TMIN], ist[L.I_TMAX], ist[L.I_NFILL] = L.NL, -1, 0
    vol0 = int(ist[L.I_VOL])
    size = int(lv[L.L_BQ, bb]) + 1  # takes out the best bid and prints one tick lower
    submit(od, lv, free, ist, fills, -1, 0, size, L.T_AGENT * L.OWNER_BASE, L.MARKET)
    after_submit(prm, ist, fst, od, lv, free, fills, mk, fu, dv, mo, st)
    assert (st[L.S_SIDE, :3] == 0).all()  # all three fired: the first print triggered the rest
    assert int(ist[L.I_VOL]) - vol0 > size  # the stops traded too
    assert ist[L.I_BB] < bb - 6
