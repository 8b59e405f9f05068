"""The Pensieve reference port reproduces the brief's numbers, and the ABR baselines follow
their decision rules (and, driven by the reference simulator, the original scripts exactly)."""

from __future__ import annotations

import functools
import random
from types import SimpleNamespace

import numpy as np
import pytest

try:
    from tests.abr.reference import pensieve as ref
except ImportError:  # pytest's rootdir-relative import puts tests/ itself on sys.path
    from reference import pensieve as ref

from feedbackgym.agents.baselines.abr import (
    ABR_BASELINES,
    Bola,
    BufferBased,
    ConstantLevel,
    RateBased,
    RobustMpc,
    harmonic_mean,
)


@functools.cache
def reference_run(split: str, controller: str, n_videos: int | None = None):
    return ref.run(split, controller, n_videos=n_videos)


def score(split, controller):
    return ref.community_score(reference_run(split, controller))


# --- the brief's reference numbers --------------------------------------------------------------
@pytest.mark.parametrize(
    "split, controller, expected, tol",
    [
        ("fcc_test", "lowest", 0.290, 1e-3),
        ("fcc_test", "bb", 0.773, 1e-3),
        ("fcc_test", "rb", 0.853, 1e-3),
        ("fcc_test", "mpc", 1.028, 1e-3),
        ("train", "bb", 0.334, 1e-3),
        ("train", "rb", 0.437, 1e-3),
        ("train", "mpc", 0.556, 1e-3),
    ],
)
def test_reference_reproduces_brief(split, controller, expected, tol):
    assert score(split, controller) == pytest.approx(expected, abs=tol)


def test_reference_exact_values():
    """Pinned to the last digit so any change in float-operation order shows up."""
    assert score("fcc_test", "bb") == pytest.approx(0.773256216, abs=1e-9)
    assert score("train", "bb") == pytest.approx(0.333681857, abs=1e-9)
    assert score("fcc_test", "mpc") == pytest.approx(1.028337121, abs=1e-9)


def test_reference_episode_shape():
    logs = reference_run("fcc_test", "bb")
    assert len(logs) == 290
    assert len({log.trace_name for log in logs}) == 290
    for log in logs[:5]:
        assert len(log.reward) == 48
        assert log.level[0] == ref.DEFAULT_QUALITY
        assert log.chunks_left == list(range(47, -1, -1))
        assert log.rebuffer_s[0] == log.delay_ms[0] / 1000.0  # empty buffer at start: everything stalls
        assert max(log.buffer_s) <= 60.0


def test_fixed_env_buffer_cap_and_wrap():
    """A fast, tiny trace: the buffer reaches the 60 s cap (sleep in 500 ms quanta) and the
    trace wraps many times."""
    t = [[0.0, 1.0, 2.0]]
    bw = [[100.0, 100.0, 100.0]]
    env = ref.FixedEnv(t, bw)
    out = [env.get_video_chunk(5) for _ in range(48)]
    buffers = [o[2] for o in out]
    assert max(buffers) <= 60.0 and max(buffers) > 56.0
    assert any(o[1] > 0 for o in out)  # some sleep happened
    assert out[-1][6] is True and out[-1][7] == 0
    assert out[-1][5] == [env.video_size[i][0] for i in range(6)]  # next sizes wrap to chunk 0


def test_mpc_search_vectorised_matches_script_loop():
    rng = random.Random(0)
    sizes = np.asarray(ref.load_video_sizes(), dtype=np.int64)
    mpc = ref.MPCController(sizes)
    for _ in range(25):
        args = (rng.choice([0.0, rng.uniform(0, 30)]), 10 ** rng.uniform(-2, 1), rng.randrange(6),
                rng.randrange(0, 52), rng.randrange(0, 6), mpc.chunk_size)
        assert ref.mpc_search(*args) == ref.mpc_search_scalar(*args), args


@pytest.mark.parametrize("bugs", [False, True])
def test_mpc_controller_vectorised_matches_script_on_videos(bugs):
    t, bw, names = ref.load_traces(ref.TRACE_DIRS["fcc_test"])
    sizes = ref.load_video_sizes()
    fast = ref.run_test_loop(ref.MPCController(sizes, bugs), t, bw, names, sizes, n_videos=2)
    slow = ref.run_test_loop(ref.MPCController(sizes, bugs, scalar=True), t, bw, names, sizes, n_videos=2)
    assert [log.level for log in fast] == [log.level for log in slow]
    assert [log.reward for log in fast] == [log.reward for log in slow]


