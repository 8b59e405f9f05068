"""Classical adaptive-bitrate controllers, the baselines every ABR paper compares against.

Each controller is a small policy object with the protocol::

    policy.reset(env, obs, info)      # start of an episode (``env`` may be wrapped)
    level = policy.act(obs, info)     # level of the next chunk
    policy.end_episode(obs, info)     # terminal step's obs/info (only robustMPC-as-in-Pensieve cares)

They never read the observation array — observation variants (Pensieve's 6x8, normalised,
flattened…) come and go, while the quantities a player really has (buffer level, measured
download times, chunk sizes from the manifest) are in ``info`` and ``env.unwrapped.video``:

=================  ===============================================================================
``level``          level of the chunk just downloaded (-1 before the first)
``chunk_index``    index of the chunk just downloaded (-1 before the first)
``next_chunk_index`` index of the chunk being chosen now
``chunks_total`` / ``chunks_left``  episode length / chunks not yet downloaded
``buffer_s``       buffer after the download (and any sleep), seconds
``delay_ms``       download time of the last chunk incl. RTT, ms; ``chunk_bytes`` its size
=================  ===============================================================================

Throughput is measured the way Pensieve does, ``chunk_bytes / delay_ms / 1000`` in MB/s (= kB/ms),
RTT included; ``* 8000`` turns it into kbps for comparing with the ladder.

``ABR_BASELINES`` maps the names used by the CLI and experiments to zero-argument factories.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

import numpy as np

__all__ = [
    "AbrPolicy",
    "BufferBased",
    "RateBased",
    "Bola",
    "RobustMpc",
    "ConstantLevel",
    "ABR_BASELINES",
    "harmonic_mean",
    "throughput_mbyte_s",
]

#: MB/s -> kbps (8 bits per byte, 1000 kbit per Mbit).
KBPS_PER_MBYTE_S = 8000.0


def throughput_mbyte_s(info: dict) -> float:
    """Last chunk's throughput as Pensieve measures it (bytes / delay incl. RTT), MB/s == kB/ms."""
    return float(info["chunk_bytes"]) / float(info["delay_ms"]) / 1000.0


def harmonic_mean(values) -> float:
    """Harmonic mean with Pensieve's (mpc.py) float-operation order: 1 / (Σ 1/x / n).

    The harmonic mean is the standard ABR throughput predictor because it is dominated by the
    slow samples: one fast outlier cannot talk the player into a bitrate it cannot sustain.
    """
    total = 0.0
    for v in values:
        total += 1 / float(v)
    return 1.0 / (total / len(values))


class AbrPolicy:
    """Base class: stores the video, ignores ``end_episode`` by default."""

    name = "abr_policy"

    def reset(self, env, obs, info) -> None:
        self.video = env.unwrapped.video
        self.bitrates_kbps = np.asarray(self.video.bitrates_kbps, dtype=np.float64)
        self.levels = len(self.bitrates_kbps)

    def act(self, obs, info) -> int:  # pragma: no cover - abstract
        raise NotImplementedError

    def end_episode(self, obs, info) -> None:
        return None

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class ConstantLevel(AbrPolicy):
    """Always the same level (``level=0``: always lowest, the sanity floor of any score table).

    ``level`` may be negative to count from the top (-1 = highest); a level outside the ladder
    raises at ``reset`` rather than being silently clipped.
    """

    name = "constant"

    def __init__(self, level: int = 0):
        self.level = int(level)

    def reset(self, env, obs, info) -> None:
        super().reset(env, obs, info)
        if not -self.levels <= self.level < self.levels:
            raise ValueError(f"ConstantLevel: level {self.level} outside the ladder's {self.levels} levels")
        self._level = self.level % self.levels

    def act(self, obs, info) -> int:
        return self._level

    def __repr__(self) -> str:
        return f"ConstantLevel(level={self.level})"


