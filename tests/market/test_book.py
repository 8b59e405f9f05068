"""Order book: price-time priority, order kinds, cancels, bands, reserved state, call auction."""

import numpy as np
import pytest

from feedbackgym.envs.market import layout as L
from feedbackgym.envs.market.auction import indicative, uncross
from feedbackgym.envs.market.book import book_clear, cancel, submit


class Book:
    def __init__(self):
        self.od = np.zeros((L.CAP, L.N_OD), np.int64)
        self.lv = np.zeros((L.N_LV, L.NL), np.int64)
        self.free = np.zeros(L.CAP, np.int64)
        self.ist = np.zeros(L.N_IST, np.int64)
        self.fills = np.zeros((4, L.MAXF), np.int64)
        book_clear(self.od, self.lv, self.free, self.ist)
        self.ist[L.I_BAND_LO] = -1
        self.ist[L.I_BAND_HI] = L.NL
        self.ist[L.I_TMIN] = L.NL
        self.ist[L.I_TMAX] = -1

    def submit(self, side, price, qty, owner, kind=L.LIMIT):
        return submit(self.od, self.lv, self.free, self.ist, self.fills, side, price, qty, owner, kind)

    def cancel(self, oid):
        return cancel(self.od, self.lv, self.free, self.ist, oid)

    def take_fills(self):
        n = self.ist[L.I_NFILL]
        out = [tuple(int(x) for x in self.fills[:, k]) for k in range(n)]
        self.ist[L.I_NFILL] = 0
        return out  # (owner, side, qty, price)

    @property
    def bb(self):
        return int(self.ist[L.I_BB])

    @property
    def ba(self):
        return int(self.ist[L.I_BA])


def test_price_then_time_priority_and_partial_fills():
    b = Book()
    b.submit(-1, 101, 5, owner=1)   # older at 101
    b.submit(-1, 100, 3, owner=2)   # better price
    b.submit(-1, 101, 4, owner=3)   # younger at 101
    assert (b.bb, b.ba) == (-1, 100)
    assert b.submit(1, 101, 10, owner=9) == -1  # fully filled: nothing rests
    fills = b.take_fills()
    resting = [(o, q, p) for o, s, q, p in fills if o != 9]
    assert resting == [(2, 3, 100), (1, 5, 101), (3, 2, 101)]
    assert b.lv[L.L_AQ, 101] == 2 and b.ba == 101
    assert b.ist[L.I_VOL] == 10 and b.ist[L.I_BUYVOL] == 10 and b.ist[L.I_LAST] == 101


def test_limit_remainder_rests_and_cancel_restores_best():
    b = Book()
    b.submit(-1, 105, 2, owner=1)
    oid = b.submit(1, 106, 5, owner=2)  # crosses 2 at 105, rests 3 at 106
    assert oid >= 0 and b.bb == 106 and b.ba == L.NL
    b.submit(1, 100, 1, owner=3)
    assert b.cancel(oid) == 3
    assert b.bb == 100 and b.cancel(oid) == 0


def test_market_and_ioc_never_rest():
    b = Book()
    b.submit(1, 99, 4, owner=1)
    b.submit(1, 98, 4, owner=1)
    assert b.submit(-1, 0, 6, owner=2, kind=L.MARKET) == -1
    assert b.bb == 98 and b.lv[L.L_BQ, 98] == 2
    assert b.submit(-1, 99, 5, owner=2, kind=L.IOC) == -1  # nothing at >= 99 any more
    assert b.lv[L.L_AQ, 99] == 0 and b.ba == L.NL
    assert b.submit(-1, 0, 50, owner=2, kind=L.MARKET) == -1  # sweeps the book, rest dropped
    assert b.bb == -1 and b.ba == L.NL


