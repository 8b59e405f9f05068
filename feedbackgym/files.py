"""Writing result files atomically: readers see the old content or the new, never half of it.

Results, tables and run records are written to a temporary file in the target folder, flushed
to disk, then renamed over the target (``os.replace`` is atomic on POSIX and Windows), so a
crash or ``kill -9`` mid-write never destroys what was already there.
"""

from __future__ import annotations

import csv
import io
import os
import tempfile
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
