"""Background traders and the per-second kernel that lets them trade (compiled with numba).

Each simulated second: the regulator's action applies, the fundamental value and the market's
activity level move, then every trader that arrives this second becomes one event; the events are
shuffled and processed one by one against the book (``book.submit``), each seeing the book as the
previous ones left it. Stop-loss orders fire right after the print that crosses their trigger, so
stops cascade within the second. Populations (all parameters in :class:`~.sim.MarketParams`):

* **noise traders** -- Poisson arrivals at a rate modulated by a multi-timescale activity process
  (log-intensity = sum of Ornstein-Uhlenbeck components with 30 s .. 2 h time scales, plus
  self-excitation from recent mid moves): the source of volatility clustering, fat tails and the
  volume-volatility correlation. Orders are market, IOC at the touch, or limit orders an
  exponential distance behind the opposite best quote; sizes mix lognormal and round lots;
  resting orders are cancelled at a constant hazard (Smith, Farmer, Gillemot & Krishnamurthy,
  "Statistical theory of the continuous double auction", Quant. Finance 2003).
* **market makers** -- requote both sides around the mid each refresh, skewed against their
  inventory; widen with recent mid moves, pull all quotes after a large move, never quote past
  their inventory cap and dump inventory beyond ``maker_dump_frac`` of the cap with market orders
  (the hot potato of Kirilenko, Kyle, Samadi & Tuzun, J. Finance 2017).
* **fundamental traders** -- slow arrivals; trade towards the fundamental value when the mispricing
  exceeds a personal threshold, within a finite capacity (a cap on their net position: round trips
  in calm markets cost none of it, a persistent one-sided imbalance exhausts it).
* **deep-value traders** -- arrive only when the price is far below fundamental and buy (or far
  above it and sell), up to a net-position capacity; they bid into reopening auctions and drive
  the recovery (the brief's deep-value buyers; the selling side keeps an overshoot from running
  away).
* **momentum traders** -- market orders in the direction of the mid's move over their lookback when
  it exceeds a threshold, within a position limit; unwind passively otherwise (the feedback loop).
* **stop-loss orders** -- hidden triggers around the price, replenished slowly; a print through a
  trigger turns it into a market order.
* **POV seller** -- each second sells ``seller_participation`` of the trailing window's volume
  with market orders, no price limit, until ``seller_size`` is done (the 6 May 2010 algorithm).
  The caller may take the seller over (``ctl[C_SELL_MODE]``): an external child order per second
  or an external participation rate (see ``sim.py``, "External agents").
* **external makers** (``ctl[C_N_AGENTS]`` of them, 0 by default) -- agent-controlled quotes
  (``aq``): at the start of each second each side is re-centred on the mid at the requested
  offset and size; an unchanged quote keeps its time priority. They are extra traders, not
  replacements of rule makers; the noise traders' cancel hazard never touches them.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from . import rng as R
from .rng import NO_NRT, kernel, kernel_inline
from .auction import indicative, uncross
from .book import book_clear, cancel, rest, submit
from .layout import (AQ_ASK_OFF, AQ_ASK_OID, AQ_ASK_SIZE, AQ_BID_OFF, AQ_BID_OID, AQ_BID_SIZE, AQ_TAKE,
                     C_N_AGENTS, C_SELL_MODE, C_SELL_VALUE, MAXM, MK_CASH, O_PRICE, O_QTY, SELL_QTY,
                     SELL_RULE, T_AGENT, F_ACT0, F_ACTIVITY, F_BAND_PCT, F_EV_CROSS, F_EV_PREV_DM,
                     F_EV_SQ, F_FUND, F_MOVE_EMA, F_REF, F_SELL_CARRY, F_SELL_VALUE, F_VWAP,
                     H_MID, H_VALUE, H_VOL, HN, I_AUCTION_VOL, I_BA, I_BAND_HI, I_BAND_LO, I_BB,
                     I_BUYVOL, I_EVENTS, I_FUND_VOL, I_HALT, I_HALT_REM, I_HALTED_TOTAL, I_HIWATER,
                     I_INDICATIVE, I_LAST, I_LIMIT_STATE, I_MAKER_VOL, I_MAX_SELL_TRIG,
                     I_MIN_BUY_TRIG, I_N_HALTS, I_NFILL, I_NSTOP, I_NTR, I_OPEN, I_PREV_MID2, I_REOPEN_T,
                     I_SELL_ACTIVE, I_SELL_EXEC, I_SELL_REM, I_SELLVOL, I_T,
                     I_TMAX, I_TMIN, I_TOTAL_EVENTS, I_TOTAL_VOL, I_VALUE, I_VOL, IOC, LIMIT,
                     MARKET, MAXEV, MAXQ, MK_INV, MK_PULL_UNTIL, MK_VOL, NL, O_OWNER, O_SIDE,
                     OWNER_BASE, S_QTY, S_SIDE, S_TRIG, T_DEEP, T_FUND, T_MAKER, T_MOM, T_NOISE,
                     T_SELLER, T_STOP, TR_A, TR_B)
from .params_layout import (P_ACT_FB, P_ACT_VOL, P_BAND, P_BAND_DOUBLE, P_BAND_MAX, P_BAND_MIN,
                            P_BAND_STEP, P_DEEP_CAP, P_DEEP_DISC, P_DEEP_RATE, P_FUND_CAP,
                            P_FUND_JUMP_BPS, P_FUND_JUMP_RATE, P_FUND_RATE, P_FUND_THR, P_FUND_VOL, P_INTRADAY_U,
                            P_HALT, P_MK_CAP, P_MK_DUMP,
                            P_MK_HALF, P_MK_LEAN, P_MK_LEVELS, P_MK_PULL, P_MK_REFRESH, P_MK_SIZE, P_MK_WIDEN,
                            P_MOM_LOOKBACK, P_MOM_MAXPOS, P_MOM_RATE, P_MOM_THR, P_N_DEEP,
                            P_N_FUND, P_N_MAKERS, P_N_MOM, P_NEWS_DROP, P_NEWS_T, P_NOISE_DEPTH, P_NOISE_WITHDRAW,
                            P_NOISE_IOC, P_NOISE_LIFE, P_NOISE_MKT, P_NOISE_RATE, P_PAUSE, P_REOPEN_RESTART,
                            P_SETTLE_ATTEMPTS, P_SETTLE_PCT,
                            P_PRICE0, P_REF_WINDOW, P_ROUND_LOT, P_SELL_PART, P_SELL_SIZE,
                            P_SELL_START, P_SELL_WINDOW, P_SESSION_LENGTH, P_SESSION_OFFSET,
                            P_SIZE_MU, P_SIZE_SIGMA, P_STOP_DIST, P_TICK, P_N_NOISE)

# regulator actions (same numbers as sim.py)
A_CONTINUE, A_PAUSE, A_HALT, A_WIDEN, A_TIGHTEN = 0, 1, 2, 3, 4
E_NOISE, E_CANCEL, E_MAKER, E_FUND, E_DEEP, E_MOM, E_SELLER = range(7)
EV_BASE = 65536
ACT_TAU_S = (30.0, 300.0, 1800.0, 7200.0)
ACT_SD_SHARE = (0.5, 0.5477225575051661, 0.4743416490252569, 0.4743416490252569)  # variance shares 0.25/0.3/0.225/0.225
WITHDRAW_MAX = 4.0  # liquidity backs away at most this many times further
ACT_MAX = 10.0  # the activity multiplier is capped (no calm-day stampedes)
WARMUP_S = 300
LOT_SIZES = (1, 5, 10, 25, 50, 100)
LOT_CUM = (0.45, 0.7, 0.87, 0.95, 0.99, 1.0)


# ----------------------------------------------------------------------------- small helpers


@kernel
def draw_size(prm, rs):
    """Order size: a round lot with probability round_lot_frac, else lognormal (at least 1)."""
    if R.uniform(rs) < prm[P_ROUND_LOT]:
        u = R.uniform(rs)
        for k in range(6):
            if u < LOT_CUM[k]:
                return LOT_SIZES[k]
        return 1
    return max(1, int(math.exp(prm[P_SIZE_MU] + prm[P_SIZE_SIGMA] * R.normal(rs)) + 0.5))


@kernel
def ref_quotes(ist):
    """(bid, ask) ticks traders price against: the best quotes, or around the last trade."""
    last = ist[I_LAST]
    if ist[I_HALT] != 0:  # price against the last trade before the halt: nobody chases the indicative
        return last - 1, last + 1
    bb = ist[I_BB]
    ba = ist[I_BA]
    if bb >= 0 and ba < NL:
        return bb, ba
    if bb >= 0:
        return bb, max(bb + 1, last + 1)
    if ba < NL:
        return min(ba - 1, last - 1), ba
    return last - 1, last + 1


@kernel
def mid_ticks(ist):
    """The mid in ticks (float); during a halt the indicative price (or the last trade)."""
    if ist[I_HALT] != 0:
        return float(ist[I_INDICATIVE] if ist[I_INDICATIVE] >= 0 else ist[I_LAST])
    rb, ra = ref_quotes(ist)
    return 0.5 * (rb + ra)


@kernel
def settle(prm, ist, fst, fills, mk, fu, dv, mo):
    """Apply the recorded fills to the owners' positions and the per-second counters."""
    tick = prm[P_TICK]
    for k in range(ist[I_NFILL]):
        owner = fills[0, k]
        typ = owner // OWNER_BASE
        idx = owner - typ * OWNER_BASE
        side = fills[1, k]
        q = fills[2, k]
        if typ == T_MAKER:
            mk[MK_INV, idx] += side * q
            mk[MK_VOL, idx] += q
            mk[MK_CASH, idx] -= side * q * fills[3, k] * tick
            ist[I_MAKER_VOL] += q
        elif typ == T_AGENT:  # external makers: not counted in the rule makers' maker_volume
            mk[MK_INV, MAXM + idx] += side * q
            mk[MK_VOL, MAXM + idx] += q
            mk[MK_CASH, MAXM + idx] -= side * q * fills[3, k] * tick
        elif typ == T_FUND:
            fu[TR_A, idx] += side * q  # net position
            ist[I_FUND_VOL] += q
        elif typ == T_DEEP:
            dv[TR_A, idx] += side * q  # net position
            ist[I_FUND_VOL] += q
        elif typ == T_MOM:
            mo[TR_A, idx] += side * q
        elif typ == T_SELLER:
            ist[I_SELL_EXEC] += q
            ist[I_SELL_REM] -= q
            fst[F_SELL_VALUE] += q * fills[3, k] * tick
    ist[I_NFILL] = 0


