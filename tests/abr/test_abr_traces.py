"""Trace and video loaders: formats, bundled splits, synthetic generator, and bad input."""

import json

import numpy as np
import pytest

from feedbackgym.envs.abr import AbrStreamingEnv
from feedbackgym.envs.abr.synthetic import SyntheticSpec, generate
from feedbackgym.envs.abr.traces import (
    load_trace, load_traces, parse_mahimahi, trace_set, verify_bundled_checksums,
)
from feedbackgym.envs.abr.video import load_video


def write(tmp_path, name, text):
    p = tmp_path / name
    p.write_text(text)
    return p


def test_bundled_splits_sizes_and_checksums():
    assert verify_bundled_checksums() == {"train_127": 127, "fcc_test_290": 290, "fcc_test_clean": 119}
    sizes = {s: len(trace_set(s)) for s in ("train", "fcc_test", "train_fit", "hsdpa_holdout")}
    assert sizes == {"train": 127, "fcc_test": 290, "train_fit": 110, "hsdpa_holdout": 17}
    fit, hold = set(trace_set("train_fit").names), set(trace_set("hsdpa_holdout").names)
    assert not fit & hold and fit | hold == set(trace_set("train").names)
    assert all(not n.startswith("trace_") for n in hold)  # Norway HSDPA only


def test_fcc_test_mean_throughput_matches_source():
    means = [tr.mean_throughput_mbps for tr in load_traces("fcc_test")]
    assert np.mean(means) == pytest.approx(1.35, abs=0.05)  # SOURCE.md: mean 1.35 Mbps


def test_two_column_file_and_folder(tmp_path):
    write(tmp_path, "b", "0 1.0\n1 2.0\n2 3.0\n")
    write(tmp_path, "a", "0.0\t5\n0.5\t0\n1.5\t2.5\n")
    write(tmp_path, "README.md", "not a trace")
    traces = load_traces(str(tmp_path))
    assert [t.name for t in traces] == ["a", "b"]  # sorted, docs skipped
    assert traces[0].time_s.tolist() == [0.0, 0.5, 1.5]
    assert traces[1].throughput_mbps.tolist() == [1.0, 2.0, 3.0]


def test_times_are_shifted_to_start_at_zero(tmp_path):
    tr = load_trace(write(tmp_path, "t", "10 1\n11 2\n13 3\n"))
    assert tr.time_s.tolist() == [0.0, 1.0, 3.0]


def test_mahimahi_conversion(tmp_path):
    # 8 packets of 1500 B in the first 500 ms, 4 in the next: 0.192 and 0.096 Mbps
    p = write(tmp_path, "trace.down", "\n".join(["10"] * 8 + ["600"] * 3 + ["1000"]) + "\n")
    tr = load_trace(p)
    assert tr.time_s.tolist() == [0.0, 0.5, 1.0]
    assert tr.throughput_mbps[1:] == pytest.approx([8 * 1500 * 8 / 0.5 / 1e6, 4 * 1500 * 8 / 0.5 / 1e6])
    tr2 = parse_mahimahi("5\n5\n1000\n", bin_ms=1000)
    assert tr2.time_s.tolist() == [0.0, 1.0]


def test_sabre_json(tmp_path):
    p = write(tmp_path, "net.json", json.dumps([{"duration_ms": 2000, "bandwidth_kbps": 1500, "latency_ms": 20},
                                                 {"duration_ms": 1000, "bandwidth_kbps": 500, "latency_ms": 20}]))
    with pytest.warns(UserWarning, match="latency_ms is ignored"):
        tr = load_trace(p)
    assert tr.time_s.tolist() == [0.0, 2.0, 3.0]
    assert tr.throughput_mbps[1:].tolist() == [1.5, 0.5]


def test_env_reads_user_traces_of_every_format(tmp_path):
    write(tmp_path, "a", "0 1.0\n5 2.0\n10 3.0\n")
    (tmp_path / "m").mkdir()
    write(tmp_path / "m", "x.down", "\n".join(str(i) for i in range(1, 4000, 3)) + "\n")
    for src in (str(tmp_path / "a"), str(tmp_path / "m")):
        env = AbrStreamingEnv(traces=src)
        env.reset(seed=0)
        assert np.isfinite(env.step(2)[1])


@pytest.mark.parametrize("text,match,line", [
    ("", "empty trace", None),
    ("0 1.0\n", "at least 2 rows", 1),
    ("0 1.0\n1 abc\n", "non-numeric", 2),
    ("0 1.0\n1 -2\n", "negative", 2),
    ("0 1.0\n1 nan\n", "not a finite number", 2),
    ("0 1.0\n1 inf\n", "not a finite number", 2),
    ("0 1.0\n2 1.0\n2 1.0\n", "does not increase", 3),
    ("0 1.0\n2 1.0\n1 1.0\n", "does not increase", 3),
    ("0 1.0\n1 2.0 3.0\n", "expected 2 columns", 2),
    ("0 1.0\n1 0\n2 0\n", "zero on every interval", None),
])
def test_bad_two_column_traces_name_file_and_line(tmp_path, text, match, line):
    p = write(tmp_path, "bad_trace", text)
    with pytest.raises(ValueError, match=match) as e:
        load_trace(p, "two_column")
    assert str(p) in str(e.value)
    if line is not None:
        assert f"{p}:{line}:" in str(e.value)


@pytest.mark.parametrize("text,match", [
    ("", "empty Mahimahi"),
    ("5\n-3\n", "negative"),
    ("5\n3\n", "earlier than the previous"),
    ("5\n1.5\n", "one integer millisecond"),
    ("0\n0\n", "lasts 0 ms"),
])
def test_bad_mahimahi_traces(tmp_path, text, match):
    p = write(tmp_path, "bad.down", text)
    with pytest.raises(ValueError, match=match) as e:
        load_trace(p, "mahimahi")
    assert str(p) in str(e.value)


