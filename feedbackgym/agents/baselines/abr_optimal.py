"""Offline-optimal ABR: a clairvoyant dynamic program over the known trace (``--policy optimal``).

Scores are often shown as a percentage of the offline optimum (Pensieve's ``test/dp.cc`` runs a
dynamic program on a 50 ms time grid). :class:`OfflineOptimal` plans a whole episode at
``reset()`` — it reads the trace, the start position, the link parameters and the per-chunk
delay-noise draws of *this* episode from ``env.unwrapped.session`` — and then replays the plan.

Algorithm
---------
After each chunk the simulator's exact state is ``(link clock t_s with its interval j,
buffer_ms, last level)``, plus the reward accumulated so far. Stage ``n`` holds a set of such
states, each simulated exactly from the start of the episode. Every state is expanded by every
level with a numpy-batched twin of :meth:`~feedbackgym.envs.abr.sim.Session.download`
(:func:`download_batch`, built on :func:`~feedbackgym.envs.abr.batch_sim.transfer` /
:func:`~feedbackgym.envs.abr.batch_sim.advance`: the same float operations as the scalar
simulator, so bit for bit the env's physics), and the env's reward function is evaluated on the
batched reward components (a linear reward by its weights, in the env's order; a callable gets
a dict of arrays, or scalars one chunk at a time if it fails on arrays). The children are then
reduced:

1. **merging**: children with the same last level, the same clock bin (``floor(t_s /
   time_grid_ms)``: the position in the trace, so wrapped laps merge too) and the same buffer
   bin (``floor(buffer_ms / buffer_grid_ms)``) are one state; the one with the highest reward
   is kept, with its own exact clock and buffer;
2. **bound** (linear rewards): a state whose reward so far plus an upper bound on the reward
   still to come (:class:`_ValueBound`: bytes the link can still deliver in time, a knapsack
   relaxation of the remaining chunks' quality, at least the stall that forces) cannot reach
   the reward of an already known schedule is dropped. The known schedule comes from a quick
   first pass on a coarse grid (``coarse_grid_ms``, default 1 s); the better of the two passes
   is returned;
3. **dominance**, among states of the same clock bin: ``A`` dominates ``B`` when
   ``r_A - D(l_A, l_B) - mu * max(b_B - b_A, 0) > r_B`` (``r`` reward so far, ``b`` buffer,
   ``l`` last level). ``D`` bounds what the last level can still change (the next chunk's
   switch terms: ``sum |w| * |q(l_A) - q(l_B)|`` over the switch components) and ``mu`` is the
   rebuffer penalty (``-weight`` of ``rebuffer_s``): following ``B``'s best continuation from
   ``A`` (same downloads, same clock) rebuffers at most ``b_B - b_A`` more, and one second
   less of stall is worth at most ``mu``. For a callable reward only same-level states with
   at least as much buffer and more reward dominate (it assumes stalls never pay); nothing
   is dominated when rebuffering is rewarded.

Merging and dominance ignore the clock difference inside a bin and the sleeps at the buffer
cap (which depend on the buffer), so they are heuristics; the bound is exact. Back-pointers
recover the best final state's level sequence.

Because every kept state is simulated exactly from its own representative, the plan is an
*achievable* schedule and the env reproduces its reward exactly (``verify=True`` checks each
step's level, delay and buffer bit for bit, and the episode's reward sum, and raises on any
difference). It is therefore a **lower bound on the true optimum** that tightens as the grids
get finer; the exact optimum would need the full 6^47 tree. A finer grid is not guaranteed to
be better (it keeps other representatives), only never worse than its coarse pass. In
practice the gap is nil: on 5- and 6-decision videos the plan equals brute force over all
schedules (tests), and on every 15th fcc_test trace the default 50 ms grid gives exactly the
rewards of 20 ms and 10 ms grids (a 1 s grid alone loses up to 0.036 per chunk).

Cost (one core): ~0.2 s per Pensieve-mode test episode (fcc_test_290: ~65 s CPU; train_127:
~30 s), with ~1-6k states per stage. Episodes with delay noise keep more states (the noise
decouples buffer and clock, and the bound must allow for the smallest draw): 1-3 s.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np

from ...envs.abr import batch_sim
from ...envs.abr.setup import components_batch, linear_reward_batch

__all__ = ["OfflineOptimal", "Plan", "plan_episode", "download_batch", "SingleTracePool"]


class SingleTracePool:
    """One trace's interval arrays in the layout :mod:`~feedbackgym.envs.abr.batch_sim` expects.

    Built from the session's :class:`~feedbackgym.envs.abr.traces.TraceLists` — the very floats
    the scalar simulator uses — so no value is recomputed. With one trace the search keys are the
    trace's own values (base 0).
    """

    def __init__(self, tl):
        f = lambda v: np.asarray(v, dtype=np.float64)  # noqa: E731
        self.seg_start_s, self.seg_end_s = f(tl.seg_start_s), f(tl.seg_end_s)
        self.seg_rate_bps, self.cum_bytes, self.cum_before = f(tl.seg_rate_bps), f(tl.cum_bytes), f(tl.cum_before)
        self.period_s, self.period_bytes = np.array([float(tl.period_s)]), np.array([float(tl.period_bytes)])
        self.key_base, self.time_base = np.zeros(1), np.zeros(1)
        self.search_key, self.time_key = self.cum_bytes, self.seg_end_s
        self.last = len(self.cum_bytes) - 1


def download_batch(pool: SingleTracePool, j, t_s, buffer_ms, size_bytes, *, rtt_ms: float, pensieve: bool,
                   buffer_cap_ms: float, sleep_quantum_ms: float, chunk_ms: float, noise: float | None = None):
    """Batched :meth:`Session.download <feedbackgym.envs.abr.sim.Session.download>` on one trace.

    Many players at clocks ``(j, t_s)`` with buffers ``buffer_ms`` each download a chunk of
    ``size_bytes``; ``noise`` is this chunk's delay multiplier (None: none). Same float
    operations in the same order as the scalar code. Returns ``(delay_ms, rebuffer_ms, sleep_ms,
    j, t_s, buffer_ms)`` (new arrays; the inputs are not modified).
    """
    n = len(t_s)
    k = np.zeros(n, dtype=np.int64)
    lo, hi = k, np.full(n, pool.last, dtype=np.int64)
    transfer_s, j, t = batch_sim.transfer(pool, k, lo, hi, np.asarray(j, dtype=np.int64),
                                          np.asarray(t_s, dtype=np.float64), np.asarray(size_bytes, dtype=np.float64))
    delay_ms = transfer_s * 1000.0 + rtt_ms
    if noise is not None:
        delay_ms = delay_ms * noise
    if not pensieve:
        j, t = batch_sim.advance(pool, k, lo, hi, j, t, rtt_ms / 1000.0)
    rebuffer_ms = np.where(delay_ms > buffer_ms, delay_ms - buffer_ms, 0.0)
    buffer_ms = np.where(buffer_ms > delay_ms, buffer_ms - delay_ms, 0.0) + chunk_ms
    sleep_ms = np.zeros_like(buffer_ms)
    s = buffer_ms > buffer_cap_ms
    if s.any():
        q = sleep_quantum_ms
        sleep_ms[s] = np.ceil((buffer_ms[s] - buffer_cap_ms) / q) * q
        buffer_ms[s] -= sleep_ms[s]
        j[s], t[s] = batch_sim.advance(pool, k[s], lo[s], hi[s], j[s], t[s], sleep_ms[s] / 1000.0)
    return delay_ms, rebuffer_ms, sleep_ms, j, t, buffer_ms


@dataclass
class Plan:
    """An episode's schedule and what the simulator gives for it, chunk by chunk."""

    first_chunk: int             # index of the first chunk the policy chooses
    levels: list                 # level per chosen chunk
    rewards: list                # env reward per step
    delay_ms: list
    buffer_ms: list              # buffer after each chunk (and sleep)
    total_reward: float          # sequential sum of ``rewards`` (the env's order)
    states: list                 # states kept after each stage (before the last)
    seconds: float = 0.0         # planning wall time