@kernel
def _stop_extremes(ist, st):
    hi_sell = -1
    lo_buy = NL
    n = 0
    for k in range(st.shape[1]):
        s = st[S_SIDE, k]
        if s < 0:
            n += 1
            if st[S_TRIG, k] > hi_sell:
                hi_sell = st[S_TRIG, k]
        elif s > 0:
            n += 1
            if st[S_TRIG, k] < lo_buy:
                lo_buy = st[S_TRIG, k]
    ist[I_MAX_SELL_TRIG] = hi_sell
    ist[I_MIN_BUY_TRIG] = lo_buy
    ist[I_NSTOP] = n


@kernel
def prints_pending(ist):
    """Whether :func:`after_submit` has work: fills to settle or prints not yet checked against
    the stops. Without either it changes nothing, and the hot loops skip the call (it passes a
    dozen arrays, which cost more than the check)."""
    return ist[I_NFILL] != 0 or ist[I_TMIN] != NL or ist[I_TMAX] != -1


@kernel
def after_submit(prm, ist, fst, od, lv, free, fills, mk, fu, dv, mo, st):
    """Settle fills, then fire every stop the prints crossed (cascading) as market orders."""
    settle(prm, ist, fst, fills, mk, fu, dv, mo)
    for _ in range(64):  # cascade rounds
        tmin = ist[I_TMIN]
        tmax = ist[I_TMAX]
        if not (tmin <= ist[I_MAX_SELL_TRIG] or tmax >= ist[I_MIN_BUY_TRIG]):
            break
        # a round fires, in slot order, every stop the prints so far crossed; firing one leaves
        # the other slots untouched, so slot k is tested as if the fired slots were listed first
        nf = 0
        for k in range(st.shape[1]):
            s = st[S_SIDE, k]
            if (s < 0 and st[S_TRIG, k] >= tmin) or (s > 0 and st[S_TRIG, k] <= tmax):
                if nf == 0:  # the next round looks at this round's prints only
                    ist[I_TMIN] = NL
                    ist[I_TMAX] = -1
                nf += 1
                q = st[S_QTY, k]
                st[S_SIDE, k] = 0
                submit(od, lv, free, ist, fills, s, 0, q, T_STOP * OWNER_BASE + k, MARKET)
                settle(prm, ist, fst, fills, mk, fu, dv, mo)
        _stop_extremes(ist, st)
        if nf == 0:
            break
    ist[I_TMIN] = NL
    ist[I_TMAX] = -1


