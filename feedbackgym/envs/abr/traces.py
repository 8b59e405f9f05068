"""Network traces: loading, validation and the packed form the simulators read.

A trace is a list of rows ``(time_s, throughput_mbps)``. Following Pensieve, row ``j >= 1``
describes the interval ``[time_s[j-1], time_s[j]]`` at ``throughput_mbps[j]``; row 0 only
anchors the clock (its throughput is never used). When a download reaches the end of the trace
the link starts again at row 1 with the clock at 0 (Pensieve's wrap rule).

Times are shifted so that the first row is at 0 s; every bundled trace already starts at 0, and
the shift keeps Pensieve's wrap rule (which restarts the clock at 0) consistent for user traces.

Formats read here:

* ``two_column``: ``time_s throughput_Mbps`` per line, whitespace separated (Pensieve, Genet).
* ``mahimahi``: one integer per line, the millisecond of a 1500-byte delivery opportunity
  (Mahimahi's ``mm-link`` format); binned into ``mahimahi_bin_ms`` intervals.
* ``sabre_json``: Sabre's network JSON, a list of ``{"duration_ms", "bandwidth_kbps",
  "latency_ms"}`` periods. Latency is not per-period in this simulator (the env's ``rtt_ms``
  applies), so a warning says when it is ignored.

All parse errors are ``ValueError`` naming the file and line. Values must lie in physical bounds
(``MAX_THROUGHPUT_MBPS``, ``MIN_INTERVAL_S``, ``MAX_DURATION_S``, ``MIN_MEAN_THROUGHPUT_MBPS``): far
outside them the simulator's float arithmetic overflows (a 1e306 Mbps row made the link deliver
``inf`` bytes and crashed a download with an IndexError), so such a trace is refused when loaded,
never clipped. Comma-separated files are reported as such (the formats are whitespace separated).
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import os
import warnings
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from collections.abc import Sequence

import numpy as np

#: Fraction of the link's bytes that carry payload (Pensieve's PACKET_PAYLOAD_PORTION).
PAYLOAD_FRACTION = 0.95
MAHIMAHI_PACKET_BYTES = 1500
#: Physical bounds of a trace (see the module docstring): 1 Tbit/s, 1 us, ~116 days, 1 bit/s.
MAX_THROUGHPUT_MBPS = 1e6
MIN_INTERVAL_S = 1e-6
MAX_DURATION_S = 1e7
MIN_MEAN_THROUGHPUT_MBPS = 1e-6
#: Most rows a Mahimahi trace may expand to (its duration / bin width).
MAX_MAHIMAHI_BINS = 10_000_000

#: Named splits shipped in the package (see _data/SOURCE.md for provenance, terms and overlap):
#: name -> (bundled folder, which of its files). ``hsdpa_holdout`` is every 4th Norway HSDPA
#: trace of train_127 in sorted order (17 traces); ``train_fit`` is the other 110. Training on
#: ``train_fit`` leaves a mobile (3G) test set that no agent has seen, since Pensieve's own
#: 142-trace HSDPA test set is not bundled — but 16 of those 17 traces ride routes that
#: ``train_fit`` also holds, and one lies inside a ``train_fit`` trace. ``hsdpa_route_holdout``
#: (17 traces) holds out whole routes (``HOLDOUT_ROUTES``) and ``train_route_fit`` (110) is the
#: rest. ``fcc_test`` shares content with ``train_127`` (see :mod:`.overlap`); ``fcc_test_clean``
#: is the 119 of its 290 traces that share none, defined by content and pinned by checksums.
NAMED_SPLITS = {
    "train": ("train_127", "all"),
    "train_127": ("train_127", "all"),
    "fcc_test": ("fcc_test_290", "all"),
    "fcc_test_290": ("fcc_test_290", "all"),
    "train_fit": ("train_127", "fit"),
    "hsdpa_holdout": ("train_127", "holdout"),
    "fcc_test_clean": ("fcc_test_290", "clean"),
    "train_route_fit": ("train_127", "route_fit"),
    "hsdpa_route_holdout": ("train_127", "route_holdout"),
}
#: Splits agents train on; every other named split is a test split of the ones TEST_SPLIT_FOR
#: lists, and must share no content with them (tests/abr/test_abr_splits.py).
TRAINING_SPLITS = ("train", "train_127", "train_fit", "train_route_fit")
TEST_SPLIT_FOR = {
    "fcc_test_clean": TRAINING_SPLITS,
    "hsdpa_route_holdout": ("train_route_fit",),
    "hsdpa_holdout": ("train_fit",),       # overlaps: one trace lies inside a train_fit trace
    "fcc_test": TRAINING_SPLITS,           # overlaps: the field's public split, kept for comparability
    "fcc_test_290": TRAINING_SPLITS,
}
#: Norway HSDPA routes (``<mode>.<from>-<to>``, file name before ``-report``) held out whole by
#: ``hsdpa_route_holdout``: bus, car and tram routes, 17 traces, none of them ridden in training.
HOLDOUT_ROUTES = ("bus.ljansbakken-oslo", "car.snaroya-smestad", "car.aarnes-elverum",
                  "tram.jernbanetorget-universitetssykehuset")
#: checksum list (in the fcc_test_290 folder) pinning the content-defined fcc_test_clean
FCC_TEST_CLEAN_SUMS = "fcc_test_clean.sha256"
TRACE_FORMATS = ("auto", "two_column", "mahimahi", "sabre_json")
#: Files in a trace folder that are documentation, not traces.
_SKIPPED_SUFFIXES = (".md", ".rst", ".sha256")
_SKIPPED_NAMES = ("SHA256SUMS", "README", "LICENSE")


@dataclass(frozen=True)
class Trace:
    """One bandwidth trace, validated, with its clock starting at 0 s."""

    name: str
    time_s: np.ndarray
    throughput_mbps: np.ndarray

    @property
    def mean_throughput_mbps(self) -> float:
        """Time-weighted mean over the intervals the simulator uses (rows 1..n-1)."""
        dt = np.diff(self.time_s)
        return float(np.sum(dt * self.throughput_mbps[1:]) / np.sum(dt))


def _fail(path: str | os.PathLike, line: int | None, what: str) -> ValueError:
    where = f"{path}:{line}" if line is not None else f"{path}"
    return ValueError(f"{where}: {what}")


def _validated(name: str, path, time_s: list, thr: list, lines: list) -> Trace:
    """Check the rows of one trace; ``lines`` gives the file line of each row for errors."""
    if len(time_s) == 0:
        raise _fail(path, None, "empty trace: expected rows of 'time_s throughput_Mbps'")
    if len(time_s) == 1:
        raise _fail(path, lines[0], "a trace needs at least 2 rows (one interval); found 1")
    for t, b, ln in zip(time_s, thr, lines):
        if not math.isfinite(t):
            raise _fail(path, ln, f"time {t!r} is not a finite number")
        if not math.isfinite(b):
            raise _fail(path, ln, f"throughput {b!r} is not a finite number (expected Mbps >= 0)")
        if b < 0:
            raise _fail(path, ln, f"throughput {b!r} is negative (expected Mbps >= 0)")
        if b > MAX_THROUGHPUT_MBPS:
            raise _fail(path, ln, f"throughput {b!r} Mbps exceeds {MAX_THROUGHPUT_MBPS:g} Mbps (1 Tbit/s); "
                                  "expected Mbps (is the column in bit/s?)")
    for j in range(1, len(time_s)):
        if not time_s[j] > time_s[j - 1]:
            raise _fail(
                path, lines[j],
                f"time {time_s[j]!r} s does not increase (previous row: {time_s[j - 1]!r} s)",
            )
    t = np.asarray(time_s, dtype=np.float64)
    b = np.asarray(thr, dtype=np.float64)
    with np.errstate(over="ignore", invalid="ignore"):
        t = t - t[0]
        dt = np.diff(t)
    if not t[-1] <= MAX_DURATION_S:
        raise _fail(path, None, f"the trace spans {float(t[-1]):.6g} s; expected at most {MAX_DURATION_S:g} s "
                                "(times in seconds?)")
    short = np.flatnonzero(~(dt >= MIN_INTERVAL_S))
    if len(short):
        j = int(short[0]) + 1
        raise _fail(path, lines[j], f"time {time_s[j]!r} s is only {float(dt[j - 1]):.3g} s after the previous "
                                    f"row; expected intervals of at least {MIN_INTERVAL_S:g} s")
    if not np.any(b[1:] > 0):
        raise _fail(path, None, "throughput is zero on every interval: no byte can be delivered")
    mean = float(np.sum(dt * b[1:]) / t[-1])
    if not mean >= MIN_MEAN_THROUGHPUT_MBPS:
        raise _fail(path, None, f"mean throughput {mean:.3g} Mbps is below {MIN_MEAN_THROUGHPUT_MBPS:g} Mbps "
                                "(1 bit/s): a chunk would never arrive")
    return Trace(name=name, time_s=t, throughput_mbps=b)


def parse_two_column(text: str, path: str | os.PathLike = "<string>", name: str | None = None) -> Trace:
    """Parse Pensieve's ``time_s throughput_Mbps`` format."""
    times, thr, lines = [], [], []
    for ln, raw in enumerate(text.splitlines(), start=1):
        parts = raw.split()
        if not parts or parts[0].startswith("#"):
            continue
        if len(parts) != 2:
            if "," in raw:
                raise _csv_error(path, ln, raw)
            raise _fail(path, ln, f"expected 2 columns 'time_s throughput_Mbps', found {len(parts)}: {raw.strip()!r}")
        try:
            t, b = float(parts[0]), float(parts[1])
        except ValueError:
            if "," in raw:
                raise _csv_error(path, ln, raw) from None
            raise _fail(path, ln,
                        f"non-numeric value in {raw.strip()[:80]!r} (expected 'time_s throughput_Mbps')") from None
        times.append(t)
        thr.append(b)
        lines.append(ln)
    return _validated(name or Path(str(path)).name, path, times, thr, lines)


