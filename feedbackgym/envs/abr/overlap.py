"""Content overlap between trace splits: which test traces replay bandwidth a training split holds.

The field's public splits overlap: 171 of the 290 ``fcc_test`` traces (Genet's FCC test set) are
320-s windows cut from the same FCC recordings as ``train_127``'s FCC traces (Pensieve's training
set), row for row (35 at a recording's start, the others at 320-s offsets). Names do not show it
(``trace_10322_http---edition.cnn.com_320`` is rows 64..128 of ``trace_10322_http---edition.cnn.com``),
so overlap is found by content: two traces overlap when they share a window of ``WINDOW``
consecutive intervals with equal durations and throughputs. Windows whose throughput is constant
(e.g. runs of zero-throughput rows) are ignored, since unrelated traces share those by chance.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from .traces import Trace

#: consecutive intervals two traces must share to count as overlapping (40 s of 5-s FCC rows)
WINDOW = 8


def windows(trace: Trace, k: int = WINDOW) -> set[tuple]:
    """Every window of ``k`` consecutive intervals (durations rounded to 1 ns, throughputs) that
    is not constant."""
    dt = np.round(np.diff(trace.time_s), 9).tolist()
    b = trace.throughput_mbps[1:].tolist()
    out = set()
    for i in range(len(b) - k + 1):
        w = tuple(b[i:i + k])
        if min(w) != max(w):
            out.add((tuple(dt[i:i + k]), w))
    return out


def overlapping(tests: Sequence[Trace], trains: Iterable[Trace], k: int = WINDOW) -> list[str]:
    """Names of the ``tests`` traces that share a window with any of ``trains``."""
    seen: set[tuple] = set()
    for tr in trains:
        seen |= windows(tr, k)
    return [t.name for t in tests if not windows(t, k).isdisjoint(seen)]