@kernel
def new_stop(prm, ist, st, rs, k):
    """A fresh stop in slot k: sell stops (even slots) below the price, buy stops above."""
    side = -1 if k % 2 == 0 else 1
    p0 = ist[I_LAST]
    dist_ticks = prm[P_STOP_DIST] / 100.0 * p0
    trig = p0 + side * (1 + int(R.exponential(rs, dist_ticks)))
    if trig < 0 or trig >= NL:
        return
    st[S_TRIG, k] = trig
    st[S_QTY, k] = draw_size(prm, rs)
    st[S_SIDE, k] = side


# ----------------------------------------------------------------------------- event handlers


@kernel_inline
def ev_noise(prm, ist, od, lv, free, fills, hist, rs, idx):
    side = 1 if R.uniform(rs) < 0.5 else -1
    size = draw_size(prm, rs)
    u = R.uniform(rs)
    rb, ra = ref_quotes(ist)
    owner = T_NOISE * OWNER_BASE + idx
    if u < prm[P_NOISE_MKT]:
        submit(od, lv, free, ist, fills, side, 0, size, owner, MARKET)
    elif u < prm[P_NOISE_MKT] + prm[P_NOISE_IOC]:
        submit(od, lv, free, ist, fills, side, ra if side > 0 else rb, size, owner, IOC)
    else:
        depth = prm[P_NOISE_DEPTH]
        if prm[P_NOISE_WITHDRAW] > 0:  # liquidity backs away from a falling (rising) market
            t = ist[I_T]
            past = hist[H_MID, max(t - 60, ist[I_REOPEN_T]) % HN]
            # a mid of 0 ticks (a bid side swept to the bottom of the grid) has no return
            against = -side * (0.5 * (rb + ra) - past) / past * 1e4 if past > 0 else 0.0  # bps moved against it
            if against > 0:
                depth *= min(1.0 + prm[P_NOISE_WITHDRAW] * against / 10.0, WITHDRAW_MAX)
        k = int(R.exponential(rs, depth))
        price = ra - 1 - k if side > 0 else rb + 1 + k
        submit(od, lv, free, ist, fills, side, price, size, owner, LIMIT)


@kernel_inline
def ev_cancel(ist, od, lv, free, rs):
    """Cancel the order in a random pool slot if it is a live non-maker order (constant hazard)."""
    hw = ist[I_HIWATER]
    if hw == 0:
        return
    oid = R.randint(rs, hw)
    typ = od[oid, O_OWNER] // OWNER_BASE
    if od[oid, O_SIDE] != 0 and typ != T_MAKER and typ != T_AGENT:
        cancel(od, lv, free, ist, oid)


