"""A small memo cache keyed on the files a result was read from.

Every reader of :mod:`pipelines.results` goes through :func:`memo`: the key is the function
name, its arguments and the ``(path, mtime_ns, size)`` of every file it reads, so a repeated call
on unchanged files returns the stored result at once and a file that changed (or appeared, or
went away) gives a new key and a fresh read. The cache is bounded (least recently used entries
go first, by count and by an approximate size in bytes) and thread-safe; a value is computed
outside the lock, so two threads missing the same key at once may both compute it (the results
are equal, the second one is kept).

Cached pandas and xarray objects are copied on every hit (the caller may change its copy);
JSON-able data are shared and must be treated as read-only.
"""

from __future__ import annotations

import copy
import datetime as dt
import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable
from pathlib import Path
from typing import Any

import pandas as pd
import xarray as xr

from pipelines.results.workspace import Read

__all__ = [
    "CACHE",
    "IO_LOCK",
    "FileSignature",
    "MemoCache",
    "cache_info",
    "clear_cache",
    "file_signature",
    "memo",
    "newest_mtime",
]

#: ``(path, mtime_ns, size)`` of one file; ``mtime_ns`` and ``size`` are None when it is missing.
FileSignature = tuple[str, int | None, int | None]


def file_signature(paths: Iterable[Path | str]) -> tuple[FileSignature, ...]:
    """Return ``(path, mtime_ns, size)`` of every path (None, None for a missing file).

    Parameters
    ----------
    paths : iterable of pathlib.Path or str
        The files.

    Returns
    -------
    tuple of FileSignature
        In the order given.
    """
    out = []
    for p in paths:
        s = str(p)
        try:
            st = os.stat(s)
        except OSError:
            out.append((s, None, None))
        else:
            out.append((s, st.st_mtime_ns, st.st_size))
    return tuple(out)


def newest_mtime(signature: Iterable[FileSignature]) -> dt.datetime | None:
    """Return the newest modification time (UTC, tz-aware) of the existing files, or None.

    Parameters
    ----------
    signature : iterable of FileSignature
        From :func:`file_signature`.

    Returns
    -------
    datetime.datetime or None
        None when no file exists.
    """
    times = [m for _, m, _ in signature if m is not None]
    if not times:
        return None
    return dt.datetime.fromtimestamp(max(times) / 1e9, tz=dt.UTC)


def _size_of(data: Any) -> int:
    if isinstance(data, pd.DataFrame):
        return int(data.memory_usage(index=True, deep=False).sum())
    if isinstance(data, xr.Dataset):
        return int(data.nbytes)
    return 0


def _copy(data: Any) -> Any:
    if isinstance(data, pd.DataFrame):
        out = data.copy(deep=True)
        out.attrs = copy.deepcopy(data.attrs)
        return out
    if isinstance(data, xr.Dataset):
        return data.copy(deep=True)
    return data


class MemoCache:
    """Thread-safe LRU memo of :class:`~pipelines.results.workspace.Read` results.

    Parameters
    ----------
    maxsize : int
        Most entries kept.
    max_bytes : int
        Approximate bound on the memory of cached DataFrames and Datasets [bytes]; a single
        result larger than this is returned but not kept.
    """

    def __init__(self, maxsize: int = 256, max_bytes: int = 512 * 2**20) -> None:
        self.maxsize = maxsize
        self.max_bytes = max_bytes
        self._entries: OrderedDict[Hashable, tuple[Read, int]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def memo(
        self,
        name: str,
        args: Hashable,
        *,
        files: Iterable[Path | str],
        compute: Callable[[], Any],
    ) -> Read:
        """Return the cached result of ``compute`` for these arguments and files, or compute it.

        Parameters
        ----------
        name : str
            The function (part of the key).
        args : hashable
            Its arguments (part of the key).
        files : iterable of pathlib.Path or str
            Every file the result is read from; their signature is part of the key and their
            newest modification time is the result's ``modified``.
        compute : callable
            ``compute() -> data`` (or a ready :class:`Read`), called on a miss.

        Returns
        -------
        Read
            ``data``, ``modified`` and ``sources`` (the files that exist).
        """
        sig = file_signature(files)
        key = (name, args, sig)
        with self._lock:
            hit = self._entries.get(key)
            if hit is not None:
                self._entries.move_to_end(key)
                self.hits += 1
        if hit is not None:
            read = hit[0]
            return Read(_copy(read.data), read.modified, read.sources)
        with self._lock:
            self.misses += 1
        with IO_LOCK:  # HDF5 / netCDF-C are not thread-safe: one reader at a time per process
            value = compute()
            if isinstance(value, xr.Dataset):
                value = value.load()  # nothing lazy may be read later, outside the lock
        if isinstance(value, Read):
            read = value
        else:
            read = Read(value, newest_mtime(sig), tuple(p for p, m, _ in sig if m is not None))
        size = _size_of(read.data)
        if size <= self.max_bytes:
            with self._lock:
                old = self._entries.pop(key, None)
                if old is not None:
                    self._bytes -= old[1]
                self._entries[key] = (read, size)
                self._bytes += size
                while self._entries and (
                    len(self._entries) > self.maxsize or self._bytes > self.max_bytes
                ):
                    _, (_, dropped) = self._entries.popitem(last=False)
                    self._bytes -= dropped
        return Read(_copy(read.data), read.modified, read.sources)

    def clear(self) -> None:
        """Drop every entry and reset the counters."""
        with self._lock:
            self._entries.clear()
            self._bytes = 0
            self.hits = self.misses = 0

    def info(self) -> dict[str, int]:
        """Return ``hits``, ``misses``, ``entries`` and ``bytes`` (approximate)."""
        with self._lock:
            return {
                "hits": self.hits,
                "misses": self.misses,
                "entries": len(self._entries),
                "bytes": self._bytes,
            }


#: Serialises file reading in a process: the web server answers in a thread pool, and the HDF5 and
#: netCDF-C libraries under netCDF4 fail (or crash) when two threads read at once. Cache hits do
#: not take it. Hold it too around any other netCDF use in a threaded server (downloads).
IO_LOCK = threading.RLock()

#: The process-wide cache used by every reader.
CACHE = MemoCache()


def memo(
    name: str, args: Hashable, *, files: Iterable[Path | str], compute: Callable[[], Any]
) -> Read:
    """:meth:`MemoCache.memo` on the process-wide :data:`CACHE`.

    Parameters
    ----------
    name : str
        The function (part of the key).
    args : hashable
        Its arguments (part of the key).
    files : iterable of pathlib.Path or str
        The files the result is read from.
    compute : callable
        ``compute() -> data``, called on a miss.

    Returns
    -------
    Read
        The (possibly cached) result.
    """
    return CACHE.memo(name, args, files=files, compute=compute)


def clear_cache() -> None:
    """Empty the process-wide cache."""
    CACHE.clear()


def cache_info() -> dict[str, int]:
    """Return the process-wide cache's ``hits``, ``misses``, ``entries`` and ``bytes``."""
    return CACHE.info()
