"""Crash-safe file writes: write beside the target, then replace it in one step.

A reader sees the old file or the new one, never half of one; a failed write leaves no
temporary file behind. :func:`atomic_batch` does the same for several files as a two-phase
commit: every file is written to its temporary sibling first, and only when all are written are
they moved into place.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
from collections.abc import Iterator, Sequence
from pathlib import Path

__all__ = [
    "AtomicBatch",
    "atomic_batch",
    "atomic_path",
    "atomic_write",
    "remove_temporaries",
    "temp_path_for",
    "writer_lock",
]

_TEMP_NAME = re.compile(r".+\.\d+\.tmp$")


def temp_path_for(path: Path) -> Path:
    """Temporary sibling of ``path`` (same directory, so the final replace is atomic)."""
    path = Path(path)
    return path.with_name(f"{path.name}.{os.getpid()}.tmp")


def remove_temporaries(folder: Path | str) -> list[Path]:
    """Remove the temporary siblings (``<name>.<pid>.tmp``) that killed writes left in ``folder``.

    A write that is killed (``SIGKILL``, power loss) cannot clean up after itself. Call this
    only while holding the writer lock of ``folder``: then no write is under way there, and
    every such file is debris (never a committed file: those are renamed into place).

    Returns
    -------
    list of pathlib.Path
        The files removed.
    """
    folder = Path(folder)
    if not folder.is_dir():
        return []
    removed = []
    for p in sorted(folder.iterdir()):
        if p.is_file() and _TEMP_NAME.fullmatch(p.name):
            p.unlink(missing_ok=True)
            removed.append(p)
    return removed


@contextlib.contextmanager
def writer_lock(folder: Path | str, *, clean: Sequence[Path | str] = ()) -> Iterator[list[Path]]:
    """Hold the exclusive writer lock of ``folder`` (an ``flock`` on ``<folder>/.lock``).

    On taking it, the temporary files that killed writes left in ``folder`` and in the ``clean``
    folders are removed (:func:`remove_temporaries`): with the lock held, no write is under way.

    Parameters
    ----------
    folder : pathlib.Path or str
        The folder (created when missing).
    clean : sequence of pathlib.Path or str, optional
        Further folders written under the same lock.

    Yields
    ------
    list of pathlib.Path
        The temporary files removed.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / ".lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield [p for f in (folder, *clean) for p in remove_temporaries(f)]
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


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


class AtomicBatch:
    """Temporary paths of several files, moved into place together (see :func:`atomic_batch`)."""

    def __init__(self, *, fsync: bool = False) -> None:
        self.fsync = fsync
        self._pairs: list[tuple[Path, Path]] = []

    def path(self, path: Path | str) -> Path:
        """Return the temporary path to write ``path`` to (its directory is created)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = temp_path_for(path)
        self._pairs.append((tmp, path))
        return tmp

    @property
    def finals(self) -> list[Path]:
        """Final locations, in the order their temporary paths were asked for."""
        return [final for _, final in self._pairs]

    def _commit(self) -> None:
        if self.fsync:
            for tmp, _ in self._pairs:
                with open(tmp, "rb") as fh:
                    os.fsync(fh.fileno())
        for tmp, final in self._pairs:
            os.replace(tmp, final)

    def _discard(self) -> None:
        for tmp, _ in self._pairs:
            tmp.unlink(missing_ok=True)


@contextlib.contextmanager
def atomic_batch(*, fsync: bool = False) -> Iterator[AtomicBatch]:
    """Write several files, then replace them all at the end (two-phase commit).

    Parameters
    ----------
    fsync : bool, optional
        Flush every temporary file to disk before the first replace.

    Yields
    ------
    AtomicBatch
        ``batch.path(final)`` gives where to write each file. When the block ends normally,
        all files are moved into place; whatever happens, no temporary file is left behind
        (if the block raises, no file is replaced).
    """
    batch = AtomicBatch(fsync=fsync)
    try:
        yield batch
        batch._commit()
    finally:
        batch._discard()
