"""Workload files that are not UTF-8 raise one ValueError naming the file and line (issue 7)."""

import gzip

import pytest

from feedbackgym.envs.cluster import workloads as w

HEADER = ";\t".join(w.BITBRAINS_COLUMNS)
ROW = "1376314846;\t4;\t11703.99;\t10.4;\t67108864;\t6129274.4\n"


@pytest.mark.parametrize("gz", [False, True], ids=["plain", "gz"])
def test_bitbrains_file_with_non_utf8_bytes(tmp_path, gz):
    data = (HEADER + "\n" + ROW).encode() + b"13763\xff15146;\t4\n"
    path = tmp_path / ("1.csv.gz" if gz else "1.csv")
    path.write_bytes(gzip.compress(data) if gz else data)
    with pytest.raises(ValueError, match=r"1\.csv(\.gz)?: line 3, byte 6: not UTF-8") as e:
        w.load_bitbrains_file(path)
    assert str(path) in str(e.value) and not isinstance(e.value, UnicodeError)


def test_google2019_usage_with_non_utf8_bytes(tmp_path):
    path = tmp_path / "usage.json"
    path.write_bytes(b'{}\n{"a": "\xc3"}\n')
    with pytest.raises(ValueError, match="usage.json: line 2, byte 8: not UTF-8") as e:
        w.load_google2019(path)
    assert not isinstance(e.value, UnicodeError)


@pytest.mark.parametrize("bad", ["usage", "meta"])
def test_alibaba2018_with_non_utf8_bytes(tmp_path, bad):
    good = {"meta": b"c_1,m_1,0,app_1,started,400,400,1.5\n", "usage": b""}
    for name in ("usage", "meta"):
        (tmp_path / f"{name}.csv").write_bytes(b"\xfe,x\n" if name == bad else good[name])
    with pytest.raises(ValueError, match=f"{bad}.csv: line 1, byte 1: not UTF-8") as e:
        w.load_alibaba2018(tmp_path / "usage.csv", tmp_path / "meta.csv")
    assert not isinstance(e.value, UnicodeError)