@kernel
def ev_maker(prm, ist, fst, od, lv, free, fills, hist, mk, mko, fu, dv, mo, st, rs, i):
    for j in range(2 * MAXQ):
        if mko[i, j] >= 0:
            cancel(od, lv, free, ist, mko[i, j])
            mko[i, j] = -1
    if ist[I_HALT] != 0:
        return  # makers stand aside during halts
    t = ist[I_T]
    cap = prm[P_MK_CAP]
    inv = mk[MK_INV, i]
    owner = T_MAKER * OWNER_BASE + i
    if abs(inv) > prm[P_MK_DUMP] * cap and cap > 0:
        q = int(abs(inv) - 0.5 * prm[P_MK_DUMP] * cap)
        submit(od, lv, free, ist, fills, -1 if inv > 0 else 1, 0, q, owner, MARKET)
        if prints_pending(ist):
            after_submit(prm, ist, fst, od, lv, free, fills, mk, fu, dv, mo, st)
        inv = mk[MK_INV, i]
    if mk[MK_PULL_UNTIL, i] > t:
        return
    mid = mid_ticks(ist)
    stress = abs(mid - hist[H_MID, (max(t - 10, ist[I_REOPEN_T])) % HN])
    if stress >= prm[P_MK_PULL]:
        mk[MK_PULL_UNTIL, i] = t + 3.0 + 10.0 * R.uniform(rs)
        return
    half = prm[P_MK_HALF] + prm[P_MK_WIDEN] * stress * (0.5 + R.uniform(rs))
    skew = -(inv / cap) * (half + 1.0) if cap > 0 else 0.0
    lean = fst[F_FUND] - mid  # makers quote around their value estimate (bounded lean)
    cap_lean = prm[P_MK_LEAN]
    lean = min(max(lean, -cap_lean), cap_lean)
    center = mid + lean + skew
    bid0 = int(math.floor(center - half))
    ask0 = int(math.ceil(center + half))
    if ask0 <= bid0:
        ask0 = bid0 + 1
    bb = ist[I_BB]
    ba = ist[I_BA]
    if ba < NL and bid0 >= ba:
        bid0 = ba - 1
    if bb >= 0 and ask0 <= bb:
        ask0 = bb + 1
    gap = 1 + int(stress / 4.0)
    size = int(prm[P_MK_SIZE])
    for lvl in range(int(prm[P_MK_LEVELS])):
        if inv + (lvl + 1) * size <= cap:
            ist[I_EVENTS] += 1
            mko[i, lvl] = rest(od, lv, free, ist, 1, bid0 - lvl * gap, size, owner)
        if -inv + (lvl + 1) * size <= cap:
            ist[I_EVENTS] += 1
            mko[i, MAXQ + lvl] = rest(od, lv, free, ist, -1, ask0 + lvl * gap, size, owner)


@kernel_inline
def ev_fund(prm, ist, fst, od, lv, free, fills, fu, rs, i):
    mid = mid_ticks(ist)
    f = fst[F_FUND]
    mis = (f - mid) / f * 1e4
    th = fu[TR_B, i]
    if abs(mis) < th:
        return
    side = 1 if mis > 0 else -1
    room = prm[P_FUND_CAP] - side * fu[TR_A, i]  # finite capacity: a cap on the net position
    if room < 1:
        return
    size = min(2 * draw_size(prm, rs), int(room))
    rb, ra = ref_quotes(ist)
    aggressive = R.uniform(rs) < min(1.0, 0.2 + 0.8 * (abs(mis) - th) / max(th, 1.0))
    if aggressive:
        price = ra if side > 0 else rb
    else:
        price = rb if side > 0 else ra
    submit(od, lv, free, ist, fills, side, price, size, T_FUND * OWNER_BASE + i, LIMIT)


@kernel_inline
def ev_deep(prm, ist, fst, od, lv, free, fills, dv, rs, i):
    """Deep-value trader: buys far below the fundamental (sells far above), within its capacity."""
    mid = mid_ticks(ist)
    f = fst[F_FUND]
    thr = dv[TR_B, i]
    if mid < f * (1.0 - thr):
        side = 1
    elif mid > f * (1.0 + thr):
        side = -1
    else:
        return
    room = prm[P_DEEP_CAP] - side * dv[TR_A, i]
    if room < 1:
        return
    size = min(5 + 3 * draw_size(prm, rs), int(room))
    rb, ra = ref_quotes(ist)
    if side > 0:
        price = min(ra + 1, int(f * (1.0 - thr)))  # never beyond its value threshold
    else:
        price = max(rb - 1, int(math.ceil(f * (1.0 + thr))))
    submit(od, lv, free, ist, fills, side, price, size, T_DEEP * OWNER_BASE + i, LIMIT)


@kernel_inline
def ev_mom(prm, ist, od, lv, free, fills, hist, mo, rs, i):
    t = ist[I_T]
    lookback = int(mo[TR_B, i])
    past = hist[H_MID, max(t - lookback, ist[I_REOPEN_T]) % HN]
    mid = mid_ticks(ist)
    sig = (mid - past) / past * 1e4 if past > 0 else 0.0  # no signal from a mid of 0 ticks
    pos = mo[TR_A, i]
    owner = T_MOM * OWNER_BASE + i
    if abs(sig) > prm[P_MOM_THR]:
        side = 1 if sig > 0 else -1
        size = draw_size(prm, rs)
        if side * pos + size <= prm[P_MOM_MAXPOS]:
            submit(od, lv, free, ist, fills, side, 0, size, owner, MARKET)
    elif pos != 0 and R.uniform(rs) < 0.3:
        side = -1 if pos > 0 else 1
        size = min(int(abs(pos)), draw_size(prm, rs))
        rb, ra = ref_quotes(ist)
        submit(od, lv, free, ist, fills, side, rb if side > 0 else ra, size, owner, LIMIT)