class _Rewarder:
    """The env's reward of a batch of chunks, from the same component formulas as the env."""

    def __init__(self, setup):
        self.setup = setup
        self.fn = setup.reward_fn
        self.weights = getattr(setup.reward_fn, "weights", None)
        self.kbps = np.asarray(setup.video.bitrates_kbps)
        self.lq = np.asarray(setup.log_quality, dtype=np.float64)
        self.hd = None if setup.hd_quality is None else np.asarray(setup.hd_quality, dtype=np.float64)
        mu = None
        prune = True
        if self.weights is not None:
            w = dict(self.weights)
            mu = -w.get("rebuffer_s", 0.0)
            prune = mu >= 0.0
        self.mu_per_ms = None if mu is None or mu < 0 else mu / 1000.0
        self.pareto_ok = prune
        # switch_bound[a, b]: most the next chunk's reward can differ between last level a and b
        self.switch_bound = None
        if self.weights is not None:
            w = dict(self.weights)
            d = np.zeros((len(self.kbps), len(self.kbps)))
            for key, q in (("switch_mbps", self.kbps / 1000.0), ("log_switch", self.lq), ("hd_switch", self.hd)):
                if w.get(key, 0.0) != 0.0 and q is not None:
                    d = d + abs(w[key]) * np.abs(q[:, None] - q[None, :])
            self.switch_bound = d

    def __call__(self, a, last, first_chunk: bool, rebuf_ms):
        """Reward of choosing levels ``a`` after levels ``last`` with stalls ``rebuf_ms``."""
        c = components_batch(self.setup, a, a if first_chunk else last, first_chunk, rebuf_ms)
        if self.weights is not None:
            return linear_reward_batch(self.weights, c, len(a))
        try:
            reward = np.asarray(self.fn(c), dtype=np.float64)
            ok = reward.shape == a.shape
        except Exception:  # a callable written for scalars only: evaluate chunk by chunk
            ok = False
        if not ok:
            reward = np.array([float(self.fn({k: float(v[i]) for k, v in c.items()})) for i in range(len(a))])
        if not np.all(np.isfinite(reward)):
            raise ValueError(f"reward function {self.fn!r} returned non-finite values")
        return reward