# --- the package's baselines, driven by the reference simulator --------------------------------
@pytest.mark.parametrize(
    "split, ref_name, baseline, n_videos",
    [
        ("fcc_test", "lowest", "lowest", None),
        ("fcc_test", "bb", "bb", None),
        ("fcc_test", "rb", "rb", None),
        ("train", "bb", "bb", None),
        ("train", "rb", "rb", None),
        ("train", "mpc", "robust_mpc", None),
        ("train", "mpc_pensieve", "robust_mpc_pensieve", None),
        ("fcc_test", "mpc", "robust_mpc", 60),
        ("fcc_test", "mpc_pensieve", "robust_mpc_pensieve", 60),
    ],
)
def test_baselines_match_reference_scripts(split, ref_name, baseline, n_videos):
    expected = reference_run(split, ref_name, n_videos)
    got = ref.run(split, ABR_BASELINES[baseline](), n_videos=n_videos)
    assert len(got) == len(expected)
    for e, g in zip(expected, got):
        assert g.level == e.level, e.trace_name
        assert g.reward == e.reward, e.trace_name


# --- decision rules on hand-made info dicts ----------------------------------------------------
VIDEO = SimpleNamespace(bitrates_kbps=np.array(ref.VIDEO_BIT_RATE, dtype=float),
                        chunk_bytes=np.asarray(ref.load_video_sizes(), dtype=np.int64), chunk_s=4.0)


def fake_env(video=VIDEO, mode="pensieve", buffer_cap_s=60.0):
    env = SimpleNamespace(video=video, config=SimpleNamespace(mode=mode, buffer_cap_s=buffer_cap_s))
    env.unwrapped = env
    return env


def info(chunk_index=0, level=1, buffer_s=4.0, throughput_kbps=1000.0, delay_ms=1000.0, chunks_total=48,
         video=VIDEO):
    """Info after downloading ``chunk_index``; ``throughput_kbps`` sets chunk_bytes for ``delay_ms``."""
    downloaded = chunk_index + 1
    chunk_bytes = int(round(throughput_kbps / 8000.0 * 1000.0 * delay_ms))
    nxt = min(downloaded, video.chunk_bytes.shape[1] - 1)
    return {"level": level, "chunk_index": chunk_index, "next_chunk_index": downloaded,
            "chunks_total": chunks_total, "chunks_left": chunks_total - downloaded, "buffer_s": buffer_s,
            "rebuffer_s": 0.0, "delay_ms": delay_ms, "sleep_ms": 0.0, "chunk_bytes": chunk_bytes,
            "next_chunk_bytes": video.chunk_bytes[:, nxt].copy()}


def started(policy, first_info):
    policy.reset(fake_env(), None, first_info)
    return policy


@pytest.mark.parametrize("buffer_s, level", [(0.0, 0), (4.9, 0), (5.0, 0), (6.99, 0), (7.0, 1), (10.0, 2),
                                             (14.99, 4), (15.0, 5), (60.0, 5)])
def test_buffer_based_map(buffer_s, level):
    i = info(buffer_s=buffer_s)
    assert started(BufferBased(), i).act(None, i) == level


def test_rate_based_uses_harmonic_mean_of_last_five():
    p = RateBased()
    i = info(chunk_index=0, throughput_kbps=3000.0)
    p.reset(fake_env(), None, i)
    assert p.act(None, i) == 4  # 2850 <= 3000 < 4300
    i = info(chunk_index=1, throughput_kbps=1000.0)
    # harmonic mean of 3000 and 1000 kbps is 1500 (arithmetic would be 2000 -> 1850)
    assert harmonic_mean([3.0, 1.0]) == pytest.approx(1.5)
    assert p.act(None, i) == 2
    assert p.act(None, i) == 2  # same info twice: not counted twice
    for k in range(2, 7):  # five more samples at 750 kbps push the early ones out of the window
        i = info(chunk_index=k, throughput_kbps=750.0)
        level = p.act(None, i)
    assert level == 1  # exactly 750 kbps fits (<=)
    i = info(chunk_index=7, throughput_kbps=10.0)
    p.act(None, i)
    for k in range(8, 12):
        i = info(chunk_index=k, throughput_kbps=10.0)
        assert p.act(None, i) == 0  # nothing fits -> lowest


