"""Limit order book with price-time priority on an integer tick grid (compiled with numba).

Each market has a price ladder ``lv`` (per tick: resting bid/ask quantity and the head/tail of a
FIFO list of orders) and an order pool ``od`` (price, quantity, side, owner, next, prev) with a
free-slot stack. Submitting an order walks the opposite side best price first and, within a price,
oldest order first; the remainder of a limit order rests at the tail of its level. Every trade is
recorded twice in ``fills`` (aggressor and resting owner) so the caller can update positions.

Exchange rules enforced here, on every trade:

* *Reserved state* (``ist[I_HALT] != 0``): limit orders are accepted and rest even when they cross;
  market and IOC orders are cancelled; nothing matches.
* *Price bands* (``ist[I_BAND_LO]``, ``ist[I_BAND_HI]``; ``-1``/``NL`` when off): no trade prints
  outside them; a buy limit above the upper band rests at the band, and the unfilled rest of a
  market order rests at the band (a quote at the band is the *limit state*).
"""

from __future__ import annotations

from .layout import (CAP, I_BA, I_BAND_HI, I_BAND_LO, I_BB, I_BUYVOL, I_EVENTS, I_FREE, I_HALT,
                     I_HIWATER, I_LAST, I_NFILL, I_NTR, I_SELLVOL, I_TMAX, I_TMIN, I_VALUE, I_VOL,
                     IOC, L_AH, L_AQ, L_BH, L_BQ, LIMIT, MARKET, MAXF, NL, O_NEXT,
                     O_OWNER, O_PREV, O_PRICE, O_QTY, O_SIDE)
from .rng import kernel


@kernel
def book_clear(od, lv, free, ist):
    """Empty book: every pool slot free, no best prices."""
    od[:, :] = 0
    od[:, O_NEXT] = -1
    od[:, O_PREV] = -1
    lv[L_BQ, :] = 0
    lv[L_AQ, :] = 0
    lv[L_BH:, :] = -1
    for i in range(CAP):
        free[i] = CAP - 1 - i
    ist[I_FREE] = CAP
    ist[I_HIWATER] = 0
    ist[I_BB] = -1
    ist[I_BA] = NL


@kernel
def _rescan_bid(lv, ist, start):
    p = start
    while p >= 0 and lv[L_BQ, p] == 0:
        p -= 1
    ist[I_BB] = p


@kernel
def _rescan_ask(lv, ist, start):
    p = start
    while p < NL and lv[L_AQ, p] == 0:
        p += 1
    ist[I_BA] = p


@kernel
def _unlink(od, lv, side, oid):
    p = od[oid, O_PRICE]
    nx = od[oid, O_NEXT]
    pv = od[oid, O_PREV]
    h = L_BH if side > 0 else L_AH
    if pv >= 0:
        od[pv, O_NEXT] = nx
    else:
        lv[h, p] = nx
    if nx >= 0:
        od[nx, O_PREV] = pv
    else:
        lv[h + 1, p] = pv


@kernel
def _release(od, free, ist, oid):
    od[oid, O_SIDE] = 0
    od[oid, O_QTY] = 0
    od[oid, O_NEXT] = -1
    od[oid, O_PREV] = -1
    free[ist[I_FREE]] = oid
    ist[I_FREE] += 1


@kernel
def rest(od, lv, free, ist, side, price, qty, owner):
    """Put a limit order at the tail of its price level (no matching). Returns its id or -1."""
    if qty <= 0 or price < 0 or price >= NL or ist[I_FREE] == 0:
        return -1
    ist[I_FREE] -= 1
    oid = free[ist[I_FREE]]
    if oid + 1 > ist[I_HIWATER]:
        ist[I_HIWATER] = oid + 1
    od[oid, O_PRICE] = price
    od[oid, O_QTY] = qty
    od[oid, O_SIDE] = side
    od[oid, O_OWNER] = owner
    od[oid, O_NEXT] = -1
    h = L_BH if side > 0 else L_AH
    tail = lv[h + 1, price]
    od[oid, O_PREV] = tail
    if tail >= 0:
        od[tail, O_NEXT] = oid
    else:
        lv[h, price] = oid
    lv[h + 1, price] = oid
    if side > 0:
        lv[L_BQ, price] += qty
        if price > ist[I_BB]:
            ist[I_BB] = price
    else:
        lv[L_AQ, price] += qty
        if price < ist[I_BA]:
            ist[I_BA] = price
    return oid


