"""Gymnasium env for adaptive bitrate streaming."""

from __future__ import annotations

import math
import operator
from typing import NamedTuple

import gymnasium as gym
import numpy as np

from ...config import override, to_dict
from .config import AbrConfig
from .setup import BUFFER_NORM_S, AbrSetup, build, check_trace_index, episode_metrics
from .sim import Session
from .synthetic import generate
from .traces import Trace, TraceSet


class AbrStreamingEnv(gym.Env):
    """Adaptive bitrate streaming: pick each video chunk's bitrate against a real network trace.

    ## Description

    A video player downloads a video in 4-second chunks over a link whose throughput follows a
    recorded trace (FCC broadband, Norway HSDPA 3G) or a synthetic one. Before each chunk the agent
    picks a level of the bitrate ladder. Higher bitrates look better but take longer to download;
    when the playback buffer runs dry the video stalls (rebuffering); changing level is jarring.
    The simulator is Pensieve's (Mao et al., SIGCOMM 2017) chunk-level model; ``mode="pensieve"``
    reproduces its test simulator exactly, ``mode="default"`` fixes its quirks (see Arguments).

    ## Action Space

    ``Discrete(L)``: the ladder level of the next chunk (EnvivioDash3: 300, 750, 1200, 1850, 2850,
    4300 kbps). Actions outside the space raise ``ValueError``.

    ## Observation Space

    Pensieve's state, a 6 x C matrix with C = max(8, L), ``float32``: columns are the last 8
    chunks, oldest first (row 4 is not a history). By default it is returned flattened row-major
    as ``Box(0, high, (6 * C,))`` (``obs.reshape(6, C)`` recovers the matrix); with
    ``observation_layout="matrix"`` as ``Box(0, high, (6, C))``. ``high`` is 1 for rows 0 and 5
    and a finite stand-in (1e6) for the rows without a physical bound:

    | row | meaning                                  | unit / normalisation          |
    |-----|------------------------------------------|-------------------------------|
    | 0   | bitrate of the last chunk                | / top bitrate of the ladder   |
    | 1   | buffer after the last chunk              | s / 10                        |
    | 2   | throughput of the last chunks            | MB/s (= kB/ms), incl. RTT     |
    | 3   | download delay of the last chunks        | s / 10                        |
    | 4   | sizes of the next chunk, one per level   | MB (columns 0..L-1)           |
    | 5   | chunks left                              | / chunks per episode          |

    ## Rewards

    Chosen with ``reward=`` (default ``"qoe_lin"``) from the components in
    ``info["reward_components"]``: ``bitrate_mbps``, ``rebuffer_s``, ``switch_mbps``,
    ``log_quality``, ``log_switch``, ``hd_quality``, ``hd_switch``, ``startup_s``. Presets
    (``feedbackgym.reward.list_rewards("abr")``): ``qoe_lin``, ``qoe_log``, ``qoe_hd`` with the
    paper's weights; or a weights dict, a ``"module:function"`` string (of a module trusted with
    ``feedbackgym.reward.trust_reward_modules``: importing runs code), or a callable.

    ## Starting State

    Empty buffer, link clock at the start row of the trace (row 1, or a random row with
    ``random_start``). The trace is the next one in sorted order (``trace_order="sequential"``),
    a random one, the one given by ``reset(options={"trace_index": k})``, or a fresh synthetic
    trace. In pensieve mode ``reset`` already downloads chunk 0 at ``first_level`` (750 kbps),
    as Pensieve's test loop does, and the agent chooses chunks 1..47.

    ## Episode End

    ``terminated`` after the last chunk of the video (47 steps in pensieve mode, 49 in default
    mode with EnvivioDash3). There is no truncation: the episode length is fixed by the video.
    ``info["episode_metrics"]`` then holds QoE per chunk, mean bitrate, rebuffer seconds and
    ratio, switches and startup delay.

    ## Arguments

    ``gym.make("feedbackgym/AbrStreaming-v0", **fields)`` with the fields of
    :class:`~feedbackgym.envs.abr.config.AbrConfig`; ``reset(options={"config": {...}})``
    changes fields for the coming episodes (not the spaces). Default mode differs from
    Pensieve's in that all 49 chunks are played, the agent picks the first chunk too (its download
    time is ``startup_s``, not rebuffering), the link clock runs during the RTT, the chunks-left
    feature is normalised by the real chunk count, and nothing wraps to the next video after the
    last chunk.

    ## Vectorised version

    ``gym.make_vec("feedbackgym/AbrStreaming-v0", num_envs=N)`` gives
    :class:`~feedbackgym.envs.abr.vector.AbrStreamingVectorEnv`, numpy-batched, with the same
    transitions as N single envs seeded ``seed, seed+1, ...``.

    ## Version History

    * v0: initial version.
    """

    metadata = {"render_modes": ["ansi", "rgb_array"], "render_fps": 4}
    config_class = AbrConfig

    def __init__(self, config: AbrConfig | dict | None = None, render_mode: str | None = None, **overrides):
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode: expected one of {self.metadata['render_modes']} or None, "
                             f"got {render_mode!r}")
        self.render_mode = render_mode
        base = config if isinstance(config, AbrConfig) else override(AbrConfig(), config)
        self._configure(build(override(base, overrides)))
        self.action_space = self.setup.action_space
        self.observation_space = self.setup.observation_space
        self._next_trace = 0
        self._done = True

    # ------------------------------------------------------------------------------ config

    def _configure(self, setup: AbrSetup) -> None:
        self.setup = setup
        self.config = setup.config
        self.video = setup.video
        self.session = Session(setup.video, setup.pensieve, setup.config.sleep_quantum_ms)
        self._reward = setup.reward_fn
        self._weights = getattr(setup.reward_fn, "weights", None)
        self._br = setup.bitrate_mbps.tolist()
        self._kbps = setup.video.bitrates_kbps.tolist()
        self._br_norm = (setup.bitrate_mbps / setup.bitrate_mbps[-1]).tolist()
        self._lq = setup.log_quality.tolist()
        self._hd = None if setup.hd_quality is None else setup.hd_quality.tolist()
        self._next_mb = setup.next_sizes_mb
        self._next_bytes = list(setup.next_chunk_bytes)
        self._levels = setup.levels
        self._chunks_total = setup.chunks_total
        self._obs = np.zeros(setup.obs_shape, dtype=np.float32)
        self._obs_out_shape = setup.observation_space.shape

    @property
    def num_traces(self) -> int | None:
        """Traces in the configured set (None for synthetic traces)."""
        return None if self.setup.traces is None else len(self.setup.traces)

    def trace_name(self, k: int) -> str:
        traces = self.setup.traces
        if traces is None:
            raise ValueError("trace_name: traces='synthetic' has no trace set")
        return traces.names[k]

    # ------------------------------------------------------------------------------- reset

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        # Everything that can fail is checked before anything changes: a failed reset leaves the
        # env as it was (config, RNG and the episode in progress).
        if options is not None and not isinstance(options, dict):
            raise ValueError(f"reset options: expected a dict such as {{'trace_index': 0}} or "
                             f"{{'config': {{...}}}}, got {type(options).__name__} {options!r}")
        options = dict(options or {})
        setup = self.setup
        if "config" in options:
            setup = build(override(self.config, options.pop("config")))
            if (setup.action_space != self.action_space or setup.observation_space != self.observation_space):
                raise ValueError("reset option 'config' may not change the action or observation space "
                                 "(ladder size); make a new env instead")
        trace_index = options.pop("trace_index", None)
        if options:
            raise ValueError(f"unknown reset option(s) {sorted(options)}; known: config, trace_index")
        if trace_index is not None:
            check_trace_index(setup, trace_index)
        super().reset(seed=seed)
        if setup is not self.setup:
            self._configure(setup)
        ep = draw_episode(self.setup, self.np_random, trace_index, self._next_trace)
        if ep.k >= 0:
            self._next_trace = ep.k + 1
        tl = TraceSet.from_traces([ep.trace]).lists[0] if ep.trace is not None else _traces(self.setup).lists[ep.k]
        self.session.start(tl, ep.row, ep.t0_s, ep.rtt_ms, ep.buffer_cap_s * 1000.0,
                           None if ep.noise is None else ep.noise.tolist())
        self._trace_index = ep.k
        self._obs.fill(0.0)
        self._reward_sum = self._bitrate_sum = self._rebuffer_s = self._startup_s = 0.0
        self._switches = self._steps = 0
        self._history: list = []  # (level, buffer_s, stalled) per chunk, kept for rgb_array rendering only
        self._done = False
        info = {"trace_name": ep.name, "start_row": ep.row, "rtt_ms": ep.rtt_ms, "buffer_cap_s": ep.buffer_cap_s}
        if self.setup.pensieve:  # Pensieve's test loop fetches chunk 0 at 750 kbps before deciding
            lvl = self.config.first_level
            delay_ms, rebuf_ms, sleep_ms, size = self.session.download(lvl)
            self._last = lvl
            self._observe(lvl, delay_ms, size)
            info.update(self._chunk_info(lvl, delay_ms, rebuf_ms, sleep_ms, size))
        else:
            self._last = -1
            self._obs[4, :self._levels] = self._next_mb[0]
            self._obs[5, -1] = 1.0
            info.update(self._chunk_info(-1, 0.0, 0.0, 0.0, 0))
        return self._obs.reshape(self._obs_out_shape).copy(), info

    # -------------------------------------------------------------------------------- step

    def step(self, action):
        if self._done:
            raise RuntimeError("AbrStreamingEnv.step() called after the episode ended; call reset() first")
        try:
            if isinstance(action, (bool, np.bool_)):
                raise TypeError
            a = operator.index(action)
        except TypeError:
            raise ValueError(f"action {action!r}: expected an integer level in Discrete({self._levels}), "
                             f"got {type(action).__name__}") from None
        if not 0 <= a < self._levels:
            raise ValueError(f"action {a} is outside Discrete({self._levels}) (levels 0..{self._levels - 1})")
        session = self.session
        first_chunk = session.chunk == 0
        delay_ms, rebuf_ms, sleep_ms, size = session.download(a)

        last = self._last
        br = self._br
        c = {"bitrate_mbps": br[a]}
        if first_chunk:  # default mode only: the first chunk's download is startup delay
            c["rebuffer_s"], c["switch_mbps"] = 0.0, 0.0
            c["log_quality"], c["log_switch"] = self._lq[a], 0.0
            if self._hd is not None:
                c["hd_quality"], c["hd_switch"] = self._hd[a], 0.0
            c["startup_s"] = rebuf_ms / 1000.0
        else:
            c["rebuffer_s"] = rebuf_ms / 1000.0
            c["switch_mbps"] = abs(self._kbps[a] - self._kbps[last]) / 1000.0
            lq = self._lq
            c["log_quality"], c["log_switch"] = lq[a], abs(lq[a] - lq[last])
            if self._hd is not None:
                hd = self._hd
                c["hd_quality"], c["hd_switch"] = hd[a], abs(hd[a] - hd[last])
            c["startup_s"] = 0.0
        weights = self._weights
        if weights is not None:
            reward = 0.0
            for key, w in weights:
                reward = reward + w * c[key]
        else:
            reward = self._reward(c)
            try:
                reward = float(reward)
            except (TypeError, ValueError):
                raise ValueError(f"reward function {self._reward!r} returned {reward!r}; expected a number") from None
            if not math.isfinite(reward):
                raise ValueError(f"reward function {self._reward!r} returned {reward!r} for components {c}")

        self._observe(a, delay_ms, size)
        if self.render_mode == "rgb_array":
            self._history.append((a, session.buffer_ms / 1000.0, rebuf_ms > 0))
        self._last = a
        self._steps += 1
        self._reward_sum += reward
        self._bitrate_sum += c["bitrate_mbps"]
        self._rebuffer_s += c["rebuffer_s"]
        self._startup_s += c["startup_s"]
        self._switches += (last >= 0 and a != last)
        info = self._chunk_info(a, delay_ms, rebuf_ms, sleep_ms, size)
        info["reward_components"] = c
        terminated = session.chunk >= self._chunks_total
        if terminated:
            self._done = True
            info["episode_metrics"] = episode_metrics(
                self.setup, self._steps, self._reward_sum, self._bitrate_sum, self._rebuffer_s,
                self._switches, self._startup_s, self._trace_index)
        return self._obs.reshape(self._obs_out_shape).copy(), reward, terminated, False, info

    def _observe(self, level: int, delay_ms: float, size: int) -> None:
        """Pensieve's state update: shift the history left, write the newest column."""
        s = self._obs
        oldest_size = s[4, 0]
        s[:, :-1] = s[:, 1:]
        # np.roll in Pensieve wraps row 4's first column to the end; keep that in pensieve mode.
        s[4, -1] = oldest_size if self.setup.pensieve else 0.0
        s[0, -1] = self._br_norm[level]
        s[1, -1] = self.session.buffer_ms / 1000.0 / BUFFER_NORM_S
        s[2, -1] = float(size) / float(delay_ms) / 1000.0
        s[3, -1] = float(delay_ms) / 1000.0 / BUFFER_NORM_S
        s[4, :self._levels] = self._next_mb[self.session.chunk]
        s[5, -1] = min(self.session.chunks_left, self._chunks_total) / float(self._chunks_total)

    def _chunk_info(self, level, delay_ms, rebuf_ms, sleep_ms, size) -> dict:
        session = self.session
        return {
            "level": level,
            "chunk_index": session.chunk - 1,
            "next_chunk_index": session.chunk,
            "chunks_total": self._chunks_total,
            "chunks_left": session.chunks_left,
            "buffer_s": session.buffer_ms / 1000.0,
            "rebuffer_s": rebuf_ms / 1000.0,
            "delay_ms": delay_ms,
            "sleep_ms": sleep_ms,
            "chunk_bytes": size,
            "next_chunk_bytes": self._next_bytes[session.chunk].copy(),
            "trace_index": self._trace_index,
        }

    def render(self):
        """``ansi``: one line on the player's state. ``rgb_array``: the episode so far, one column
        per chunk — chosen level (blue, top), buffer after the chunk (green, bottom, up to the cap),
        and a red mark under chunks that stalled."""
        s = self.session
        if self.render_mode == "ansi":
            return (f"chunk {s.chunk}/{self._chunks_total} level {self._last} "
                    f"buffer {s.buffer_ms / 1000.0:.2f} s trace {self._trace_index} clock {s.t_s:.2f} s")
        if self.render_mode == "rgb_array":
            w, h = 6, 60  # pixels per chunk column, per half
            img = np.full((2 * h + 6, w * self._chunks_total, 3), 255, dtype=np.uint8)
            for n, (level, buffer_s, stalled) in enumerate(self._history):
                x = slice(n * w, n * w + w - 1)
                top = int(round(h * (level + 1) / self._levels))
                img[h - top:h, x] = (40, 90, 200)
                bottom = int(round(h * min(buffer_s / s.buffer_cap_ms * 1000.0, 1.0)))
                img[2 * h - bottom:2 * h, x] = (40, 160, 60)
                if stalled:
                    img[2 * h + 1:, x] = (210, 40, 40)
            return img
        return None

    def get_config(self) -> dict:
        """JSON-safe config of this env (what a run folder records)."""
        return to_dict(self.config)


