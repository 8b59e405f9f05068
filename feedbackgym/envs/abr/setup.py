"""What an ABR env derives from its config: video, traces, reward, spaces, per-level tables.

Shared by the single env and its vectorised twin so both interpret a config identically.
"""

from __future__ import annotations

import functools
from typing import Any
from dataclasses import dataclass

import numpy as np
from gymnasium import spaces

from ...reward import resolve
from ...reward.registry import RewardFn
from ...reward.abr import ABR_COMPONENTS
from .config import AbrConfig
from .synthetic import SyntheticSpec
from .traces import TraceSet, trace_set
from .video import Video, load_video

#: Pensieve's observation normalisers.
BUFFER_NORM_S = 10.0
PENSIEVE_HISTORY = 8
HD_SCORES_6 = (1.0, 2.0, 3.0, 12.0, 15.0, 20.0)


@functools.lru_cache(maxsize=8)
def _cached_video(spec: str) -> Video:
    return load_video(spec)


@dataclass(frozen=True, eq=False)
class AbrSetup:
    config: AbrConfig
    video: Video
    traces: TraceSet | None          # None when traces are synthetic
    synthetic: SyntheticSpec | None
    components: tuple[str, ...]
    reward_fn: RewardFn
    chunks_total: int                # chunks per episode (48 in pensieve mode for EnvivioDash3)
    bitrate_mbps: np.ndarray         # (L,)
    log_quality: np.ndarray          # (L,)
    hd_quality: np.ndarray | None    # (L,)
    next_sizes_mb: np.ndarray        # (chunks_total + 1, L): obs row 4 after each chunk
    next_chunk_bytes: np.ndarray     # (chunks_total + 1, L): the same in bytes, for info
    obs_shape: tuple                 # (6, cols): the state matrix the envs maintain
    action_space: spaces.Discrete
    observation_space: spaces.Box

    @property
    def levels(self) -> int:
        return self.video.levels

    @property
    def pensieve(self) -> bool:
        return self.config.mode == "pensieve"


#: Rows 1-4 (buffer, throughput, delay, sizes) have no physical upper bound; a finite stand-in
#: keeps Gymnasium's checker and normalising wrappers happy. Rows 0 and 5 are fractions.
OBS_ROW_HIGH = 1e6


def _obs_space(cols: int, layout: str) -> spaces.Box:
    high: np.ndarray = np.full((6, cols), OBS_ROW_HIGH, dtype=np.float32)
    high[0] = high[5] = 1.0
    if layout == "flat":
        high = high.reshape(-1)
    return spaces.Box(np.zeros_like(high), high, dtype=np.float32)


def build(cfg: AbrConfig) -> AbrSetup:
    video = _cached_video(cfg.video) if isinstance(cfg.video, str) else load_video(cfg.video)
    L = video.levels
    pensieve = cfg.mode == "pensieve"
    if pensieve and video.chunks < 3:
        raise ValueError(f"AbrConfig.video: pensieve mode plays chunk 0 before the first step and skips the last "
                         f"chunk, so it needs a video of at least 3 chunks; {video.name!r} has {video.chunks}")
    if pensieve and cfg.first_level >= L:
        raise ValueError(f"AbrConfig.first_level: expected an integer in [0, {L - 1}] for a {L}-level ladder, "
                         f"got {cfg.first_level}")
    if cfg.traces == "synthetic":
        traces, synthetic = None, SyntheticSpec.from_dict(cfg.synthetic)
    else:
        if cfg.synthetic is not None:
            raise ValueError("AbrConfig.synthetic: only used with traces='synthetic' "
                             f"(traces is {cfg.traces!r})")
        traces, synthetic = trace_set(cfg.traces, cfg.trace_format, cfg.mahimahi_bin_ms), None

    hd = cfg.hd_scores
    if hd is None and L == 6:
        hd = HD_SCORES_6
    if hd is not None and len(hd) != L:
        raise ValueError(f"AbrConfig.hd_scores: expected {L} scores (one per level), got {len(hd)}")
    components = tuple(c for c in ABR_COMPONENTS if hd is not None or not c.startswith("hd_"))
    reward_fn = resolve(cfg.reward, components, domain="abr")

    chunks_total = video.chunks - 1 if pensieve else video.chunks
    rates = video.bitrates_kbps
    # Row n: the next chunk's sizes shown after n chunks. After the last chunk Pensieve's env
    # shows the next video's first chunk; the default mode shows that nothing is left.
    next_bytes = video.chunk_bytes.T
    next_bytes = np.vstack([next_bytes[:chunks_total], next_bytes[:1] if pensieve else np.zeros((1, L), np.int64)])
    next_sizes = next_bytes / 1000.0 / 1000.0  # Pensieve: bytes / M_IN_K / M_IN_K
    next_bytes.setflags(write=False)
    cols = max(PENSIEVE_HISTORY, L)
    return AbrSetup(
        config=cfg, video=video, traces=traces, synthetic=synthetic, components=components,
        reward_fn=reward_fn, chunks_total=chunks_total,
        bitrate_mbps=rates / 1000.0,
        log_quality=np.log(rates / rates[0]),
        hd_quality=None if hd is None else np.asarray(hd, dtype=np.float64),
        next_sizes_mb=next_sizes,
        next_chunk_bytes=next_bytes,
        obs_shape=(6, cols),
        action_space=spaces.Discrete(L),
        observation_space=_obs_space(cols, cfg.observation_layout),
    )


