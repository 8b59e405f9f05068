"""Standalone test oracle: a Python-3 transliteration of Pensieve's test simulator and test loops.

Sources (hongzimao/pensieve @ 4b43ea6): ``test/fixed_env.py`` (the deterministic test
simulator), ``test/bb.py`` (buffer-based), ``test/mpc.py`` (robustMPC) and ``test/load_trace.py``.
The arithmetic below performs the same float operations in the same order as the originals
(milliseconds inside the simulator, seconds for the buffer/rebuffer it returns), so that an env
claiming a ``pensieve`` mode can be compared against it bit for bit. Python 2's ``/`` is float
division everywhere it occurs in those scripts (one operand is always a float), so the
transliteration needs no integer-division care.

This module is a test oracle, not package code: it depends only on numpy and the data files, and
deliberately does not import ``feedbackgym``.

Known quirks kept on purpose (the community's numbers depend on them):

* only 48 of the 49 chunks in the video files are played (``TOTAL_VIDEO_CHUNCK = 48``);
* the first chunk of every video is fetched at level 1 (``DEFAULT_QUALITY``) regardless of policy;
* at the end of a trace the pointer wraps to row 1 and the clock to 0 (not to row 0's time);
* the ``sleep_time`` returned after a buffer-cap pause is what is *left* of it after walking
  the trace (the original decrements it in place), not the pause itself;
* robustMPC (``pensieve_bugs=True``) plans with the size of chunk ``last_index + position + 1``
  (one past the chunk being chosen), and its error/estimate history survives across videos.

Scores: :func:`community_score` averages, over traces, the mean reward of chunks 1..47.
"""

from __future__ import annotations

import itertools
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from collections.abc import Callable, Sequence

import numpy as np

# --- fixed_env.py constants -------------------------------------------------------------------
MILLISECONDS_IN_SECOND = 1000.0
B_IN_MB = 1000000.0
BITS_IN_BYTE = 8.0
VIDEO_CHUNCK_LEN = 4000.0  # ms added to the buffer per chunk
BITRATE_LEVELS = 6
TOTAL_VIDEO_CHUNCK = 48
BUFFER_THRESH = 60.0 * MILLISECONDS_IN_SECOND  # ms
DRAIN_BUFFER_SLEEP_TIME = 500.0  # ms
PACKET_PAYLOAD_PORTION = 0.95
LINK_RTT = 80  # ms (an int in the original)

# --- bb.py / mpc.py constants -----------------------------------------------------------------
VIDEO_BIT_RATE = [300, 750, 1200, 1850, 2850, 4300]  # kbps (ints in the original)
M_IN_K = 1000.0
REBUF_PENALTY = 4.3
SMOOTH_PENALTY = 1
DEFAULT_QUALITY = 1
RESEVOIR = 5  # s, bb.py
CUSHION = 10  # s, bb.py
MPC_FUTURE_CHUNK_COUNT = 5
CHUNK_TIL_VIDEO_END_CAP = 48.0
TOTAL_VIDEO_CHUNKS = 48
S_INFO = 5
S_LEN = 8

DATA_DIR = Path(__file__).resolve().parents[3] / "feedbackgym" / "envs" / "abr" / "_data"
VIDEO_DIR = DATA_DIR / "video" / "envivio_dash3"
TRACE_DIRS = {
    "fcc_test": DATA_DIR / "traces" / "fcc_test_290",
    "train": DATA_DIR / "traces" / "train_127",
}


# --- data loading (load_trace.py + Environment.__init__'s video table) ------------------------
def load_traces(trace_dir: str | os.PathLike) -> tuple[list[list[float]], list[list[float]], list[str]]:
    """``load_trace.load_trace``: every file in the folder, rows ``time_s throughput_Mbps``.

    The original iterates ``os.listdir`` (arbitrary order); we sort file names so that runs
    whose result depends on trace order (robustMPC with Pensieve's bugs) are reproducible.
    Bookkeeping files that are not traces (``SHA256SUMS``, ``*.sha256``, ``*.md``, dotfiles) are skipped.
    """
    trace_dir = Path(trace_dir)
    names = sorted(n for n in os.listdir(trace_dir)
                   if not (n.startswith(".") or n == "SHA256SUMS" or n.endswith((".md", ".sha256")))
                   and (trace_dir / n).is_file())
    all_time, all_bw = [], []
    for name in names:
        t, bw = [], []
        with open(trace_dir / name, "rb") as f:
            for line in f:
                parse = line.split()
                t.append(float(parse[0]))
                bw.append(float(parse[1]))
        all_time.append(t)
        all_bw.append(bw)
    return all_time, all_bw, names