def test_rate_based_without_history_picks_startup_level():
    i = {**info(), "level": -1, "chunk_index": -1, "next_chunk_index": 0, "chunk_bytes": 0, "delay_ms": 0.0,
         "chunks_total": 49, "chunks_left": 49}
    p = RateBased()
    p.reset(fake_env(mode="default"), None, i)
    assert p.act(None, i) == 0


@pytest.mark.parametrize("bugs", [False, True])
def test_mpc_extremes(bugs):
    i = info(buffer_s=8.0, throughput_kbps=1e7)
    assert started(RobustMpc(pensieve_bugs=bugs), i).act(None, i) == 5
    i = info(buffer_s=0.5, throughput_kbps=50.0)
    assert started(RobustMpc(pensieve_bugs=bugs), i).act(None, i) == 0


def test_mpc_robust_discount():
    p = RobustMpc()
    p.reset(fake_env(), None, info(chunk_index=0, throughput_kbps=2000.0))
    p.act(None, info(chunk_index=0, throughput_kbps=2000.0))
    p.act(None, info(chunk_index=1, throughput_kbps=1000.0))
    # estimate after chunk 0 was 2000 kbps, measured 1000: relative error 1.0
    assert p.past_errors == [0.0, 1.0]
    hm = harmonic_mean([2.0, 1.0]) / 8.0
    assert p.predicted_throughput_mbyte_s() == pytest.approx(hm / 2.0)


def test_mpc_pensieve_history_persists_across_reset_clean_does_not():
    for bugs, persists in ((True, True), (False, False)):
        p = RobustMpc(pensieve_bugs=bugs)
        p.reset(fake_env(), None, info(chunk_index=0))
        for k in range(3):
            p.act(None, info(chunk_index=k, throughput_kbps=1000.0 * (k + 1)))
        p.end_episode(None, info(chunk_index=47, throughput_kbps=500.0, chunks_total=48))
        n_errors = len(p.past_errors)
        assert n_errors == 4
        p.reset(fake_env(), None, info(chunk_index=0))
        assert p.throughputs_mbyte_s == []
        assert len(p.past_errors) == (n_errors if persists else 0)
        assert len(p.past_estimates_mbyte_s) == (n_errors if persists else 0)


def test_mpc_pensieve_plans_one_chunk_ahead():
    """Last chunk in the file: the buggy variant plans index+1 (0 bytes, free) -> top level;
    the clean one plans the real chunk over a slow link -> lowest."""
    n = VIDEO.chunk_bytes.shape[1]
    i = info(chunk_index=n - 2, buffer_s=1.0, throughput_kbps=300.0, chunks_total=n)
    assert i["chunks_left"] == 1
    assert started(RobustMpc(pensieve_bugs=True), i).act(None, i) == 5
    assert started(RobustMpc(pensieve_bugs=False), i).act(None, i) == 0


def test_bola_rule():
    p = started(Bola(), info())
    levels = [p.act(None, info(buffer_s=b)) for b in np.linspace(0.0, 60.0, 241)]
    assert levels[0] == 0 and levels[-1] == 5
    assert all(a <= b for a, b in zip(levels, levels[1:]))  # monotone in the buffer
    assert set(levels) == set(range(6))
    # V from Sabre's derivation with a 45 s target: (45 - 4) / (ln(4300/300) + 5)
    assert p.v_s == pytest.approx(41.0 / (np.log(4300 / 300) + 5.0))
    # the target is capped by the env's buffer cap
    q = Bola()
    q.reset(fake_env(buffer_cap_s=30.0), None, info())
    assert q.v_s == pytest.approx(26.0 / (np.log(4300 / 300) + 5.0))


def test_constant_level():
    i = info()
    assert started(ConstantLevel(), i).act(None, i) == 0
    assert started(ConstantLevel(-1), i).act(None, i) == 5
    with pytest.raises(ValueError):
        started(ConstantLevel(6), i)


def test_registry_factories_give_fresh_policies():
    assert set(ABR_BASELINES) == {"bb", "rb", "bola", "robust_mpc", "robust_mpc_pensieve", "lowest"}
    for factory in ABR_BASELINES.values():
        a, b = factory(), factory()
        assert a is not b
        i = info(buffer_s=12.0)
        a.reset(fake_env(), None, i)
        assert 0 <= a.act(None, i) < 6
        a.end_episode(None, info(chunk_index=47))
    assert ABR_BASELINES["robust_mpc_pensieve"]().pensieve_bugs is True
    assert ABR_BASELINES["robust_mpc"]().pensieve_bugs is False