class BufferBased(AbrPolicy):
    """Buffer-based adaptation (BBA-0, Huang et al., SIGCOMM 2014) as in Pensieve's ``test/bb.py``.

    Throughput estimates are noisy and biased by the player's own choices; the buffer level is a
    direct, lagged measurement of whether the current rate is sustainable. Below the
    ``reservoir_s`` the player protects against stalls with the lowest level; above
    ``reservoir_s + cushion_s`` it can afford the highest; in between the level rises linearly
    with the buffer: ``int((L-1) * (buffer_s - reservoir_s) / cushion_s)``.
    Defaults (5 s, 10 s) are Pensieve's.
    """

    name = "bb"

    def __init__(self, reservoir_s: float = 5.0, cushion_s: float = 10.0):
        if reservoir_s < 0 or cushion_s <= 0:
            raise ValueError(f"BufferBased: need reservoir_s >= 0 and cushion_s > 0, got {reservoir_s}, {cushion_s}")
        self.reservoir_s = reservoir_s
        self.cushion_s = cushion_s

    def act(self, obs, info) -> int:
        buffer_s = info["buffer_s"]
        if buffer_s < self.reservoir_s:
            level = 0
        elif buffer_s >= self.reservoir_s + self.cushion_s:
            level = self.levels - 1
        else:
            level = (self.levels - 1) * (buffer_s - self.reservoir_s) / float(self.cushion_s)
        return int(level)

    def __repr__(self) -> str:
        return f"BufferBased(reservoir_s={self.reservoir_s}, cushion_s={self.cushion_s})"


class _ThroughputHistory(AbrPolicy):
    """Shared bookkeeping: per-episode chunk throughputs, each chunk ingested once."""

    def reset(self, env, obs, info) -> None:
        super().reset(env, obs, info)
        self.throughputs_mbyte_s: list[float] = []
        self._last_ingested = -1

    def _ingest(self, info) -> bool:
        """Record the chunk just downloaded (if new). Returns True when a sample was added."""
        idx = int(info.get("chunk_index", -1))
        if idx < 0 or idx == self._last_ingested or float(info.get("delay_ms", 0.0)) <= 0.0:
            return False
        self._last_ingested = idx
        self.throughputs_mbyte_s.append(throughput_mbyte_s(info))
        return True


class RateBased(_ThroughputHistory):
    """Rate-based adaptation: the highest level whose bitrate the predicted throughput sustains.

    The prediction is the harmonic mean of the last ``window`` chunk throughputs of this episode
    (RTT included, as measured by a real player). It ignores the buffer entirely, which is why it
    both under-uses a full buffer and stalls when throughput drops after a fast period — the
    contrast that motivated buffer-based and MPC controllers. If no level fits, or nothing has
    been measured yet (first chunk in default mode), it picks ``startup_level`` (default the
    lowest), the conservative choice.
    """

    name = "rb"

    def __init__(self, window: int = 5, startup_level: int = 0):
        if window < 1:
            raise ValueError(f"RateBased: window must be >= 1, got {window}")
        self.window = int(window)
        self.startup_level = int(startup_level)

    def act(self, obs, info) -> int:
        self._ingest(info)
        if not self.throughputs_mbyte_s:
            return min(self.startup_level, self.levels - 1)
        predicted_kbps = harmonic_mean(self.throughputs_mbyte_s[-self.window:]) * KBPS_PER_MBYTE_S
        fits = np.flatnonzero(self.bitrates_kbps <= predicted_kbps)
        return int(fits[-1]) if fits.size else 0

    def __repr__(self) -> str:
        return f"RateBased(window={self.window}, startup_level={self.startup_level})"


