"""Crash-safe file writes: write beside the target, then replace it in one step.

A reader sees the old file or the new one, never half of one; a failed write leaves no
temporary file behind.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

__all__ = ["atomic_path", "atomic_write", "temp_path_for"]


def temp_path_for(path: Path) -> Path:
    """Temporary sibling of ``path`` (same directory, so the final replace is atomic)."""
    path = Path(path)
    return path.with_name(f"{path.name}.{os.getpid()}.tmp")


@contextlib.contextmanager
def atomic_path(path: Path | str) -> Iterator[Path]:
    """Yield a temporary path to write to; on success it replaces ``path`` atomically.

    Parameters
    ----------
    path : pathlib.Path or str
        Final location; its directory is created when missing.

    Yields
    ------
    pathlib.Path
        Where to write. Removed if the block raises.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_path_for(path)
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def atomic_write(path: Path | str, data: str | bytes, *, encoding: str = "utf-8") -> Path:
    """Write text or bytes to ``path`` atomically.

    Parameters
    ----------
    path : pathlib.Path or str
        Final location.
    data : str or bytes
        Content; text is encoded with ``encoding``.
    encoding : str, optional
        Text encoding.

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    with atomic_path(path) as tmp:
        if isinstance(data, bytes):
            tmp.write_bytes(data)
        else:
            tmp.write_text(data, encoding=encoding)
    return Path(path)