def _undominated(tbin, buf, r, lvl, dist, mu):
    """Mask of the states no other state of the same clock bin dominates.

    ``A`` dominates ``B`` when ``r_A - dist[l_A, l_B] - mu * max(b_B - b_A, 0) > r_B``: the
    right side bounds how much more ``B`` can still earn than ``A`` (one more level switch,
    ``mu`` per ms of extra buffer). ``dist`` is a metric and the buffer term a quasi-metric, so
    the relation is acyclic and transitive: every pruned state has an unpruned dominator.
    ``dist`` None: only states of the same level compare; ``mu`` None: only states with at
    least as much buffer dominate. Gaps below ``tie`` (1e-7) count as ties and prune too (the
    later state in the scan goes), since exact ties are common and float noise would keep both.
    """
    tie = 1e-7
    n = len(r)
    levels = np.unique(lvl)
    hi_l = int(levels[-1]) + 1
    pruned = np.zeros(n, dtype=bool)
    passes = [(np.lexsort((-r, -buf, tbin)), r)]  # by bin, buffer descending: b_A >= b_B
    if mu is not None:
        v = r + mu * buf
        passes.append((np.lexsort((-v, buf, tbin)), v))  # by bin, buffer ascending: b_A <= b_B
    for o, val in passes:
        g, vo, lo = tbin[o], val[o], lvl[o]
        vmin = float(vo.min())
        width = float(vo.max()) - vmin + 1.0
        if dist is None:  # other levels never dominate: a distance no value gap can bridge
            d = np.where(np.eye(hi_l, dtype=bool), 0.0, width)
        else:
            d = dist
        # Lift each bin above all earlier ones so that one running max never crosses bins:
        # within bin k the lifted values lie in [k*span - dmax, k*span + width).
        span = width + float(d.max()) + 1.0
        rank = np.cumsum(np.concatenate(([0], g[1:] != g[:-1])))
        lifted = (vo - vmin) + rank * span
        for m in levels:
            run = np.maximum.accumulate(lifted - d[lo, m])
            mine = np.flatnonzero(lo[1:] == m) + 1
            hit = mine[lifted[mine] <= run[mine - 1] + tie]
            pruned[o[hit]] = True
    return ~pruned


