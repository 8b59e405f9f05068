"""Workloads: per-job series of requested vs used CPU and memory, one row per 5-minute window.

API (what the rightsizing and autoscaling envs read)::

    from feedbackgym.envs.cluster.workloads import load_workloads, Workload

    jobs = load_workloads("train")            # bundled Bitbrains split: "train" (20 VMs) or "test" (10)
    jobs = load_workloads("path/to/folder")   # a folder of GWA-T-12 Bitbrains VM CSVs, as published
    jobs = load_workloads("synthetic", seed=0, count=16, days=14)   # seeded generator
    w = jobs[0]
    w.name, w.timestamps_s, w.cpu_usage_cores, w.cpu_request_cores, w.memory_usage_mib,
    w.memory_request_mib, w.memory_peak_mib (None unless the trace records window peaks),
    w.job_class ("serving"|"batch"), w.oom_tolerance ("minimal"|"low"|"intermediate"), w.tasks

Every array has one entry per window (``len(w)`` windows); a window is nominally
:data:`WINDOW_S` = 300 s. Gaps in a trace (Bitbrains has a ~31 h monitoring gap) are not filled:
rows are consecutive windows of the job's *observed* life, and ``timestamps_s`` says when each
row was measured (time-of-day features come from it).

Loaders (each raises ``ValueError`` naming the file, line and column on bad input; nothing is
clipped silently):

* :func:`load_bitbrains` — GWA-T-12 Bitbrains (Shen, van Beek, Iosup, CCGrid 2015): one CSV per VM,
  ``;``-separated (``;\\t`` as published), header row; columns found by header name, so the
  bundled reduced files (6 columns, gzipped) and the published 11-column files both load. The
  "Timestamp [ms]" column holds Unix *seconds*. CPU cores = usage MHz / (provisioned MHz / cores).
  Memory "usage" is the window's *average* active memory: the env's peak model decides OOMs.
* :func:`load_google2019` — Google cluster-data 2019 ``instance_usage`` BigQuery exports
  (newline-delimited JSON, optionally gzipped, one file or a folder of shards; int64 fields
  as JSON strings), optionally with ``instance_events`` for the CPU request. One workload per
  instance (collection_id/instance_index). The window's ``maximum_usage.memory`` is the peak.
* :func:`load_alibaba2018` — Alibaba cluster-trace-v2018 ``container_usage.csv`` and
  ``container_meta.csv`` (headerless, ``schema.txt`` column order), binned into 5-minute windows
  (CPU mean, memory mean, memory maximum = peak).
* :func:`synthetic_workloads` — seeded generator: diurnal and weekly cycles, growth, bursts,
  roll-out steps, slow memory leaks with restarts, requests 2-3x usage, job classes.

Normalised traces (Google, Alibaba) are turned into cores and MiB with an assumed machine size
(``machine_cores``, ``machine_memory_mib`` arguments) — the traces do not publish it.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import math
import os
import warnings
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from collections.abc import Iterable, Sequence

import numpy as np

WINDOW_S = 300
WINDOWS_PER_DAY = 86400 // WINDOW_S
JOB_CLASSES = ("serving", "batch")
OOM_TOLERANCES = ("minimal", "low", "intermediate")

#: Bundled splits (see _data/SOURCE.md): name -> file names under _data/bitbrains/.
#: ``test`` = the five VMs hand-picked in the shared SOURCE.md for their features (resized,
#: strongly diurnal, well utilised, CPU-saturated, diurnal memory) + five of the random draw;
#: ``train`` = the other 20 random VMs. Fixed, disjoint; tests check disjointness by content.
TEST_VMS = ("vm84", "vm338", "vm386", "vm407", "vm420", "vm10", "vm202", "vm322", "vm446", "vm487")
TRAIN_VMS = ("vm28", "vm29", "vm34", "vm106", "vm107", "vm177", "vm226", "vm242", "vm271", "vm287",
             "vm354", "vm406", "vm423", "vm424", "vm442", "vm462", "vm468", "vm470", "vm482", "vm499")
NAMED_SPLITS = {"train": TRAIN_VMS, "test": TEST_VMS, "all": TRAIN_VMS + TEST_VMS}


@dataclass(frozen=True, eq=False)
class Workload:
    """One job's series, one entry per 5-minute window (see the module docstring).

    ``memory_peak_mib`` is the window's peak memory when the trace records it (Google 2019
    ``maximum_usage``, Alibaba samples); None when only the window average is known (Bitbrains),
    in which case the env's peak model turns averages into peaks.
    """

    name: str
    timestamps_s: np.ndarray
    cpu_usage_cores: np.ndarray
    cpu_request_cores: np.ndarray
    memory_usage_mib: np.ndarray
    memory_request_mib: np.ndarray
    memory_peak_mib: np.ndarray | None = None
    job_class: str = "serving"
    oom_tolerance: str = "low"
    tasks: int = 1
    source: str = ""
    cpu_mhz_per_core: float = math.nan

    def __post_init__(self):
        n = len(self.timestamps_s)
        if n == 0:
            raise ValueError(f"{self.source or self.name}: workload has no windows")
        for f in ("cpu_usage_cores", "cpu_request_cores", "memory_usage_mib", "memory_request_mib",
                  "memory_peak_mib"):
            a = getattr(self, f)
            if a is None:
                continue
            a = np.ascontiguousarray(a, dtype=np.float64)
            if a.shape != (n,):
                raise ValueError(f"{self.source or self.name}: {f} has shape {a.shape}, expected ({n},)")
            bad = np.flatnonzero(~np.isfinite(a) | (a < 0))
            if bad.size:
                raise ValueError(f"{self.source or self.name}: {f}[{bad[0]}] = {float(a[bad[0]])!r}: expected a "
                                 "finite non-negative number")
            a.setflags(write=False)
            object.__setattr__(self, f, a)
        t = np.ascontiguousarray(self.timestamps_s, dtype=np.int64)
        t.setflags(write=False)
        object.__setattr__(self, "timestamps_s", t)
        if self.job_class not in JOB_CLASSES:
            raise ValueError(f"{self.name}: job_class must be one of {JOB_CLASSES}, got {self.job_class!r}")
        if self.oom_tolerance not in OOM_TOLERANCES:
            raise ValueError(f"{self.name}: oom_tolerance must be one of {OOM_TOLERANCES}, got {self.oom_tolerance!r}")
        if not (isinstance(self.tasks, (int, np.integer)) and self.tasks >= 1):
            raise ValueError(f"{self.name}: tasks must be an integer >= 1, got {self.tasks!r}")

    def __len__(self) -> int:
        return len(self.timestamps_s)

    @property
    def days(self) -> float:
        return len(self) / WINDOWS_PER_DAY

    def content_hash(self) -> str:
        """sha256 of the series (not the name): what split-disjointness tests compare."""
        h = hashlib.sha256()
        for f in ("timestamps_s", "cpu_usage_cores", "memory_usage_mib"):
            h.update(np.ascontiguousarray(getattr(self, f)).tobytes())
        return h.hexdigest()

    def window(self, start: int, length: int | None = None) -> Workload:
        """Rows ``start .. start+length`` as a new workload (a training episode's slice)."""
        stop = len(self) if length is None else min(len(self), start + length)
        if not 0 <= start < stop:
            raise ValueError(f"{self.name}: window start {start} outside [0, {len(self)})")
        s = slice(start, stop)
        return Workload(self.name, self.timestamps_s[s], self.cpu_usage_cores[s], self.cpu_request_cores[s],
                        self.memory_usage_mib[s], self.memory_request_mib[s],
                        None if self.memory_peak_mib is None else self.memory_peak_mib[s],
                        self.job_class, self.oom_tolerance, self.tasks, self.source, self.cpu_mhz_per_core)


# --------------------------------------------------------------------------------- file helpers


def _open_binary(path: Path):
    return gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb")


def _open_text(path: Path) -> _Utf8Lines:
    return _Utf8Lines(path)


class _Utf8Lines:
    """A UTF-8 text file (plain or ``.gz``) read line by line, as a context manager.

    Bytes that are not UTF-8 raise ``ValueError`` naming the file and line (a bare
    ``UnicodeDecodeError`` names neither); every loader reads its files through this.
    """

    def __init__(self, path: Path):
        self.path = path
        self._f = io.TextIOWrapper(_open_binary(path), encoding="utf-8", newline="")

    def __enter__(self) -> _Utf8Lines:
        return self

    def __exit__(self, *exc) -> None:
        self._f.close()

    def readline(self) -> str:
        try:
            return self._f.readline()
        except UnicodeDecodeError as e:
            raise _not_utf8(self.path, e) from None

    def __iter__(self):
        while True:
            line = self.readline()
            if not line:
                return
            yield line


def _not_utf8(path: Path, e: UnicodeDecodeError) -> ValueError:
    """The error for a file that is not UTF-8; the line is found by re-reading the file (error path only)."""
    where = ""
    with _open_binary(path) as f:
        for line_no, raw in enumerate(f, start=1):
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError as bad:
                where = f" line {line_no}, byte {bad.start + 1}:"
                break
    return ValueError(f"{path}:{where} not UTF-8 text ({e.reason}); expected a UTF-8 (or ASCII) file")


def _number(path, line_no, col_no, col_name, text, *, integer=False, allow_empty=False):
    s = text.strip()
    if s == "" and allow_empty:
        return None
    try:
        v = int(s) if integer else float(s)
    except ValueError:
        raise ValueError(f"{path}: line {line_no}, column {col_no} ({col_name}): expected "
                         f"{'an integer' if integer else 'a number'}, got {s!r}") from None
    if not integer and not math.isfinite(v):
        raise ValueError(f"{path}: line {line_no}, column {col_no} ({col_name}): expected a finite number, got {s!r}")
    return v


# ------------------------------------------------------------------------------------ Bitbrains

#: header names (as published) of the columns the envs use, and the units they are in
BITBRAINS_COLUMNS = ("Timestamp [ms]", "CPU cores", "CPU capacity provisioned [MHZ]", "CPU usage [MHZ]",
                     "Memory capacity provisioned [KB]", "Memory usage [KB]")


def load_bitbrains_file(path: str | os.PathLike, *, name: str | None = None, job_class: str = "serving",
                        oom_tolerance: str = "low") -> Workload:
    """One GWA-T-12 Bitbrains VM file (plain or ``.gz``) as a :class:`Workload`."""
    path = Path(path)
    if name is None:
        name = path.name.split(".")[0]
    with _open_text(path) as f:
        header = f.readline()
        if not header.strip():
            raise ValueError(f"{path}: line 1: empty file, expected a header row with {list(BITBRAINS_COLUMNS)}")
        names = [h.strip() for h in header.rstrip("\r\n").split(";")]
        missing = [c for c in BITBRAINS_COLUMNS if c not in names]
        if missing:
            raise ValueError(f"{path}: line 1: header lacks column(s) {missing}; found {names}")
        idx = [names.index(c) for c in BITBRAINS_COLUMNS]
        rows: list = []
        for line_no, line in enumerate(f, start=2):
            if not line.strip():
                continue
            parts = line.rstrip("\r\n").split(";")
            if len(parts) != len(names):
                raise ValueError(f"{path}: line {line_no}: expected {len(names)} ';'-separated columns, "
                                 f"got {len(parts)}")
            row = []
            for k, i in enumerate(idx):
                v = _number(path, line_no, i + 1, BITBRAINS_COLUMNS[k], parts[i])
                if v < 0:
                    raise ValueError(f"{path}: line {line_no}, column {i + 1} ({BITBRAINS_COLUMNS[k]}): "
                                     f"expected a non-negative number, got {parts[i].strip()!r}")
                if k in (1, 2, 4) and v == 0:
                    raise ValueError(f"{path}: line {line_no}, column {i + 1} ({BITBRAINS_COLUMNS[k]}): "
                                     "expected a positive provisioned capacity, got 0")
                row.append(v)
            if rows and row[0] <= rows[-1][0]:
                raise ValueError(f"{path}: line {line_no}, column {idx[0] + 1} ({BITBRAINS_COLUMNS[0]}): "
                                 f"timestamps must increase, got {row[0]:.0f} after {rows[-1][0]:.0f}")
            rows.append(row)
    if not rows:
        raise ValueError(f"{path}: line 2: no data rows after the header")
    a = np.asarray(rows, dtype=np.float64)
    mhz_per_core = a[:, 2] / a[:, 1]
    return Workload(
        name=name, timestamps_s=a[:, 0].astype(np.int64),
        cpu_usage_cores=a[:, 3] / mhz_per_core, cpu_request_cores=a[:, 1].copy(),
        memory_usage_mib=a[:, 5] / 1024.0, memory_request_mib=a[:, 4] / 1024.0,
        job_class=job_class, oom_tolerance=oom_tolerance, tasks=1, source=str(path),
        cpu_mhz_per_core=float(np.median(mhz_per_core)))


def _vm_sort_key(p: Path):
    stem = p.name.split(".")[0]
    digits = "".join(ch for ch in stem if ch.isdigit())
    return (int(digits) if digits else -1, stem)


def load_bitbrains(folder: str | os.PathLike, names: Sequence[str] | None = None, **kw) -> list[Workload]:
    """Every ``*.csv``/``*.csv.gz`` VM file of ``folder`` (sorted by VM number), or only ``names``."""
    folder = Path(folder)
    if folder.is_file():
        return [load_bitbrains_file(folder, **kw)]
    if not folder.is_dir():
        raise ValueError(f"{folder}: no such workload file or folder")
    files = sorted([p for p in folder.iterdir() if p.name.endswith((".csv", ".csv.gz"))], key=_vm_sort_key)
    if names is not None:
        by_name = {p.name.split(".")[0]: p for p in files}
        missing = [n for n in names if n not in by_name]
        if missing:
            raise ValueError(f"{folder}: missing VM file(s) {missing}")
        files = [by_name[n] for n in names]
    if not files:
        raise ValueError(f"{folder}: no .csv or .csv.gz VM files")
    return [load_bitbrains_file(p, **kw) for p in files]


def bundled_folder() -> Path:
    return Path(str(resources.files("feedbackgym.envs.cluster") / "_data" / "bitbrains"))


# ---------------------------------------------------------------------------- Google 2019


def _json_lines(path: Path) -> Iterable[tuple[Path, int, dict]]:
    files = sorted(p for p in path.iterdir() if p.name.endswith((".json", ".json.gz"))) if path.is_dir() else [path]
    if not files:
        raise ValueError(f"{path}: no .json or .json.gz files")
    for p in files:
        with _open_text(p) as f:
            for line_no, line in enumerate(f, start=1):
                if not line.strip():
                    continue
                try:
                    obj = json.loads(line)
                except json.JSONDecodeError as e:
                    raise ValueError(f"{p}: line {line_no}, column {e.colno}: invalid JSON ({e.msg})") from None
                if not isinstance(obj, dict):
                    raise ValueError(f"{p}: line {line_no}, column 1: expected a JSON object per line")
                yield p, line_no, obj


def _field(p, line_no, obj, dotted, *, integer=False, required=True):
    v = obj
    for part in dotted.split("."):
        v = v.get(part) if isinstance(v, dict) else None
        if v is None:
            v = obj.get(dotted.replace(".", "_"), obj.get(dotted))  # flattened exports
            break
    if v is None:
        if required:
            raise ValueError(f"{p}: line {line_no}, field {dotted}: missing")
        return None
    try:
        out = int(v) if integer else float(v)
    except (TypeError, ValueError):
        raise ValueError(f"{p}: line {line_no}, field {dotted}: expected {'an integer' if integer else 'a number'}, "
                         f"got {v!r}") from None
    if not integer and (not math.isfinite(out) or out < 0):
        raise ValueError(f"{p}: line {line_no}, field {dotted}: expected a finite non-negative number, got {v!r}")
    return out


def load_google2019(usage_path: str | os.PathLike, events_path: str | os.PathLike | None = None, *,
                    machine_cores: float = 64.0, machine_memory_mib: float = 262144.0,
                    job_class: str = "serving", oom_tolerance: str = "low") -> list[Workload]:
    """Google cluster-data 2019 ``instance_usage`` (+ optional ``instance_events``) as workloads.

    Units: NCU x ``machine_cores`` = cores, normalised memory x ``machine_memory_mib`` = MiB (the
    trace hides the largest machine's size; these defaults are assumptions, pass your own).
    Memory request = the window's ``assigned_memory`` (the limit the Borglet set). CPU request =
    the instance's latest ``resource_request.cpus`` at or before the window (events), or, without
    events, the maximum of ``maximum_usage.cpus`` over the instance's windows (documented stand-in).
    Only rows outside an alloc (``alloc_collection_id`` 0 or absent) are kept, as in Google's colab.
    The window peak is ``maximum_usage.memory``; absent or 0 falls back to the average.
    """
    usage_path = Path(usage_path)
    series: dict[tuple[int, int], list] = {}
    for p, ln, obj in _json_lines(usage_path):
        alloc = _field(p, ln, obj, "alloc_collection_id", integer=True, required=False)
        if alloc not in (None, 0):
            continue
        start = _field(p, ln, obj, "start_time", integer=True)
        end = _field(p, ln, obj, "end_time", integer=True)
        if end <= start:
            raise ValueError(f"{p}: line {ln}, field end_time: {end} is not after start_time {start}")
        key = (_field(p, ln, obj, "collection_id", integer=True), _field(p, ln, obj, "instance_index", integer=True))
        avg_cpu = _field(p, ln, obj, "average_usage.cpus")
        avg_mem = _field(p, ln, obj, "average_usage.memory")
        max_cpu = _field(p, ln, obj, "maximum_usage.cpus", required=False) or avg_cpu
        max_mem = _field(p, ln, obj, "maximum_usage.memory", required=False) or avg_mem
        assigned = _field(p, ln, obj, "assigned_memory")
        series.setdefault(key, []).append((start, avg_cpu, max_cpu, avg_mem, max(max_mem, avg_mem), assigned))
    requests: dict[tuple[int, int], list] = {}
    if events_path is not None:
        for p, ln, obj in _json_lines(Path(events_path)):
            cpus = _field(p, ln, obj, "resource_request.cpus", required=False)
            if cpus is None:
                continue
            key = (_field(p, ln, obj, "collection_id", integer=True),
                   _field(p, ln, obj, "instance_index", integer=True))
            requests.setdefault(key, []).append((_field(p, ln, obj, "time", integer=True), cpus))
    out = []
    for key in sorted(series):
        rows = np.asarray(sorted(series[key]), dtype=np.float64)
        t_us = rows[:, 0]
        if key in requests:
            ev = sorted(requests[key])
            ev_t = np.asarray([e[0] for e in ev], dtype=np.float64)
            ev_v = np.asarray([e[1] for e in ev])
            i = np.searchsorted(ev_t, t_us, side="right") - 1
            cpu_req = np.where(i >= 0, ev_v[np.maximum(i, 0)], ev_v[0])
        else:
            cpu_req = np.full(len(rows), rows[:, 2].max())
        out.append(Workload(
            name=f"{key[0]}/{key[1]}", timestamps_s=(t_us // 1_000_000).astype(np.int64),
            cpu_usage_cores=rows[:, 1] * machine_cores, cpu_request_cores=cpu_req * machine_cores,
            memory_usage_mib=rows[:, 3] * machine_memory_mib, memory_request_mib=rows[:, 5] * machine_memory_mib,
            memory_peak_mib=rows[:, 4] * machine_memory_mib, job_class=job_class, oom_tolerance=oom_tolerance,
            source=str(usage_path)))
    if not out:
        raise ValueError(f"{usage_path}: no instance_usage rows outside allocs")
    return out


# ---------------------------------------------------------------------------- Alibaba 2018

ALIBABA_META_COLUMNS = ("container_id", "machine_id", "time_stamp", "app_du", "status", "cpu_request",
                        "cpu_limit", "mem_size")
ALIBABA_USAGE_COLUMNS = ("container_id", "machine_id", "time_stamp", "cpu_util_percent", "mem_util_percent",
                         "cpi", "mem_gps", "mpki", "net_in", "net_out", "disk_io_percent")


def _csv_rows(path: Path, columns: Sequence[str]):
    with _open_text(path) as f:
        any_row = False
        for line_no, line in enumerate(f, start=1):
            if not line.strip():
                continue
            parts = line.rstrip("\r\n").split(",")
            if len(parts) != len(columns):
                raise ValueError(f"{path}: line {line_no}: expected {len(columns)} comma-separated columns "
                                 f"({', '.join(columns)}), got {len(parts)}")
            any_row = True
            yield line_no, parts
        if not any_row:
            raise ValueError(f"{path}: line 1: empty file")


def load_alibaba2018(usage_path: str | os.PathLike, meta_path: str | os.PathLike, *,
                     machine_memory_mib: float = 65536.0, job_class: str = "serving",
                     oom_tolerance: str = "low") -> list[Workload]:
    """Alibaba cluster-trace-v2018 containers as workloads (5-minute windows from the samples).

    ``cpu_request`` is in 1/100 cores; ``cpu_util_percent`` is read as percent of the request
    (the schema does not say of what; this is the common reading); ``mem_size`` is normalised
    [0, 100] of ``machine_memory_mib`` (an assumption) and ``mem_util_percent`` percent of it.
    Samples whose utilisation is empty or the documented invalid codes -1/101 are dropped with a
    warning giving their count; windows with no valid sample are gaps. The memory request is the
    latest ``mem_size`` at or before the window.
    """
    usage_path, meta_path = Path(usage_path), Path(meta_path)
    meta: dict[str, list] = {}
    for ln, parts in _csv_rows(meta_path, ALIBABA_META_COLUMNS):
        cid = parts[0].strip()
        t = _number(meta_path, ln, 3, "time_stamp", parts[2], integer=True)
        cpu_req = _number(meta_path, ln, 6, "cpu_request", parts[5])
        mem = _number(meta_path, ln, 8, "mem_size", parts[7])
        if cpu_req <= 0:
            raise ValueError(f"{meta_path}: line {ln}, column 6 (cpu_request): expected a positive number, "
                             f"got {parts[5]!r}")
        if not 0 < mem <= 100:
            raise ValueError(f"{meta_path}: line {ln}, column 8 (mem_size): expected a number in (0, 100], "
                             f"got {parts[7]!r}")
        meta.setdefault(cid, []).append((t, cpu_req / 100.0, mem / 100.0 * machine_memory_mib))
    samples: dict[str, list] = {}
    dropped = 0
    for ln, parts in _csv_rows(usage_path, ALIBABA_USAGE_COLUMNS):
        cid = parts[0].strip()
        t = _number(usage_path, ln, 3, "time_stamp", parts[2], integer=True)
        cpu = _number(usage_path, ln, 4, "cpu_util_percent", parts[3], allow_empty=True)
        mem = _number(usage_path, ln, 5, "mem_util_percent", parts[4], allow_empty=True)
        if cpu is None or mem is None or cpu in (-1, 101) or mem in (-1, 101):
            dropped += 1
            continue
        if cpu < 0 or mem < 0 or mem > 100:
            col, v = (4, parts[3]) if (cpu < 0) else (5, parts[4])
            raise ValueError(f"{usage_path}: line {ln}, column {col} ({ALIBABA_USAGE_COLUMNS[col - 1]}): "
                             f"expected a percentage >= 0 (memory <= 100) or the invalid codes -1/101, got {v!r}")
        if cid not in meta:
            raise ValueError(f"{usage_path}: line {ln}, column 1 (container_id): {cid!r} has no container_meta row")
        samples.setdefault(cid, []).append((t, cpu, mem))
    if dropped:
        warnings.warn(f"{usage_path}: dropped {dropped} sample(s) with empty or invalid (-1/101) utilisation",
                      stacklevel=2)
    out = []
    for cid in sorted(samples):
        m = sorted(meta[cid])
        m_t = np.asarray([r[0] for r in m], dtype=np.int64)
        s = np.asarray(sorted(samples[cid]), dtype=np.float64)
        win = (s[:, 0] // WINDOW_S).astype(np.int64)
        uniq, first = np.unique(win, return_index=True)
        bounds = np.append(first, len(s))
        t0 = uniq * WINDOW_S
        i = np.maximum(np.searchsorted(m_t, t0, side="right") - 1, 0)
        cpu_req = np.asarray([m[k][1] for k in i])
        mem_req = np.asarray([m[k][2] for k in i])
        cpu_mean = np.asarray([s[a:b, 1].mean() for a, b in zip(bounds[:-1], bounds[1:])])
        mem_mean = np.asarray([s[a:b, 2].mean() for a, b in zip(bounds[:-1], bounds[1:])])
        mem_max = np.asarray([s[a:b, 2].max() for a, b in zip(bounds[:-1], bounds[1:])])
        out.append(Workload(
            name=cid, timestamps_s=t0, cpu_usage_cores=cpu_mean / 100.0 * cpu_req, cpu_request_cores=cpu_req,
            memory_usage_mib=mem_mean / 100.0 * mem_req, memory_request_mib=mem_req,
            memory_peak_mib=mem_max / 100.0 * mem_req, job_class=job_class, oom_tolerance=oom_tolerance,
            source=str(usage_path)))
    if not out:
        raise ValueError(f"{usage_path}: no valid container_usage samples")
    return out


# ---------------------------------------------------------------------------- synthetic


@dataclass(frozen=True)
class SyntheticSpec:
    """Ranges the generator draws each job's parameters from (uniform unless said otherwise)."""

    days: float = 14.0
    memory_base_mib: tuple = (100.0, 16000.0)      # log-uniform
    cpu_base_cores: tuple = (0.02, 4.0)            # log-uniform
    diurnal_amplitude: tuple = (0.0, 0.6)          # fraction of the base, CPU (memory gets a third)
    weekend_dip: tuple = (0.0, 0.4)                # fraction removed on Saturday and Sunday
    growth_per_day: tuple = (-0.005, 0.02)
    bursts_per_day: tuple = (0.0, 2.0)             # Poisson rate; each lasts 1-6 windows
    burst_factor: tuple = (1.3, 3.0)
    rollouts_per_week: tuple = (0.0, 2.0)          # Poisson rate of step changes in usage
    rollout_factor: tuple = (0.7, 1.6)             # log-uniform step multiplier
    leak_probability: float = 0.3                  # chance that the job leaks memory
    leak_per_day: tuple = (0.05, 0.5)              # fraction of base memory per day, reset at restarts
    restart_every_days: tuple = (1.0, 7.0)
    request_factor: tuple = (2.0, 3.0)             # request = factor x p95 usage (the 2-3x over-ask)
    batch_fraction: float = 0.3
    tasks: tuple = (1, 50)                         # log-uniform integer


def synthetic_workload(rng: np.random.Generator, spec: SyntheticSpec = SyntheticSpec(), name: str = "synthetic",
                       start_s: int = 1_372_629_600) -> Workload:
    """One seeded synthetic job (see :class:`SyntheticSpec` for what varies)."""
    def u(r):
        return float(rng.uniform(r[0], r[1]))

    def logu(r):
        return float(math.exp(rng.uniform(math.log(r[0]), math.log(r[1]))))

    n = max(1, int(round(spec.days * WINDOWS_PER_DAY)))
    start_s = int(start_s + rng.integers(0, 7) * 86400)
    t = start_s + WINDOW_S * np.arange(n, dtype=np.int64)
    hour = (t % 86400) / 3600.0
    weekday = (t // 86400 + 3) % 7            # 1970-01-01 was a Thursday (3 = Mon-based index)
    day = np.arange(n) / WINDOWS_PER_DAY
    phase = u((0.0, 24.0))
    diurnal = np.sin(2 * np.pi * (hour - phase) / 24.0)
    a_cpu = u(spec.diurnal_amplitude)
    weekend = np.where(weekday >= 5, 1.0 - u(spec.weekend_dip), 1.0)
    growth = np.maximum(0.05, 1.0 + u(spec.growth_per_day) * day)
    steps = np.ones(n)
    n_roll = rng.poisson(u(spec.rollouts_per_week) * spec.days / 7.0)
    for at in rng.integers(0, n, size=n_roll):
        steps[at:] *= logu(spec.rollout_factor)
    cpu = logu(spec.cpu_base_cores) * (1 + a_cpu * diurnal) * weekend * growth * steps
    mem_base = logu(spec.memory_base_mib)
    mem = mem_base * (1 + a_cpu / 3 * diurnal) * np.sqrt(weekend) * growth * np.sqrt(steps)
    bursts = np.ones(n)
    for at in rng.integers(0, n, size=rng.poisson(u(spec.bursts_per_day) * spec.days)):
        bursts[at:at + int(rng.integers(1, 7))] *= u(spec.burst_factor)
    cpu = cpu * bursts * rng.lognormal(0.0, 0.2, n)
    mem = mem * np.sqrt(bursts) * rng.lognormal(0.0, 0.03, n)
    if rng.random() < spec.leak_probability:
        period = max(1, int(u(spec.restart_every_days) * WINDOWS_PER_DAY))
        offset = int(rng.integers(0, period))
        age_days = ((np.arange(n) + offset) % period) / WINDOWS_PER_DAY
        mem = mem + mem_base * u(spec.leak_per_day) * age_days
    cpu_req = u(spec.request_factor) * float(np.percentile(cpu, 95))
    mem_req = u(spec.request_factor) * float(np.percentile(mem, 95))
    batch = rng.random() < spec.batch_fraction
    tasks = int(round(logu((max(1, spec.tasks[0]), max(1, spec.tasks[1])))))
    tolerance = OOM_TOLERANCES[int(rng.integers(0, 3))]
    return Workload(name=name, timestamps_s=t, cpu_usage_cores=cpu, cpu_request_cores=np.full(n, cpu_req),
                    memory_usage_mib=mem, memory_request_mib=np.full(n, mem_req),
                    job_class="batch" if batch else "serving", oom_tolerance=tolerance, tasks=tasks,
                    source="synthetic")


def synthetic_workloads(seed: int = 0, count: int = 16, spec: SyntheticSpec | None = None, **spec_kw) -> list[Workload]:
    """``count`` seeded synthetic jobs named ``synthetic_<seed>_<i>``; ``spec_kw`` override
    :class:`SyntheticSpec` fields (``days=30``...)."""
    spec = spec or SyntheticSpec(**spec_kw)
    rng = np.random.default_rng(seed)
    return [synthetic_workload(rng, spec, name=f"synthetic_{seed}_{i}") for i in range(count)]


# ---------------------------------------------------------------------------- entry point

_CACHE: dict = {}


def _is_mix(source) -> bool:
    """``"a+b"`` with every part a bundled split or ``"synthetic"`` (an opt-in training mix)."""
    parts = source.split("+") if isinstance(source, str) else []
    return len(parts) > 1 and all(p == "synthetic" or p in NAMED_SPLITS for p in parts)


def load_workloads(source: str | os.PathLike = "train", *, seed: int = 0, count: int = 16, days: float = 14.0,
                   job_class: str = "serving", oom_tolerance: str = "low") -> list[Workload]:
    """Workloads by name or path: ``"train"``, ``"test"``, ``"all"`` (bundled Bitbrains splits),
    ``"synthetic"`` (``count`` jobs of ``days`` days from ``seed``), a mix of those joined by ``+``
    (``"train+synthetic"``: the 20 train VMs then the synthetic jobs), or a Bitbrains folder/file.
    Bundled and folder loads are cached per process (workloads are immutable)."""
    key = (str(source), seed, count, days, job_class, oom_tolerance)
    if key in _CACHE:
        return _CACHE[key]
    if source == "synthetic":
        out = synthetic_workloads(seed, count, days=days)
    elif _is_mix(source):               # e.g. "train+synthetic": the parts' jobs, in order
        out = [w for part in str(source).split("+")
               for w in load_workloads(part, seed=seed, count=count, days=days, job_class=job_class,
                                       oom_tolerance=oom_tolerance)]
    elif isinstance(source, str) and source in NAMED_SPLITS:
        out = load_bitbrains(bundled_folder(), names=NAMED_SPLITS[source], job_class=job_class,
                             oom_tolerance=oom_tolerance)
    else:
        out = load_bitbrains(source, job_class=job_class, oom_tolerance=oom_tolerance)
    _CACHE[key] = out
    return out
