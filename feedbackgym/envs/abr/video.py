"""The video being streamed: its bitrate ladder and the size of every chunk at every level.

Real encodes are variable-bitrate, so chunk sizes differ from ``bitrate * duration``; the sizes
matter to every controller that predicts download times (MPC, the offline optimum). The bundled
video is EnvivioDash3, the one Pensieve and its successors use (6 levels, 49 chunks of 4 s).
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

#: EnvivioDash3's ladder (kbps), as in Pensieve.
ENVIVIO_BITRATES_KBPS = (300.0, 750.0, 1200.0, 1850.0, 2850.0, 4300.0)
#: Physical bounds of a video (beyond them the simulator's float arithmetic overflows; nothing is
#: clipped, a video outside them is refused): 1 Tbit/s, 1 hour chunks, 1e6 chunks, 1 PB chunks.
MAX_BITRATE_KBPS = 1e9
MAX_CHUNK_S = 3600.0
MAX_CHUNKS = 1_000_000
MAX_CHUNK_BYTES = 10**15


@dataclass(frozen=True, eq=False)
class Video:
    """A bitrate ladder with per-chunk sizes. ``chunk_bytes[level, chunk]``."""

    name: str
    bitrates_kbps: np.ndarray
    chunk_bytes: np.ndarray
    chunk_s: float

    @property
    def levels(self) -> int:
        return len(self.bitrates_kbps)

    @property
    def chunks(self) -> int:
        return self.chunk_bytes.shape[1]

    def __post_init__(self):
        b, s = self.bitrates_kbps, self.chunk_bytes
        where = f"video {self.name!r}"
        if b.ndim != 1 or len(b) < 1:
            raise ValueError(f"{where}: bitrates_kbps must be a non-empty list")
        if not np.all(np.isfinite(b)) or np.any(b <= 0):
            raise ValueError(f"{where}: bitrates_kbps must be finite and > 0, got {b.tolist()}")
        if np.any(b > MAX_BITRATE_KBPS):
            raise ValueError(f"{where}: bitrates_kbps must be at most {MAX_BITRATE_KBPS:g} kbps, got {b.tolist()}")
        if np.any(np.diff(b) <= 0):
            raise ValueError(f"{where}: bitrates_kbps must increase strictly, got {b.tolist()}")
        if s.ndim != 2 or s.shape[0] != len(b):
            raise ValueError(f"{where}: chunk_bytes must have one row per level ({len(b)}), got shape {s.shape}")
        if s.shape[1] < 2:
            raise ValueError(f"{where}: a video needs at least 2 chunks, got {s.shape[1]}")
        if s.shape[1] > MAX_CHUNKS:
            raise ValueError(f"{where}: at most {MAX_CHUNKS} chunks, got {s.shape[1]}")
        if np.any(s <= 0) or np.any(s > MAX_CHUNK_BYTES):
            lvl, ch = map(int, np.argwhere((s <= 0) | (s > MAX_CHUNK_BYTES))[0])
            raise ValueError(f"{where}: chunk {ch} at level {lvl} has {int(s[lvl, ch])} bytes "
                             f"(expected 1..{MAX_CHUNK_BYTES:g})")
        if not (math.isfinite(self.chunk_s) and 0 < self.chunk_s <= MAX_CHUNK_S):
            raise ValueError(f"{where}: chunk_s must be in (0, {MAX_CHUNK_S:g}] s, got {self.chunk_s!r}")
        b.setflags(write=False)
        s.setflags(write=False)


def _read_text(path: Path) -> str:
    try:
        return path.read_text()
    except UnicodeDecodeError:
        raise ValueError(f"{path}: not a UTF-8 text file") from None


def _read_size_file(path: Path) -> list[int]:
    sizes = []
    for ln, raw in enumerate(_read_text(path).splitlines(), start=1):
        parts = raw.split()
        if not parts:
            continue
        try:
            v = int(parts[0])
        except ValueError:
            raise ValueError(f"{path}:{ln}: expected an integer chunk size in bytes, got {parts[0]!r}") from None
        if not 0 < v <= MAX_CHUNK_BYTES:
            raise ValueError(f"{path}:{ln}: chunk size {v} bytes must be in 1..{MAX_CHUNK_BYTES:g}")
        sizes.append(v)
    if not sizes:
        raise ValueError(f"{path}: empty chunk-size file")
    return sizes


def load_pensieve_folder(folder: str | os.PathLike, bitrates_kbps, chunk_s: float = 4.0, name=None) -> Video:
    """A folder of Pensieve ``video_size_<level>`` files (one chunk size in bytes per line)."""
    folder = Path(folder)
    rows = []
    for level in range(len(bitrates_kbps)):
        f = folder / f"video_size_{level}"
        if not f.exists():
            raise ValueError(f"{f}: missing (expected video_size_0..{len(bitrates_kbps) - 1} for "
                             f"{len(bitrates_kbps)} levels)")
        rows.append(_read_size_file(f))
    n = {len(r) for r in rows}
    if len(n) != 1:
        raise ValueError(f"{folder}: video_size files differ in chunk count: {[len(r) for r in rows]}")
    return Video(name or folder.name, np.asarray(bitrates_kbps, dtype=np.float64),
                 np.asarray(rows, dtype=np.int64), float(chunk_s))


def envivio_dash3() -> Video:
    folder = Path(str(resources.files("feedbackgym.envs.abr") / "_data" / "video" / "envivio_dash3"))
    return load_pensieve_folder(folder, ENVIVIO_BITRATES_KBPS, 4.0, name="envivio_dash3")


def video_from_spec(spec: dict, where: str = "video") -> Video:
    """A video from a JSON-safe dict.

    ``{"bitrates_kbps": [...], "chunk_s": 4, "chunk_bytes": [[...], ...]}`` gives sizes per
    level and chunk; ``{"bitrates_kbps": [...], "chunk_s": 2, "chunks": 60}`` builds a
    constant-bitrate video (``bitrate * chunk_s / 8`` bytes per chunk), handy for 4K/5G
    ladders without an encode at hand.
    """
    allowed = {"name", "bitrates_kbps", "chunk_s", "chunk_bytes", "chunks"}
    unknown = set(spec) - allowed
    if unknown:
        raise ValueError(f"{where}: unknown field(s) {sorted(unknown)}; allowed: {sorted(allowed)}")
    if "bitrates_kbps" not in spec:
        raise ValueError(f"{where}: 'bitrates_kbps' is required")
    try:
        bitrates = np.asarray(spec["bitrates_kbps"], dtype=np.float64)
        chunk_s = float(spec.get("chunk_s", 4.0))
    except (TypeError, ValueError, OverflowError):
        raise ValueError(f"{where}: bitrates_kbps must be a list of numbers and chunk_s a number") from None
    if ("chunk_bytes" in spec) == ("chunks" in spec):
        raise ValueError(f"{where}: give exactly one of 'chunk_bytes' (sizes per level) or 'chunks' (count, CBR)")
    if "chunk_bytes" in spec:
        try:
            sizes = np.asarray(spec["chunk_bytes"], dtype=np.float64)
        except (TypeError, ValueError, OverflowError):
            raise ValueError(f"{where}: chunk_bytes must be a list of equal-length lists of integers") from None
        if sizes.ndim != 2 or not np.all(np.isfinite(sizes)) or np.any(sizes != np.round(sizes)):
            raise ValueError(f"{where}: chunk_bytes must be a list of equal-length lists of integers")
        if np.any(np.abs(sizes) > MAX_CHUNK_BYTES):
            raise ValueError(f"{where}: chunk_bytes must be at most {MAX_CHUNK_BYTES:g} bytes each")
        sizes = sizes.astype(np.int64)
    else:
        chunks = spec["chunks"]
        if isinstance(chunks, bool) or not isinstance(chunks, int) or not 2 <= chunks <= MAX_CHUNKS:
            raise ValueError(f"{where}: chunks must be an integer in [2, {MAX_CHUNKS}], got {chunks!r}")
        if (bitrates.ndim != 1 or not np.all(np.isfinite(bitrates)) or np.any(np.abs(bitrates) > MAX_BITRATE_KBPS)
                or not (0 < chunk_s <= MAX_CHUNK_S)):
            raise ValueError(f"{where}: bitrates_kbps must be a list of numbers up to {MAX_BITRATE_KBPS:g} and "
                             "chunk_s in "
                             f"(0, {MAX_CHUNK_S:g}] s, got {spec['bitrates_kbps']!r}, {spec.get('chunk_s', 4.0)!r}")
        sizes = np.repeat(np.round(bitrates * 1000.0 * chunk_s / 8.0)[:, None], chunks, axis=1).astype(np.int64)
    return Video(str(spec.get("name", "custom")), bitrates, sizes, chunk_s)


def load_video(spec) -> Video:
    """``"envivio"`` (bundled), a JSON file path, a Pensieve size folder, or an inline dict."""
    if isinstance(spec, dict):
        return video_from_spec(spec)
    if spec in ("envivio", "envivio_dash3"):
        return envivio_dash3()
    p = Path(str(spec)).expanduser()
    if p.is_dir():
        meta = p / "video.json"
        if meta.exists():
            bitrates, chunk_s = _sidecar(meta)
            return load_pensieve_folder(p, bitrates, chunk_s)
        return load_pensieve_folder(p, ENVIVIO_BITRATES_KBPS)
    if p.is_file():
        return video_from_spec(_load_json(p), where=str(p))
    raise ValueError(f"video={spec!r}: expected 'envivio', a JSON file, a folder of video_size_<level> files, "
                     "or a dict with bitrates_kbps")


def _sidecar(path: Path) -> tuple[list[float], float]:
    """``video.json`` beside ``video_size_<level>`` files: ``{"bitrates_kbps": [...], "chunk_s": 4}``."""
    m = _load_json(path)
    allowed = {"name", "bitrates_kbps", "chunk_s"}
    unknown = set(m) - allowed
    if unknown:
        raise ValueError(f"{path}: unknown field(s) {sorted(unknown)}; allowed: {sorted(allowed)}")
    bitrates = m.get("bitrates_kbps", list(ENVIVIO_BITRATES_KBPS))
    if (not isinstance(bitrates, list) or not bitrates
            or not all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in bitrates)):
        raise ValueError(f"{path}: bitrates_kbps must be a non-empty list of numbers (kbps per level), "
                         f"got {bitrates!r}")
    chunk_s = m.get("chunk_s", 4.0)
    if isinstance(chunk_s, bool) or not isinstance(chunk_s, (int, float)):
        raise ValueError(f"{path}: chunk_s must be a number of seconds, got {chunk_s!r}")
    return [float(x) for x in bitrates], float(chunk_s)


def _load_json(path: Path) -> dict:
    try:
        data = json.loads(_read_text(path))
    except json.JSONDecodeError as e:
        raise ValueError(f"{path}:{e.lineno}: invalid JSON: {e.msg}") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a JSON object")
    return data
