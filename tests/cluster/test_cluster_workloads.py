"""Workload loaders (Bitbrains, Google 2019, Alibaba 2018), bundled splits, synthetic generator, bad input."""

import gzip
import hashlib
import warnings

import numpy as np
import pytest

from feedbackgym.envs.cluster import workloads as wl
from feedbackgym.envs.cluster.workloads import (Workload, bundled_folder, load_alibaba2018, load_bitbrains,
                                                 load_bitbrains_file, load_google2019, load_workloads,
                                                 synthetic_workloads)

HEADER = ("Timestamp [ms];\tCPU cores;\tCPU capacity provisioned [MHZ];\tCPU usage [MHZ];\tCPU usage [%];\t"
          "Memory capacity provisioned [KB];\tMemory usage [KB];\tDisk read throughput [KB/s];\t"
          "Disk write throughput [KB/s];\tNetwork received throughput [KB/s];\tNetwork transmitted throughput [KB/s]")


def _row(t, cores=2, cap=5200.0, used=520.0, mem_cap=4194304.0, mem_used=1048576.0):
    return f"{t};\t{cores};\t{cap};\t{used};\t{100 * used / cap};\t{mem_cap};\t{mem_used};\t0.0;\t1.5;\t0.1;\t0.2"


def _write(path, rows, header=HEADER):
    path.write_text("\n".join([header] + rows) + "\n")
    return path


# ------------------------------------------------------------------------------ Bitbrains


def test_published_format_loads_with_units(tmp_path):
    p = _write(tmp_path / "7.csv", [_row(1372629804 + 300 * i, mem_used=1048576.0 * (1 + i)) for i in range(5)])
    w = load_bitbrains_file(p)
    assert w.name == "7" and len(w) == 5
    assert w.timestamps_s[0] == 1372629804                      # the "[ms]" column holds seconds
    assert w.cpu_usage_cores[0] == pytest.approx(520.0 / 2600.0)  # MHz / (provisioned MHz / cores)
    assert w.cpu_request_cores[0] == 2
    assert w.memory_usage_mib[1] == pytest.approx(2048.0)         # KB -> MiB
    assert w.memory_request_mib[0] == pytest.approx(4096.0)
    assert w.memory_peak_mib is None                               # Bitbrains holds averages


def test_folder_sorted_by_vm_number_and_gz(tmp_path):
    for name in ("vm10", "vm2"):
        data = "\n".join([HEADER] + [_row(1000 + 300 * i) for i in range(3)]) + "\n"
        (tmp_path / f"{name}.csv.gz").write_bytes(gzip.compress(data.encode()))
    (tmp_path / "SOURCE.md").write_text("not a VM")
    ws = load_bitbrains(tmp_path)
    assert [w.name for w in ws] == ["vm2", "vm10"]


@pytest.mark.parametrize("rows, match", [
    ([_row(1000), "1300;\t2;\t5200;\tabc;\t1;\t4194304;\t1;\t0;\t0;\t0;\t0"],
     r"line 3, column 4 \(CPU usage \[MHZ\]\): expected a number, got 'abc'"),
    ([_row(1000), _row(1000)], r"line 3, column 1 \(Timestamp \[ms\]\): timestamps must increase"),
    ([_row(1000), _row(1300, mem_used=-5.0)],
     r"line 3, column 7 \(Memory usage \[KB\]\): expected a non-negative number"),
    ([_row(1000), _row(1300, mem_cap=0.0)], r"line 3, column 6 .*positive provisioned capacity"),
    ([_row(1000), "1300;\t2;\t5200"], r"line 3: expected 11 ';'-separated columns, got 3"),
    ([_row(1000), _row(1300, used=float("nan"))], r"line 3, column 4 .*finite"),
    ([], r"line 2: no data rows"),
])
def test_bad_bitbrains_rows_name_file_line_column(tmp_path, rows, match):
    p = _write(tmp_path / "bad.csv", rows)
    with pytest.raises(ValueError, match=match) as e:
        load_bitbrains_file(p)
    assert "bad.csv" in str(e.value)


def test_bad_bitbrains_header_and_empty(tmp_path):
    p = _write(tmp_path / "h.csv", [_row(1000)], header="Timestamp [ms];\tCPU cores")
    with pytest.raises(ValueError, match=r"h.csv: line 1: header lacks column"):
        load_bitbrains_file(p)
    (tmp_path / "e.csv").write_text("")
    with pytest.raises(ValueError, match=r"e.csv: line 1: empty file"):
        load_bitbrains_file(tmp_path / "e.csv")
    with pytest.raises(ValueError, match="no such workload file or folder"):
        load_bitbrains(tmp_path / "missing")


