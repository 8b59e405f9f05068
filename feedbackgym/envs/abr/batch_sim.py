"""Numpy-batched twin of :mod:`.sim`: many players, one set of array operations per chunk.

Each function here mirrors its scalar twin in :mod:`.sim` operation for operation (same
formulas, same order, float64 throughout), so a batch of players and the same players run one
at a time give bit-identical results. Only the search differs: the scalar code bisects one
trace's list, the batched code runs one ``np.searchsorted`` over all traces at once on a shared
sorted key (each trace's values plus a per-trace base) and then corrects any off-by-one the
base's rounding may cause with exact comparisons on the trace's own values — so both find the
same interval.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .traces import Trace, TraceSet, pack_trace
from .video import Video


class SlotPool:
    """One writable trace slot per player, for traces drawn anew each episode (synthetic).

    Exposes the same arrays as :class:`~.traces.TraceSet`, so the functions below serve both.
    """

    def __init__(self, n_slots: int, max_segments: int, max_period_s: float, max_period_bytes: float):
        m = n_slots * max_segments
        self.cap = max_segments
        self.seg_start_s, self.seg_end_s = np.zeros(m), np.zeros(m)
        self.seg_rate_bps, self.cum_bytes, self.cum_before = np.zeros(m), np.zeros(m), np.zeros(m)
        self.period_s, self.period_bytes = np.ones(n_slots), np.ones(n_slots)
        self.first_seg = np.arange(n_slots, dtype=np.int64) * max_segments
        self.last_seg = self.first_seg.copy()
        self.key_base = np.arange(n_slots) * (max_period_bytes * 1.5 + 1.0)
        self.time_base = np.arange(n_slots) * (max_period_s * 1.5 + 1.0)
        self.search_key = np.repeat(self.key_base, max_segments)
        self.time_key = np.repeat(self.time_base, max_segments)

    def write(self, k: int, trace: Trace) -> None:
        p = pack_trace(trace)
        n = len(p["cum_bytes"])
        if n > self.cap:
            raise ValueError(f"synthetic trace has {n} intervals, more than the pool's {self.cap}")
        a, z = self.first_seg[k], self.first_seg[k] + self.cap
        for name in ("seg_start_s", "seg_end_s", "seg_rate_bps", "cum_bytes", "cum_before"):
            arr = getattr(self, name)
            arr[a:a + n] = p[name]
            arr[a + n:z] = p[name][-1]  # padding keeps the keys sorted; never selected
        self.period_s[k], self.period_bytes[k] = p["period_s"], p["period_bytes"]
        self.last_seg[k] = a + n - 1
        self.search_key[a:z] = self.cum_bytes[a:z] + self.key_base[k]
        self.time_key[a:z] = self.seg_end_s[a:z] + self.time_base[k]


def pool_bounds(pool) -> tuple[np.ndarray, np.ndarray]:
    """First and last flat interval index of every trace of a pool."""
    if isinstance(pool, TraceSet):
        return pool.offsets[:-1], pool.offsets[1:] - 1
    return pool.first_seg, pool.last_seg


def first_above(values, key, base, q, lo, hi) -> np.ndarray:
    """For each i, the first index j in [lo_i, hi_i] with ``values[j] > q_i`` (``values[hi_i] > q_i``)."""
    j = np.searchsorted(key, q + base, side="right")
    np.clip(j, lo, hi, out=j)
    m = values[j] <= q
    while m.any():
        j[m] += 1
        m = values[j] <= q
    m = (j > lo) & (values[np.maximum(j - 1, lo)] > q)
    while m.any():
        j[m] -= 1
        m = (j > lo) & (values[np.maximum(j - 1, lo)] > q)
    return j


def first_above_from(values, key, base, q, lo, hi, j_start, walk: int = 3) -> np.ndarray:
    """:func:`first_above` knowing the answer is ``>= j_start``: walk a few intervals first.

    Most chunks finish within a few intervals of where their download starts, so a short
    vectorised walk answers most players and only the rest pay for the global search.
    """
    j = j_start.copy()
    for _ in range(walk):
        m = values[j] <= q
        if not m.any():
            return j
        j[m] += 1
    m = values[j] <= q
    if m.any():
        j[m] = first_above(values, key, base[m], q[m], lo[m], hi[m])
    return j


def transfer(pool, k, lo, hi, j, t_s, size_bytes):
    """Batched :func:`.sim.transfer`: returns ``(transfer_s, j_end, t_end_s)``."""
    q = pool.cum_before[j] + pool.seg_rate_bps[j] * (t_s - pool.seg_start_s[j]) + size_bytes
    period_bytes = pool.period_bytes[k]
    laps = np.zeros_like(q)
    w = q >= period_bytes
    j_start = j  # q >= cum_bytes[j - 1]: the download ends in interval j or later ...
    if w.any():
        qw, pw = q[w], period_bytes[w]
        r = np.fmod(qw, pw)
        laps[w] = np.rint((qw - r) / pw)
        q[w] = r
        j_start = np.where(w, lo, j)  # ... unless it wrapped
    j_end = first_above_from(pool.cum_bytes, pool.search_key, pool.key_base[k], q, lo, hi, j_start)
    t_end = pool.seg_start_s[j_end] + (q - pool.cum_before[j_end]) / pool.seg_rate_bps[j_end]
    return laps * pool.period_s[k] + t_end - t_s, j_end, t_end


def advance(pool, k, lo, hi, j, t_s, dt_s):
    """Batched :func:`.sim.advance`: returns ``(j, t_s)``."""
    t = t_s + dt_s
    period = pool.period_s[k]
    w = t >= period
    if w.any():
        t[w] = np.fmod(t[w], period[w])
        j = np.where(w, lo, j)
    return first_above_from(pool.seg_end_s, pool.time_key, pool.time_base[k], t, lo, hi, j), t


class BatchedSessions:
    """N players, each on its own trace of a shared pool; state in Pensieve's units."""

    def __init__(self, video: Video, pensieve: bool, n: int, sleep_quantum_ms: float = 500.0, noise: bool = False):
        self.video, self.pensieve, self.n = video, pensieve, n
        self.chunks_total = video.chunks - 1 if pensieve else video.chunks
        self.chunk_ms = video.chunk_s * 1000.0
        self.sleep_quantum_ms = sleep_quantum_ms
        self.sizes = video.chunk_bytes.astype(np.float64)
        self.pool: Any = None  # a TraceSet or a SlotPool, set by set_pool
        self.k = np.zeros(n, dtype=np.int64)
        self.j = np.zeros(n, dtype=np.int64)
        self.t_s = np.zeros(n)
        self.buffer_ms = np.zeros(n)
        self.chunk = np.zeros(n, dtype=np.int64)
        self.rtt_ms = np.zeros(n)
        self.buffer_cap_ms = np.zeros(n)
        self.noise = np.ones((n, self.chunks_total)) if noise else None

    def set_pool(self, pool) -> None:
        self.pool = pool
        self._lo, self._hi = pool_bounds(pool)

    def start(self, i: int, k: int, start_row: int, t0_s: float, rtt_ms: float, buffer_cap_ms: float,
              noise: np.ndarray | None) -> None:
        """Scalar :meth:`.sim.Session.start` for player ``i`` on trace ``k`` of the pool."""
        self.k[i], self.j[i], self.t_s[i] = k, self._lo[k] + start_row - 1, t0_s
        self.buffer_ms[i] = 0.0
        self.chunk[i] = 0
        self.rtt_ms[i], self.buffer_cap_ms[i] = rtt_ms, buffer_cap_ms
        if self.noise is not None:
            self.noise[i] = noise

    def download(self, level: np.ndarray, idx: np.ndarray | None = None):
        """Batched :meth:`.sim.Session.download` for players ``idx`` (all if None).

        Returns ``(delay_ms, rebuffer_ms, sleep_ms, chunk_bytes)`` arrays over ``idx``.
        """
        sel = slice(None) if idx is None else idx
        pool = self.pool
        k, chunk = self.k[sel], self.chunk[sel]
        lo, hi = self._lo[k], self._hi[k]
        size = self.sizes[level, chunk]
        transfer_s, j, t = transfer(pool, k, lo, hi, self.j[sel], self.t_s[sel], size)
        rtt_ms = self.rtt_ms[sel]
        delay_ms = transfer_s * 1000.0 + rtt_ms
        if self.noise is not None:
            delay_ms = delay_ms * self.noise[np.arange(self.n) if idx is None else idx, chunk]
        if not self.pensieve:
            j, t = advance(pool, k, lo, hi, j, t, rtt_ms / 1000.0)
        buffer_ms = self.buffer_ms[sel]
        rebuffer_ms = np.where(delay_ms > buffer_ms, delay_ms - buffer_ms, 0.0)
        buffer_ms = np.where(buffer_ms > delay_ms, buffer_ms - delay_ms, 0.0) + self.chunk_ms
        sleep_ms = np.zeros_like(buffer_ms)
        cap = self.buffer_cap_ms[sel]
        s = buffer_ms > cap
        if s.any():
            q = self.sleep_quantum_ms
            sleep_ms[s] = np.ceil((buffer_ms[s] - cap[s]) / q) * q
            buffer_ms[s] -= sleep_ms[s]
            j[s], t[s] = advance(pool, k[s], lo[s], hi[s], j[s], t[s], sleep_ms[s] / 1000.0)
        self.j[sel], self.t_s[sel] = j, t
        self.buffer_ms[sel] = buffer_ms
        self.chunk[sel] = chunk + 1
        return delay_ms, rebuffer_ms, sleep_ms, size