class _ValueBound:
    """Upper bound on the reward still to come from a state; linear rewards that penalise stalls.

    From a state after chunk ``c`` (clock ``t``, buffer ``b``) the remaining ``K`` chunks must
    all arrive in time: with ``S`` the stall still to come and ``e`` the least buffer left after
    the last chunk (a chunk, or the cap less one sleep quantum if it then sleeps),
    ``sum(delay) + sum(sleep) = b + K * chunk + S - e``. Delays are at least transfer + RTT (times
    the smallest noise draw), so the link is busy at most ``X(S) = g * (b + K*chunk + S - e)`` (less
    ``K * RTT`` in pensieve mode, where the RTT is off the link clock), ``g = max(1, 1/min
    noise)``, and can deliver at most ``bytes(t, X(S))`` from clock ``t``. With ``F(B)`` the best
    quality reward of the remaining chunks within ``B`` bytes (multiple-choice knapsack, LP
    relaxation: concave, piecewise linear), the value to go is at most
    ``max_S F(bytes(t, X(S))) - mu * S``; switch penalties are dropped (positive switch weights
    add their largest bonus per chunk). If the steepest slope of ``F`` times the fastest link
    rate (times ``g``) is below ``mu``, stalling never pays in the bound and ``S`` is the least
    stall that makes the remaining chunks fit; otherwise a linear over-estimate caps the gain.
    """

    def __init__(self, setup, sess, pool, rew):
        w = dict(rew.weights)
        self.mu = rew.mu_per_ms
        chunks, L = setup.chunks_total, setup.levels
        q = np.zeros(L)
        for key, table in (("bitrate_mbps", rew.setup.bitrate_mbps), ("log_quality", rew.lq), ("hd_quality", rew.hd)):
            if w.get(key, 0.0) != 0.0:
                q = q + w[key] * table
        bonus = 0.0
        for key, table in (("switch_mbps", rew.kbps / 1000.0), ("log_switch", rew.lq), ("hd_switch", rew.hd)):
            if w.get(key, 0.0) > 0.0:
                bonus += w[key] * float(np.ptp(table))
        sizes = setup.video.chunk_bytes.astype(np.float64)
        # Per chunk: the upper concave hull of (size, quality) from the smallest size up.
        base_s, base_q, segs = np.zeros(chunks), np.zeros(chunks), []
        for i in range(chunks):
            pts = sorted(zip(sizes[:, i], q), key=lambda p: (p[0], -p[1]))
            hull = [pts[0]]
            for x, y in pts[1:]:
                if y <= hull[-1][1]:
                    continue  # no smaller and no better
                while len(hull) >= 2:  # drop a middle point on or below the chord
                    (x0, y0), (x1, y1) = hull[-2], hull[-1]
                    if (y1 - y0) * (x - x0) > (y - y0) * (x1 - x0):
                        break
                    hull.pop()
                hull.append((x, y))
            base_s[i], base_q[i] = hull[0][0], hull[0][1] + bonus
            segs.append([(x1 - x0, y1 - y0) for (x0, y0), (x1, y1) in zip(hull[:-1], hull[1:])])
        # F after chunk c covers chunks c+1..chunks-1.
        self.F = {}
        for c in range(-1, chunks - 1):
            rest = [sg for i in range(c + 1, chunks) for sg in segs[i]]
            rest.sort(key=lambda d: -d[1] / d[0])
            bmin, qbase = float(base_s[c + 1:].sum()), float(base_q[c + 1:].sum())
            xs = bmin + np.cumsum([0.0] + [d[0] for d in rest])
            ys = qbase + np.cumsum([0.0] + [d[1] for d in rest])
            slope = rest[0][1] / rest[0][0] if rest else 0.0
            self.F[c] = (xs, ys, slope)
        noise = sess.noise
        self.g = {c: (1.0 if noise is None or c + 1 >= chunks else max(1.0, 1.0 / min(noise[c + 1:])))
                  for c in range(-1, chunks - 1)}
        self.chunks, self.chunk_ms, self.rtt_ms, self.pensieve = chunks, sess.chunk_ms, sess.rtt_ms, sess.pensieve
        # the buffer left after the last chunk: a whole chunk, unless the player then slept
        self.end_ms = min(sess.chunk_ms, max(sess.buffer_cap_ms - sess.sleep_quantum_ms, 0.0))
        self.tk = np.concatenate((pool.seg_start_s[:1], pool.seg_end_s))
        self.ck = np.concatenate(([0.0], pool.cum_bytes))
        self.P, self.PB = float(pool.period_s[0]), float(pool.period_bytes[0])
        self.rate_max_ms = float(pool.seg_rate_bps.max()) / 1000.0

    def _cum(self, tau):
        laps = np.floor(tau / self.P)
        return laps * self.PB + np.interp(tau - laps * self.P, self.tk, self.ck)

    def _inv_cum(self, y):
        """Earliest clock (unwrapped) by which ``y`` bytes have been delivered (a lower bound)."""
        laps = np.floor(y / self.PB)
        yr = y - laps * self.PB
        k = np.clip(np.searchsorted(self.ck, yr, side="left"), 1, len(self.ck) - 1)
        c0, c1, t0, t1 = self.ck[k - 1], self.ck[k], self.tk[k - 1], self.tk[k]
        frac = np.clip((yr - c0) / np.where(c1 > c0, c1 - c0, 1.0), 0.0, 1.0)
        return laps * self.P + t0 + frac * (t1 - t0)

    def __call__(self, c: int, t_s, buffer_ms):
        xs, ys, slope = self.F[c]
        K = self.chunks - 1 - c
        g, mu = self.g[c], self.mu
        x0_ms = g * (buffer_ms + K * self.chunk_ms - self.end_ms) - (K * self.rtt_ms if self.pensieve else 0.0)
        x0_ms = np.maximum(x0_ms, 0.0)
        have = self._cum(t_s)
        got = self._cum(t_s + x0_ms / 1000.0) - have + 1.0  # 1 byte of slack for rounding
        ub = np.interp(got, xs, ys)
        short = got < xs[0]
        if short.any():  # the remaining chunks cannot fit without stalling: the least stall
            tau = self._inv_cum(have[short] + xs[0] - 1.0) - t_s[short]
            s_min = np.maximum(tau * 1000.0 - x0_ms[short], 0.0) / g
            ub[short] = ys[0] - mu * s_min
        else:
            s_min = None
        over = slope * self.rate_max_ms * g - mu
        if over > 0:  # stalling may pay: cap the gain with the line of slope `over`
            smin = np.zeros_like(ub)
            if s_min is not None:
                smin[short] = s_min
            fmax = ys[-1]
            s_star = (fmax - ub + over * smin) / (over + mu)
            ub = np.where(s_star >= smin, fmax - mu * s_star, ub)
        return ub + 1e-6 * (1.0 + np.abs(ub))