# ------------------------------------------------------------------------------- bundled


def test_bundled_splits_fixed_disjoint_by_content_and_checksummed():
    train, test = load_workloads("train"), load_workloads("test")
    assert len(train) == 20 and len(test) == 10
    assert [w.name for w in test] == list(wl.TEST_VMS)
    assert {w.content_hash() for w in train}.isdisjoint({w.content_hash() for w in test})
    assert len({w.content_hash() for w in train + test}) == 30
    assert all(len(w) == 14 * 288 for w in train + test)
    sums = {}
    for line in (bundled_folder() / "SHA256SUMS").read_text().splitlines():
        digest, name = line.split()[:2]
        sums[name] = digest
    assert len(sums) == 30
    for name, digest in sums.items():
        assert hashlib.sha256((bundled_folder() / name).read_bytes()).hexdigest() == digest, name


def test_bundled_numbers_match_the_shared_copy_units():
    w = load_workloads("test")[0]     # vm84: 2 cores of 2600 MHz, ~3.9 GiB provisioned
    assert w.name == "vm84" and w.cpu_request_cores[0] == 2
    assert w.cpu_mhz_per_core == pytest.approx(2600.0, rel=1e-3)
    assert 3900 < w.memory_request_mib[0] < 4100


# ---------------------------------------------------------------------------- Google 2019

USAGE = ('{"start_time":"%d","end_time":"%d","collection_id":"4242","instance_index":"7","machine_id":"9001",'
         '"alloc_collection_id":"0","collection_type":"0","average_usage":{"cpus":0.0125,"memory":%s},'
         '"maximum_usage":{"cpus":0.031,"memory":0.009},"random_sample_usage":{"cpus":0.011},'
         '"assigned_memory":0.0156,"page_cache_memory":0.0004,"sample_rate":1.0}')
EVENT = ('{"time":"700000000","type":"3","collection_id":"4242","scheduling_class":"1","collection_type":"0",'
         '"priority":"200","alloc_collection_id":"0","instance_index":"7","machine_id":"9001",'
         '"alloc_instance_index":"-1","resource_request":{"cpus":0.0208,"memory":0.0156},"constraint":[]}')


def test_google2019_instance_usage_and_events(tmp_path):
    rows = [USAGE % (600_000_000 + 300_000_000 * i, 900_000_000 + 300_000_000 * i, "0.0081") for i in range(3)]
    rows.append(USAGE.replace('"alloc_collection_id":"0"', '"alloc_collection_id":"55"') % (0, 300_000_000, "0.5"))
    usage = tmp_path / "instance_usage-000000000000.json.gz"
    usage.write_bytes(gzip.compress(("\n".join(rows) + "\n").encode()))
    events = tmp_path / "events.json"
    events.write_text(EVENT + "\n")
    [w] = load_google2019(usage, events, machine_cores=100.0, machine_memory_mib=1000.0)
    assert w.name == "4242/7" and len(w) == 3          # the alloc row is skipped (no double counting)
    assert w.timestamps_s[0] == 600
    assert w.memory_usage_mib[0] == pytest.approx(8.1)
    assert w.memory_peak_mib[0] == pytest.approx(9.0)  # maximum_usage.memory is the window peak
    assert w.memory_request_mib[0] == pytest.approx(15.6)
    assert w.cpu_request_cores[0] == pytest.approx(2.08)
    [w2] = load_google2019(usage, machine_cores=100.0)
    assert w2.cpu_request_cores[0] == pytest.approx(3.1)   # no events: the max of maximum_usage.cpus


def test_google2019_bad_lines(tmp_path):
    p = tmp_path / "u.json"
    p.write_text(USAGE % (600_000_000, 900_000_000, "0.008") + "\n{not json\n")
    with pytest.raises(ValueError, match=r"u.json: line 2, column 2: invalid JSON"):
        load_google2019(p)
    p.write_text(USAGE % (600_000_000, 900_000_000, '"abc"') + "\n")
    with pytest.raises(ValueError, match=r"u.json: line 1, field average_usage.memory: expected a number"):
        load_google2019(p)
    p.write_text(USAGE % (900_000_000, 600_000_000, "0.008") + "\n")
    with pytest.raises(ValueError, match=r"line 1, field end_time"):
        load_google2019(p)