def parse_mahimahi(text: str, path: str | os.PathLike = "<string>", name: str | None = None,
                   bin_ms: float = 500.0) -> Trace:
    """Convert a Mahimahi trace (ms of each 1500-byte delivery opportunity) to throughput rows.

    Opportunities are counted per ``bin_ms`` bin; the trace's period is its last timestamp
    (Mahimahi repeats a trace from the start), rounded up to whole bins.
    """
    if not bin_ms > 0:
        raise ValueError(f"mahimahi_bin_ms must be > 0, got {bin_ms!r}")
    stamps, last = [], -1
    for ln, raw in enumerate(text.splitlines(), start=1):
        s = raw.strip()
        if not s or s.startswith("#"):
            continue
        try:
            v = int(s)
        except ValueError:
            if "," in s:
                raise _csv_error(path, ln, raw) from None
            raise _fail(path, ln,
                        f"expected one integer millisecond per line (Mahimahi format), got {s[:80]!r}") from None
        if v < 0:
            raise _fail(path, ln, f"timestamp {v} ms is negative")
        if v < last:
            raise _fail(path, ln, f"timestamp {v} ms is earlier than the previous one ({last} ms)")
        stamps.append(v)
        last = v
    if not stamps:
        raise _fail(path, None, "empty Mahimahi trace: expected one integer millisecond per line")
    if stamps[-1] <= 0:
        raise _fail(path, None, "Mahimahi trace lasts 0 ms: its last timestamp must be > 0")
    n_bins = max(1, math.ceil(stamps[-1] / bin_ms))
    if n_bins > MAX_MAHIMAHI_BINS:
        raise _fail(path, None, f"last timestamp {stamps[-1]} ms gives {n_bins} bins of {bin_ms:g} ms; expected at "
                                f"most {MAX_MAHIMAHI_BINS} (milliseconds? a larger mahimahi_bin_ms?)")
    # A stamp at exactly k*bin_ms belongs to bin k-1 (delivered by the end of that bin).
    idx = np.clip(np.ceil(np.asarray(stamps, dtype=np.float64) / bin_ms).astype(np.int64) - 1, 0, n_bins - 1)
    counts = np.bincount(idx, minlength=n_bins)
    mbps = counts * MAHIMAHI_PACKET_BYTES * 8 / (bin_ms / 1000.0) / 1e6
    times = [k * bin_ms / 1000.0 for k in range(n_bins + 1)]
    thr = [float(mbps[0])] + [float(x) for x in mbps]  # row 0 only anchors the clock
    return _validated(name or Path(str(path)).name, path, times, thr, [None] * len(times))