def _search(ctx, time_grid_ms: float, buffer_grid_ms: float, prune: bool, lower_bound: float) -> Plan | None:
    """One dynamic-programming pass (see the module doc); states that cannot reach
    ``lower_bound`` (by :class:`_ValueBound`) are dropped (None: no state could)."""
    t_start = time.perf_counter()
    L, C, c0, pool, sizes, rew, phys, noise, bound = (
        ctx["L"], ctx["C"], ctx["c0"], ctx["pool"], ctx["sizes"], ctx["rew"], ctx["phys"], ctx["noise"], ctx["bound"])
    n_tbins = int(math.ceil(float(pool.period_s[0]) * 1000.0 / time_grid_ms)) + 2
    n_bbins = int(math.ceil(phys["buffer_cap_ms"] / buffer_grid_ms)) + 2
    use_pareto = prune and rew.pareto_ok
    mu = rew.mu_per_ms if prune else None
    use_bound = prune and bound is not None and math.isfinite(lower_bound)
    tol = 1e-9 * (1.0 + abs(lower_bound)) if use_bound else 0.0

    j = np.array([ctx["j"]], dtype=np.int64)
    t = np.array([ctx["t_s"]])
    b = np.array([ctx["buffer_ms"]])
    lvl = np.array([ctx["last"]], dtype=np.int64)
    r = np.zeros(1)
    back = []  # per stage: (parent, level, step_reward, delay_ms, buffer_ms) of the kept states
    counts = []
    levels_ar = np.arange(L, dtype=np.int64)
    for c in range(c0, C):
        S = len(t)
        parent = np.repeat(np.arange(S), L)
        a = np.tile(levels_ar, S)
        delay, rebuf, _, j2, t2, b2 = download_batch(
            pool, j[parent], t[parent], b[parent], sizes[a, c],
            noise=None if noise is None else noise[c], **phys)
        step = rew(a, lvl[parent], c == 0, rebuf)
        r2 = r[parent] + step
        if c == C - 1:
            best = int(np.argmax(r2))
            back.append((parent[best:best + 1], a[best:best + 1], step[best:best + 1],
                         delay[best:best + 1], b2[best:best + 1]))
            break
        # 1. merge by (level, clock bin, buffer bin), keeping the highest reward
        tbin = np.floor(t2 * (1000.0 / time_grid_ms)).astype(np.int64)
        bbin = np.floor(b2 / buffer_grid_ms).astype(np.int64)
        key = (a * n_tbins + tbin) * n_bbins + bbin
        order = np.lexsort((-r2, key))
        ks = key[order]
        keep = order[np.r_[True, ks[1:] != ks[:-1]]]
        # 2. states that cannot beat the lower bound
        if use_bound:
            keep = keep[r2[keep] + bound(c, t2[keep], b2[keep]) >= lower_bound - tol]
            if len(keep) == 0:  # nothing here can beat the lower bound's schedule
                return None
        # 3. dominance inside a clock bin
        if use_pareto and len(keep) > 1:
            keep = keep[_undominated(tbin[keep], b2[keep], r2[keep], a[keep], rew.switch_bound, mu)]
        back.append((parent[keep], a[keep], step[keep], delay[keep], b2[keep]))
        counts.append(len(keep))
        j, t, b, lvl, r = j2[keep], t2[keep], b2[keep], a[keep], r2[keep]

    # back-pointers -> schedule
    idx = 0
    levels, rewards, delays, buffers = [], [], [], []
    for parent, a, step, delay, buf in reversed(back):
        levels.append(int(a[idx]))
        rewards.append(float(step[idx]))
        delays.append(float(delay[idx]))
        buffers.append(float(buf[idx]))
        idx = int(parent[idx])
    for seq in (levels, rewards, delays, buffers):
        seq.reverse()
    total = 0.0
    for x in rewards:
        total += x
    return Plan(c0, levels, rewards, delays, buffers, total, counts, time.perf_counter() - t_start)


