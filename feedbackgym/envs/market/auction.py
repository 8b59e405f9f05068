"""Halts and the reopening call auction.

During a halt (reserved state or trading pause) the book accepts limit orders without matching,
so it may cross. The reopening is a single-price call auction: the price that maximises the matched
volume ``min(D(p), S(p))`` (``D``: bids at or above ``p``, ``S``: asks at or below ``p``); ties go
to the smaller imbalance ``|D - S|``, then to the price nearest the last trade (the usual
uncrossing rules of CME and NASDAQ opening crosses). ``indicative_price`` is that price computed
on the current book every halted second, which traders see and bid into.
"""

from __future__ import annotations

from .book import cross_heads
from .layout import I_AUCTION_VOL, I_BA, I_BB, I_LAST, I_NFILL, L_AQ, L_BQ, MAXF, NL
from .rng import kernel


@kernel
def indicative(lv, ist):
    """(price tick, matched volume) of an auction on the current book; (-1, 0) if it does not cross."""
    bb = ist[I_BB]
    ba = ist[I_BA]
    if bb < 0 or ba >= NL or bb < ba:
        return -1, 0
    n = bb - ba + 1
    # S(p) for p = bb down to ba: all asks in [ba, bb] less those above p (integers, no array)
    s_all = 0
    for k in range(n):
        s_all += lv[L_AQ, ba + k]
    best_p = -1
    best_v = -1
    best_imb = 0
    best_dist = 0
    last = ist[I_LAST]
    d = 0
    above = 0
    for k in range(n - 1, -1, -1):
        p = ba + k
        d += lv[L_BQ, p]
        supply = s_all - above
        above += lv[L_AQ, p]
        v = min(d, supply)
        imb = abs(d - supply)
        dist = abs(p - last)
        if (v > best_v or (v == best_v and (imb < best_imb or (imb == best_imb and dist < best_dist)))):
            best_p = p
            best_v = v
            best_imb = imb
            best_dist = dist
    return best_p, best_v


@kernel
def uncross(od, lv, free, ist, fills):
    """Run the reopening auction: match the crossed book at one price. Returns it (-1: no cross)."""
    p_star, vol = indicative(lv, ist)
    ist[I_AUCTION_VOL] = 0
    if p_star < 0:
        return -1
    while ist[I_BB] >= ist[I_BA] and ist[I_NFILL] + 2 <= MAXF:
        ist[I_AUCTION_VOL] += cross_heads(od, lv, free, ist, fills, p_star)
    return p_star