# ---------------------------------------------------------------------------- Alibaba 2018


def test_alibaba2018_binned_into_windows(tmp_path):
    meta = tmp_path / "container_meta.csv"
    meta.write_text("c_901,m_42,0,app_77,started,400,800,3.125\n")
    usage = tmp_path / "container_usage.csv"
    usage.write_text("c_901,m_42,10,35,40,1.9,4.2,3,27.5,26.8,5\n"
                     "c_901,m_42,200,45,60,1.9,4.2,3,27.5,26.8,5\n"
                     "c_901,m_42,310,25,50,1.9,4.2,3,27.5,26.8,5\n"
                     "c_901,m_42,320,-1,50,1.9,4.2,3,27.5,26.8,5\n")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        [w] = load_alibaba2018(usage, meta, machine_memory_mib=64000.0)
    assert any("dropped 1 sample" in str(c.message) for c in caught)
    assert list(w.timestamps_s) == [0, 300] and w.cpu_request_cores[0] == 4.0
    assert w.memory_request_mib[0] == pytest.approx(2000.0)
    assert w.cpu_usage_cores[0] == pytest.approx(0.40 * 4.0)       # mean of 35% and 45% of the request
    assert w.memory_usage_mib[0] == pytest.approx(0.5 * 2000.0)
    assert w.memory_peak_mib[0] == pytest.approx(0.6 * 2000.0)


def test_alibaba2018_bad_rows(tmp_path):
    meta = tmp_path / "m.csv"
    meta.write_text("c_1,m_1,0,app,started,400,800,3\n")
    usage = tmp_path / "u.csv"
    usage.write_text("c_1,m_1,0,35,140,1,1,1,1,1,1\n")
    with pytest.raises(ValueError, match=r"u.csv: line 1, column 5 \(mem_util_percent\)"):
        load_alibaba2018(usage, meta)
    usage.write_text("c_2,m_1,0,35,40,1,1,1,1,1,1\n")
    with pytest.raises(ValueError, match=r"line 1, column 1 \(container_id\): 'c_2' has no container_meta row"):
        load_alibaba2018(usage, meta)
    meta.write_text("c_1,m_1,0,app,started,0,800,3\n")
    with pytest.raises(ValueError, match=r"m.csv: line 1, column 6 \(cpu_request\)"):
        load_alibaba2018(usage, meta)
    meta.write_text("c_1,m_1,0,app,started\n")
    with pytest.raises(ValueError, match=r"m.csv: line 1: expected 8 comma-separated columns"):
        load_alibaba2018(usage, meta)


# ---------------------------------------------------------------------------- synthetic


def test_synthetic_seeded_and_shaped():
    a, b, c = synthetic_workloads(3, 8, days=3), synthetic_workloads(3, 8, days=3), synthetic_workloads(4, 8, days=3)
    assert [w.content_hash() for w in a] == [w.content_hash() for w in b]
    assert [w.content_hash() for w in a] != [w.content_hash() for w in c]
    for w in a:
        assert len(w) == 3 * 288
        p95 = np.percentile(w.memory_usage_mib, 95)
        assert 2.0 <= w.memory_request_mib[0] / p95 <= 3.0        # users ask for 2-3x
        assert w.job_class in ("serving", "batch") and w.tasks >= 1
    days = np.arange(14 * 288) // 288
    many = synthetic_workloads(0, 40, days=14)
    # a daily cycle: usage by hour of day varies more than noise within an hour
    assert any(np.ptp([w.cpu_usage_cores[days == 0][h * 12:(h + 1) * 12].mean() for h in range(24)]) >
               0.3 * w.cpu_usage_cores.mean() for w in many)


def test_workload_validation():
    t = np.arange(3) * 300
    with pytest.raises(ValueError, match=r"memory_usage_mib\[1\] = nan"):
        Workload("x", t, np.ones(3), np.ones(3), np.array([1.0, np.nan, 1.0]), np.ones(3))
    with pytest.raises(ValueError, match="job_class"):
        Workload("x", t, np.ones(3), np.ones(3), np.ones(3), np.ones(3), job_class="web")
    with pytest.raises(ValueError, match="shape"):
        Workload("x", t, np.ones(2), np.ones(3), np.ones(3), np.ones(3))
