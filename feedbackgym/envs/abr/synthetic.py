"""Seeded synthetic traces for domain randomisation (Markov-modulated bandwidth).

Genet (Xia et al., SIGCOMM 2022) showed that ABR agents generalise better when trained over
ranges of network conditions rather than one trace set. Each episode here draws its conditions
from configurable ranges, then a trace:

* the episode's bandwidth band ``[low, high]``: two log-uniform draws from ``bandwidth_mbps``;
* ``n_states`` bandwidth levels log-spaced over the band; a Markov chain moves between them,
  one step up or down (reflecting at the ends) or, with probability ``jump_prob``, to any level;
* the holding time in a level is exponential with mean ``change_interval_s`` (drawn per episode
  uniformly from its range), rounded to whole rows of ``row_s`` and at least one row;
* each row's throughput is the level's bandwidth times log-normal noise (``noise_sigma``);
* per episode ``rtt_ms`` and ``buffer_cap_s`` are drawn uniformly from their ranges when given
  (otherwise the env's fixed ``rtt_ms`` and ``buffer_cap_s`` apply).

All draws come from the generator passed in (the env's ``np_random``) in a fixed order, so a
seed gives the same trace in a single env and in the vectorised twin.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

import numpy as np

from ...config import interval, number
from .traces import Trace


@dataclass(frozen=True)
class SyntheticSpec:
    bandwidth_mbps: tuple = (0.2, 6.0)
    change_interval_s: tuple = (2.0, 20.0)
    n_states: int = 8
    jump_prob: float = 0.1
    noise_sigma: float = 0.15
    row_s: float = 1.0
    duration_s: float = 320.0
    rtt_ms: tuple | None = None        # None: the env's rtt_ms
    buffer_cap_s: tuple | None = None  # None: the env's buffer_cap_s

    @classmethod
    def from_dict(cls, d: dict | None, where: str = "AbrConfig.synthetic") -> SyntheticSpec:
        d = dict(d or {})
        known = [f.name for f in fields(cls)]
        unknown = sorted(set(d) - set(known))
        if unknown:
            raise ValueError(f"{where}: unknown field(s) {unknown}; known: {known}")
        checks = {
            "bandwidth_mbps": interval(1e-3, 1e5), "change_interval_s": interval(1e-3, 1e5),
            "n_states": number(1, 1000, integer=True), "jump_prob": number(0, 1),
            "noise_sigma": number(0, 5), "row_s": number(1e-3, 1e4, lo_open=False),
            "duration_s": number(1e-3, 1e6), "rtt_ms": interval(0, 1e5, allow_none=True),
            "buffer_cap_s": interval(1e-3, 1e5, allow_none=True),
        }
        out = {k: checks[k](f"{where}.{k}", v) for k, v in d.items()}
        spec = cls(**out)
        if spec.duration_s < 2 * spec.row_s:
            raise ValueError(f"{where}.duration_s: must span at least 2 rows of row_s={spec.row_s}, "
                             f"got {spec.duration_s}")
        return spec

    @property
    def rows(self) -> int:
        return int(math.ceil(self.duration_s / self.row_s))

    @property
    def max_period_bytes(self) -> float:
        """Upper bound on one trace's payload bytes (noise capped at 8 sigma), for packing."""
        return self.bandwidth_mbps[1] * math.exp(8 * self.noise_sigma) * 1e6 / 8 * self.rows * self.row_s


def generate(rng: np.random.Generator, spec: SyntheticSpec,
             name: str = "synthetic") -> tuple[Trace, float | None, float | None]:
    """Draw one episode's trace, RTT (ms) and buffer cap (s); None where the spec has no range."""
    lo_b, hi_b = np.log(spec.bandwidth_mbps[0]), np.log(spec.bandwidth_mbps[1])
    a, b = np.sort(rng.uniform(lo_b, hi_b, size=2))
    levels = np.exp(np.linspace(a, b, spec.n_states))
    mean_hold_rows = rng.uniform(*spec.change_interval_s) / spec.row_s
    rtt_ms = None if spec.rtt_ms is None else float(rng.uniform(*spec.rtt_ms))
    buffer_cap_s = None if spec.buffer_cap_s is None else float(rng.uniform(*spec.buffer_cap_s))

    n_rows = spec.rows
    state = int(rng.integers(spec.n_states))
    per_row_state = np.empty(n_rows, dtype=np.int64)
    r = 0
    while r < n_rows:
        hold = max(1, int(round(rng.exponential(mean_hold_rows))))
        per_row_state[r:r + hold] = state
        r += hold
        if spec.n_states > 1:
            if rng.random() < spec.jump_prob:
                state = int(rng.integers(spec.n_states))
            else:
                step = 1 if rng.random() < 0.5 else -1
                state = state + step if 0 <= state + step < spec.n_states else state - step
    noise = np.exp(rng.normal(0.0, spec.noise_sigma, size=n_rows)) if spec.noise_sigma > 0 else 1.0
    mbps = levels[per_row_state] * noise
    time_s = np.arange(n_rows + 1, dtype=np.float64) * spec.row_s
    thr = np.concatenate(([mbps[0]], mbps))  # row 0 anchors the clock
    return Trace(name, time_s, thr), rtt_ms, buffer_cap_s
