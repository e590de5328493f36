"""Ingest one network: read every source, normalise, QC, upsert into the store, report.

This module holds the plain functions; :mod:`pipelines.flows` wraps them as Prefect tasks and
flows. Row accounting holds for every source: ``rows_in == rows_stored + rows_merged +
rows_quarantined`` (merged: identical re-sent rows folded into their later copy).
"""

from __future__ import annotations

import csv
import datetime as dt
import errno
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pipelines.config import NetworkSpec, load_network, load_qc, load_variables
from pipelines.errors import IngestError, QuarantineRecord, SourceError, StoreFull
from pipelines.files import atomic_path
from pipelines.normalise import CanonicalBlock, normalise
from pipelines.report_chain import write_report
from pipelines.sources import ADAPTERS
from pipelines.sources.base import RawBatch
from pipelines.sources.text import read_bytes, split_lines
from pipelines.store import StationStore, UpsertResult

__all__ = ["IngestReport", "SourceReport", "Upsert", "ingest", "merge_blocks", "read_source"]

#: How the merged block reaches the store: ``upsert(store, block, qc_config)``. The default is
#: :meth:`pipelines.store.StationStore.upsert`; :mod:`pipelines.engine` passes its distributed
#: one (QC per station group on Dask workers, one writer).
Upsert = Callable[[StationStore, CanonicalBlock, dict[str, Any]], UpsertResult]


def _store_upsert(store: StationStore, block: CanonicalBlock, qc: dict[str, Any]) -> UpsertResult:
    return store.upsert(block, qc)


@dataclass
class SourceReport:
    """Row accounting and notes for one source of a network."""

    adapter: str
    files: list[str]
    rows_in: int
    rows_stored: int
    rows_quarantined: int
    rejected: list[dict[str, Any]]
    notes: list[str]
    rows_merged: int = 0

    @property
    def balanced(self) -> bool:
        """Every input row is stored, merged into an identical later row, or quarantined."""
        return self.rows_in == self.rows_stored + self.rows_merged + self.rows_quarantined


@dataclass
class IngestReport:
    """What one ingest did."""

    ingest_id: str
    network: str
    started: str
    finished: str
    sources: list[SourceReport]
    rows_in: int
    rows_stored: int
    rows_quarantined: int
    partitions_written: list[str]
    values_new: int
    values_changed: int
    values_unchanged: int
    period: tuple[str, str] | None
    quarantine_file: str | None = None
    report_file: str | None = None
    quarantine_reasons: dict[str, int] = field(default_factory=dict)
    temporaries_removed: list[str] = field(default_factory=list)
    rows_merged: int = 0
    #: SHA-256 and size of each partition written (as recorded in the store's checksums.json).
    partition_checksums: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def balanced(self) -> bool:
        """Row accounting holds for the whole ingest."""
        return self.rows_in == self.rows_stored + self.rows_merged + self.rows_quarantined

    @property
    def rejected_files(self) -> list[dict[str, Any]]:
        """Files or responses rejected as a whole."""
        return [r for s in self.sources for r in s.rejected]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        d = asdict(self)
        d["balanced"] = self.balanced
        return d


def read_source(index: int, network: NetworkSpec, store_root: Path | None = None) -> RawBatch:
    """Read source ``index`` of a network with its adapter.

    ``{store}`` in a file pattern is the store root (the HJ 212 receiver's raw log lives there);
    such a pattern needs ``store_root``.
    """
    source = network.sources[index]
    if any("{store}" in f for f in source.files):
        if store_root is None:
            raise IngestError(
                f"source {index} of {network.name} reads from the store: give the store root"
            )
        files = [f.replace("{store}", str(Path(store_root).resolve())) for f in source.files]
        source = source.model_copy(update={"files": files})
    return ADAPTERS[source.adapter].read(source, network)