class Bola(AbrPolicy):
    """BOLA-BASIC (Spiteri, Urgaonkar, Sitaraman, INFOCOM 2016), as implemented in Sabre.

    BOLA maximises time-average utility minus a rebuffer cost by Lyapunov drift-plus-penalty: at
    each decision it picks the level ``m`` maximising ``(V * (u_m + gamma_p) - Q) / S_m``, i.e.
    utility gained per bit downloaded, discounted by how full the buffer already is. No
    throughput prediction is needed, and the paper proves the long-run utility is within
    ``O(1/V)`` of optimal while the buffer stays bounded by ``V (u_max + gamma_p)``.

    Choices (units are seconds throughout; the paper counts the buffer in chunks, which only
    rescales V and Q by the chunk length and leaves the argmax unchanged):

    * utility ``u_m = ln(R_m / R_min)`` (so the lowest level has utility 0); ``S_m`` is the
      nominal bitrate ``R_m`` (kbps), as in Sabre — for a CBR-like encode this is the chunk size
      up to a constant;
    * ``gamma_p = 5`` (the rebuffer weight γp of Spiteri et al., INFOCOM 2016, and Sabre's default);
    * ``V = (buffer_target_s - chunk_s) / (u_max + gamma_p)`` — Sabre's derivation from the
      player's buffer size: with this V, BOLA's buffer never needs to exceed
      ``buffer_target_s - chunk_s`` before it fetches the top level, so one more chunk never
      overflows the target.
    * ``buffer_target_s = 45`` s, capped at the env's ``config.buffer_cap_s`` (60 s) so the top
      level stays reachable if the cap is lowered. Sabre's own default buffer (25 s) makes
      BOLA-BASIC sit at the lowest level until ~12 s of buffer and then ramp steeply, which on
      48-chunk videos costs a lot; 45 s was picked on ``train_127`` under the test rules
      (QoE_lin/chunk for targets 20/25/30/35/40/45/50/60 s: 0.061/0.256/0.350/0.413/0.422/
      0.422/0.422/0.396 — a plateau from 40 to 50 s), never on the test traces. For
      EnvivioDash3 (300…4300 kbps, 4 s chunks) this gives V ≈ 5.35 s: the lowest level up to
      ~23.5 s of buffer and the top level from ~34.5 s.

    BOLA-BASIC also *pauses* downloading when the buffer exceeds ``V (u_m + gamma_p)`` for the
    chosen level; the env has no voluntary pause (only its buffer-cap sleep), so that part is
    left out. Ties keep the lowest level (Sabre's strict ``>``). Being purely buffer-driven,
    BOLA-BASIC starts slowly; the throughput-aware startup of BOLA-E/dash.js is not included.
    """

    name = "bola"

    def __init__(self, buffer_target_s: float = 45.0, gamma_p: float = 5.0):
        if buffer_target_s <= 0 or gamma_p <= 0:
            raise ValueError(f"Bola: need buffer_target_s > 0 and gamma_p > 0, got {buffer_target_s}, {gamma_p}")
        self.buffer_target_s = float(buffer_target_s)
        self.gamma_p = float(gamma_p)

    def reset(self, env, obs, info) -> None:
        super().reset(env, obs, info)
        self.utilities = np.log(self.bitrates_kbps / self.bitrates_kbps[0])
        chunk_s = float(self.video.chunk_s)
        config = getattr(env.unwrapped, "config", None)
        cap_s = getattr(config, "buffer_cap_s", None)
        target_s = self.buffer_target_s if cap_s is None else min(self.buffer_target_s, float(cap_s))
        if target_s <= chunk_s:
            raise ValueError(f"Bola: buffer target {target_s} s (buffer_target_s capped at the env's buffer_cap_s) "
                             f"must exceed the chunk length ({chunk_s} s)")
        self.v_s = (target_s - chunk_s) / (self.utilities[-1] + self.gamma_p)

    def scores(self, buffer_s: float) -> np.ndarray:
        """BOLA's objective per level for the given buffer level."""
        return (self.v_s * (self.utilities + self.gamma_p) - buffer_s) / self.bitrates_kbps

    def act(self, obs, info) -> int:
        return int(np.argmax(self.scores(float(info["buffer_s"]))))

    def __repr__(self) -> str:
        return f"Bola(buffer_target_s={self.buffer_target_s}, gamma_p={self.gamma_p})"


_PLAN_CACHE: dict = {}