def load_video_sizes(video_dir: str | os.PathLike = VIDEO_DIR) -> list[list[int]]:
    """``video_size[level][chunk]`` in bytes, as read by ``fixed_env.Environment``."""
    video_dir = Path(video_dir)
    sizes = []
    for bitrate in range(BITRATE_LEVELS):
        rows = []
        with open(video_dir / f"video_size_{bitrate}") as f:
            for line in f:
                rows.append(int(line.split()[0]))
        sizes.append(rows)
    return sizes


# --- fixed_env.py ------------------------------------------------------------------------------
class FixedEnv:
    """``test/fixed_env.Environment``: deterministic, every trace from row 1, sequential traces."""

    def __init__(self, all_cooked_time, all_cooked_bw, video_size=None, trace_idx: int = 0):
        assert len(all_cooked_time) == len(all_cooked_bw)
        self.all_cooked_time = all_cooked_time
        self.all_cooked_bw = all_cooked_bw
        self.video_chunk_counter = 0
        self.buffer_size = 0
        self.trace_idx = trace_idx
        self.cooked_time = self.all_cooked_time[self.trace_idx]
        self.cooked_bw = self.all_cooked_bw[self.trace_idx]
        self.mahimahi_start_ptr = 1
        self.mahimahi_ptr = 1
        self.last_mahimahi_time = self.cooked_time[self.mahimahi_ptr - 1]
        self.video_size = video_size if video_size is not None else load_video_sizes()

    def get_video_chunk(self, quality: int):
        assert quality >= 0
        assert quality < BITRATE_LEVELS

        video_chunk_size = self.video_size[quality][self.video_chunk_counter]

        delay = 0.0  # ms (accumulated in s, converted below)
        video_chunk_counter_sent = 0  # bytes

        while True:  # download the chunk over the trace
            throughput = self.cooked_bw[self.mahimahi_ptr] * B_IN_MB / BITS_IN_BYTE
            duration = self.cooked_time[self.mahimahi_ptr] - self.last_mahimahi_time

            packet_payload = throughput * duration * PACKET_PAYLOAD_PORTION

            if video_chunk_counter_sent + packet_payload > video_chunk_size:
                fractional_time = (video_chunk_size - video_chunk_counter_sent) / throughput / PACKET_PAYLOAD_PORTION
                delay += fractional_time
                self.last_mahimahi_time += fractional_time
                break

            video_chunk_counter_sent += packet_payload
            delay += duration
            self.last_mahimahi_time = self.cooked_time[self.mahimahi_ptr]
            self.mahimahi_ptr += 1

            if self.mahimahi_ptr >= len(self.cooked_bw):
                # loop back to the beginning; note: trace file starts with time 0
                self.mahimahi_ptr = 1
                self.last_mahimahi_time = 0

        delay *= MILLISECONDS_IN_SECOND
        delay += LINK_RTT

        rebuf = max(delay - self.buffer_size, 0.0)  # np.maximum on scalars
        self.buffer_size = max(self.buffer_size - delay, 0.0)
        self.buffer_size += VIDEO_CHUNCK_LEN

        sleep_time = 0
        if self.buffer_size > BUFFER_THRESH:
            drain_buffer_time = self.buffer_size - BUFFER_THRESH
            sleep_time = float(math.ceil(drain_buffer_time / DRAIN_BUFFER_SLEEP_TIME)) * DRAIN_BUFFER_SLEEP_TIME
            self.buffer_size -= sleep_time

            while True:
                duration = self.cooked_time[self.mahimahi_ptr] - self.last_mahimahi_time
                if duration > sleep_time / MILLISECONDS_IN_SECOND:
                    self.last_mahimahi_time += sleep_time / MILLISECONDS_IN_SECOND
                    break
                sleep_time -= duration * MILLISECONDS_IN_SECOND
                self.last_mahimahi_time = self.cooked_time[self.mahimahi_ptr]
                self.mahimahi_ptr += 1

                if self.mahimahi_ptr >= len(self.cooked_bw):
                    self.mahimahi_ptr = 1
                    self.last_mahimahi_time = 0

        return_buffer_size = self.buffer_size

        self.video_chunk_counter += 1
        video_chunk_remain = TOTAL_VIDEO_CHUNCK - self.video_chunk_counter

        end_of_video = False
        if self.video_chunk_counter >= TOTAL_VIDEO_CHUNCK:
            end_of_video = True
            self.buffer_size = 0
            self.video_chunk_counter = 0

            self.trace_idx += 1
            if self.trace_idx >= len(self.all_cooked_time):
                self.trace_idx = 0

            self.cooked_time = self.all_cooked_time[self.trace_idx]
            self.cooked_bw = self.all_cooked_bw[self.trace_idx]

            self.mahimahi_ptr = self.mahimahi_start_ptr
            self.last_mahimahi_time = self.cooked_time[self.mahimahi_ptr - 1]

        next_video_chunk_sizes = [self.video_size[i][self.video_chunk_counter] for i in range(BITRATE_LEVELS)]

        return (
            delay,
            sleep_time,
            return_buffer_size / MILLISECONDS_IN_SECOND,
            rebuf / MILLISECONDS_IN_SECOND,
            video_chunk_size,
            next_video_chunk_sizes,
            end_of_video,
            video_chunk_remain,
        )