def merge_blocks(blocks: list[CanonicalBlock]) -> CanonicalBlock:
    """Combine blocks of several sources of one network (later sources win on overlaps)."""
    blocks = [b for b in blocks if len(b.times)]
    if not blocks:
        return CanonicalBlock([], pd.DatetimeIndex([]), {}, {}, {}, np.zeros((0, 0), bool))
    if len(blocks) == 1:
        return blocks[0]
    stations = blocks[0].stations
    freq = (
        pd.Timedelta(blocks[0].times[1] - blocks[0].times[0]) if len(blocks[0].times) > 1 else None
    )
    start = min(b.times[0] for b in blocks)
    end = max(b.times[-1] for b in blocks)
    if freq is None:
        freq = next(
            (b.times[1] - b.times[0] for b in blocks if len(b.times) > 1), pd.Timedelta("1h")
        )
    times = pd.date_range(start, end, freq=freq)
    shape = (len(stations), len(times))
    out = CanonicalBlock(stations, times, {}, {}, {}, np.zeros(shape, bool))
    for b in blocks:
        cols = times.get_indexer(b.times)
        out.present[:, cols] |= b.present
        for v in b.values:
            if v not in out.values:
                out.values[v] = np.full(shape, np.nan)
                out.source_flags[v] = np.zeros(shape, "int8")
                out.ingest_bits[v] = np.zeros(shape, "uint16")
            has = ~np.isnan(b.values[v])
            tgt = out.values[v][:, cols]
            out.values[v][:, cols] = np.where(has, b.values[v], tgt)
            out.source_flags[v][:, cols] = np.where(
                has, b.source_flags[v], out.source_flags[v][:, cols]
            )
            out.ingest_bits[v][:, cols] = np.where(
                has, b.ingest_bits[v], out.ingest_bits[v][:, cols]
            )
        out.quarantine += b.quarantine
        out.merged += b.merged
        out.notes += b.notes
        out.rows_stored += b.rows_stored
    return out


_NOT_TEXT = (".xlsx", ".xlsm", ".xls")


def with_raw_text(records: list[QuarantineRecord], encoding: str) -> list[QuarantineRecord]:
    """Fill the ``raw`` text of refusals made after parsing (duplicates, unknown stations ...).

    Those checks see parsed rows, not the text; each text file with such a refusal is read
    once more (decompressed, decoded with replacement characters) and the refused lines are
    copied. Spreadsheets, HTTP responses and files gone since are left as they are.
    """
    files = {r.file for r in records if not r.raw and r.line > 0}
    lines: dict[str, list[str]] = {}
    for f in files:
        if f.lower().endswith(_NOT_TEXT):
            continue
        try:
            raw = read_bytes(Path(f))
        except (SourceError, OSError, ValueError, LookupError):
            continue
        lines[f] = split_lines(raw.removeprefix(b"\xef\xbb\xbf").decode(encoding, errors="replace"))
    return [
        replace(r, raw=lines[r.file][r.line - 1][:300])
        if not r.raw and r.file in lines and 0 < r.line <= len(lines[r.file])
        else r
        for r in records
    ]


def _write_quarantine(path: Path, records: list[QuarantineRecord]) -> None:
    with atomic_path(path) as tmp, tmp.open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=["file", "line", "field", "reason", "raw", "kind"])
        w.writeheader()
        for r in records:
            w.writerow(r.to_dict())


def _write_reports(
    store: StationStore, report: IngestReport, quarantine: list[QuarantineRecord], folder: Path
) -> None:
    """Write the quarantine CSV and the sealed report (each atomically) after the store write.

    Raises
    ------
    pipelines.errors.StoreFull
        If the disk is full: the partitions are stored (and their checksums recorded); the report
        is not, and a re-run of the same ingest (which stores nothing new) writes it.
    """
    try:
        if quarantine:
            _write_quarantine(Path(report.quarantine_file), quarantine)
        with store.lock():  # the reports' hash chain has one writer at a time, like the partitions
            write_report(Path(report.report_file), report.to_dict())
    except OSError as exc:
        if exc.errno not in (errno.ENOSPC, errno.EDQUOT):
            raise
        raise StoreFull(
            str(folder),
            f"disk full while writing the ingest report ({exc}): the station store was written "
            "and its checksums recorded, but not this report. Free space and run the same "
            "ingest again: it stores nothing new and writes the report",
        ) from exc