@kernel
def cancel(od, lv, free, ist, oid):
    """Cancel resting order ``oid``; returns the quantity removed (0 if it was not resting)."""
    if oid < 0 or oid >= CAP:
        return 0
    side = od[oid, O_SIDE]
    if side == 0:
        return 0
    ist[I_EVENTS] += 1
    p = od[oid, O_PRICE]
    q = od[oid, O_QTY]
    _unlink(od, lv, side, oid)
    if side > 0:
        lv[L_BQ, p] -= q
        if lv[L_BQ, p] == 0 and p == ist[I_BB]:
            _rescan_bid(lv, ist, p)
    else:
        lv[L_AQ, p] -= q
        if lv[L_AQ, p] == 0 and p == ist[I_BA]:
            _rescan_ask(lv, ist, p)
    _release(od, free, ist, oid)
    return q


@kernel
def record_trade(ist, fills, aggr_owner, aggr_side, rest_owner, q, p):
    """Book-keeping of one print: volumes, last price, fills of both owners."""
    ist[I_LAST] = p
    ist[I_VOL] += q
    if aggr_side > 0:
        ist[I_BUYVOL] += q
    elif aggr_side < 0:
        ist[I_SELLVOL] += q
    ist[I_NTR] += 1
    ist[I_EVENTS] += 1
    ist[I_VALUE] += p * q
    if p < ist[I_TMIN]:
        ist[I_TMIN] = p
    if p > ist[I_TMAX]:
        ist[I_TMAX] = p
    n = ist[I_NFILL]
    if n + 2 <= MAXF:
        fills[0, n] = aggr_owner
        fills[1, n] = aggr_side
        fills[2, n] = q
        fills[3, n] = p
        fills[0, n + 1] = rest_owner
        fills[1, n + 1] = -aggr_side
        fills[2, n + 1] = q
        fills[3, n + 1] = p
        ist[I_NFILL] = n + 2


@kernel
def take_head(od, lv, free, ist, fills, book_side, p, qty, aggr_owner, aggr_side, print_price):
    """Fill up to ``qty`` against the oldest order at level ``p`` of ``book_side`` (+1 bids)."""
    h = L_BH if book_side > 0 else L_AH
    qrow = L_BQ if book_side > 0 else L_AQ
    oid = lv[h, p]
    q = od[oid, O_QTY]
    if qty < q:
        q = qty
    record_trade(ist, fills, aggr_owner, aggr_side, od[oid, O_OWNER], q, print_price)
    od[oid, O_QTY] -= q
    lv[qrow, p] -= q
    if od[oid, O_QTY] == 0:
        _unlink(od, lv, book_side, oid)
        _release(od, free, ist, oid)
    if lv[qrow, p] == 0:
        if book_side > 0:
            if p == ist[I_BB]:
                _rescan_bid(lv, ist, p)
        elif p == ist[I_BA]:
            _rescan_ask(lv, ist, p)
    return q