@pytest.mark.parametrize("payload,match", [
    ("[", "invalid JSON"),
    ("{}", "non-empty JSON list"),
    ('[{"duration_ms": 10}]', "'duration_ms' and 'bandwidth_kbps'"),
    ('[{"duration_ms": -1, "bandwidth_kbps": 5}]', "duration_ms must be"),
    ('[{"duration_ms": 10, "bandwidth_kbps": "x"}]', "must be numbers"),
])
def test_bad_sabre_json(tmp_path, payload, match):
    p = write(tmp_path, "bad.json", payload)
    with pytest.raises(ValueError, match=match):
        load_trace(p)


def test_bad_trace_in_a_folder_is_named(tmp_path):
    write(tmp_path, "good", "0 1\n1 1\n")
    bad = write(tmp_path, "zz_bad", "0 1\n1 x\n")
    with pytest.raises(ValueError, match=f"{bad}:2"):
        AbrStreamingEnv(traces=str(tmp_path))


def test_missing_and_empty_trace_sources(tmp_path):
    with pytest.raises(ValueError, match="no such file or folder"):
        AbrStreamingEnv(traces=str(tmp_path / "nope"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no trace files"):
        AbrStreamingEnv(traces=str(tmp_path / "empty"))
    with pytest.raises(ValueError, match="not a text file"):
        load_trace(_binary(tmp_path))


def _binary(tmp_path):
    p = tmp_path / "binary"
    p.write_bytes(b"\xff\xfe\x00\x81")
    return p


def test_synthetic_traces_are_seeded_and_in_range():
    spec = SyntheticSpec.from_dict({"bandwidth_mbps": [0.5, 4.0], "change_interval_s": [3, 3], "noise_sigma": 0.0})
    a, _, _ = generate(np.random.default_rng(1), spec)
    b, _, _ = generate(np.random.default_rng(1), spec)
    c, _, _ = generate(np.random.default_rng(2), spec)
    assert np.array_equal(a.throughput_mbps, b.throughput_mbps)
    assert not np.array_equal(a.throughput_mbps, c.throughput_mbps)
    assert a.throughput_mbps.min() >= 0.5 - 1e-9 and a.throughput_mbps.max() <= 4.0 + 1e-9
    assert a.time_s[-1] == pytest.approx(320.0)
    changes = np.count_nonzero(np.diff(a.throughput_mbps[1:]))
    assert 30 <= changes <= 200  # ~ one change per 3 s (some steps stay put at the chain's ends)


def test_synthetic_link_ranges_drawn_per_episode():
    env = AbrStreamingEnv(traces="synthetic", synthetic={"rtt_ms": [10, 200], "buffer_cap_s": [10, 30]})
    infos = [env.reset(seed=s)[1] for s in range(5)]
    assert len({i["rtt_ms"] for i in infos}) == 5
    assert all(10 <= i["rtt_ms"] <= 200 and 10 <= i["buffer_cap_s"] <= 30 for i in infos)


@pytest.mark.parametrize("spec,match", [
    ({"bandwidth_mbps": [5, 1]}, "bandwidth_mbps"),
    ({"n_states": 0}, "n_states"),
    ({"jump_prob": 1.5}, "jump_prob"),
    ({"colour": 1}, "unknown field"),
    ({"duration_s": 0.5}, "duration_s"),
])
def test_bad_synthetic_spec(spec, match):
    with pytest.raises(ValueError, match=match):
        AbrStreamingEnv(traces="synthetic", synthetic=spec)


def test_video_loaders_and_errors(tmp_path):
    v = load_video("envivio")
    assert v.chunk_bytes.shape == (6, 49) and v.bitrates_kbps.tolist() == [300, 750, 1200, 1850, 2850, 4300]
    cbr = load_video({"bitrates_kbps": [1000, 2000], "chunk_s": 2, "chunks": 5})
    assert cbr.chunk_bytes[1, 0] == 2000 * 1000 * 2 / 8
    p = write(tmp_path, "video.json", json.dumps({"bitrates_kbps": [100, 200], "chunk_bytes": [[1, 2, 3], [4, 5, 6]]}))
    assert load_video(str(p)).chunks == 3
    for spec, match in [
        ({"bitrates_kbps": [200, 100], "chunks": 5}, "increase strictly"),
        ({"bitrates_kbps": [100, 200], "chunk_bytes": [[1, 2], [3]]}, "equal-length"),
        ({"bitrates_kbps": [100, 200], "chunk_bytes": [[1, 2], [3, 0]]}, "chunk 1 at level 1"),
        ({"bitrates_kbps": [100], "chunks": 5, "fps": 3}, "unknown field"),
        ({"bitrates_kbps": [100], "chunks": 5, "chunk_bytes": [[1, 2]]}, "exactly one of"),
        ({"chunks": 5}, "bitrates_kbps' is required"),
    ]:
        with pytest.raises(ValueError, match=match):
            load_video(spec)
    folder = tmp_path / "sizes"
    folder.mkdir()
    for lvl in range(6):
        (folder / f"video_size_{lvl}").write_text("100\n200\n" if lvl != 3 else "100\nabc\n")
    with pytest.raises(ValueError, match=f"{folder / 'video_size_3'}:2"):
        load_video(str(folder))
    with pytest.raises(ValueError, match="expected 'envivio'"):
        load_video(str(tmp_path / "missing"))