def ingest(
    network: str | NetworkSpec,
    store_root: Path,
    now: pd.Timestamp | None = None,
    batches: list[RawBatch] | None = None,
    *,
    upsert: Upsert | None = None,
) -> IngestReport:
    """Ingest every source of a network into the store.

    Parameters
    ----------
    network : str or NetworkSpec
        Network name, YAML path or loaded spec.
    store_root : pathlib.Path
        Store root directory.
    now : pandas.Timestamp, optional
        Clock for the future-timestamp check (UTC); default the wall clock.
    batches : list of RawBatch, optional
        Already-read sources (the Prefect flow reads them in retrying tasks); default: read here.
    upsert : callable, optional
        ``upsert(store, block, qc_config) -> UpsertResult``; default
        :meth:`pipelines.store.StationStore.upsert` (single process).

    Returns
    -------
    IngestReport
        Row accounting, quarantine and store changes; also written as JSON (and the quarantine as
        CSV) under ``<store>/<network>/reports/``, hash-chained to the network's previous report
        (:mod:`pipelines.report_chain`).

    Raises
    ------
    IngestError
        If row accounting fails (a bug: nothing is written then).
    """
    started = dt.datetime.now(dt.UTC)
    net = load_network(network) if isinstance(network, str) else network
    reg = load_variables()
    qc = load_qc(net)
    if batches is None:
        batches = [read_source(i, net, store_root) for i in range(len(net.sources))]
    blocks, reports = [], []
    for src, batch in zip(net.sources, batches, strict=True):
        block = normalise(batch, net, reg["variables"], reg["reference_conditions"], now=now)
        rep = SourceReport(
            adapter=src.adapter,
            files=batch.files,
            rows_in=batch.rows_in,
            rows_stored=block.rows_stored,
            rows_quarantined=len(batch.quarantine) + len(block.quarantine),
            rejected=[r.to_dict() for r in batch.rejected],
            notes=batch.notes + block.notes,
            rows_merged=len(block.merged),
        )
        block.quarantine = batch.quarantine + with_raw_text(block.quarantine, src.encoding)
        if not rep.balanced:
            raise IngestError(
                f"row accounting failed for {src.adapter} {batch.files[:2]}: {rep.rows_in} in, "
                f"{rep.rows_stored} stored, {rep.rows_merged} merged, {rep.rows_quarantined} "
                "quarantined; nothing was written"
            )
        blocks.append(block)
        reports.append(rep)
    merged = merge_blocks(blocks)
    store = StationStore(store_root, net, reg["variables"])
    upsert = upsert or _store_upsert
    result = upsert(store, merged, qc) if len(merged.times) else UpsertResult([], 0, 0, 0)
    ingest_id = f"{started:%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:6]}"
    report_dir = store.dir / "reports"
    quarantine = [r for b in blocks for r in b.quarantine]
    reasons: dict[str, int] = {}
    for r in quarantine:
        reasons[r.category] = reasons.get(r.category, 0) + 1
    report = IngestReport(
        ingest_id=ingest_id,
        network=net.name,
        started=started.isoformat(),
        finished=dt.datetime.now(dt.UTC).isoformat(),
        sources=reports,
        rows_in=sum(r.rows_in for r in reports),
        rows_stored=sum(r.rows_stored for r in reports),
        rows_quarantined=sum(r.rows_quarantined for r in reports),
        rows_merged=sum(r.rows_merged for r in reports),
        partitions_written=result.partitions_written,
        values_new=result.values_new,
        values_changed=result.values_changed,
        values_unchanged=result.values_unchanged,
        period=(str(merged.times[0]), str(merged.times[-1])) if len(merged.times) else None,
        quarantine_reasons=reasons,
        temporaries_removed=store.temporaries_removed,
        partition_checksums={
            p: {"sha256": c["sha256"], "size": c["size"]}
            for p, c in store.checksums_written.items()
            if p in result.partitions_written
        },
    )
    if quarantine:
        report.quarantine_file = str(report_dir / f"{ingest_id}_quarantine.csv")
    report.report_file = str(report_dir / f"{ingest_id}.json")
    _write_reports(store, report, quarantine, report_dir)
    return report