def _plan_terms(levels: int, horizon: int, last_level: int, bitrates_kbps: tuple):
    """All ``levels**horizon`` plans in ``itertools.product`` order with their exact integer-sum
    terms: first level, Σ bitrate / 1000 and Σ |Δbitrate| / 1000 (Mbps)."""
    key = (levels, horizon, last_level, bitrates_kbps)
    if key not in _PLAN_CACHE:
        plans = np.array(list(itertools.product(range(levels), repeat=horizon)), dtype=np.int64).reshape(-1, horizon)
        br = np.asarray(bitrates_kbps, dtype=np.float64)
        prev = np.concatenate([np.full((plans.shape[0], 1), last_level), plans[:, :-1]], axis=1)
        # Sequential sums (position by position), as Pensieve accumulates them.
        bitrate_sum = np.zeros(plans.shape[0])
        switch_sum = np.zeros(plans.shape[0])
        for p in range(horizon):
            bitrate_sum = bitrate_sum + br[plans[:, p]]
            switch_sum = switch_sum + np.abs(br[plans[:, p]] - br[prev[:, p]])
        if len(_PLAN_CACHE) > 256:
            _PLAN_CACHE.clear()
        _PLAN_CACHE[key] = (plans[:, 0].copy(), bitrate_sum / 1000.0, switch_sum / 1000.0)
    return _PLAN_CACHE[key]


def plan_rebuffer_s(buffer_s: float, download_s_per_position: list[np.ndarray], chunk_s: float) -> np.ndarray:
    """Fluid-buffer rebuffering of every plan (product order), evaluated breadth-first over the plan
    tree so each plan sees exactly the scalar recursion of Pensieve's mpc.py:
    ``if buf < dl: rebuf += dl - buf; buf = 0 else: buf -= dl; buf += chunk_s``."""
    rebuffer = np.zeros(1)
    buffer = np.full(1, float(buffer_s))
    for download_s in download_s_per_position:
        levels = download_s.shape[0]
        dl = np.tile(download_s, buffer.shape[0])
        buffer = np.repeat(buffer, levels)
        rebuffer = np.repeat(rebuffer, levels)
        stall = buffer < dl
        rebuffer = np.where(stall, rebuffer + (dl - buffer), rebuffer)
        buffer = np.where(stall, 0.0, buffer - dl)
        buffer = buffer + chunk_s
    return rebuffer