def check_trace_index(setup: AbrSetup, k) -> int:
    n = 0 if setup.traces is None else len(setup.traces)
    if setup.traces is None:
        raise ValueError("reset option 'trace_index' needs a trace set; traces='synthetic' draws a new trace "
                         "per episode")
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 0 <= k < n:
        raise ValueError(f"reset option 'trace_index': expected an integer in [0, {n - 1}], got {k!r}")
    return int(k)


def episode_metrics(setup: AbrSetup, steps: Any, reward_sum: Any, bitrate_sum: Any, rebuffer_s: Any,
                    switches: Any, startup_s: Any, trace_index: Any) -> dict:
    """The field's KPIs for one finished episode (chunks the agent chose); numbers, or arrays of
    many episodes (the vector twin)."""
    played_s = steps * setup.video.chunk_s
    return {
        "qoe_per_chunk": reward_sum / steps,
        "mean_bitrate_mbps": bitrate_sum / steps,
        "rebuffer_s": rebuffer_s,
        "rebuffer_ratio": rebuffer_s / (rebuffer_s + played_s),
        "switches": switches,
        "startup_s": startup_s,
        "chunks": steps,
        "trace_index": trace_index,
    }


def components_batch(setup: AbrSetup, level: np.ndarray, prev_level: np.ndarray, first_chunk,
                     rebuf_ms: np.ndarray) -> dict:
    """Reward components of many chunks at once (the batched twin of ``AbrStreamingEnv.step``'s).

    ``prev_level`` is the previous chunk's level, or ``level`` itself where there is none (no
    switch); ``first_chunk`` (bool or array) marks default-mode first chunks, whose download time
    is startup delay rather than rebuffering.
    """
    rebuffer_s = rebuf_ms / 1000.0
    kbps = setup.video.bitrates_kbps
    c = {"bitrate_mbps": setup.bitrate_mbps[level],
         "rebuffer_s": np.where(first_chunk, 0.0, rebuffer_s),
         "switch_mbps": np.abs(kbps[level] - kbps[prev_level]) / 1000.0,
         "log_quality": setup.log_quality[level],
         "log_switch": np.abs(setup.log_quality[level] - setup.log_quality[prev_level])}
    if setup.hd_quality is not None:
        c["hd_quality"] = setup.hd_quality[level]
        c["hd_switch"] = np.abs(setup.hd_quality[level] - setup.hd_quality[prev_level])
    c["startup_s"] = np.where(first_chunk, rebuffer_s, 0.0)
    return c


def linear_reward_batch(weights, components: dict, n: int) -> np.ndarray:
    """Weighted sum of batched components, summed in the same order as the scalar env."""
    reward = 0.0
    for key, w in weights:
        reward = reward + w * components[key]
    return np.broadcast_to(reward, (n,)).astype(np.float64)