def parse_sabre_json(text: str, path: str | os.PathLike = "<string>", name: str | None = None) -> Trace:
    """Convert Sabre's network JSON (list of periods) to throughput rows."""
    try:
        periods = json.loads(text)
    except json.JSONDecodeError as e:
        raise _fail(path, e.lineno, f"invalid JSON: {e.msg}") from None
    if not isinstance(periods, list) or not periods:
        raise _fail(path, None, "expected a non-empty JSON list of {duration_ms, bandwidth_kbps} periods")
    times, thr, ignored_latency = [0.0], [], False
    for i, p in enumerate(periods):
        if not isinstance(p, dict) or "duration_ms" not in p or "bandwidth_kbps" not in p:
            raise _fail(path, None, f"period {i}: expected an object with 'duration_ms' and 'bandwidth_kbps'")
        try:
            d, bw = float(p["duration_ms"]), float(p["bandwidth_kbps"])
        except (TypeError, ValueError, OverflowError):
            raise _fail(path, None, f"period {i}: duration_ms and bandwidth_kbps must be numbers") from None
        if isinstance(p["duration_ms"], bool) or isinstance(p["bandwidth_kbps"], bool):
            raise _fail(path, None, f"period {i}: duration_ms and bandwidth_kbps must be numbers, not true/false")
        if not (math.isfinite(d) and d > 0):
            raise _fail(path, None, f"period {i}: duration_ms must be a finite number > 0, got {p['duration_ms']!r}")
        times.append(times[-1] + d / 1000.0)
        thr.append(bw / 1000.0)
        ignored_latency |= "latency_ms" in p
    if ignored_latency:
        warnings.warn(f"{path}: per-period latency_ms is ignored; the env's rtt_ms applies to every chunk",
                      stacklevel=2)
    thr = [thr[0]] + thr
    return _validated(name or Path(str(path)).name, path, times, thr, [None] * len(times))


