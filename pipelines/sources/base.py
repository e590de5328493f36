"""What every source adapter returns, and the adapter protocol."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import pandas as pd

from pipelines.errors import ConfigError, QuarantineRecord

__all__ = ["Adapter", "RawBatch", "require_options"]


@dataclass
class RawBatch:
    """Rows read from one source, before time-zone, unit and duplicate handling.

    Attributes
    ----------
    frame : pandas.DataFrame
        One row per accepted input row: ``station`` (id or code/name as in the source),
        ``time`` (naive local time, or tz-aware when the source gave an offset), one float column
        per canonical variable in source units, optional ``<var>__flag`` status letters, and
        ``_file`` / ``_line`` for traceability.
    units : dict
        Canonical variable -> units the values are in.
    quarantine : list of QuarantineRecord
        Rows not accepted, with reasons.
    rows_in : int
        Data rows read (every one is either in ``frame`` or in ``quarantine``).
    files : list of str
        Files or URLs read.
    notes : list of str
        Non-fatal observations (e.g. unmapped columns), shown in the ingest report.
    rejected : list of QuarantineRecord
        Whole files or responses that could not be used (empty, unreadable, wrong header).
    """

    frame: pd.DataFrame
    units: dict[str, str]
    quarantine: list[QuarantineRecord] = field(default_factory=list)
    rows_in: int = 0
    files: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    rejected: list[QuarantineRecord] = field(default_factory=list)


class Adapter(Protocol):
    """A source adapter module: ``read`` and ``validate_options``."""

    def read(self, source: Any, network: Any) -> RawBatch:  # pragma: no cover - protocol
        """Read the source into a :class:`RawBatch`."""

    def validate_options(self, source: Any, path: Path, node: Any) -> None:  # pragma: no cover
        """Raise :class:`ConfigError` when adapter-specific options are wrong."""


def require_options(source: Any, path: Path, node: Any, names: list[str], index_hint: str) -> None:
    """Raise :class:`ConfigError` if any of ``names`` is missing from a source block."""
    for name in names:
        if source.option(name) is None:
            line = getattr(node, "line", None)
            raise ConfigError(str(path), line, f"{index_hint}.{name}", "required by this adapter")