# --- controllers (the per-step decision part of each test script) -----------------------------
class Controller:
    """One test script's decision logic. ``decide`` sees exactly what the script's loop sees."""

    def decide(self, bit_rate, delay, buffer_size, rebuf, video_chunk_size, next_video_chunk_sizes,
               end_of_video, video_chunk_remain) -> int:
        raise NotImplementedError

    def new_video(self) -> None:
        """Called after the end-of-video step (where the scripts reset their per-video state)."""


class ConstantController(Controller):
    def __init__(self, level: int = 0):
        self.level = level

    def decide(self, bit_rate, *args) -> int:
        return self.level


class BBController(Controller):
    """``test/bb.py``."""

    def decide(self, bit_rate, delay, buffer_size, *args) -> int:
        if buffer_size < RESEVOIR:
            bit_rate = 0
        elif buffer_size >= RESEVOIR + CUSHION:
            bit_rate = BITRATE_LEVELS - 1
        else:
            bit_rate = (BITRATE_LEVELS - 1) * (buffer_size - RESEVOIR) / float(CUSHION)
        return int(bit_rate)


def harmonic_mean(values: Sequence[float]) -> float:
    """mpc.py's harmonic mean: sequential sum of reciprocals from int 0, then 1/(sum/n)."""
    bandwidth_sum = 0
    for past_val in values:
        bandwidth_sum += 1 / float(past_val)
    return 1.0 / (bandwidth_sum / len(values))


class RBController(Controller):
    """Rate-based: highest level whose bitrate is <= the harmonic mean of the last 5 chunk
    throughputs of the current video (lowest level if none fits).

    Pensieve's repo has no rb.py test script; this follows the usual definition with mpc.py's
    throughput measurement (bytes / delay_ms / 1000 = kB/ms = MB/s, RTT included) and mpc.py's
    harmonic mean. MB/s -> kbps is ``* 8000``.
    """

    def __init__(self):
        self.tputs: list[float] = []

    def decide(self, bit_rate, delay, buffer_size, rebuf, video_chunk_size, *args) -> int:
        self.tputs.append(float(video_chunk_size) / float(delay) / M_IN_K)
        hm_kbps = harmonic_mean(self.tputs[-5:]) * 8000.0
        level = 0
        for q in range(BITRATE_LEVELS):
            if VIDEO_BIT_RATE[q] <= hm_kbps:
                level = q
        return level

    def new_video(self) -> None:
        self.tputs = []