def _csv_error(path, line: int, raw: str) -> ValueError:
    return _fail(path, line, f"comma-separated values {raw.strip()[:80]!r}: trace files are whitespace separated "
                             "('time_s throughput_Mbps' per line, or one integer millisecond per line for "
                             "Mahimahi); replace the commas with spaces")


def _detect_format(text: str, path) -> str:
    if str(path).endswith(".json") or text.lstrip().startswith("["):
        return "sabre_json"
    for ln, raw in enumerate(text.splitlines(), start=1):
        parts = raw.split()
        if parts and not parts[0].startswith("#"):
            if "," in raw:  # neither format has commas
                raise _csv_error(path, ln, raw)
            return "mahimahi" if len(parts) == 1 else "two_column"
    return "two_column"  # empty: the parser reports it


def load_trace(path: str | os.PathLike, fmt: str = "auto", mahimahi_bin_ms: float = 500.0) -> Trace:
    """Load one trace file in any supported format."""
    if fmt not in TRACE_FORMATS:
        raise ValueError(f"trace_format must be one of {TRACE_FORMATS}, got {fmt!r}")
    p = Path(path)
    try:
        text = p.read_text()
    except UnicodeDecodeError:
        raise _fail(p, None, "not a text file (expected a trace)") from None
    except IsADirectoryError:
        raise _fail(p, None, "is a folder; expected a trace file") from None
    if fmt == "auto":
        fmt = _detect_format(text, p)
    if fmt == "two_column":
        return parse_two_column(text, p)
    if fmt == "mahimahi":
        return parse_mahimahi(text, p, bin_ms=mahimahi_bin_ms)
    return parse_sabre_json(text, p)