@kernel
def agent_orders(prm, ist, fst, od, lv, free, fills, mk, fu, dv, mo, st, aq, n_agents):
    """External makers' instructions at the start of a second: each one-shot market order
    (``AQ_TAKE``; the agent's own resting quotes are cancelled first, so it never trades with
    itself), then each side's quote re-centred on the mid.

    A bid ``k`` ticks from the mid rests at ``ceil(mid) - k`` and an ask at ``floor(mid) + k``, so
    ``k = 1`` joins the best quotes; outside halts a quote that would cross is moved to one tick
    inside the opposite best (post-only: a quote never takes liquidity). A resting quote already
    at the requested price with the requested size stays (it keeps its time priority); anything
    else is cancelled and re-posted at the back of its level (a partly filled quote is topped up
    that way the next second). Uses no random numbers.
    """
    halted = ist[I_HALT] != 0
    for k in range(n_agents):
        owner = T_AGENT * OWNER_BASE + k
        take = aq[k, AQ_TAKE]
        if take != 0:
            aq[k, AQ_TAKE] = 0
            for col in (AQ_BID_OID, AQ_ASK_OID):  # no self-trade: the agent's own quotes leave first
                oid = aq[k, col]
                if oid >= 0 and od[oid, O_SIDE] != 0 and od[oid, O_OWNER] == owner:
                    cancel(od, lv, free, ist, oid)
                aq[k, col] = -1
            submit(od, lv, free, ist, fills, 1 if take > 0 else -1, 0, abs(take), owner, MARKET)
            if prints_pending(ist):
                after_submit(prm, ist, fst, od, lv, free, fills, mk, fu, dv, mo, st)
        mid = mid_ticks(ist)
        for s in range(2):
            side = 1 if s == 0 else -1
            off = aq[k, AQ_BID_OFF] if s == 0 else aq[k, AQ_ASK_OFF]
            size = aq[k, AQ_BID_SIZE] if s == 0 else aq[k, AQ_ASK_SIZE]
            col = AQ_BID_OID if s == 0 else AQ_ASK_OID
            price = -1
            if size > 0 and off >= 1:
                if side > 0:
                    price = int(math.ceil(mid)) - off
                    if not halted and ist[I_BA] < NL and price >= ist[I_BA]:
                        price = ist[I_BA] - 1
                else:
                    price = int(math.floor(mid)) + off
                    if not halted and ist[I_BB] >= 0 and price <= ist[I_BB]:
                        price = ist[I_BB] + 1
            oid = aq[k, col]
            if oid >= 0:
                live = od[oid, O_SIDE] == side and od[oid, O_OWNER] == owner
                if live and od[oid, O_PRICE] == price and od[oid, O_QTY] == size:
                    continue
                if live:
                    cancel(od, lv, free, ist, oid)
                aq[k, col] = -1
            if size > 0 and 0 <= price < NL:
                ist[I_EVENTS] += 1
                aq[k, col] = rest(od, lv, free, ist, side, price, size, owner)


# ----------------------------------------------------------------------------- the second


@kernel
def _apply_action(prm, ist, fst, action):
    if action == A_PAUSE or action == A_HALT:
        length = int(prm[P_PAUSE] if action == A_PAUSE else prm[P_HALT])
        kind = 1 if action == A_PAUSE else 2
        if ist[I_HALT] == 0:
            ist[I_N_HALTS] += 1
            ist[I_HALT] = kind
            ist[I_HALT_REM] = length
        else:
            if kind > ist[I_HALT]:
                ist[I_HALT] = kind
            if length > ist[I_HALT_REM]:
                ist[I_HALT_REM] = length
    elif action == A_WIDEN:
        b = fst[F_BAND_PCT]
        if b > 0:
            fst[F_BAND_PCT] = min(b * prm[P_BAND_STEP], prm[P_BAND_MAX])
    elif action == A_TIGHTEN:
        b = fst[F_BAND_PCT]
        fst[F_BAND_PCT] = prm[P_BAND_MAX] if b <= 0 else max(b / prm[P_BAND_STEP], prm[P_BAND_MIN])


@kernel
def _update_bands(prm, ist, fst):
    b = fst[F_BAND_PCT]
    if b <= 0:
        ist[I_BAND_LO] = -1
        ist[I_BAND_HI] = NL
        return
    if prm[P_BAND_DOUBLE] > 0:
        ts = prm[P_SESSION_OFFSET] + ist[I_T]
        if ts < 900 or ts >= prm[P_SESSION_LENGTH] - 1500:
            b *= 2.0
    ref = fst[F_REF]
    ist[I_BAND_LO] = max(0, int(math.ceil(ref * (1.0 - b / 100.0))))
    ist[I_BAND_HI] = min(NL - 1, int(math.floor(ref * (1.0 + b / 100.0))))


@kernel
def _track_event_mid(ist, fst):
    """Lag-1 autocovariance of successive mid changes in event time (for the stylized facts)."""
    if ist[I_HALT] != 0 or ist[I_BB] < 0 or ist[I_BA] >= NL:
        return
    m2 = ist[I_BB] + ist[I_BA]
    prev = ist[I_PREV_MID2]
    ist[I_PREV_MID2] = m2
    if prev < 0 or m2 == prev:
        return
    dm = float(m2 - prev)
    fst[F_EV_CROSS] += dm * fst[F_EV_PREV_DM]
    fst[F_EV_SQ] += dm * dm
    fst[F_EV_PREV_DM] = dm


