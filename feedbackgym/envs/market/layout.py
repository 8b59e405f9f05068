"""Array layout of one simulated market (indices shared by the compiled kernels).

A market's whole state lives in a few numpy arrays so that the numba kernels can advance one or
many markets without Python objects: ``ist`` (int64 scalars), ``fst`` (float64 scalars), the order
pool ``od``, the price ladder ``lv``, the trader tables and a ring of per-second history.
"""

NL = 32768         # price grid: ticks 0 .. NL-1
CAP = 32768        # resting orders per market
MAXF = 16384       # fills recorded per submission
HN = 8192          # seconds of history kept (ring)
MAXEV = 8192       # events per simulated second
MAXM = 64          # market makers
MAXQ = 8           # quote levels per side per maker
MAXA = 16          # external (agent-controlled) market makers per market

# order kinds
LIMIT, MARKET, IOC = 0, 1, 2

# od columns (order pool, [CAP, N_OD]: one order's fields side by side, so a touched order costs
# one or two cache lines instead of one per field; a batch of markets outgrows the L2 cache otherwise)
O_PRICE, O_QTY, O_SIDE, O_OWNER, O_NEXT, O_PREV = range(6)
N_OD = 6
# lv rows (price ladder)
L_BQ, L_AQ, L_BH, L_BT, L_AH, L_AT = range(6)
N_LV = 6

# owner = type * OWNER_BASE + index
OWNER_BASE = 1_000_000
T_NOISE, T_MAKER, T_FUND, T_DEEP, T_MOM, T_STOP, T_SELLER, T_AGENT = range(8)

# ist: int64 scalars
(I_T, I_BB, I_BA, I_FREE, I_HIWATER, I_HALT, I_HALT_REM, I_N_HALTS, I_HALTED_TOTAL, I_LAST,
 I_VOL, I_BUYVOL, I_SELLVOL, I_NTR, I_EVENTS, I_VALUE, I_TMIN, I_TMAX, I_BAND_LO, I_BAND_HI,
 I_LIMIT_STATE, I_TOTAL_VOL, I_TOTAL_EVENTS, I_SELL_REM, I_SELL_EXEC, I_MAKER_VOL, I_FUND_VOL,
 I_NFILL, I_INDICATIVE, I_OPEN, I_MAX_SELL_TRIG, I_MIN_BUY_TRIG, I_NSTOP, I_PREV_MID2,
 I_SELL_ACTIVE, I_AUCTION_VOL, I_SELL_START_DONE, I_REOPEN_T) = range(38)
N_IST = 40

# fst: float64 scalars
(F_FUND, F_ACT0, F_ACT1, F_ACT2, F_ACT3, F_MOVE_EMA, F_BAND_PCT, F_REF, F_SELL_VALUE,
 F_SELL_CARRY, F_EV_CROSS, F_EV_SQ, F_EV_PREV_DM, F_ACTIVITY, F_VWAP) = range(15)
N_FST = 16

# hist rows (ring of HN seconds)
H_MID, H_VOL, H_VALUE = range(3)
N_H = 3

# maker table rows (float64 [N_MK, MAXM + MAXA]): columns 0..MAXM-1 are the rule makers, column
# MAXM + k is external (agent) maker k. Inventory in contracts, volume in contracts (both sides,
# cumulative), cash in currency (sells add price x qty, buys subtract it).
MK_INV, MK_VOL, MK_PULL_UNTIL, MK_CASH = range(4)
N_MK = 4
# external makers' instructions and resting orders (int64 [MAXA, N_AQ]): offsets in ticks from
# the mid (>= 1), sizes in contracts (0: that side pulled), TAKE a one-shot signed market order
# (+ buy, - sell) sent at the start of the next second, then cleared by the kernel
AQ_BID_OFF, AQ_BID_SIZE, AQ_ASK_OFF, AQ_ASK_SIZE, AQ_TAKE, AQ_BID_OID, AQ_ASK_OID = range(7)
N_AQ = 7
# external control (float64 [N_CTL]): number of external makers; the seller's mode and its value
C_N_AGENTS, C_SELL_MODE, C_SELL_VALUE = range(3)
N_CTL = 4
# seller modes: the scenario's POV rule; an external child order (contracts this second, one-shot);
# POV at an external participation rate (persistent)
SELL_RULE, SELL_QTY, SELL_RATE = range(3)
# fundamental / deep-value / momentum tables (float64 [2, n])
TR_A, TR_B = 0, 1      # fundamental: capacity left, threshold bps; deep: capacity, threshold frac;
                       # momentum: position, lookback s
# stop table rows (int64 [3, n])
S_TRIG, S_QTY, S_SIDE = range(3)