def trace_files(folder: str | os.PathLike) -> list[Path]:
    """The trace files of a folder, in sorted name order (the order evaluations play them).

    Only the folder's own files are traces; sub-folders are not searched (a split is one folder),
    and a warning names them so that traces kept there are not lost without notice.
    """
    p = Path(folder)
    entries = [f for f in p.iterdir() if not f.name.startswith(".")]
    subdirs = sorted(f.name for f in entries if f.is_dir() and f.name != "__pycache__")
    files = sorted(
        f for f in entries
        if f.is_file() and not f.name.endswith(_SKIPPED_SUFFIXES) and f.name not in _SKIPPED_NAMES
    )
    if not files:
        extra = f" (it has sub-folders {subdirs[:5]}; point traces= at one of them)" if subdirs else ""
        raise ValueError(f"{p}: folder holds no trace files{extra}")
    if subdirs:
        warnings.warn(f"{p}: sub-folder(s) {subdirs[:5]}{' ...' if len(subdirs) > 5 else ''} skipped; only the "
                      "folder's own files are traces", stacklevel=2)
    return files


def bundled_split_dir(split: str) -> Path:
    folder = NAMED_SPLITS[split][0] if split in NAMED_SPLITS else split
    return Path(str(resources.files("feedbackgym.envs.abr") / "_data" / "traces" / folder))


def route_of(name: str) -> str:
    """The Norway HSDPA route of a trace file name (``bus.ljansbakken-oslo-report.<date>.log``)."""
    return name.split("-report", 1)[0]


def split_files(split: str) -> list[Path]:
    """The files of a named split, in sorted order."""
    folder, which = NAMED_SPLITS[split]
    files = trace_files(bundled_split_dir(folder))
    if which == "all":
        return files
    if which == "clean":
        return _clean_fcc_files()
    norway = [f for f in files if not f.name.startswith("trace_")]  # FCC files are trace_<id>_...
    if which in ("route_fit", "route_holdout"):
        held = {f for f in norway if route_of(f.name) in HOLDOUT_ROUTES}
        return [f for f in files if (f in held) == (which == "route_holdout")]
    holdout = set(norway[3::4])
    return [f for f in files if (f in holdout) == (which == "holdout")]


@functools.lru_cache(maxsize=1)
def _clean_fcc_files() -> list[Path]:
    """fcc_test traces sharing no content with train_127, checked against the pinned checksums."""
    from .overlap import overlapping

    folder = bundled_split_dir("fcc_test_290")
    tests = {f.name: f for f in trace_files(folder)}
    dirty = set(overlapping([load_trace(f) for f in tests.values()],
                            [load_trace(f) for f in trace_files(bundled_split_dir("train_127"))]))
    clean = [f for name, f in tests.items() if name not in dirty]
    pinned = {}
    for line in (folder / FCC_TEST_CLEAN_SUMS).read_text().splitlines():
        if line.strip():
            digest, name = line.split(maxsplit=1)
            pinned[name.strip()] = digest
    got = {f.name: hashlib.sha256(f.read_bytes()).hexdigest() for f in clean}
    if got != pinned:
        raise ValueError(f"{folder / FCC_TEST_CLEAN_SUMS}: fcc_test_clean computed from content ({len(got)} traces) "
                         f"differs from the pinned list ({len(pinned)}); bundled data or overlap rule changed?")
    return clean


