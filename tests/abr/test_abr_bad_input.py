"""Hostile or careless input to the ABR env: one ValueError naming the file, field or value, and a
failed call leaves the env as it was (issue 10)."""

import json
import warnings

import numpy as np
import pytest

from feedbackgym.cli import main
from feedbackgym.envs.abr import AbrStreamingEnv
from feedbackgym.envs.abr.traces import load_trace, load_traces

RULES = dict(trace_order="sequential", random_start=False, delay_noise=None)


def write(tmp_path, name, text):
    p = tmp_path / name
    p.write_text(text)
    return p


@pytest.mark.parametrize("text,match", [
    ("0 1.0\n1 1e306\n2 1.0\n", "exceeds 1e\\+06 Mbps"),     # overflowed the simulator (IndexError)
    ("0 1.0\n1e8 1.0\n", "spans 1e\\+08 s"),
    ("0 1.0\n1e-9 1.0\n", "only 1e-09 s after"),
    ("0 1.0\n1 1e-300\n", "mean throughput"),
])
def test_traces_outside_physical_bounds_are_refused(tmp_path, text, match):
    p = write(tmp_path, "t", text)
    with pytest.raises(ValueError, match=match) as e:
        load_trace(p)
    assert str(p) in str(e.value)


@pytest.mark.parametrize("text", ["0,1.0\n1,2.0\n", "time_s,mbps\n0,1\n", "0, 1.0\n1, 2.0\n"])
def test_comma_separated_trace_is_reported_as_such(tmp_path, text):
    p = write(tmp_path, "t.csv", text)
    with pytest.raises(ValueError, match="comma-separated") as e:
        load_trace(p)
    assert f"{p}:1:" in str(e.value) and "Mahimahi format" not in str(e.value)


def test_sub_folders_of_a_trace_folder_are_not_skipped_silently(tmp_path):
    write(tmp_path, "a", "0 1\n1 1\n")
    (tmp_path / "more").mkdir()
    write(tmp_path / "more", "b", "0 1\n1 1\n")
    with pytest.warns(UserWarning, match="sub-folder.*more.*skipped"):
        assert len(load_traces(tmp_path)) == 1
    empty = tmp_path / "only_subfolders"
    (empty / "x").mkdir(parents=True)
    with pytest.raises(ValueError, match="no trace files.*sub-folders \\['x'\\]"):
        load_traces(empty)


def test_two_chunk_video_in_pensieve_mode(tmp_path):
    with pytest.raises(ValueError, match="AbrConfig.video: pensieve mode .* at least 3 chunks.* has 2"):
        AbrStreamingEnv(mode="pensieve", video={"bitrates_kbps": [300, 750], "chunks": 2})
    env = AbrStreamingEnv(mode="pensieve", video={"bitrates_kbps": [300, 750], "chunks": 3}, **RULES)
    env.reset()
    assert env.step(0)[2]  # one step, then the episode ends


@pytest.mark.parametrize("sidecar,match", [
    ({"bitrates_kbps": "abc"}, "bitrates_kbps must be a non-empty list of numbers"),
    ({"bitrates_kbps": [300, 750, 1200, 1850, 2850, 4300], "chunk_s": "x"}, "chunk_s must be a number"),
    ({"bitrate": [1]}, "unknown field"),
    ([1, 2], "expected a JSON object"),
])
def test_wrong_type_video_sidecar_names_the_file(tmp_path, sidecar, match):
    from feedbackgym.envs.abr.video import envivio_dash3

    v = envivio_dash3()
    for level in range(v.levels):
        write(tmp_path, f"video_size_{level}", "\n".join(str(int(b)) for b in v.chunk_bytes[level]) + "\n")
    write(tmp_path, "video.json", json.dumps(sidecar))
    with pytest.raises(ValueError, match=match) as e:
        AbrStreamingEnv(video=str(tmp_path))
    assert str(tmp_path / "video.json") in str(e.value)


@pytest.mark.parametrize("options", [[1, 2], "trace_index", 3])
def test_reset_options_must_be_a_dict(options):
    with pytest.raises(ValueError, match="reset options: expected a dict"):
        AbrStreamingEnv().reset(options=options)