class Episode(NamedTuple):
    """What a reset draws: trace ``k`` (-1 for a synthetic ``trace``), start row, link, noise."""

    k: int
    trace: Trace | None
    row: int
    t0_s: float
    rtt_ms: float
    buffer_cap_s: float
    noise: np.ndarray | None
    name: str


def _traces(setup: AbrSetup) -> TraceSet:
    """The setup's trace set; only synthetic setups have none, and they never ask for it."""
    if setup.traces is None:
        raise RuntimeError("traces='synthetic' has no trace set")
    return setup.traces


def draw_episode(setup: AbrSetup, rng: np.random.Generator, trace_index, next_trace: int) -> Episode:
    """Draw an episode's trace, start row, noise and link parameters, in a fixed order.

    Shared with the vectorised twin so that equal seeds give equal episodes.
    """
    cfg = setup.config
    if setup.synthetic is not None:
        if trace_index is not None:
            check_trace_index(setup, trace_index)  # raises: synthetic traces have no index
        trace, rtt_ms, cap_s = generate(rng, setup.synthetic)
        rtt_ms = cfg.rtt_ms if rtt_ms is None else rtt_ms
        cap_s = cfg.buffer_cap_s if cap_s is None else cap_s
        k, name, n_rows = -1, trace.name, len(trace.time_s)
    else:
        ts, trace = _traces(setup), None
        if trace_index is not None:
            k = check_trace_index(setup, trace_index)
        elif cfg.trace_order == "sequential":
            k = next_trace % len(ts)
        else:
            k = int(rng.integers(len(ts)))
        rtt_ms, cap_s, name, n_rows = cfg.rtt_ms, cfg.buffer_cap_s, ts.names[k], int(ts.n_rows[k])
    row = int(rng.integers(1, n_rows)) if cfg.random_start else 1
    t0 = float(trace.time_s[row - 1]) if trace is not None else _traces(setup).row_time(k, row - 1)
    noise = None
    if cfg.delay_noise is not None:
        noise = rng.uniform(cfg.delay_noise[0], cfg.delay_noise[1], size=setup.chunks_total)
    return Episode(k, trace, row, t0, rtt_ms, cap_s, noise, name)