def resolve_trace_source(source: str) -> Path:
    """Map a named split or a path to the file or folder it designates."""
    if source in NAMED_SPLITS:
        return bundled_split_dir(source)
    p = Path(source).expanduser()
    if not p.exists():
        raise ValueError(
            f"traces={source!r}: no such file or folder (named splits: {sorted(set(NAMED_SPLITS))}, "
            "or 'synthetic')"
        )
    return p


def load_traces(source: str | os.PathLike, fmt: str = "auto", mahimahi_bin_ms: float = 500.0) -> list[Trace]:
    """Load a named split, a file, or every trace file of a folder (sorted by name)."""
    if str(source) in NAMED_SPLITS:
        return [load_trace(f, fmt, mahimahi_bin_ms) for f in split_files(str(source))]
    p = resolve_trace_source(str(source))
    if p.is_dir():
        return [load_trace(f, fmt, mahimahi_bin_ms) for f in trace_files(p)]
    return [load_trace(p, fmt, mahimahi_bin_ms)]


def verify_bundled_checksums() -> dict[str, int]:
    """Check every bundled trace against its checksum list; returns files checked per list."""
    checked = {}
    lists = (("train_127", "train_127", "SHA256SUMS"), ("fcc_test_290", "fcc_test_290", "SHA256SUMS"),
             ("fcc_test_clean", "fcc_test_290", FCC_TEST_CLEAN_SUMS))
    for name, split, sums_name in lists:
        folder = bundled_split_dir(split)
        n = 0
        for line in (folder / sums_name).read_text().splitlines():
            if not line.strip():
                continue
            digest, fname = line.split(maxsplit=1)
            got = hashlib.sha256((folder / fname.strip()).read_bytes()).hexdigest()
            if got != digest:
                raise ValueError(f"{folder / fname.strip()}: checksum mismatch (bundled data modified?)")
            n += 1
        checked[name] = n
    return checked


# ----------------------------------------------------------------------------------------------
# Packed form


