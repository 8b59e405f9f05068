"""Scalar chunk-level streaming simulator (no Gymnasium here).

The physics is Pensieve's (``test/fixed_env.py``), in its units (milliseconds for delay and
buffer) so that ``mode="pensieve"`` reproduces the community's numbers:

* a chunk of ``S`` bytes is delivered at 95 % of the trace's throughput, interval by interval,
  wrapping to row 1 with the clock at 0 at the end of the trace;
* ``delay = transfer + RTT`` (then times the training noise, if any);
* ``rebuffer = max(delay - buffer, 0)``; ``buffer = max(buffer - delay, 0) + chunk``;
* above the buffer cap the player sleeps in 500 ms quanta (rounded up) while the link clock runs.

Downloads are solved on the trace's cumulative-bytes curve (``TraceSet.cum_bytes``) rather than
by stepping intervals; the result equals Pensieve's stepping up to float rounding (1e-12 s), and
``batch_sim`` performs the *same* float operations on arrays, so a batch of players and the same
players simulated one by one agree bit for bit.

Rules that differ between the modes (``pensieve=False`` is the fixed default):

=========================  ==============================  =================================
rule                       pensieve                        default
=========================  ==============================  =================================
chunks played              all but the last (48 of 49)     all
link clock during the RTT  stands still                    runs (the RTT is link time too)
=========================  ==============================  =================================

The first-chunk rules (forced 750 kbps, startup delay) are episode rules and live in the env.
"""

from __future__ import annotations

import math
from bisect import bisect_right

from .traces import TraceLists
from .video import Video


def transfer(tl: TraceLists, j: int, t_s: float, size_bytes: float) -> tuple[float, int, float]:
    """Deliver ``size_bytes`` starting at clock ``t_s`` inside interval ``j``.

    Returns ``(transfer_s, j_end, t_end_s)``: the transfer time and where the link clock stands
    afterwards (interval index and time, ``0 <= t_end_s < period``).
    """
    q = tl.cum_before[j] + tl.seg_rate_bps[j] * (t_s - tl.seg_start_s[j]) + size_bytes
    laps = 0
    if q >= tl.period_bytes:  # the download wraps past the end of the trace (fmod is exact)
        r = math.fmod(q, tl.period_bytes)
        laps = round((q - r) / tl.period_bytes)
        q = r
    j_end = bisect_right(tl.cum_bytes, q)  # first interval whose end delivers more than q
    t_end = tl.seg_start_s[j_end] + (q - tl.cum_before[j_end]) / tl.seg_rate_bps[j_end]
    return laps * tl.period_s + t_end - t_s, j_end, t_end


def advance(tl: TraceLists, t_s: float, dt_s: float) -> tuple[int, float]:
    """Move the link clock forward ``dt_s`` without delivering anything (sleep, RTT)."""
    t = t_s + dt_s
    if t >= tl.period_s:
        t = math.fmod(t, tl.period_s)
    return bisect_right(tl.seg_end_s, t), t


class Session:
    """One player streaming one video over one trace; chunk by chunk.

    State is kept in Pensieve's units: ``buffer_ms``, link clock ``t_s`` with its interval
    ``j``, ``chunk`` (index of the next chunk to download).
    """

    __slots__ = ("video", "pensieve", "chunks_total", "chunk_ms", "sleep_quantum_ms", "_sizes",
                 "tl", "j", "t_s", "buffer_ms", "chunk", "noise", "rtt_ms", "buffer_cap_ms")

    def __init__(self, video: Video, pensieve: bool, sleep_quantum_ms: float = 500.0):
        self.video = video
        self.pensieve = pensieve
        self.chunks_total = video.chunks - 1 if pensieve else video.chunks
        self.chunk_ms = video.chunk_s * 1000.0
        self.sleep_quantum_ms = sleep_quantum_ms
        self._sizes = video.chunk_bytes.tolist()
        self.tl: TraceLists | None = None

    def start(self, tl: TraceLists, start_row: int, t0_s: float, rtt_ms: float, buffer_cap_ms: float,
              noise: list | None = None) -> None:
        """Begin a video on trace ``tl`` at row ``start_row`` (>= 1), whose interval starts at ``t0_s``."""
        self.tl, self.j, self.t_s = tl, start_row - 1, t0_s
        self.buffer_ms = 0.0
        self.chunk = 0
        self.noise = noise
        self.rtt_ms = rtt_ms
        self.buffer_cap_ms = buffer_cap_ms

    def download(self, level: int) -> tuple[float, float, float, int]:
        """Download the next chunk at ``level``; returns ``(delay_ms, rebuffer_ms, sleep_ms, bytes)``."""
        tl = self.tl
        if tl is None:
            raise RuntimeError("Session.download() called before start()")
        size = self._sizes[level][self.chunk]
        transfer_s, self.j, self.t_s = transfer(tl, self.j, self.t_s, size)
        delay_ms = transfer_s * 1000.0 + self.rtt_ms
        if self.noise is not None:
            delay_ms = delay_ms * self.noise[self.chunk]
        if not self.pensieve:
            self.j, self.t_s = advance(tl, self.t_s, self.rtt_ms / 1000.0)
        buffer_ms = self.buffer_ms
        rebuffer_ms = delay_ms - buffer_ms if delay_ms > buffer_ms else 0.0
        buffer_ms = (buffer_ms - delay_ms if buffer_ms > delay_ms else 0.0) + self.chunk_ms
        sleep_ms = 0.0
        if buffer_ms > self.buffer_cap_ms:
            sleep_ms = math.ceil((buffer_ms - self.buffer_cap_ms) / self.sleep_quantum_ms) * self.sleep_quantum_ms
            buffer_ms -= sleep_ms
            self.j, self.t_s = advance(tl, self.t_s, sleep_ms / 1000.0)
        self.buffer_ms = buffer_ms
        self.chunk += 1
        return delay_ms, rebuffer_ms, sleep_ms, size

    @property
    def chunks_left(self) -> int:
        return self.chunks_total - self.chunk