def plan_episode(env, time_grid_ms: float = 50.0, buffer_grid_ms: float = 50.0, prune: bool = True,
                 last_level: int | None = None, coarse_grid_ms: float | None = 1000.0) -> Plan:
    """Plan the rest of the episode ``env`` is playing, from its session's current state.

    ``last_level``: level of the chunk just downloaded (-1 before the first; None reads the
    env's). With ``coarse_grid_ms`` a quick pass on that grid (clock and buffer) first finds a good
    schedule; its reward is the lower bound the fine pass prunes against, and the better of
    the two plans is returned (so a finer grid never returns less than the coarse pass).
    """
    t_start = time.perf_counter()
    u = env.unwrapped
    setup, sess = u.setup, u.session
    if last_level is None:
        last_level = getattr(u, "_last", -1) if sess.chunk > 0 else -1
    pool = SingleTracePool(sess.tl)
    rew = _Rewarder(setup)
    ctx = dict(L=setup.levels, C=setup.chunks_total, c0=sess.chunk, pool=pool,
               sizes=setup.video.chunk_bytes.astype(np.float64), rew=rew,
               phys=dict(rtt_ms=sess.rtt_ms, pensieve=sess.pensieve, buffer_cap_ms=sess.buffer_cap_ms,
                         sleep_quantum_ms=sess.sleep_quantum_ms, chunk_ms=sess.chunk_ms),
               noise=sess.noise, j=sess.j, t_s=sess.t_s, buffer_ms=sess.buffer_ms, last=last_level,
               bound=None)
    if prune and rew.weights is not None and rew.mu_per_ms is not None:
        ctx["bound"] = _ValueBound(setup, sess, pool, rew)
    lb = -math.inf
    coarse = None
    if coarse_grid_ms is not None and prune and (coarse_grid_ms > time_grid_ms or coarse_grid_ms > buffer_grid_ms):
        coarse = _search(ctx, max(coarse_grid_ms, time_grid_ms), max(coarse_grid_ms, buffer_grid_ms), prune, lb)
        lb = coarse.total_reward if coarse is not None else lb
    plan = _search(ctx, time_grid_ms, buffer_grid_ms, prune, lb)
    if plan is None or (coarse is not None and coarse.total_reward > plan.total_reward):
        plan = coarse
    if plan is None:
        raise RuntimeError("OfflineOptimal: the search found no schedule")
    plan.seconds = time.perf_counter() - t_start
    return plan


