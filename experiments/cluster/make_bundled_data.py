"""Rebuild feedbackgym/envs/cluster/_data/bitbrains/ from the 30 shared Bitbrains VM files.

Usage: .venv/bin/python experiments/cluster/make_bundled_data.py [SHARED_FOLDER]

Keeps the six columns the envs read (timestamp, cores, provisioned MHz, used MHz, provisioned KB,
used KB) with their text exactly as published (same ';\\t' separator and header names), and the
first 14 days (4032 rows) of each VM, as the data's SOURCE.md asks ("a week or two"). Writes
gzip files with a zero mtime so the bytes are reproducible, then SHA256SUMS.
"""

import gzip
import hashlib
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
from feedbackgym.envs.cluster.workloads import BITBRAINS_COLUMNS, NAMED_SPLITS  # noqa: E402
from feedbackgym.files import atomic_write  # noqa: E402

ROWS = 14 * 288
src = Path(sys.argv[1] if len(sys.argv) > 1 else "/work/shared/data/cluster/bitbrains_rnd_2013-7")
dst = ROOT / "feedbackgym/envs/cluster/_data/bitbrains"
sums = []
for vm in sorted(NAMED_SPLITS["all"], key=lambda s: int(s[2:])):
    raw = (src / f"{vm}.csv").read_bytes()
    lines = raw.decode("utf-8").splitlines()
    names = [h.strip() for h in lines[0].split(";")]
    idx = [names.index(c) for c in BITBRAINS_COLUMNS]
    out = [";\t".join(BITBRAINS_COLUMNS)]
    for line in lines[1:1 + ROWS]:
        parts = line.split(";")
        out.append(";\t".join(parts[i].strip() for i in idx))
    data = gzip.compress(("\n".join(out) + "\n").encode(), compresslevel=9, mtime=0)
    atomic_write(dst / f"{vm}.csv.gz", data)
    sums.append(f"{hashlib.sha256(data).hexdigest()}  {vm}.csv.gz  (upstream {vm}.csv sha256 "
                f"{hashlib.sha256(raw).hexdigest()})")
atomic_write(dst / "SHA256SUMS", "\n".join(sums) + "\n")
print(f"wrote {len(sums)} files to {dst}")