@dataclass(frozen=True, eq=False)
class TraceSet:
    """Traces packed into flat arrays for the simulators.

    Interval ``j`` of trace ``k`` lives at flat index ``offsets[k] + j - 1`` and spans
    ``[seg_start_s, seg_end_s)`` at ``seg_rate_bps`` payload bytes per second; ``cum_bytes``
    is the payload deliverable from the trace's start to the end of each interval. Downloads
    are solved on this cumulative curve instead of stepping interval by interval, which lets
    the batched simulator advance thousands of players with a handful of array operations.

    ``lists`` holds the same per-trace values as Python lists: the scalar simulator searches
    them with :func:`bisect`, which is several times faster than numpy on single values and
    performs exactly the same float comparisons.
    """

    names: tuple[str, ...]
    offsets: np.ndarray        # (K+1,) int64
    seg_start_s: np.ndarray    # (M,)
    seg_end_s: np.ndarray      # (M,)
    seg_rate_bps: np.ndarray   # (M,) payload bytes / s
    cum_bytes: np.ndarray      # (M,) bytes delivered by the end of each interval
    cum_before: np.ndarray     # (M,) bytes delivered by the start of each interval
    period_s: np.ndarray       # (K,) trace duration (the wrap period)
    period_bytes: np.ndarray   # (K,) payload bytes over one period
    n_rows: np.ndarray         # (K,) rows per trace (start row r picks clock time_s[r-1])
    row_time_s: np.ndarray     # (M+K,) time of every row, flat, trace k at offsets[k]+k
    search_key: np.ndarray     # (M,) cum_bytes + per-trace base: one sorted array for all traces
    key_base: np.ndarray       # (K,)
    time_key: np.ndarray       # (M,) seg_end_s + per-trace base, sorted across traces
    time_base: np.ndarray      # (K,)
    lists: list = field(repr=False, default_factory=list)  # [TraceLists]

    def __len__(self) -> int:
        return len(self.names)

    @classmethod
    def from_traces(cls, traces: Sequence[Trace]) -> TraceSet:
        if len(traces) == 0:
            raise ValueError("a trace set needs at least one trace")
        packed = [pack_trace(tr) for tr in traces]
        offsets = np.concatenate(([0], np.cumsum([len(p["cum_bytes"]) for p in packed]))).astype(np.int64)
        period_s = np.asarray([p["period_s"] for p in packed])
        period_bytes = np.asarray([p["period_bytes"] for p in packed])
        # Gaps keep traces apart in the shared sorted keys (see batch_sim.locate_*).
        key_base = np.concatenate(([0.0], np.cumsum(period_bytes * 1.5 + 1.0)[:-1]))
        time_base = np.concatenate(([0.0], np.cumsum(period_s * 1.5 + 1.0)[:-1]))
        cat = lambda key: np.concatenate([p[key] for p in packed])  # noqa: E731
        ts = cls(
            names=tuple(tr.name for tr in traces), offsets=offsets,
            seg_start_s=cat("seg_start_s"), seg_end_s=cat("seg_end_s"), seg_rate_bps=cat("seg_rate_bps"),
            cum_bytes=cat("cum_bytes"), cum_before=cat("cum_before"),
            period_s=period_s, period_bytes=period_bytes,
            n_rows=np.asarray([len(tr.time_s) for tr in traces], dtype=np.int64),
            row_time_s=np.concatenate([tr.time_s for tr in traces]),
            search_key=np.concatenate([p["cum_bytes"] + b for p, b in zip(packed, key_base)]),
            key_base=key_base,
            time_key=np.concatenate([p["seg_end_s"] + b for p, b in zip(packed, time_base)]),
            time_base=time_base,
        )
        for p in packed:
            ts.lists.append(TraceLists(**{k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in p.items()}))
        return ts

    def row_time(self, k: int, row: int) -> float:
        """Clock time of row ``row`` of trace ``k``."""
        return float(self.row_time_s[self.offsets[k] + k + row])


def pack_trace(trace: Trace) -> dict:
    """Per-interval arrays of one trace. The single place these floats are computed, so the
    scalar and batched simulators (and every pool they use) see bit-identical values."""
    t, b = trace.time_s, trace.throughput_mbps
    rate = b[1:] * 1e6 / 8.0 * PAYLOAD_FRACTION
    cum = np.cumsum(rate * np.diff(t))
    return dict(
        seg_start_s=t[:-1].copy(), seg_end_s=t[1:].copy(), seg_rate_bps=rate, cum_bytes=cum,
        cum_before=np.concatenate(([0.0], cum[:-1])), period_s=float(t[-1]), period_bytes=float(cum[-1]),
    )


@dataclass(frozen=True)
class TraceLists:
    """One trace's interval arrays as Python lists, for the scalar simulator."""

    seg_start_s: list
    seg_end_s: list
    seg_rate_bps: list
    cum_bytes: list
    cum_before: list
    period_s: float
    period_bytes: float


@functools.lru_cache(maxsize=16)
def _cached_trace_set(source: str, fmt: str, bin_ms: float, mtime: float) -> TraceSet:
    return TraceSet.from_traces(load_traces(source, fmt, bin_ms))


def trace_set(source: str, fmt: str = "auto", mahimahi_bin_ms: float = 500.0) -> TraceSet:
    """Load (once per process) and pack the traces of a named split, file or folder."""
    p = resolve_trace_source(source)
    return _cached_trace_set(str(source), fmt, float(mahimahi_bin_ms), p.stat().st_mtime)
