"""The kernel's random stream: xoshiro256** (Blackman & Vigna, 2018) inside numba.

The simulator draws every random number inside its compiled kernel, many per simulated second,
so it keeps its own small generator state (four uint64 words per market) seeded from the numpy
``Generator`` handed to ``reset``. One seed therefore gives one market bit for bit, and a batch of
markets and the same markets simulated one by one draw identical streams.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

# How every simulator kernel is compiled: cached on disk, and without numba's reference counting
# (NRT). The kernels allocate nothing, and with NRT each call that passes array views pays atomic
# incref/decref pairs -- about half of a simulated second's time -- which threads stepping
# different markets of one batch would also contend on (the views share their parent's counter).
# Arithmetic is unchanged (no fastmath): paths are bit for bit those of the counted kernels.
# ``_nrt`` is a private numba option (0.59 through 0.68 at least): a release without it would fail
# every kernel's first call with an "Unrecognized options" KeyError, so it is only passed where
# the CPU target knows it; elsewhere the kernels compile with reference counting (same paths, slower).
try:
    from numba.core.cpu import CPUTargetOptions

    NO_NRT: dict = {"_nrt": False} if hasattr(CPUTargetOptions, "_nrt") else {}
except ImportError:  # numba moved its target options: compile the counted kernels
    NO_NRT = {}
kernel = njit(cache=True, **NO_NRT)
# the same, inlined into its caller by numba (a call that passes a dozen arrays costs more than a
# small handler's work); for functions with one or two call sites, or compilation grows
kernel_inline = njit(cache=True, inline="always", **NO_NRT)

_U11 = np.uint64(11)
_INV53 = 1.0 / 9007199254740992.0


def seed_state(rng: np.random.Generator) -> np.ndarray:
    """Four nonzero uint64 words drawn from ``rng``."""
    s = rng.integers(1, 2**63 - 1, size=4, dtype=np.int64).astype(np.uint64)
    return s


@kernel_inline
def _rotl(x, k):
    return (x << np.uint64(k)) | (x >> np.uint64(64 - k))


@kernel
def next_u64(s):
    s0 = s[0]
    s1 = s[1]
    s2 = s[2]
    s3 = s[3]
    result = _rotl(s1 * np.uint64(5), 7) * np.uint64(9)
    t = s1 << np.uint64(17)
    s2 ^= s0
    s3 ^= s1
    s1 ^= s2
    s0 ^= s3
    s2 ^= t
    s3 = _rotl(s3, 45)
    s[0] = s0
    s[1] = s1
    s[2] = s2
    s[3] = s3
    return result


@kernel
def uniform(s):
    """U[0, 1) with 53 random bits."""
    return float(next_u64(s) >> _U11) * _INV53


@kernel
def randint(s, n):
    """Uniform integer in [0, n)."""
    return min(int(uniform(s) * n), n - 1)


@kernel
def normal(s):
    """Standard normal (Box-Muller, one of the pair)."""
    u1 = uniform(s)
    u2 = uniform(s)
    return math.sqrt(-2.0 * math.log(1.0 - u1)) * math.cos(2.0 * math.pi * u2)


@kernel
def exponential(s, mean):
    return -mean * math.log(1.0 - uniform(s))


@kernel
def poisson(s, lam):
    """Poisson count: Knuth's product method below 30, rounded normal above."""
    if lam <= 0.0:
        return 0
    if lam < 30.0:
        limit = math.exp(-lam)
        k = 0
        p = uniform(s)
        while p > limit:
            k += 1
            p *= uniform(s)
        return k
    return max(0, int(round(lam + math.sqrt(lam) * normal(s))))
