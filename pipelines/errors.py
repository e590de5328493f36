"""Errors and quarantine records that name the file, line and field of bad input."""

from __future__ import annotations

from dataclasses import asdict, dataclass

__all__ = [
    "ConfigError",
    "IngestError",
    "QuarantineRecord",
    "SourceError",
    "StoreCorrupted",
    "StoreError",
    "StoreFull",
]


class ConfigError(ValueError):
    """A configuration file is malformed; the message names the file, line and field."""

    def __init__(self, file: str, line: int | None, field: str, reason: str):
        self.file, self.line, self.field, self.reason = str(file), line, field, reason
        where = f"{file}:{line}" if line else str(file)
        super().__init__(f"{where}: field '{field}': {reason}" if field else f"{where}: {reason}")


class SourceError(ValueError):
    """A whole input file or response cannot be used (empty, wrong header, unreadable)."""

    def __init__(self, file: str, reason: str, line: int | None = None, field: str = ""):
        self.file, self.reason, self.line, self.field = str(file), reason, line, field
        where = f"{file}:{line}" if line else str(file)
        super().__init__(f"{where}: {field + ': ' if field else ''}{reason}")


class IngestError(RuntimeError):
    """An ingest could not complete; nothing already stored was changed."""


class StoreError(RuntimeError):
    """A file of the station store cannot be read or written; the message names the file.

    Attributes
    ----------
    path : str
        The partition (or store folder) at fault.
    """

    def __init__(self, path: str, reason: str):
        self.path, self.reason = str(path), reason
        super().__init__(f"{path}: {reason}")


class StoreCorrupted(StoreError):
    """A stored partition does not match its recorded checksum or size, or is not netCDF.

    It is never read: move it away and re-ingest its month from the inputs named in the ingest
    reports (or restore it from a backup).
    """


class StoreFull(StoreError):
    """A store write ran out of disk space (or quota); nothing stored was changed."""


@dataclass(frozen=True)
class QuarantineRecord:
    """One input row that was not stored, and why.

    Attributes
    ----------
    file : str
        Input file or URL.
    line : int
        1-based line number in the file (0 for records of an HTTP response without lines).
    field : str
        Column or JSON field at fault (empty when the whole row is at fault).
    reason : str
        Human-readable reason.
    raw : str
        The raw row text, shortened to 300 characters.
    kind : str
        What kind of refusal (``duplicate_conflict`` ...) for the report's counts; empty: the
        reason's words before the first colon.
    """

    file: str
    line: int
    field: str
    reason: str
    raw: str = ""
    kind: str = ""

    @property
    def category(self) -> str:
        """Key for the ingest report's ``quarantine_reasons`` counts (no times, no values)."""
        return self.kind or self.reason.split(":")[0][:80]

    def to_dict(self) -> dict[str, object]:
        """Plain-dict form for CSV/JSON reports."""
        return asdict(self)
