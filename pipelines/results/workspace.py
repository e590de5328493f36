"""Where the results live and what every read returns.

:class:`Workspace` names the station store and the outputs directory a reader looks at;
:class:`Read` is what every function of :mod:`pipelines.results` returns (the data, the newest
modification time of the files it came from and their paths); :class:`NotFound` is raised for an
unknown network, station, forecast, warning, PMF run or file, naming what was asked and what
exists.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipelines.config.locations import outputs_dir, store_dir

__all__ = ["NotFound", "Read", "Workspace", "inside", "safe_name", "unknown"]

_NAME = re.compile(r"^[\w.\-]{1,255}$")


@dataclass(frozen=True)
class Workspace:
    """A station store and an outputs directory, read together.

    Attributes
    ----------
    store : pathlib.Path
        Station store root (``<store>/<network>/<network>_YYYY-MM.nc``).
    outputs : pathlib.Path
        Outputs root (daily tables, forecasts, warnings, source tracing, PMF).
    """

    store: Path
    outputs: Path

    def __post_init__(self) -> None:
        object.__setattr__(self, "store", Path(self.store))
        object.__setattr__(self, "outputs", Path(self.outputs))

    @classmethod
    def default(cls) -> Workspace:
        """Return the configured workspace (``QINGYUAN_STORE`` / ``QINGYUAN_OUTPUTS`` or the checkout's).

        Returns
        -------
        Workspace
            :func:`pipelines.config.locations.store_dir` and
            :func:`~pipelines.config.locations.outputs_dir`.
        """
        return cls(store=store_dir(), outputs=outputs_dir())

    @property
    def warnings_db(self) -> Path:
        """The warning lifecycle database, ``<outputs>/warnings/warnings.db``."""
        return self.outputs / "warnings" / "warnings.db"


@dataclass(frozen=True)
class Read:
    """The result of one read.

    Attributes
    ----------
    data : Any
        JSON-able data (dicts and lists of str, float, int, bool and None; times as ISO-8601 UTC
        text such as ``"2016-12-22T16:00:00Z"``; NaN as None), or a pandas DataFrame or xarray
        Dataset where the function says so. Shared with the cache: treat it as read-only.
    modified : datetime.datetime or None
        Newest modification time (UTC, tz-aware) of the files it was read from (None when none
        exists), for ``Last-Modified``.
    sources : tuple of str
        The files it was read from (provenance).
    """

    data: Any
    modified: dt.datetime | None
    sources: tuple[str, ...] = ()


class NotFound(LookupError):
    """An unknown network, station, variable, forecast, warning, PMF run or file.

    The message names what was asked and what exists, e.g. ``unknown station 'X' in network
    'beijing'; known: Aotizhongxin, Changping, ...``.
    """


def unknown(
    kind: str, name: Any, *, known: Iterable[Any], where: str | None = None, limit: int = 40
) -> NotFound:
    """Build the :class:`NotFound` for ``name`` of ``kind``, listing what exists.

    Parameters
    ----------
    kind : str
        What was asked for (``"station"``, ``"network"`` ...).
    name : Any
        The name asked for.
    known : iterable
        What exists.
    where : str, optional
        Context, e.g. ``"in network 'beijing'"``.
    limit : int
        At most this many known names are listed (the total is given when there are more).

    Returns
    -------
    NotFound
        The exception (to be raised by the caller).
    """
    names = [str(k) for k in known]
    listed = ", ".join(names[:limit]) if names else "none"
    if len(names) > limit:
        listed += f", ... ({len(names)} in all)"
    place = f" {where}" if where else ""
    return NotFound(f"unknown {kind} {str(name)!r}{place}; known: {listed}")


def safe_name(kind: str, name: str) -> str:
    """Return ``name`` if it is one file or folder name (letters, digits, ``. _ -``).

    Raises
    ------
    NotFound
        For a name with a path separator, ``..`` only dots, or other characters.
    """
    if not isinstance(name, str) or not _NAME.match(name) or set(name) == {"."}:
        raise NotFound(f"unknown {kind} {name!r}: not a valid name (letters, digits, . _ -)")
    return name


def inside(root: Path, candidate: Path) -> Path | None:
    """``candidate`` resolved, if it is a regular file that stays inside ``root`` (symlinks too)."""
    try:
        real = candidate.resolve(strict=True)
        base = root.resolve(strict=True)
    except OSError:
        return None
    if not real.is_file() or not real.is_relative_to(base):
        return None
    return real