@pytest.mark.parametrize("options", [
    {"config": {"reward": "qoe_log"}, "trace_index": 10_000},        # config fine, index not
    {"config": {"reward": "qoe_log"}, "nope": 1},
    {"config": {"video": {"bitrates_kbps": [1, 2, 3], "chunks": 5}}},  # changes the action space
    {"config": {"traces": "/no/such/folder"}},
])
def test_failed_reset_leaves_the_env_as_it_was(options):
    env = AbrStreamingEnv(traces="fcc_test", **RULES)
    ref = AbrStreamingEnv(traces="fcc_test", **RULES)
    env.reset(seed=3, options={"trace_index": 4})
    ref.reset(seed=3, options={"trace_index": 4})
    env.step(5)
    ref.step(5)
    rng_state = env.np_random.bit_generator.state
    with pytest.raises(ValueError):
        env.reset(seed=99, options=options)
    assert env.config == ref.config and env.np_random.bit_generator.state == rng_state
    for a in (0, 3, 5):  # the episode in progress continues exactly as without the failed reset
        got, want = env.step(a), ref.step(a)
        assert np.array_equal(got[0], want[0]) and got[1:4] == want[1:4]


@pytest.mark.parametrize("action", [True, False, np.bool_(True), 1.0, "1", None])
def test_non_integer_actions_raise(action):
    env = AbrStreamingEnv()
    env.reset(seed=0)
    with pytest.raises(ValueError, match="expected an integer level"):
        env.step(action)


@pytest.mark.parametrize("make_input,kwargs,match", [
    (lambda d: write(d, "huge", "0 1\n1 1e306\n2 1\n"), lambda p: ["--traces", str(p)], "huge:2: throughput"),
    (lambda d: write(d, "c.csv", "0,1\n1,2\n"), lambda p: ["--traces", str(p)], "c.csv:1: comma-separated"),
    (lambda d: write(d, "v.json", '{"bitrates_kbps": [300, 750], "chunks": 2}'),
     lambda p: ["--env-kwargs", json.dumps({"mode": "pensieve", "video": str(p)})], "at least 3 chunks"),
])
def test_cli_gives_one_line_and_non_zero_exit(tmp_path, capsys, make_input, kwargs, match):
    p = make_input(tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rc = main(["evaluate", "AbrStreaming-v0", "--policy", "bb", "--episodes", "1"] + kwargs(p))
    err = capsys.readouterr().err.strip().splitlines()
    assert rc != 0 and len(err) == 1 and err[0].startswith("feedbackgym: error: ")
    assert any(m in err[0] for m in match.split("|")), err


def test_traces_at_the_physical_bounds_play_without_crashing(tmp_path):
    """Any trace the loader accepts plays whole episodes (the bounds exist so that it can)."""
    pytest.importorskip("hypothesis")
    from hypothesis import given, settings
    from hypothesis import strategies as st

    dt = st.one_of(st.sampled_from([1e-6, 1.0, 1e6]), st.floats(1e-6, 1e6))
    thr = st.one_of(st.sampled_from([0.0, 1e-6, 1e6]), st.floats(0.0, 1e6))

    @settings(max_examples=30, deadline=None, derandomize=True, database=None)
    @given(rows=st.lists(st.tuples(dt, thr), min_size=1, max_size=6), video=st.sampled_from(
        [None, {"bitrates_kbps": [1.0, 1e9], "chunk_s": 3600.0, "chunks": 3},
         {"bitrates_kbps": [8.0, 16.0], "chunk_s": 1e-3, "chunks": 3}]))
    def check(rows, video):
        p = tmp_path / "t"
        t, lines = 0.0, ["0 1.0"]
        for d, b in rows:
            t += d
            lines.append(f"{t!r} {b!r}")
        p.write_text("\n".join(lines) + "\n")
        try:
            load_trace(p)
        except ValueError:
            return
        extra = {} if video is None else {"video": video}
        for mode in ("default", "pensieve"):
            env = AbrStreamingEnv(traces=str(p), mode=mode, **RULES, **extra)
            for level in (0, env.action_space.n - 1):
                env.reset()
                done = False
                while not done:
                    _, r, done, _, info = env.step(level)
                    assert np.isfinite(r) and np.isfinite(info["delay_ms"])

    check()
