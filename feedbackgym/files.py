"""Writing result files atomically: readers see the old content or the new, never half of it.

Results, tables and run records are written to a temporary file in the target folder, flushed
to disk, then renamed over the target (``os.replace`` is atomic on POSIX and Windows), so a
crash or ``kill -9`` mid-write never destroys what was already there. :func:`atomic_save` does
the same for libraries that write files themselves (SB3's ``save``); checkpoint folders are
written under a temporary name and renamed whole (``agents/callbacks.py``).
"""

from __future__ import annotations

import csv
import io
import os
import tempfile
from collections.abc import Callable
from pathlib import Path


def atomic_write(path: str | os.PathLike, data: str | bytes) -> None:
    """Replace ``path`` with ``data`` (text or bytes) atomically, with the usual permissions."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp creates 0600; results are meant to be shared
        with os.fdopen(fd, "wb" if isinstance(data, bytes) else "w") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def csv_text(rows: list[dict]) -> str:
    """CSV with a header that is the union of the rows' keys, in first-seen order."""
    fields: list[str] = []
    for r in rows:
        fields.extend(k for k in r if k not in fields)
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=fields, lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    return buf.getvalue()


def write_csv(path: str | os.PathLike, rows: list[dict]) -> None:
    atomic_write(path, csv_text(rows))


def _fsync_dir(path: str | os.PathLike) -> None:
    """Flush a folder's entry table, so a rename in it survives a power cut (best effort)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_save(path: str | os.PathLike, write: Callable[[Path], object]) -> None:
    """Write ``path`` through ``write(tmp_path)`` (a library's own ``save(path)``), then rename it
    into place: readers, and a ``--resume`` after ``kill -9``, see the old file or the new one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp{path.suffix}")
    try:
        write(tmp)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
        _fsync_dir(path.parent)
    except BaseException:
        if tmp.exists():
            tmp.unlink()
        raise


def atomic_save_model(model, path: str | os.PathLike) -> None:
    """``model.save`` to ``path`` atomically (SB3 writes zips in place)."""
    def write(tmp: Path) -> None:
        buf = io.BytesIO()
        model.save(buf)
        tmp.write_bytes(buf.getvalue())
    atomic_save(path, write)


def read_csv(path: str | os.PathLike) -> list[dict]:
    """Rows of a CSV file as dicts ([] when the file does not exist)."""
    path = Path(path)
    if not path.is_file():
        return []
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def append_csv_row(path: str | os.PathLike, row: dict) -> None:
    """Append ``row`` to a CSV file by rewriting it atomically (columns: union, in first-seen order)."""
    rows = read_csv(path)
    rows.append(row)
    write_csv(path, rows)