# C901: kept as one jitted hot loop (a simulated second); splitting it passes ~20 arrays through each call
@kernel
def step_market(prm, ist, fst, od, lv, free, fills, hist, mk, mko, fu, dv, mo, st, rs, ev, ctl, aq,  # noqa: C901
                action):
    """Advance one market by one second under the regulator's ``action`` (``ctl``/``aq``: the
    external agents' control, see ``layout.py``; all zero = the background market alone)."""
    t = ist[I_T]
    ist[I_VOL] = 0
    ist[I_BUYVOL] = 0
    ist[I_SELLVOL] = 0
    ist[I_NTR] = 0
    ist[I_EVENTS] = 0
    ist[I_VALUE] = 0
    ist[I_MAKER_VOL] = 0
    ist[I_FUND_VOL] = 0
    ist[I_AUCTION_VOL] = 0
    ist[I_TMIN] = NL
    ist[I_TMAX] = -1
    _apply_action(prm, ist, fst, action)
    _update_bands(prm, ist, fst)

    # fundamental value and activity
    act_prev = fst[F_ACTIVITY] if fst[F_ACTIVITY] > 0 else 1.0
    if prm[P_FUND_VOL] > 0:  # stochastic volatility: the value moves faster when the market is busy
        fst[F_FUND] *= math.exp(prm[P_FUND_VOL] * 1e-4 * math.sqrt(act_prev) * R.normal(rs))
    if prm[P_FUND_JUMP_RATE] > 0 and R.uniform(rs) < prm[P_FUND_JUMP_RATE] / 3600.0:
        fst[F_FUND] *= math.exp(prm[P_FUND_JUMP_BPS] * 1e-4 * R.normal(rs))
    if t >= 0 and t == int(prm[P_NEWS_T]):
        fst[F_FUND] *= 1.0 - prm[P_NEWS_DROP] / 100.0
    x = 0.0
    for k in range(4):
        a = math.exp(-1.0 / ACT_TAU_S[k])
        sd = prm[P_ACT_VOL] * ACT_SD_SHARE[k]
        fst[F_ACT0 + k] = fst[F_ACT0 + k] * a + math.sqrt(1.0 - a * a) * sd * R.normal(rs)
        x += fst[F_ACT0 + k]
    ts = prm[P_SESSION_OFFSET] + t  # seconds since the open: U-shaped intraday activity
    u_shape = 1.0 + prm[P_INTRADAY_U] * (math.exp(-ts / 1800.0) + math.exp(-(prm[P_SESSION_LENGTH] - ts) / 1800.0))
    activity = min(math.exp(x - 0.5 * prm[P_ACT_VOL] ** 2) * u_shape * (1.0 + prm[P_ACT_FB] * fst[F_MOVE_EMA]),
                   ACT_MAX)
    fst[F_ACTIVITY] = activity

    # the seller's child order for this second
    halted = ist[I_HALT] != 0
    sell_q = 0
    sell_mode = int(ctl[C_SELL_MODE])
    if ist[I_SELL_REM] > 0 and t >= prm[P_SELL_START]:
        ist[I_SELL_ACTIVE] = 1
        if not halted:
            if sell_mode == SELL_QTY:  # the caller's child order (market orders are void in halts)
                sell_q = min(int(ctl[C_SELL_VALUE]), ist[I_SELL_REM], EV_BASE - 1)
            else:
                rate = prm[P_SELL_PART] if sell_mode == SELL_RULE else ctl[C_SELL_VALUE]
                w = int(prm[P_SELL_WINDOW])
                vol_w = 0.0
                for k in range(1, w + 1):
                    vol_w += hist[H_VOL, (t - k) % HN]
                fst[F_SELL_CARRY] += rate * vol_w / w
                sell_q = min(int(fst[F_SELL_CARRY]), ist[I_SELL_REM])
                if sell_mode != SELL_RULE:
                    sell_q = min(sell_q, EV_BASE - 1)
                fst[F_SELL_CARRY] -= sell_q
    else:
        ist[I_SELL_ACTIVE] = 0
    if sell_mode == SELL_QTY:
        ctl[C_SELL_VALUE] = 0.0  # one-shot: the next second sells nothing unless asked again

    # this second's arrivals, shuffled
    n = 0
    for _ in range(R.poisson(rs, prm[P_NOISE_RATE] * activity)):
        if n < MAXEV:
            ev[n] = E_NOISE * EV_BASE + R.randint(rs, max(1, int(prm[P_N_NOISE])))
            n += 1
    for _ in range(R.poisson(rs, ist[I_HIWATER] / prm[P_NOISE_LIFE])):
        if n < MAXEV:
            ev[n] = E_CANCEL * EV_BASE
            n += 1
    for i in range(int(prm[P_N_MAKERS])):
        for _ in range(R.poisson(rs, prm[P_MK_REFRESH])):
            if n < MAXEV:
                ev[n] = E_MAKER * EV_BASE + i
                n += 1
    nf = int(prm[P_N_FUND])
    if nf > 0:
        for _ in range(R.poisson(rs, nf * prm[P_FUND_RATE])):
            if n < MAXEV:
                ev[n] = E_FUND * EV_BASE + R.randint(rs, nf)
                n += 1
    nd = int(prm[P_N_DEEP])
    mid = mid_ticks(ist)
    if nd > 0 and abs(mid / fst[F_FUND] - 1.0) > prm[P_DEEP_DISC] / 100.0:
        for _ in range(R.poisson(rs, nd * prm[P_DEEP_RATE])):
            if n < MAXEV:
                ev[n] = E_DEEP * EV_BASE + R.randint(rs, nd)
                n += 1
    nm = int(prm[P_N_MOM])
    if nm > 0:
        for _ in range(R.poisson(rs, nm * prm[P_MOM_RATE])):
            if n < MAXEV:
                ev[n] = E_MOM * EV_BASE + R.randint(rs, nm)
                n += 1
    if sell_q > 0 and n < MAXEV:
        ev[n] = E_SELLER * EV_BASE + sell_q
        n += 1
    for k in range(n - 1, 0, -1):
        j = R.randint(rs, k + 1)
        tmp = ev[k]
        ev[k] = ev[j]
        ev[j] = tmp

    n_agents = int(ctl[C_N_AGENTS])
    if n_agents > 0:  # external makers act first: the whole second's flow meets their quotes
        agent_orders(prm, ist, fst, od, lv, free, fills, mk, fu, dv, mo, st, aq, n_agents)
        _track_event_mid(ist, fst)

    for e in range(n):
        typ = ev[e] // EV_BASE
        idx = ev[e] - typ * EV_BASE
        if typ == E_NOISE:
            ev_noise(prm, ist, od, lv, free, fills, hist, rs, idx)
        elif typ == E_CANCEL:
            ev_cancel(ist, od, lv, free, rs)
        elif typ == E_MAKER:
            ev_maker(prm, ist, fst, od, lv, free, fills, hist, mk, mko, fu, dv, mo, st, rs, idx)
        elif typ == E_FUND:
            ev_fund(prm, ist, fst, od, lv, free, fills, fu, rs, idx)
        elif typ == E_DEEP:
            ev_deep(prm, ist, fst, od, lv, free, fills, dv, rs, idx)
        elif typ == E_MOM:
            ev_mom(prm, ist, od, lv, free, fills, hist, mo, rs, idx)
        else:
            submit(od, lv, free, ist, fills, -1, 0, idx, T_SELLER * OWNER_BASE, MARKET)
        if prints_pending(ist):
            after_submit(prm, ist, fst, od, lv, free, fills, mk, fu, dv, mo, st)
        _track_event_mid(ist, fst)

    # halt clock and the reopening auction
    if ist[I_HALT] != 0:
        ist[I_HALTED_TOTAL] += 1
        ist[I_HALT_REM] -= 1
        if ist[I_HALT_REM] <= 0:
            ist[I_HALT_REM] = 0
            auction_vol = 0
            for _ in range(64):
                if uncross(od, lv, free, ist, fills) < 0:
                    break
                auction_vol += ist[I_AUCTION_VOL]
                settle(prm, ist, fst, fills, mk, fu, dv, mo)
                if ist[I_BB] < ist[I_BA]:
                    break
            ist[I_AUCTION_VOL] = auction_vol
            ist[I_HALT] = 0
            ist[I_INDICATIVE] = -1
            if prm[P_REOPEN_RESTART] > 0:
                ist[I_REOPEN_T] = t  # algorithms restart: signals are measured from the reopening
            ist[I_PREV_MID2] = -1
            if prints_pending(ist):
                after_submit(prm, ist, fst, od, lv, free, fills, mk, fu, dv, mo, st)
        else:
            ip, iv = indicative(lv, ist)
            ist[I_INDICATIVE] = ip
    else:
        ist[I_INDICATIVE] = -1

    # end-of-second book-keeping
    mid = mid_ticks(ist)
    prev_mid = hist[H_MID, (t - 1) % HN]
    fst[F_MOVE_EMA] += (abs(mid - prev_mid) - fst[F_MOVE_EMA]) / 30.0
    hist[H_MID, t % HN] = mid
    hist[H_VOL, t % HN] = ist[I_VOL]
    hist[H_VALUE, t % HN] = ist[I_VALUE]
    fst[F_VWAP] = ist[I_VALUE] / ist[I_VOL] if ist[I_VOL] > 0 else np.nan
    w = min(int(prm[P_REF_WINDOW]), HN)
    sv = 0.0
    sq = 0.0
    # ring slots (t - k) % HN for k = 0 .. w - 1, newest first (the same sums in the same order),
    # as two runs without a modulo per slot
    j = t % HN
    for k in range(min(w, j + 1)):
        sv += hist[H_VALUE, j - k]
        sq += hist[H_VOL, j - k]
    for k in range(w - j - 1):
        sv += hist[H_VALUE, HN - 1 - k]
        sq += hist[H_VOL, HN - 1 - k]
    if sq > 0:
        fst[F_REF] = sv / sq
    _update_bands(prm, ist, fst)
    if (fst[F_BAND_PCT] > 0 and ist[I_HALT] == 0
            and ((ist[I_BB] >= 0 and ist[I_BB] >= ist[I_BAND_HI]) or (ist[I_BA] < NL and ist[I_BA] <= ist[I_BAND_LO]))):
        ist[I_LIMIT_STATE] += 1
    else:
        ist[I_LIMIT_STATE] = 0
    # stops: slow expiry and replenishment around the current price
    ns = st.shape[1]
    if ns > 0:
        for _ in range(R.poisson(rs, ns / 900.0)):
            st[S_SIDE, R.randint(rs, ns)] = 0
        add = max(1, ns // 120)
        for k in range(ns):
            if add == 0:
                break
            if st[S_SIDE, k] == 0:
                new_stop(prm, ist, st, rs, k)
                add -= 1
        _stop_extremes(ist, st)
    ist[I_TOTAL_VOL] += ist[I_VOL]
    ist[I_TOTAL_EVENTS] += ist[I_EVENTS]
    ist[I_T] = t + 1


@njit(cache=True, nogil=True, **NO_NRT)  # as rng.kernel; nogil: MarketBatch may step slices from threads
def step_batch(prm, ist, fst, od, lv, free, fills, hist, mk, mko, fu, dv, mo, st, rs, ev, ctl, aq, actions):
    """Advance every market of a batch (leading axis) by one second."""
    for e in range(ist.shape[0]):
        step_market(prm[e], ist[e], fst[e], od[e], lv[e], free[e], fills[e], hist[e], mk[e], mko[e],
                    fu[e], dv[e], mo[e], st[e], rs[e], ev[e], ctl[e], aq[e], actions[e])


@kernel
def _warm_up(prm, ist, fst, od, lv, free, fills, hist, mk, mko, fu, dv, mo, st, rs, ev, ctl, aq):
    """Seeded book and traders, then ``WARMUP_S`` simulated seconds at negative clock times."""
    ist[:] = 0
    fst[:] = 0.0
    book_clear(od, lv, free, ist)
    p0 = int(round(prm[P_PRICE0] / prm[P_TICK]))
    ist[I_LAST] = p0
    ist[I_INDICATIVE] = -1
    ist[I_PREV_MID2] = -1
    ist[I_TMIN] = NL
    ist[I_TMAX] = -1
    fst[F_FUND] = float(p0)
    fst[F_REF] = float(p0)
    fst[F_BAND_PCT] = prm[P_BAND]
    for k in range(4):
        fst[F_ACT0 + k] = prm[P_ACT_VOL] * ACT_SD_SHARE[k] * R.normal(rs)
    hist[:, :] = 0.0
    hist[H_MID, :] = float(p0)
    mk[:, :] = 0.0
    mko[:, :] = -1
    for i in range(fu.shape[1]):
        fu[TR_A, i] = 0.0
        fu[TR_B, i] = prm[P_FUND_THR] * (0.5 + R.uniform(rs))
    for i in range(dv.shape[1]):
        dv[TR_A, i] = 0.0
        dv[TR_B, i] = prm[P_DEEP_DISC] / 100.0 * (1.0 + R.uniform(rs))
    for i in range(mo.shape[1]):
        mo[TR_A, i] = 0.0
        mo[TR_B, i] = max(1.0, prm[P_MOM_LOOKBACK] * (0.5 + R.uniform(rs)))
    st[:, :] = 0
    # a seeded book: a few noise orders on each of the first 40 ticks of each side
    for k in range(1, 41):
        for _ in range(1 + R.poisson(rs, 1.5)):
            rest(od, lv, free, ist, 1, p0 - k, draw_size(prm, rs), T_NOISE * OWNER_BASE)
            rest(od, lv, free, ist, -1, p0 + k, draw_size(prm, rs), T_NOISE * OWNER_BASE)
    for k in range(st.shape[1]):
        new_stop(prm, ist, st, rs, k)
    _stop_extremes(ist, st)
    ist[I_SELL_REM] = 0  # no selling during the warm-up
    ist[I_T] = -WARMUP_S  # the warm-up fills the history ring at negative times
    ist[I_REOPEN_T] = -HN
    for _ in range(WARMUP_S):
        step_market(prm, ist, fst, od, lv, free, fills, hist, mk, mko, fu, dv, mo, st, rs, ev, ctl, aq, A_CONTINUE)


@kernel
def reset_market(prm, ist, fst, od, lv, free, fills, hist, mk, mko, fu, dv, mo, st, rs, ev, ctl, aq):
    """A fresh market: seeded book and traders, ``WARMUP_S`` simulated seconds, clocks at zero.

    The external agents' instructions are cleared (quotes pulled, seller on the scenario's rule);
    ``ctl[C_N_AGENTS]`` is kept, and external makers sit out the warm-up."""
    n_agents = ctl[C_N_AGENTS]
    ctl[:] = 0.0
    aq[:, :] = 0
    aq[:, AQ_BID_OID] = -1
    aq[:, AQ_ASK_OID] = -1
    # a warm-up that ends with the mid far from the fundamental (a thin book's bubble) is run
    # again from a fresh book, the random stream going on (warmup_settle_pct; off by default); a
    # market that ends its first warm-up near the fundamental is exactly the market without it
    for _ in range(max(1, int(prm[P_SETTLE_ATTEMPTS]))):
        _warm_up(prm, ist, fst, od, lv, free, fills, hist, mk, mko, fu, dv, mo, st, rs, ev, ctl, aq)
        if prm[P_SETTLE_PCT] <= 0.0 or abs(mid_ticks(ist) / fst[F_FUND] - 1.0) * 100.0 <= prm[P_SETTLE_PCT]:
            break
    ctl[C_N_AGENTS] = n_agents
    # the episode starts here (ist[I_T] == 0)
    ist[I_SELL_REM] = int(prm[P_SELL_SIZE])
    ist[I_SELL_EXEC] = 0
    fst[F_SELL_VALUE] = 0.0
    fst[F_SELL_CARRY] = 0.0
    ist[I_TOTAL_VOL] = 0
    ist[I_TOTAL_EVENTS] = 0
    ist[I_N_HALTS] = 0
    ist[I_HALTED_TOTAL] = 0
    fst[F_EV_CROSS] = 0.0
    fst[F_EV_SQ] = 0.0
    for i in range(fu.shape[1]):
        fu[TR_A, i] = 0.0
    for i in range(dv.shape[1]):
        dv[TR_A, i] = 0.0
    ist[I_OPEN] = ist[I_LAST]
