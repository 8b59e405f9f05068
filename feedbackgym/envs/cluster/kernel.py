"""The rightsizing step compiled with numba: decide the limits, play the window, update the
histograms, the accounting and the observation, for each slot in one loop.

Why compiled: one 5-minute window touches ~60 scalars of state, 6 decayed histograms with 4
incremental quantiles each, and a 54-entry observation. In numpy that is ~40 calls per step
(the single env paid ~100 us per step in call overhead) and, batched, random gathers that
cannot be fused (the twin reached ~120k steps/s). One compiled loop over the slots does the
same arithmetic, operation for operation, as the numpy reference
(:meth:`~.sim.RightsizingCore.window`, :meth:`~.sim.DecayedQuantiles.add` and
:meth:`~.engine.Engine.step_reference`); ``tests/cluster/test_cluster_kernel.py`` checks that
the two agree bit for bit, and the single env and the twin both run this kernel.

Two operations stay in numpy so the numbers do not move: numpy's ``log``/``log2`` use SIMD
implementations (SVML on AVX-512) that differ from the C library's by an ulp on a few values in
ten thousand. The observation's ten log2 ratios (and three log2 counters) are computed by numpy
after the kernel (see :meth:`~.engine.Engine.step`); a histogram bucket index (``floor(log(x))``)
is computed with the C library's ``log`` and, only when it lands within 1e-9 of a bucket edge
(where the last ulp could change the floor — e.g. a limit set to 1.1x a bucket edge and reached
by an OOM), recomputed by numpy in object mode. Numbers cannot differ from the reference unless
the two logs differ by more than a billionth of a bucket.

State lives in a few packed arrays (numba's per-call cost grows with the argument count);
:class:`~.sim.RightsizingCore` exposes their columns as named views.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, objmode

# --- packed state columns (RightsizingCore.F, float64) -------------------------------------
F_MEM_LIMIT, F_CPU_LIMIT, F_MEM_SCALE, F_CPU_SCALE, F_BACKLOG = 0, 1, 2, 3, 4
F_OOM_RECENT, F_THROTTLE_RECENT, F_LAST_MEM, F_LAST_CPU = 5, 6, 7, 8
NF = 9
# --- (RightsizingCore.I, int64) ------------------------------------------------------------
I_JOB, I_POS, I_T, I_LENGTH, I_START_ROW, I_DOWN, I_SINCE_RESTART, I_SINCE_CHANGE = 0, 1, 2, 3, 4, 5, 6, 7
I_TOLERANCE, I_TASKS, I_UNDER_SINCE = 8, 9, 10
NI = 11
#: totals columns (RightsizingCore.totals are views of these)
TOTALS = ("ooms", "evictions", "throttled_core_s", "cpu_demand_core_s", "slo_violation_minutes",
          "lost_work_core_s", "mem_saved_mib_windows", "mem_changes", "cpu_changes", "reaction_windows",
          "reaction_events")
#: per-day float rows (mem limit, CPU limit, mem request) and int rows (windows, OOMs, changes)
DAYF = ("day_mem_limit", "day_cpu_limit", "day_mem_request")
DAYI = ("day_windows", "day_ooms", "day_changes")
#: the job table packed per row: window peak, CPU demand, requests, time-of-day/week sin/cos
TAB_PEAK, TAB_DEMAND, TAB_MEM_REQ, TAB_CPU_REQ, TAB_HOUR_SIN, TAB_HOUR_COS, TAB_WD_SIN, TAB_WD_COS = range(8)
NTAB = 8
#: output columns per slot: the reward components (engine.REWARD_COMPONENTS order), the window's
#: physical state, then the reward and the episode end flags
OUT_COMPONENTS = ("memory_slack_fraction", "memory_overrun", "oom_kills", "memory_limit_change",
                  "cpu_slack_fraction", "throttled_fraction", "cpu_limit_change", "slo_violation_minutes",
                  "evictions", "lost_work_core_s", "memory_slack_machine_hours", "cpu_slack_machine_hours")
OUT_PEAK, OUT_DEMAND, OUT_SERVED, OUT_RUNNING, OUT_POS, OUT_REWARD, OUT_TERMINATED, OUT_TRUNCATED = range(12, 20)
NOUT = 20
#: counterfactual rows: limit, overrun (memory) / throttled fraction (CPU), slack fraction
CF_LIMIT, CF_COST, CF_SLACK = 0, 1, 2
#: params vector (floats; integers stored exactly)
(P_EVICT, P_RESTART, P_LOST, P_BACKLOG, P_SLO, P_UP, P_DOWN, P_MEM_LO, P_MEM_HI, P_CPU_LO, P_CPU_HI, P_RECENT_DECAY,
 P_MAX_DAYS, P_HAS_WEIGHTS, P_G0) = range(15)
#: observation layout (engine.OBS_FIELDS): 10 log2 ratios from obs index 30, then three log2 counters
OBS_LOG_AT = 30
N_RATIOS = 13

_M64 = np.uint64(0xFFFFFFFFFFFFFFFF)


def bucket_numpy(x: float) -> int:
    """The histogram bucket of one ratio exactly as numpy computes it (the reference)."""
    from .sim import _bucket
    return int(_bucket(np.asarray([x]))[0])


@njit(cache=True, error_model="numpy")
def _splitmix64(x):
    x = x + np.uint64(0x9E3779B97F4A7C15)
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


@njit(cache=True, error_model="numpy")
def _uniform(key, counter):
    x = _splitmix64(key ^ _splitmix64(np.uint64(counter)))
    return float(x >> np.uint64(11)) * (1.0 / 9007199254740992.0)


@njit(cache=True, error_model="numpy")
def _bucket(ratio, first, log_growth, n_buckets):
    r = max(ratio, 1e-300)
    q = math.log(r / first) / log_growth
    fq = math.floor(q)
    if q - fq < 1e-9 or fq + 1.0 - q < 1e-9:
        with objmode(k="int64"):
            k = bucket_numpy(ratio)
        return k
    k = int(fq)
    return min(max(k, 0), n_buckets - 1)


@njit(cache=True, error_model="numpy")
def _hist_add(i, j, kj, on, g, w, scale, total, kq, below, top, qs, renorm, steps, cum):  # noqa: C901 (one compiled loop: the reference's branches, kept in its order)
    """DecayedQuantiles.add for histogram j of slot i (see its docstring). ``cum``: scratch for
    the running sums of the histogram, computed at most once per call (the weights do not change
    while the quantiles move, so every quantile that needs an exact recompute shares them)."""
    B = w.shape[2]
    sc = scale[i, j] * g
    if sc > renorm:
        f = 1.0 / renorm
        for b in range(B):
            w[i, j, b] *= f
        total[i, j] *= f
        for qi in range(kq.shape[2]):
            below[i, j, qi] *= f
        sc *= f
    scale[i, j] = sc
    add = sc if on else 0.0
    w[i, j, kj] += add
    tot = total[i, j] + add
    total[i, j] = tot
    have_cum = False
    for qi in range(kq.shape[2]):
        k = kq[i, j, qi]
        bl = below[i, j, qi] + (add if kj < k else 0.0)
        target = qs[qi] * tot
        moved_every_time = True
        for _ in range(steps):
            wk = w[i, j, k]
            if bl + wk < target and k < B - 1:
                bl = bl + wk
                k += 1
            elif k > 0 and bl >= target:
                k -= 1
                bl = bl - w[i, j, k]
            else:
                moved_every_time = False
                break
        if moved_every_time:
            wk = w[i, j, k]
            if (bl + wk < target and k < B - 1) or (k > 0 and bl >= target):
                if not have_cum:     # numpy's cumsum: sequential running sums
                    c = 0.0
                    for b in range(B):
                        c = c + w[i, j, b]
                        cum[b] = c
                    have_cum = True
                cnt = 0
                for b in range(B):
                    if cum[b] < target:
                        cnt += 1
                k = min(cnt, B - 1)
                bl = cum[k] - w[i, j, k]
        kq[i, j, qi] = k
        below[i, j, qi] = bl
    tp = top[i, j]
    if on and kj > tp:
        tp = kj
    thresh = 0.01 * sc
    moved_every_time = True
    for _ in range(steps):
        if tp > 0 and w[i, j, tp] < thresh:
            tp -= 1
        else:
            moved_every_time = False
            break
    if moved_every_time and tp > 0 and w[i, j, tp] < thresh:
        tp = 0
        for b in range(B - 1, -1, -1):
            if w[i, j, b] >= thresh:
                tp = b
                break
    top[i, j] = tp


@njit(cache=True, error_model="numpy")
def step_slots(slots, actions, mem_in, cpu_in,  # noqa: C901 (one compiled loop per slot, the reference's steps in order)
               F, I, serving, key, totals, dayf, dayi, recent,
               w, scale, total, kq, below, top,
               tab, lengths, params, wcols, wvals,
               out, cf_mem, cf_cpu, obs, ratios,
               mem_factors, long_factors, cpu_factors, qs, edges, log2_edges, consts):
    """One window in each slot of ``slots``. ``actions[k] >= 0``: the discrete action (menu and
    deadbands as :meth:`~.engine.Engine.limits_from_actions`); ``-1``: apply ``mem_in[k]``,
    ``cpu_in[k]`` exactly. Writes ``out``, the counterfactual costs of every menu limit
    ``cf_mem``/``cf_cpu``, the observation ``obs`` (float32; all but its log entries) and the
    ``ratios`` whose numpy log2 completes it."""
    window_s, windows_per_day, first, log_growth = consts[0], int(consts[1]), consts[2], consts[3]
    renorm, steps, h48, p98 = consts[4], int(consts[5]), int(consts[6]), int(consts[7])
    log2_lo, log2_hi, obs_bound = consts[8], consts[9], consts[10]
    B = w.shape[2]
    H = w.shape[1] // 2
    NQ = kq.shape[2]
    R = recent.shape[2]
    n_rows = tab.shape[0]
    nm, nl, nc = len(mem_factors), len(long_factors), len(cpu_factors)
    evict_p, restart, lost_w = params[P_EVICT], int(params[P_RESTART]), int(params[P_LOST])
    queue_on, slo_frac = params[P_BACKLOG] > 0, params[P_SLO]
    up, dn = params[P_UP], params[P_DOWN]
    mem_lo, mem_hi, cpu_lo, cpu_hi = params[P_MEM_LO], params[P_MEM_HI], params[P_CPU_LO], params[P_CPU_HI]
    rd, max_days = params[P_RECENT_DECAY], int(params[P_MAX_DAYS])
    hours = window_s / 3600.0
    cum = np.empty(B)
    for ii in range(len(slots)):
        i = slots[ii]
        # ---------------------------------------------------------------- the menu (targets)
        rm = recent[i, 0, 0]
        rc = recent[i, 1, 0]
        for r in range(1, R):
            rm = max(rm, recent[i, 0, r])
            rc = max(rc, recent[i, 1, r])
        old_mem, old_cpu = F[i, F_MEM_LIMIT], F[i, F_CPU_LIMIT]
        mem_long = F[i, F_MEM_SCALE] * edges[kq[i, h48, p98]]
        cf_mem[CF_LIMIT, i, 0] = old_mem
        for c in range(nm):
            cf_mem[CF_LIMIT, i, 1 + c] = min(max(rm * mem_factors[c], mem_lo), mem_hi)
        for c in range(nl):
            cf_mem[CF_LIMIT, i, 1 + nm + c] = min(max(mem_long * long_factors[c], mem_lo), mem_hi)
        cf_cpu[CF_LIMIT, i, 0] = old_cpu
        for c in range(nc):
            cf_cpu[CF_LIMIT, i, 1 + c] = min(max(rc * cpu_factors[c], cpu_lo), cpu_hi)
        a = actions[ii]
        if a >= 0:
            mem_limit = cf_mem[CF_LIMIT, i, a // (1 + nc)]
            cpu_limit = cf_cpu[CF_LIMIT, i, a % (1 + nc)]
            if mem_limit <= old_mem * (1.0 + up) and mem_limit > old_mem * (1.0 - dn):
                mem_limit = old_mem
            if cpu_limit <= old_cpu * (1.0 + up) and cpu_limit > old_cpu * (1.0 - dn):
                cpu_limit = old_cpu
        else:
            mem_limit, cpu_limit = mem_in[ii], cpu_in[ii]
        # --------------------------------------------------------------------- the window
        pos, t = I[i, I_POS], I[i, I_T]
        mem_changed = mem_limit != old_mem
        cpu_changed = cpu_limit != old_cpu
        increased = (mem_limit > old_mem) or (cpu_limit > old_cpu)
        down = I[i, I_DOWN]
        tasks_i = I[i, I_TASKS]
        tasks = float(tasks_i)
        srv = serving[i]
        evicted = False
        if evict_p > 0:
            u = _uniform(key[i], t)
            evicted = increased and down == 0 and u < evict_p
        if evicted:
            down = max(restart, 0)
        running = down == 0
        down_now = not running
        peak = tab[pos, TAB_PEAK]
        oom = running and peak > mem_limit
        mem_obs = min(peak, mem_limit) if running else 0.0
        demand = tab[pos, TAB_DEMAND]
        backlog = F[i, F_BACKLOG]
        need = demand + backlog / window_s
        served = min(need, cpu_limit) if running else 0.0
        throttled_cores = max(demand - served, 0.0)
        throttled_core_s = throttled_cores * window_s
        queue = (not srv) and queue_on
        new_backlog = (need - served) * window_s if queue else 0.0
        killed = oom or evicted
        lost = (min(I[i, I_SINCE_RESTART], lost_w) * demand * window_s) if (killed and not srv) else 0.0
        new_backlog = new_backlog + (lost if queue else 0.0)
        throttled_frac = throttled_cores / demand if demand > 0 else 0.0
        slo = window_s / 60.0 if (srv and (down_now or oom or throttled_frac > slo_frac)) else 0.0
        # CPU counterfactuals: the window replayed with each menu limit (same backlog and state)
        for c in range(1 + nc):
            ct = cf_cpu[CF_LIMIT, i, c]
            s_c = min(need, ct) if running else 0.0
            cf_cpu[CF_COST, i, c] = max(demand - s_c, 0.0) / demand if demand > 0 else 0.0
            cf_cpu[CF_SLACK, i, c] = (ct - demand) / max(ct, 1e-12) if (running and ct > demand) else 0.0
        for c in range(1 + nm + nl):
            mt = cf_mem[CF_LIMIT, i, c]
            over = running and peak > mt
            cf_mem[CF_COST, i, c] = 1.0 if over else 0.0
            cf_mem[CF_SLACK, i, c] = (mt - peak) / mt if (running and not over) else 0.0
        # state
        F[i, F_BACKLOG] = new_backlog
        nd = down - 1 if down_now else 0
        if oom:
            nd = restart
        I[i, I_DOWN] = nd
        I[i, I_SINCE_RESTART] = 0 if killed else (I[i, I_SINCE_RESTART] + 1 if running else 0)
        changed = mem_changed or cpu_changed
        I[i, I_SINCE_CHANGE] = 0 if changed else I[i, I_SINCE_CHANGE] + 1
        F[i, F_MEM_LIMIT], F[i, F_CPU_LIMIT] = mem_limit, cpu_limit
        F[i, F_OOM_RECENT] = F[i, F_OOM_RECENT] * rd + (1.0 if oom else 0.0)
        F[i, F_THROTTLE_RECENT] = F[i, F_THROTTLE_RECENT] * rd + (1.0 if throttled_frac > slo_frac else 0.0)
        F[i, F_LAST_MEM], F[i, F_LAST_CPU] = mem_obs, served
        km = _bucket(mem_obs / F[i, F_MEM_SCALE], first, log_growth, B)
        kc = _bucket(served / F[i, F_CPU_SCALE], first, log_growth, B)
        for j in range(2 * H):
            _hist_add(i, j, km if j < H else kc, running, params[P_G0 + j], w, scale, total, kq, below, top,
                      qs, renorm, steps, cum)
        slot = t % R
        recent[i, 0, slot] = mem_obs
        recent[i, 1, slot] = served
        day = min(t // windows_per_day, max_days - 1)
        dayf[i, 0, day] += mem_limit
        dayf[i, 1, day] += cpu_limit
        dayi[i, 0, day] += 1
        dayi[i, 1, day] += (1 if oom else 0) * tasks_i
        dayi[i, 2, day] += 1 if changed else 0
        mem_request = tab[pos, TAB_MEM_REQ]
        dayf[i, 2, day] += mem_request
        totals[i, 0] += (1.0 if oom else 0.0) * tasks
        totals[i, 1] += (1.0 if evicted else 0.0) * tasks
        totals[i, 2] += throttled_core_s * tasks
        totals[i, 3] += demand * window_s * tasks
        totals[i, 4] += slo
        totals[i, 5] += lost * tasks
        totals[i, 6] += (mem_request - mem_limit) * tasks
        totals[i, 7] += 1.0 if mem_changed else 0.0
        totals[i, 8] += 1.0 if cpu_changed else 0.0
        # reaction time: from the first window whose peak exceeds the limit to the first that covers it
        us = I[i, I_UNDER_SINCE]
        if peak > mem_limit:
            if us < 0:
                I[i, I_UNDER_SINCE] = t
        elif us >= 0:
            totals[i, 9] += t - us
            totals[i, 10] += 1.0
            I[i, I_UNDER_SINCE] = -1
        I[i, I_POS] = pos + 1
        t1 = t + 1
        I[i, I_T] = t1
        # ------------------------------------------------------------------------ outputs
        out[i, 0] = (mem_limit - peak) / max(mem_limit, 1e-12) if (running and mem_limit > peak) else 0.0
        out[i, 1] = 1.0 if oom else 0.0
        out[i, 2] = (1.0 if oom else 0.0) * tasks
        out[i, 3] = 1.0 if mem_changed else 0.0
        out[i, 4] = (cpu_limit - demand) / max(cpu_limit, 1e-12) if (running and cpu_limit > demand) else 0.0
        out[i, 5] = throttled_frac
        out[i, 6] = 1.0 if cpu_changed else 0.0
        out[i, 7] = slo
        out[i, 8] = (1.0 if evicted else 0.0) * tasks
        out[i, 9] = lost * tasks
        out[i, 10] = max(mem_limit - peak, 0.0) * tasks / mem_hi * hours
        out[i, 11] = max(cpu_limit - demand, 0.0) * tasks / cpu_hi * hours
        out[i, OUT_PEAK], out[i, OUT_DEMAND], out[i, OUT_SERVED] = peak, demand, served
        out[i, OUT_RUNNING] = 1.0 if running else 0.0
        out[i, OUT_POS] = pos
        reward = 0.0
        if params[P_HAS_WEIGHTS] > 0:
            for c in range(len(wcols)):
                reward = reward + wvals[c] * out[i, wcols[c]]
        out[i, OUT_REWARD] = reward
        ended = t1 >= I[i, I_LENGTH]
        trace_end = (I[i, I_START_ROW] + I[i, I_LENGTH]) >= lengths[I[i, I_JOB]]
        out[i, OUT_TERMINATED] = 1.0 if (ended and trace_end) else 0.0
        out[i, OUT_TRUNCATED] = 1.0 if (ended and not trace_end) else 0.0
        # -------------------------------------------------------------------- observation
        for j in range(2 * H):
            for qi in range(NQ):
                obs[i, j * (NQ + 1) + qi] = min(max(log2_edges[kq[i, j, qi]], log2_lo), log2_hi)
            obs[i, j * (NQ + 1) + NQ] = min(max(log2_edges[top[i, j]], log2_lo), log2_hi)
        rm = recent[i, 0, 0]
        rc = recent[i, 1, 0]
        for r in range(1, R):
            rm = max(rm, recent[i, 0, r])
            rc = max(rc, recent[i, 1, r])
        p = min(pos + 1, n_rows - 1)
        ms, cs = F[i, F_MEM_SCALE], F[i, F_CPU_SCALE]
        ml, cl = mem_limit, cpu_limit
        ratios[i, 0] = mem_obs / ms
        ratios[i, 1] = rm / ms
        ratios[i, 2] = ml / ms
        ratios[i, 3] = tab[p, TAB_MEM_REQ] / ms
        ratios[i, 4] = ml / max(rm, 1e-9)
        ratios[i, 5] = served / cs
        ratios[i, 6] = rc / cs
        ratios[i, 7] = cl / cs
        ratios[i, 8] = tab[p, TAB_CPU_REQ] / cs
        ratios[i, 9] = cl / max(rc, 1e-9)
        for c in range(10):
            if ratios[i, c] <= 0.0:     # log2(0) = -inf, clipped to log2_lo: the same
                ratios[i, c] = 1e-300
        ratios[i, 10] = 1.0 + t1 / windows_per_day
        ratios[i, 11] = tasks
        ratios[i, 12] = 1.0 + I[i, I_SINCE_CHANGE]
        o = OBS_LOG_AT + 10
        obs[i, o] = min(max(F[i, F_OOM_RECENT], -obs_bound), obs_bound)
        obs[i, o + 1] = min(max(F[i, F_THROTTLE_RECENT] / 10.0, -obs_bound), obs_bound)
        obs[i, o + 2] = 1.0 if nd > 0 else 0.0
        obs[i, o + 3] = tab[p, TAB_HOUR_SIN]
        obs[i, o + 4] = tab[p, TAB_HOUR_COS]
        obs[i, o + 5] = tab[p, TAB_WD_SIN]
        obs[i, o + 6] = tab[p, TAB_WD_COS]
        obs[i, o + 8] = 0.0 if srv else 1.0
        tol = I[i, I_TOLERANCE]
        obs[i, o + 9] = 1.0 if tol == 0 else 0.0
        obs[i, o + 10] = 1.0 if tol == 1 else 0.0
        obs[i, o + 11] = 1.0 if tol == 2 else 0.0