class RobustMpc(_ThroughputHistory):
    """robustMPC (Yin, Jindal, Sekar, Sinopoli, SIGCOMM 2015), as run in Pensieve's ``test/mpc.py``.

    Model-predictive control: predict throughput for the next ``horizon`` chunks, simulate the
    buffer for every plan of levels (``L**horizon`` plans, exhaustively — 7776 for 6 levels and
    horizon 5, evaluated as numpy arrays), apply the first level of the best plan, re-plan next
    chunk. The objective is QoE_lin over the horizon: Σ bitrate (Mbps) − ``rebuffer_penalty`` ·
    rebuffer (s) − ``smooth_penalty`` · Σ |Δbitrate| (Mbps), with a fluid buffer (download time =
    size / predicted throughput; no RTT, no buffer cap).

    *Robust* refers to the prediction: the harmonic mean of the last ``window`` throughputs is
    divided by ``1 + max`` of the last ``window`` relative errors of past predictions, so the
    controller turns cautious exactly when the network has recently surprised it. Ties between
    plans keep the last one in ``itertools.product`` order (Pensieve's ``reward >= max_reward``),
    which favours higher first levels.

    ``pensieve_bugs=False`` (the default, "robust_mpc") is the clean controller: it plans with
    the sizes of the chunks actually being chosen and starts every episode with an empty error
    history. ``pensieve_bugs=True`` ("robust_mpc_pensieve") reproduces Pensieve's script so its
    published numbers can be matched: it plans chunk ``next + position + 1`` (the one after the
    chunk being chosen; sizes past the end of the file count as 0 bytes), keeps its error and
    estimate history across episodes (so results depend on episode order — evaluate episodes in
    the same order, with one instance, and call ``end_episode``, which makes the update Pensieve
    makes on the end-of-video step).

    The horizon is cut to the chunks left in the episode (48 in pensieve mode, like Pensieve's
    ``TOTAL_VIDEO_CHUNKS``). Before any throughput sample exists (first chunk in default mode)
    it plays ``startup_level``.
    """

    def __init__(self, horizon: int = 5, window: int = 5, rebuffer_penalty: float = 4.3,
                 smooth_penalty: float = 1.0, pensieve_bugs: bool = False, startup_level: int = 0):
        if horizon < 1 or window < 1:
            raise ValueError(f"RobustMpc: horizon and window must be >= 1, got {horizon}, {window}")
        self.horizon = int(horizon)
        self.window = int(window)
        self.rebuffer_penalty = float(rebuffer_penalty)
        self.smooth_penalty = float(smooth_penalty)
        self.pensieve_bugs = bool(pensieve_bugs)
        self.startup_level = int(startup_level)
        self.name = "robust_mpc_pensieve" if pensieve_bugs else "robust_mpc"
        self.past_errors: list[float] = []
        self.past_estimates_mbyte_s: list[float] = []

    def reset(self, env, obs, info) -> None:
        super().reset(env, obs, info)
        if not self.pensieve_bugs:
            self.past_errors = []
            self.past_estimates_mbyte_s = []

    def _observe(self, info) -> bool:
        """Ingest the last chunk: relative error of the previous estimate, new estimate."""
        if not self._ingest(info):
            return False
        measured = self.throughputs_mbyte_s[-1]
        error = 0.0
        if self.past_estimates_mbyte_s:
            error = abs(self.past_estimates_mbyte_s[-1] - measured) / float(measured)
        self.past_errors.append(error)
        self._estimate = harmonic_mean(self.throughputs_mbyte_s[-self.window:])
        self._max_error = float(max(self.past_errors[-self.window:]))
        self.past_estimates_mbyte_s.append(self._estimate)
        return True

    def predicted_throughput_mbyte_s(self) -> float:
        """Harmonic mean discounted by the worst recent relative error (robustMPC's estimate)."""
        return self._estimate / (1 + self._max_error)

    def _chunk_bytes(self, index: int) -> np.ndarray:
        sizes = self.video.chunk_bytes
        if index < 0 or index >= sizes.shape[1]:
            return np.zeros(sizes.shape[0], dtype=np.int64)  # Pensieve's get_chunk_size: 0 beyond the file
        return sizes[:, index]

    def act(self, obs, info) -> int:
        self._observe(info)
        if not self.throughputs_mbyte_s:
            return min(self.startup_level, self.levels - 1)
        horizon = min(self.horizon, int(info["chunks_left"]))
        if horizon <= 0:
            return 0
        bandwidth = self.predicted_throughput_mbyte_s()
        first = int(info["next_chunk_index"]) + (1 if self.pensieve_bugs else 0)
        download_s = [(self._chunk_bytes(first + p) / 1000000.0) / bandwidth for p in range(horizon)]
        rebuffer_s = plan_rebuffer_s(float(info["buffer_s"]), download_s, float(self.video.chunk_s))
        last_level = int(info["level"])
        first_level, bitrate_mbps, switch_mbps = _plan_terms(
            self.levels, horizon, last_level, tuple(self.bitrates_kbps.tolist()))
        qoe = bitrate_mbps - (self.rebuffer_penalty * rebuffer_s) - self.smooth_penalty * switch_mbps
        best = np.flatnonzero(qoe == qoe.max())[-1]
        return int(first_level[best])

    def end_episode(self, obs, info) -> None:
        # Pensieve's loop runs MPC on the end-of-video step too; only its history update survives.
        self._observe(info)

    def __repr__(self) -> str:
        return (f"RobustMpc(horizon={self.horizon}, window={self.window}, rebuffer_penalty={self.rebuffer_penalty}, "
                f"smooth_penalty={self.smooth_penalty}, pensieve_bugs={self.pensieve_bugs})")


ABR_BASELINES: dict[str, Callable[[], AbrPolicy]] = {
    "bb": BufferBased,
    "rb": RateBased,
    "bola": Bola,
    "robust_mpc": RobustMpc,
    "robust_mpc_pensieve": lambda: RobustMpc(pensieve_bugs=True),
    "lowest": lambda: ConstantLevel(0),
}