def test_bands_block_trades_outside_and_rest_at_band():
    b = Book()
    b.submit(1, 95, 5, owner=1)
    b.submit(1, 90, 5, owner=1)
    b.ist[L.I_BAND_LO] = 93
    b.ist[L.I_BAND_HI] = 107
    oid = b.submit(-1, 0, 8, owner=2, kind=L.MARKET)
    fills = b.take_fills()
    assert [f[3] for f in fills] == [95, 95]  # nothing printed at 90 (below the band)
    assert oid >= 0 and b.ba == 93 and b.lv[L.L_AQ, 93] == 3  # the rest waits at the band
    assert b.submit(1, 120, 5, owner=3) >= 0  # buys the 3 at the band ask ...
    assert b.bb == 107 and b.lv[L.L_BQ, 107] == 2 and b.ba == L.NL  # ... the rest is clamped into the band


def test_reserved_state_accepts_limits_cancels_market_and_ioc():
    b = Book()
    b.submit(-1, 100, 5, owner=1)
    b.ist[L.I_HALT] = 1
    assert b.submit(1, 0, 5, owner=2, kind=L.MARKET) == -1
    assert b.submit(1, 101, 5, owner=2, kind=L.IOC) == -1
    assert b.submit(1, 102, 4, owner=3) >= 0  # rests crossed, nothing matched
    assert b.ist[L.I_VOL] == 0 and b.bb == 102 and b.ba == 100
    p, v = indicative(b.lv, b.ist)
    assert v == 4 and 100 <= p <= 102


def test_call_auction_maximises_matched_volume():
    b = Book()
    b.ist[L.I_HALT] = 1
    b.ist[L.I_LAST] = 100
    # bids: 10 @ 103, 10 @ 101 ; asks: 5 @ 99, 10 @ 102, 10 @ 104
    b.submit(1, 103, 10, owner=1)
    b.submit(1, 101, 10, owner=2)
    b.submit(-1, 99, 5, owner=3)
    b.submit(-1, 102, 10, owner=4)
    b.submit(-1, 104, 10, owner=5)
    # D(p): p<=101: 20, 102..103: 10 ; S(p): 99..101: 5, 102..103: 15
    # matched: 5 at 99..101, 10 at 102..103 -> 102 or 103; imbalance equal (5), nearest to last: 102
    p, v = indicative(b.lv, b.ist)
    assert (p, v) == (102, 10)
    assert uncross(b.od, b.lv, b.free, b.ist, b.fills) == 102
    fills = b.take_fills()
    assert {f[3] for f in fills} == {102}
    assert sum(f[2] for f in fills if f[1] > 0) == 10
    assert b.bb < b.ba  # uncrossed


@pytest.mark.parametrize("seed", [0, 1])
def test_random_flow_keeps_book_consistent(seed):
    """Level totals equal the sum of their orders; best prices are the extreme non-empty levels."""
    rng = np.random.default_rng(seed)
    b = Book()
    live = []
    for _ in range(3000):
        r = rng.random()
        if r < 0.15 and live:
            b.cancel(live.pop(rng.integers(len(live))))
        else:
            kind = L.MARKET if r < 0.25 else (L.IOC if r < 0.3 else L.LIMIT)
            side = 1 if rng.random() < 0.5 else -1
            oid = b.submit(side, int(1000 + rng.integers(-20, 21)), int(rng.integers(1, 20)), 7, kind)
            if oid >= 0:
                live.append(oid)
        b.take_fills()
    alive = b.od[:, L.O_SIDE] != 0
    for side, row in ((1, L.L_BQ), (-1, L.L_AQ)):
        mask = alive & (b.od[:, L.O_SIDE] == side)
        sums = np.bincount(b.od[:, L.O_PRICE][mask], weights=b.od[:, L.O_QTY][mask], minlength=L.NL)
        assert np.array_equal(sums.astype(np.int64), b.lv[row])
    nz_b = np.nonzero(b.lv[L.L_BQ])[0]
    nz_a = np.nonzero(b.lv[L.L_AQ])[0]
    assert b.bb == (nz_b.max() if len(nz_b) else -1)
    assert b.ba == (nz_a.min() if len(nz_a) else L.NL)
    assert b.bb < b.ba