_PLAN_TERMS: dict = {}


def _plan_terms(k: int, last_quality: int, bitrates: tuple) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For all ``L**k`` plans in ``itertools.product`` order: first level, ``bitrate_sum/1000.``
    and ``smoothness_diffs/1000.`` — integer sums, so exact and cacheable."""
    key = (k, last_quality, bitrates)
    if key not in _PLAN_TERMS:
        n_levels = len(bitrates)
        combos = np.array(list(itertools.product(range(n_levels), repeat=k)), dtype=np.int64).reshape(-1, k)
        br = np.asarray(bitrates)
        bitrate_sum = br[combos].sum(axis=1)
        prev = np.concatenate([np.full((combos.shape[0], 1), last_quality), combos[:, :-1]], axis=1)
        smoothness_diffs = np.abs(br[combos] - br[prev]).sum(axis=1)
        _PLAN_TERMS[key] = (combos[:, 0].copy(), bitrate_sum / 1000., smoothness_diffs / 1000.)
    return _PLAN_TERMS[key]


def mpc_search(start_buffer: float, future_bandwidth: float, last_quality: int, first_index: int,
               future_chunk_length: int, chunk_size: Callable[[int, int], int],
               bitrates=VIDEO_BIT_RATE, chunk_len_s=4) -> int:
    """mpc.py's exhaustive plan search, vectorised over plans.

    For each plan the float operations are exactly mpc.py's per-combo loop, position by position:
    the buffer/rebuffer recursion is evaluated breadth-first over the plan tree (depth ``d`` holds
    the ``L**d`` prefixes in product order, each computed from its parent by mpc.py's statements),
    so every leaf sees the same operation sequence as the scalar loop. Integer sums are exact.
    mpc.py iterates all 6^5 full combos truncated to ``future_chunk_length``; a truncated plan's
    reward does not depend on the dropped tail, and ``reward >= max_reward`` keeps the *last* max
    in ``itertools.product`` order, which is the lexicographically largest maximising prefix —
    i.e. the last maximiser in product order over ``L**k`` plans. ``first_index`` is the video
    index planned for position 0 (``last_index + 1`` in Pensieve's buggy script).
    Returns the first level of the best plan (0 when the horizon is empty, as mpc.py's
    ``send_data``).
    """
    k = future_chunk_length
    if k <= 0:
        return 0
    n_levels = len(bitrates)
    curr_rebuffer_time = np.zeros(1)
    curr_buffer = np.full(1, float(start_buffer))
    for position in range(k):
        download_time_per_level = np.array(
            [(chunk_size(q, first_index + position) / 1000000.) / future_bandwidth for q in range(n_levels)])
        n_parent = curr_buffer.shape[0]
        download_time = np.tile(download_time_per_level, n_parent)
        curr_buffer = np.repeat(curr_buffer, n_levels)
        curr_rebuffer_time = np.repeat(curr_rebuffer_time, n_levels)
        stall = curr_buffer < download_time
        curr_rebuffer_time = np.where(stall, curr_rebuffer_time + (download_time - curr_buffer), curr_rebuffer_time)
        curr_buffer = np.where(stall, 0.0, curr_buffer - download_time)
        curr_buffer = curr_buffer + chunk_len_s
    first_level, bitrate_term, smooth_term = _plan_terms(k, int(last_quality), tuple(bitrates))
    reward = bitrate_term - (REBUF_PENALTY * curr_rebuffer_time) - smooth_term
    max_reward = reward.max()
    assert max_reward >= -100000000
    best = int(np.flatnonzero(reward == max_reward)[-1])
    return int(first_level[best])


def mpc_search_scalar(start_buffer: float, future_bandwidth: float, last_quality: int, first_index: int,
                      future_chunk_length: int, chunk_size: Callable[[int, int], int],
                      bitrates=VIDEO_BIT_RATE, chunk_len_s=4) -> int:
    """mpc.py's combo loop verbatim (slow; used to check :func:`mpc_search`)."""
    max_reward = -100000000
    best_combo = ()
    send_data = 0
    for full_combo in itertools.product(range(len(bitrates)), repeat=MPC_FUTURE_CHUNK_COUNT):
        combo = full_combo[0:future_chunk_length]
        curr_rebuffer_time = 0
        curr_buffer = start_buffer
        bitrate_sum = 0
        smoothness_diffs = 0
        last_quality_ = int(last_quality)
        for position in range(0, len(combo)):
            chunk_quality = combo[position]
            index = first_index + position
            download_time = (chunk_size(chunk_quality, index) / 1000000.) / future_bandwidth
            if curr_buffer < download_time:
                curr_rebuffer_time += (download_time - curr_buffer)
                curr_buffer = 0
            else:
                curr_buffer -= download_time
            curr_buffer += chunk_len_s
            bitrate_sum += bitrates[chunk_quality]
            smoothness_diffs += abs(bitrates[chunk_quality] - bitrates[last_quality_])
            last_quality_ = chunk_quality
        reward = (bitrate_sum / 1000.) - (REBUF_PENALTY * curr_rebuffer_time) - (smoothness_diffs / 1000.)
        if reward >= max_reward:
            best_combo = combo
            max_reward = reward
            send_data = 0
            if best_combo != ():
                send_data = best_combo[0]
    return send_data


class MPCController(Controller):
    """``test/mpc.py`` (robustMPC).

    ``pensieve_bugs=True``: plans chunk ``last_index + position + 1`` (one past the chunk being
    chosen; ``get_chunk_size`` returns 0 beyond index 48) and keeps ``past_errors`` /
    ``past_bandwidth_ests`` (module globals in mpc.py) across videos.
    ``pensieve_bugs=False`` (clean): plans chunk ``last_index + position`` and clears both lists at
    the start of every video.
    The search also runs on the end-of-video step (its choice is then overridden by the loop),
    which matters only for the error history in the buggy variant.
    """

    def __init__(self, video_size, pensieve_bugs: bool = False, scalar: bool = False):
        self.pensieve_bugs = pensieve_bugs
        self.search = mpc_search_scalar if scalar else mpc_search
        self.sizes = np.asarray(video_size, dtype=np.int64)  # (6, 49)
        self.past_errors: list[float] = []
        self.past_bandwidth_ests: list[float] = []
        self.state = np.zeros((S_INFO, S_LEN))

    def chunk_size(self, quality: int, index: int) -> int:
        """mpc.py's ``get_chunk_size``: 0 outside the table (index > 48)."""
        if index < 0 or index > self.sizes.shape[1] - 1:
            return 0
        return int(self.sizes[quality, index])

    def decide(self, bit_rate, delay, buffer_size, rebuf, video_chunk_size, next_video_chunk_sizes,
               end_of_video, video_chunk_remain) -> int:
        state = np.roll(self.state, -1, axis=1)
        state[0, -1] = VIDEO_BIT_RATE[bit_rate] / float(np.max(VIDEO_BIT_RATE))
        state[1, -1] = buffer_size / 10.0
        state[2, -1] = rebuf
        state[3, -1] = float(video_chunk_size) / float(delay) / M_IN_K  # kB/ms
        state[4, -1] = np.minimum(video_chunk_remain, CHUNK_TIL_VIDEO_END_CAP) / float(CHUNK_TIL_VIDEO_END_CAP)
        self.state = state

        curr_error = 0
        if len(self.past_bandwidth_ests) > 0:
            curr_error = abs(self.past_bandwidth_ests[-1] - state[3, -1]) / float(state[3, -1])
        self.past_errors.append(curr_error)

        past_bandwidths = state[3, -5:]
        while past_bandwidths[0] == 0.0:
            past_bandwidths = past_bandwidths[1:]
        harmonic_bandwidth = harmonic_mean(past_bandwidths)

        error_pos = -5
        if len(self.past_errors) < 5:
            error_pos = -len(self.past_errors)
        max_error = float(max(self.past_errors[error_pos:]))
        future_bandwidth = harmonic_bandwidth / (1 + max_error)
        self.past_bandwidth_ests.append(harmonic_bandwidth)

        last_index = int(CHUNK_TIL_VIDEO_END_CAP - video_chunk_remain)
        future_chunk_length = MPC_FUTURE_CHUNK_COUNT
        if TOTAL_VIDEO_CHUNKS - last_index < 5:
            future_chunk_length = TOTAL_VIDEO_CHUNKS - last_index

        first_index = last_index + 1 if self.pensieve_bugs else last_index
        return self.search(buffer_size, future_bandwidth, int(bit_rate), first_index, future_chunk_length,
                          self.chunk_size)

    def new_video(self) -> None:
        self.state = np.zeros((S_INFO, S_LEN))
        if not self.pensieve_bugs:
            self.past_errors = []
            self.past_bandwidth_ests = []


class PolicyController(Controller):
    """Drives a feedbackgym-style ABR policy (``reset``/``act``/``end_episode`` on info dicts)
    from this reference simulator, with the info contract of the env's pensieve mode. Lets the
    package's baselines be checked against the transliterated scripts without the env."""

    def __init__(self, policy, video_size):
        from types import SimpleNamespace

        video = SimpleNamespace(bitrates_kbps=np.asarray(VIDEO_BIT_RATE, dtype=np.float64),
                                chunk_bytes=np.asarray(video_size, dtype=np.int64), chunk_s=VIDEO_CHUNCK_LEN / 1000.0)
        self.env = SimpleNamespace(video=video, config=SimpleNamespace(mode="pensieve"))
        self.env.unwrapped = self.env
        self.policy = policy

    @staticmethod
    def info(bit_rate, delay, sleep_time, buffer_size, rebuf, video_chunk_size, next_video_chunk_sizes,
             video_chunk_remain) -> dict:
        downloaded = TOTAL_VIDEO_CHUNCK - video_chunk_remain
        return {
            "level": int(bit_rate), "chunk_index": downloaded - 1, "next_chunk_index": downloaded,
            "chunks_total": TOTAL_VIDEO_CHUNCK, "chunks_left": video_chunk_remain,
            "buffer_s": buffer_size, "rebuffer_s": rebuf, "delay_ms": delay, "sleep_ms": sleep_time,
            "chunk_bytes": video_chunk_size, "next_chunk_bytes": np.asarray(next_video_chunk_sizes, dtype=np.int64),
        }

    def decide(self, bit_rate, delay, buffer_size, rebuf, video_chunk_size, next_video_chunk_sizes,
               end_of_video, video_chunk_remain, sleep_time=0.0) -> int:
        info = self.info(bit_rate, delay, sleep_time, buffer_size, rebuf, video_chunk_size, next_video_chunk_sizes,
                         video_chunk_remain)
        if video_chunk_remain == TOTAL_VIDEO_CHUNCK - 1:  # chunk 0 of a video was just fetched: reset
            self.policy.reset(self.env, None, info)
        if end_of_video:
            self.policy.end_episode(None, info)
            return DEFAULT_QUALITY
        return int(self.policy.act(None, info))


# --- the test loop shared by bb.py / mpc.py ---------------------------------------------------
@dataclass
class VideoLog:
    """One video (trace) as the scripts log it: one row per chunk, chunk 0 first."""

    trace_name: str
    level: list[int] = field(default_factory=list)
    reward: list[float] = field(default_factory=list)
    buffer_s: list[float] = field(default_factory=list)
    rebuffer_s: list[float] = field(default_factory=list)
    delay_ms: list[float] = field(default_factory=list)
    sleep_ms: list[float] = field(default_factory=list)
    chunk_bytes: list[int] = field(default_factory=list)
    chunks_left: list[int] = field(default_factory=list)


def run_test_loop(controller: Controller, all_cooked_time, all_cooked_bw, names, video_size=None,
                  n_videos: int | None = None) -> list[VideoLog]:
    """The ``while True`` loop of bb.py/mpc.py: each trace once, in order, one env for all.

    (bb.py stops after ``len+1`` videos, overwriting trace 0's log with an identical run; mpc.py
    stops after ``len``. Both amount to each trace once here.)
    """
    video_size = video_size if video_size is not None else load_video_sizes()
    net_env = FixedEnv(all_cooked_time, all_cooked_bw, video_size)
    n_videos = len(names) if n_videos is None else n_videos
    last_bit_rate = DEFAULT_QUALITY
    bit_rate = DEFAULT_QUALITY
    logs = [VideoLog(names[net_env.trace_idx])]
    while True:
        (delay, sleep_time, buffer_size, rebuf, video_chunk_size, next_video_chunk_sizes, end_of_video,
         video_chunk_remain) = net_env.get_video_chunk(bit_rate)

        reward = (VIDEO_BIT_RATE[bit_rate] / M_IN_K
                  - REBUF_PENALTY * rebuf
                  - SMOOTH_PENALTY * abs(VIDEO_BIT_RATE[bit_rate] - VIDEO_BIT_RATE[last_bit_rate]) / M_IN_K)
        log = logs[-1]
        log.level.append(bit_rate)
        log.reward.append(reward)
        log.buffer_s.append(buffer_size)
        log.rebuffer_s.append(rebuf)
        log.delay_ms.append(delay)
        log.sleep_ms.append(sleep_time)
        log.chunk_bytes.append(video_chunk_size)
        log.chunks_left.append(video_chunk_remain)

        last_bit_rate = bit_rate
        extra = {"sleep_time": sleep_time} if isinstance(controller, PolicyController) else {}
        bit_rate = controller.decide(bit_rate, delay, buffer_size, rebuf, video_chunk_size,
                                     next_video_chunk_sizes, end_of_video, video_chunk_remain, **extra)

        if end_of_video:
            last_bit_rate = DEFAULT_QUALITY
            bit_rate = DEFAULT_QUALITY
            controller.new_video()
            if len(logs) >= n_videos:
                break
            logs.append(VideoLog(names[net_env.trace_idx]))
    return logs


# --- scoring and convenience ------------------------------------------------------------------
def community_score(logs: Sequence[VideoLog] | Sequence[Sequence[float]]) -> float:
    """QoE_lin per chunk: per trace the mean reward of chunks 1..47 (chunk 0 dropped), averaged
    over traces."""
    per_trace = [float(np.mean((log.reward if isinstance(log, VideoLog) else log)[1:48])) for log in logs]
    return float(np.mean(per_trace))


def make_controller(name: str, video_size) -> Controller:
    if name == "bb":
        return BBController()
    if name == "rb":
        return RBController()
    if name == "mpc":
        return MPCController(video_size, pensieve_bugs=False)
    if name == "mpc_pensieve":
        return MPCController(video_size, pensieve_bugs=True)
    if name == "lowest":
        return ConstantController(0)
    raise ValueError(f"unknown controller {name!r}")


def run(split: str, controller, trace_dir=None, n_videos: int | None = None) -> list[VideoLog]:
    """Run one controller over a split ('fcc_test' or 'train', or ``trace_dir``).

    ``controller``: a name (see :func:`make_controller`), a :class:`Controller`, or a policy object
    with ``reset``/``act``/``end_episode`` (wrapped in :class:`PolicyController`).
    """
    video_size = load_video_sizes()
    t, bw, names = load_traces(trace_dir if trace_dir is not None else TRACE_DIRS[split])
    if isinstance(controller, str):
        controller = make_controller(controller, video_size)
    elif not isinstance(controller, Controller):
        controller = PolicyController(controller, video_size)
    return run_test_loop(controller, t, bw, names, video_size, n_videos=n_videos)


def main() -> None:  # pragma: no cover - manual use: python tests/reference/pensieve.py
    import time
    for split in ("fcc_test", "train"):
        for name in ("lowest", "bb", "rb", "mpc", "mpc_pensieve"):
            t0 = time.perf_counter()
            score = community_score(run(split, name))
            print(f"{split:9s} {name:13s} {score:.9f}  ({time.perf_counter() - t0:.1f} s)")


if __name__ == "__main__":  # pragma: no cover
    main()