class OfflineOptimal:
    """Clairvoyant offline optimum: plans each episode by dynamic programming, then replays it.

    Args:
        time_grid_ms: width of the link-clock bins states are merged in (Pensieve's dp.cc: 50 ms).
        buffer_grid_ms: width of the buffer bins states are merged in.
        prune: drop dominated states and states the value bound rules out (see the module
            doc); False keeps every merged state (slow: tens of thousands per stage).
        coarse_grid_ms: grid of the quick first pass whose schedule the bound prunes against
            (None: no first pass).
        verify: check every step against the plan (level, delay, buffer bit for bit; the
            episode's reward sum exactly for linear rewards, to 1e-9 for callables) and raise
            ``RuntimeError`` on any difference.

    The plan is achievable and its reward is exactly what the env pays; it is a lower bound on
    the true optimum that tightens with finer grids. ``self.plan`` holds the last episode's
    :class:`Plan` (levels, per-step rewards, states per stage, planning time).
    """

    name = "optimal"

    def __init__(self, time_grid_ms: float = 50.0, buffer_grid_ms: float = 50.0, prune: bool = True,
                 coarse_grid_ms: float | None = 1000.0, verify: bool = True):
        grids = (time_grid_ms, buffer_grid_ms) + (() if coarse_grid_ms is None else (coarse_grid_ms,))
        if not all(isinstance(g, (int, float)) and math.isfinite(g) and g > 0 for g in grids):
            raise ValueError(f"OfflineOptimal: grids must be finite numbers > 0 ms, got time_grid_ms={time_grid_ms!r}, "
                             f"buffer_grid_ms={buffer_grid_ms!r}, coarse_grid_ms={coarse_grid_ms!r}")
        self.time_grid_ms = float(time_grid_ms)
        self.buffer_grid_ms = float(buffer_grid_ms)
        self.coarse_grid_ms = None if coarse_grid_ms is None else float(coarse_grid_ms)
        self.prune = bool(prune)
        self.verify = bool(verify)
        self.plan: Plan | None = None

    def reset(self, env, obs, info) -> None:
        u = env.unwrapped
        if getattr(u, "session", None) is None or u.session.tl is None:
            raise ValueError("OfflineOptimal needs the scalar ABR env (env.unwrapped.session)")
        last = int(info.get("level", -1)) if u.session.chunk > 0 else -1
        self._linear = getattr(u.setup.reward_fn, "weights", None) is not None
        self.plan = plan_episode(u, self.time_grid_ms, self.buffer_grid_ms, self.prune, last_level=last,
                                 coarse_grid_ms=self.coarse_grid_ms)
        self._step = 0

    def _planned(self) -> Plan:
        if self.plan is None:
            raise RuntimeError("OfflineOptimal: act() before reset()")
        return self.plan

    def _check(self, info) -> None:
        i = self._step - 1
        p = self._planned()
        got = (int(info["level"]), float(info["delay_ms"]), float(info["buffer_s"]))
        want = (p.levels[i], p.delay_ms[i], p.buffer_ms[i] / 1000.0)
        if got != want:
            raise RuntimeError(f"OfflineOptimal: step {i} (chunk {p.first_chunk + i}) differs from the plan: "
                               f"env (level, delay_ms, buffer_s) = {got}, planned {want}")

    def act(self, obs, info) -> int:
        if self.verify and self._step > 0:
            self._check(info)
        levels = self._planned().levels
        if self._step >= len(levels):
            raise RuntimeError("OfflineOptimal: the episode is longer than planned")
        a = levels[self._step]
        self._step += 1
        return a

    def end_episode(self, obs, info) -> None:
        if not self.verify or self.plan is None:
            return
        self._check(info)
        m = info.get("episode_metrics")
        if m is not None:  # the env sums rewards in the same order: equal means equal sums
            got, want = m["qoe_per_chunk"], self.plan.total_reward / len(self.plan.rewards)
            tol = 0.0 if self._linear else 1e-9 * max(1.0, abs(want))
            if abs(got - want) > tol:
                raise RuntimeError(f"OfflineOptimal: QoE per chunk {got!r} differs from the planned {want!r}")

    def __repr__(self) -> str:
        return (f"OfflineOptimal(time_grid_ms={self.time_grid_ms}, buffer_grid_ms={self.buffer_grid_ms}, "
                f"prune={self.prune}, coarse_grid_ms={self.coarse_grid_ms})")