@kernel
def submit(od, lv, free, ist, fills, side, price, qty, owner, kind):
    """Submit an order (``kind`` LIMIT, MARKET or IOC; ``side`` +1 buy, -1 sell).

    Matches it against the book (unless in reserved state), then rests the remainder of a limit
    order. Returns the resting order id, or -1 if nothing rests.
    """
    ist[I_EVENTS] += 1
    if qty <= 0:
        return -1
    halted = ist[I_HALT] != 0
    if halted and kind != LIMIT:
        return -1  # market and IOC orders are cancelled in reserved state
    if kind == MARKET:
        price = NL - 1 if side > 0 else 0
    elif price < 0 or price >= NL:
        return -1
    if not halted:
        qty = _match(od, lv, free, ist, fills, side, price, qty, owner)
    if qty <= 0 or kind == IOC:
        return -1
    rests, price = _resting_price(ist, side, price, kind, halted)
    if not rests:
        return -1
    return rest(od, lv, free, ist, side, price, qty, owner)


@kernel
def _match(od, lv, free, ist, fills, side, price, qty, owner):
    """Match an incoming order against the opposite side up to ``price`` (within the price band);
    returns the quantity left."""
    if side > 0:
        cap = price if price < ist[I_BAND_HI] else ist[I_BAND_HI]
        while qty > 0 and ist[I_BA] <= cap and ist[I_NFILL] + 2 <= MAXF:
            p = ist[I_BA]
            qty -= take_head(od, lv, free, ist, fills, -1, p, qty, owner, 1, p)
    else:
        floor = price if price > ist[I_BAND_LO] else ist[I_BAND_LO]
        while qty > 0 and ist[I_BB] >= floor and ist[I_NFILL] + 2 <= MAXF:
            p = ist[I_BB]
            qty -= take_head(od, lv, free, ist, fills, 1, p, qty, owner, -1, p)
    return qty


@kernel
def _resting_price(ist, side, price, kind, halted):
    """Where the unfilled rest of an order rests: ``(False, price)`` if it is dropped."""
    if kind == MARKET:  # unfilled rest of a market order: rests at the band, or is dropped
        if side > 0:
            if ist[I_BAND_HI] >= NL:
                return False, price
            return True, ist[I_BAND_HI]
        if ist[I_BAND_LO] < 0:
            return False, price
        return True, ist[I_BAND_LO]
    if not halted:
        if side > 0 and price > ist[I_BAND_HI]:
            return True, ist[I_BAND_HI]
        if side < 0 and price < ist[I_BAND_LO]:
            return True, ist[I_BAND_LO]
    return True, price


@kernel
def _reduce_head(od, lv, free, ist, book_side, p, q):
    h = L_BH if book_side > 0 else L_AH
    qrow = L_BQ if book_side > 0 else L_AQ
    oid = lv[h, p]
    od[oid, O_QTY] -= q
    lv[qrow, p] -= q
    if od[oid, O_QTY] == 0:
        _unlink(od, lv, book_side, oid)
        _release(od, free, ist, oid)
    if lv[qrow, p] == 0:
        if book_side > 0:
            if p == ist[I_BB]:
                _rescan_bid(lv, ist, p)
        elif p == ist[I_BA]:
            _rescan_ask(lv, ist, p)


@kernel
def cross_heads(od, lv, free, ist, fills, print_price):
    """Match the oldest best bid with the oldest best ask at ``print_price`` (auction uncrossing).

    Neither side is the aggressor: the print counts in volume but not in buy/sell volume.
    Returns the quantity matched.
    """
    bb = ist[I_BB]
    ba = ist[I_BA]
    bid = lv[L_BH, bb]
    ask = lv[L_AH, ba]
    q = min(od[bid, O_QTY], od[ask, O_QTY])
    bid_owner = od[bid, O_OWNER]
    ask_owner = od[ask, O_OWNER]
    record_trade(ist, fills, bid_owner, 0, ask_owner, q, print_price)
    n = ist[I_NFILL]
    fills[1, n - 2] = 1   # the bid bought
    fills[1, n - 1] = -1  # the ask sold
    _reduce_head(od, lv, free, ist, 1, bb, q)
    _reduce_head(od, lv, free, ist, -1, ba, q)
    return q
