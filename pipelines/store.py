"""The station store: CF-1.8 discrete-sampling-geometry ``timeSeries`` netCDF, one file a month.

Layout: ``<store>/<network>/<network>_<YYYY-MM>.nc``, each an orthogonal multidimensional
``(station, time)`` array covering the whole UTC month at the network frequency. Every variable
``v`` has ancillary ``v_source_flag`` (status as received), ``v_qc`` (QC bit mask) and ``v_flag``
(final HJ 212 / QC status).

Guarantees:

- **idempotent upsert**: re-ingesting the same or overlapping data gives an identical store
  (received values overwrite stored ones; a missing value never erases a stored one);
- **atomic writes**: every file is written to a temporary file in the same directory and moved
  into place with ``os.replace`` only after all files of the ingest were written
  (:func:`pipelines.files.atomic_batch`), so a crash leaves each file either old or new, never
  half-written;
- **one writer at a time**: an exclusive ``flock`` on ``<store>/<network>/.lock``;
- **checksums**: every partition written is recorded (SHA-256, size, modification time) in
  ``<store>/<network>/checksums.json``, written atomically under the lock; a partition that does
  not match its entry, or does not open as netCDF, raises :class:`pipelines.errors.StoreCorrupted`
  naming the file and is never read. Data reads (:meth:`StationStore.open`, the months an upsert
  merges into) hash the file every time (within the noise, -4 to +3 %, of the open on a
  21 MB national store, see BENCHMARKS.md "Fault campaign"); the metadata reads of every partition that an upsert plans with (station ids,
  variable names) trust an unchanged size and modification time and hash only when they differ;
  :meth:`StationStore.verify_partitions` (``qingyuan data check``) hashes everything. Partitions
  written before the checksums existed open unchecked and are recorded at the next write;
- **disk full**: a write that runs out of space raises :class:`pipelines.errors.StoreFull`
  naming the store; no partition is replaced and no temporary file is left.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from features.qc import FLAG_CODES, FLAG_MEANINGS, QC_BITS, QCContext, run_checks
from features.qc.flags import INGEST_BITS
from features.units import cf_unit_attrs
from pipelines.config import NetworkSpec
from pipelines.config.locations import code_version
from pipelines.errors import StoreCorrupted, StoreFull
from pipelines.files import atomic_batch, atomic_path, writer_lock
from pipelines.normalise import CanonicalBlock
from pipelines.progress import track

__all__ = [
    "MANIFEST_NAME",
    "CheckedRows",
    "StationStore",
    "UpsertPlan",
    "UpsertResult",
    "file_checksum",
]

_TIME_UNITS = "minutes since 1970-01-01 00:00:00"
#: Environment variable capping the threads of one upsert's QC (:func:`qc_threads`).
QC_THREADS_ENV = "QINGYUAN_QC_THREADS"
#: The checksums of a network's partitions, beside them (:meth:`StationStore.write`).
MANIFEST_NAME = "checksums.json"
#: A write that failed with less free space than this on its file system ran out of space (the
#: netCDF library reports ENOSPC as a bare "NetCDF: HDF error").
_FULL_BELOW_BYTES = 1 << 20
_NO_SPACE = (errno.ENOSPC, errno.EDQUOT)


def file_checksum(path: Path | str) -> dict[str, Any]:
    """SHA-256, size and modification time of a file, as recorded in the store's manifest.

    Returns
    -------
    dict
        ``{"sha256": hex digest, "size": bytes, "mtime_ns": modification time [ns]}``.
    """
    with open(path, "rb") as fh:
        st = os.fstat(fh.fileno())
        digest = hashlib.file_digest(fh, "sha256").hexdigest()
    return {"sha256": digest, "size": st.st_size, "mtime_ns": st.st_mtime_ns}


def _short(entry: dict[str, Any]) -> str:
    sha = entry.get("sha256")
    return f"{entry.get('size')} bytes, sha256 {sha[:16] if sha else 'unrecorded'}"


def _corrupt_reason(
    have: dict[str, Any], entry: dict[str, Any], *, manifest: Path, refused: bool = False
) -> str:
    return (
        f"corrupted partition{', not read' if refused else ''}: {_short(have)} on disk, {_short(entry)} recorded in "
        f"{manifest.name}. Move it away and re-ingest its month from the inputs "
        "listed in the ingest reports (or restore it from a backup)"
    )


def _disk_full(exc: BaseException, folder: Path) -> bool:
    """Whether a failed write ran out of space: ENOSPC / EDQUOT, or (no errno) a full disk now."""
    if isinstance(exc, OSError) and exc.errno in _NO_SPACE:
        return True
    if not isinstance(exc, OSError | RuntimeError):
        return False
    try:
        st = os.statvfs(folder)
    except OSError:
        return False
    return st.f_bavail * st.f_frsize < _FULL_BELOW_BYTES


@dataclass
class UpsertResult:
    """What an upsert changed."""

    partitions_written: list[str]
    values_new: int
    values_changed: int
    values_unchanged: int


@dataclass
class UpsertPlan:
    """What one upsert reads and rewrites (:meth:`StationStore.plan`).

    Attributes
    ----------
    stations : list of str
        Every station of the rewritten files, in file order (the block's, then stored-only ones).
    window : list of pandas.Timestamp
        Months read (the touched ones and their stored neighbours, for QC context).
    rewrite : list of pandas.Timestamp
        Months written.
    grids : list of pandas.DatetimeIndex
        Time grid of each window month (UTC).
    times : pandas.DatetimeIndex
        The window's grids end to end.
    variables : list of str
        Variables of the block and of the store.
    """

    stations: list[str]
    window: list[pd.Timestamp]
    rewrite: list[pd.Timestamp]
    grids: list[pd.DatetimeIndex]
    times: pd.DatetimeIndex
    variables: list[str]


def qc_threads() -> int:
    """Threads the QC of one upsert may use: ``$QINGYUAN_QC_THREADS``, else the usable cores.

    The Dask engine passes 1 (its workers are the parallelism there).
    """
    raw = os.environ.get(QC_THREADS_ENV, "").strip()
    if raw:
        try:
            n = int(raw)
        except ValueError:
            raise ValueError(f"{QC_THREADS_ENV}={raw!r} is not a whole number of threads") from None
        if n < 1:
            raise ValueError(f"{QC_THREADS_ENV}={raw!r}: at least 1 thread")
        return n
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


@dataclass
class CheckedRows:
    """Merged and quality-controlled ``station x time`` arrays of some stations of a window.

    ``values`` are at stored (float32) precision; ``new``/``changed``/``same`` count the block's
    values of these stations against the stored ones.
    """

    stations: list[str]
    values: dict[str, np.ndarray]
    src: dict[str, np.ndarray]
    bits: dict[str, np.ndarray]
    status: dict[str, np.ndarray]
    new: int
    changed: int
    same: int

    @staticmethod
    def combine(parts: list[CheckedRows], stations: list[str]) -> CheckedRows:
        """Stack the rows of several parts (disjoint stations) in the order of ``stations``.

        Raises
        ------
        ValueError
            If the parts do not cover ``stations`` exactly once.
        """
        have = [s for p in parts for s in p.stations]
        if sorted(have) != sorted(stations):
            raise ValueError(
                f"checked parts cover {len(have)} station rows, the window has {len(stations)}"
            )
        order = pd.Index(have).get_indexer(stations)

        def stack(attr: str) -> dict[str, np.ndarray]:
            names = getattr(parts[0], attr)
            return {
                v: np.concatenate([getattr(p, attr)[v] for p in parts], axis=0)[order]
                for v in names
            }

        return CheckedRows(
            list(stations),
            stack("values"),
            stack("src"),
            stack("bits"),
            stack("status"),
            sum(p.new for p in parts),
            sum(p.changed for p in parts),
            sum(p.same for p in parts),
        )


def _month_starts(times: pd.DatetimeIndex) -> list[pd.Timestamp]:
    return sorted({pd.Timestamp(t.year, t.month, 1) for t in times})


def _next_month(m: pd.Timestamp) -> pd.Timestamp:
    return m + pd.offsets.MonthBegin(1)


class StationStore:
    """Monthly CF netCDF partitions of one network.

    Parameters
    ----------
    root : pathlib.Path
        Store root (``qingyuan.paths.store_dir()`` by default in the CLI).
    network : NetworkSpec
        The network (stations, frequency, time conventions).
    registry : dict
        Variable registry (``variables`` mapping).
    """

    def __init__(self, root: Path, network: NetworkSpec, registry: dict[str, dict[str, Any]]):
        self.network = network
        self.registry = registry
        self.dir = Path(root) / network.name
        self.freq = network.freq
        #: Temporary files of killed writes removed when the lock was taken (:meth:`lock`).
        self.temporaries_removed: list[str] = []
        #: Checksums (:func:`file_checksum`) of the partitions the last :meth:`write` wrote.
        self.checksums_written: dict[str, dict[str, Any]] = {}

    # ------------------------------------------------------------------ paths and locking
    def path_for(self, month: pd.Timestamp) -> Path:
        """Partition file of a month."""
        return self.dir / f"{self.network.name}_{month:%Y-%m}.nc"

    def partitions(self) -> list[Path]:
        """Existing partition files, oldest first."""
        return sorted(self.dir.glob(f"{self.network.name}_????-??.nc"))

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """Exclusive writer lock for this network's store.

        On taking it, temporary files of writes that were killed are removed from the network's
        folder and its ``reports/`` (listed in :attr:`temporaries_removed`): with the lock held,
        no write of this store is under way (the ingest reports are written under it too).
        """
        with writer_lock(self.dir, clean=[self.dir / "reports"]) as removed:
            self.temporaries_removed += [str(p) for p in removed]
            yield

    # ------------------------------------------------------------------ checksums
    @property
    def manifest_path(self) -> Path:
        """The checksums of this network's partitions (:data:`MANIFEST_NAME`)."""
        return self.dir / MANIFEST_NAME

    def manifest(self) -> dict[str, dict[str, Any]]:
        """Return the recorded checksums by partition file name (empty: none recorded yet).

        An entry is :func:`file_checksum`'s dict; while a write is being committed it also has
        ``also``: the entries of the file it replaces (``{"sha256": None}``: a file written
        before the checksums existed), so that a write killed half-way through its renames
        leaves every partition acceptable.

        Raises
        ------
        pipelines.errors.StoreCorrupted
            If the manifest is not valid JSON.
        """
        try:
            text = self.manifest_path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return {}
        try:
            return dict(json.loads(text)["partitions"])
        except (ValueError, KeyError, TypeError) as exc:
            raise StoreCorrupted(
                str(self.manifest_path), f"the partition checksums cannot be read ({exc})"
            ) from None

    def _write_manifest(self, entries: dict[str, dict[str, Any]]) -> None:
        """Replace the manifest atomically, flushed to disk (call under :meth:`lock`)."""
        body = {"format": 1, "algorithm": "sha256", "partitions": dict(sorted(entries.items()))}
        with atomic_path(self.manifest_path) as tmp:
            with open(tmp, "w", encoding="utf-8") as fh:
                json.dump(body, fh, indent=1)
                fh.flush()
                os.fsync(fh.fileno())

    def verify_partition(
        self,
        path: Path,
        *,
        entries: dict[str, dict[str, Any]] | None = None,
        full: bool = True,
    ) -> str:
        """Check a partition against its recorded checksum before it is read.

        Parameters
        ----------
        path : pathlib.Path
            The partition.
        entries : dict, optional
            :meth:`manifest`, when the caller already read it.
        full : bool, optional
            Hash the file (default); False trusts an unchanged size and modification time and
            hashes only when they differ (the metadata reads of :meth:`plan`).

        Returns
        -------
        str
            ``"ok"``, or ``"unrecorded"`` for a partition written before the checksums existed.

        Raises
        ------
        pipelines.errors.StoreCorrupted
            If the file's size or SHA-256 is not the recorded one (the manifest is read once more
            first, in case a write committed in between).
        """
        path = Path(path)
        for attempt in (0, 1):
            if entries is None or attempt:
                entries = self.manifest()
            entry = entries.get(path.name)
            if entry is None:
                return "unrecorded"
            known = [entry, *entry.get("also", [])]
            if any(k.get("sha256") is None for k in known):
                return "unrecorded"
            st = path.stat()
            if not full and any(
                k["size"] == st.st_size and k.get("mtime_ns") == st.st_mtime_ns for k in known
            ):
                return "ok"
            have = (
                file_checksum(path)
                if any(k["size"] == st.st_size for k in known)
                else {"sha256": None, "size": st.st_size}
            )
            if have["sha256"] is not None and any(k["sha256"] == have["sha256"] for k in known):
                return "ok"
        raise StoreCorrupted(
            str(path), _corrupt_reason(have, entry, manifest=self.manifest_path, refused=True)
        )

    @contextlib.contextmanager
    def open_partition(
        self,
        path: Path,
        *,
        entries: dict[str, dict[str, Any]] | None = None,
        full: bool = True,
        **kwargs: Any,
    ) -> Iterator[xr.Dataset]:
        """Open one partition after :meth:`verify_partition` (``kwargs`` go to ``open_dataset``).

        Raises
        ------
        pipelines.errors.StoreCorrupted
            If it fails the check, or cannot be opened or decoded as netCDF.
        """
        self.verify_partition(path, entries=entries, full=full)
        try:
            ds = xr.open_dataset(path, **kwargs)
        except (OSError, RuntimeError, ValueError) as exc:
            raise StoreCorrupted(str(path), f"not a readable netCDF partition ({exc})") from exc
        with ds:
            try:
                yield ds
            except (OSError, RuntimeError) as exc:  # decoding a damaged chunk
                raise StoreCorrupted(str(path), f"cannot be decoded ({exc})") from exc

    def _settled_manifest(self) -> dict[str, dict[str, Any]]:
        """Return the manifest with a killed write resolved (call under :meth:`lock`).

        Entries of files that are gone are dropped; an entry with ``also`` (a write killed
        between the manifest and its renames) keeps the version the file has; partitions
        without an entry (written before the checksums existed) are recorded now.
        """
        out: dict[str, dict[str, Any]] = {}
        for name, entry in self.manifest().items():
            path = self.dir / name
            if not path.is_file():
                continue
            if "also" not in entry:
                out[name] = entry
                continue
            have = file_checksum(path)
            known = [entry, *entry["also"]]
            if any(k.get("sha256") in (None, have["sha256"]) for k in known):
                out[name] = have
            else:  # damaged since: keep what was recorded, so that reads refuse it
                out[name] = {k: v for k, v in entry.items() if k != "also"}
        for path in self.partitions():
            if path.name not in out:
                out[path.name] = file_checksum(path)
        return out

    def verify_partitions(self) -> list[dict[str, Any]]:
        """Hash every partition against the manifest, under the lock (``qingyuan data check``).

        A file whose content matches but whose modification time changed (copied without
        keeping times) gets its time updated, so that the fast path holds again.

        Returns
        -------
        list of dict
            One per partition: ``file``, ``status`` (``ok``, ``unrecorded``: opens, written
            before the checksums existed, recorded at the next write; ``corrupted``),
            ``sha256``, ``size`` and ``reason`` (for a corrupted one).
        """
        results = []
        with self.lock():
            entries = self.manifest()
            refreshed = False
            for path in self.partitions():
                have = file_checksum(path)
                entry = entries.get(path.name)
                known = [entry, *entry.get("also", [])] if entry else []
                row: dict[str, Any] = {"file": str(path), "status": "ok"}
                row |= {"sha256": have["sha256"], "size": have["size"]}
                if known and not any(k.get("sha256") in (None, have["sha256"]) for k in known):
                    row |= {
                        "status": "corrupted",
                        "reason": _corrupt_reason(have, entry, manifest=self.manifest_path),
                    }
                elif entry is None:  # no checksum to compare: decode all of it
                    row["status"] = "unrecorded"
                    try:
                        with xr.open_dataset(path) as ds:
                            ds.load()
                    except (OSError, RuntimeError, ValueError) as exc:
                        row |= {"status": "corrupted", "reason": f"not readable netCDF ({exc})"}
                elif "also" not in entry and entry.get("mtime_ns") != have["mtime_ns"]:
                    entries[path.name] = have
                    refreshed = True
                results.append(row)
            if refreshed:
                self._write_manifest(entries)
        return results

    # ------------------------------------------------------------------ reading
    def _month_grid(self, month: pd.Timestamp) -> pd.DatetimeIndex:
        return pd.date_range(month, _next_month(month), freq=self.freq, inclusive="left")

    def _load_month(self, month: pd.Timestamp, stations: list[str]) -> dict[str, np.ndarray]:
        """Arrays of one month on the full grid, reindexed to ``stations`` (empty if no file)."""
        times = self._month_grid(month)
        path = self.path_for(month)
        out: dict[str, np.ndarray] = {}
        if not path.exists():
            return out
        with self.open_partition(path, mask_and_scale=True) as ds:
            ds = ds.load()
        ds = ds.assign_coords(station=ds["station_id"].values.astype(str))
        ds = ds.reindex(station=stations, time=times)
        for name, da in ds.data_vars.items():
            if name in ("station_id", "station_name", "lat", "lon", "alt", "time_bnds"):
                continue
            if name.endswith(("_flag", "_source_flag")):
                out[name] = da.fillna(
                    FLAG_CODES["missing"]
                    if name.endswith("_flag") and not name.endswith("_source_flag")
                    else 0
                ).values.astype("int8")
            elif name.endswith("_qc"):
                out[name] = da.fillna(0).values.astype("uint16")
            else:
                out[name] = da.values.astype("float64")
        return out

    def open(
        self,
        variables: list[str] | None = None,
        start: str | pd.Timestamp | None = None,
        end: str | pd.Timestamp | None = None,
    ) -> xr.Dataset:
        """Open the stored data as one ``(station, time)`` dataset.

        Parameters
        ----------
        variables : list of str, optional
            Data variables to keep (their ``_flag``/``_qc``/``_source_flag`` come along).
        start, end : str or pandas.Timestamp, optional
            UTC time range (inclusive).

        Raises
        ------
        FileNotFoundError
            If the network has no stored data yet.
        """
        files = self.partitions()
        if start is not None:
            s = pd.Timestamp(start)
            files = [f for f in files if _next_month(self._month_of(f)) > s]
        if end is not None:
            e = pd.Timestamp(end)
            files = [f for f in files if self._month_of(f) <= e]
        if not files:
            raise FileNotFoundError(
                f"no stored data for network {self.network.name!r} in {self.dir}"
            )
        parts = []
        entries = self.manifest()
        for f in files:
            with self.open_partition(f, entries=entries) as ds:
                ds = ds.load()
            if variables is not None:
                keep = [
                    n
                    for n in ds.data_vars
                    if n.split("_")[0] in variables
                    or any(n == v or n.startswith(v + "_") for v in variables)
                ]
                keep += [n for n in ("station_id", "station_name", "lat", "lon", "alt") if n in ds]
                ds = ds[list(dict.fromkeys(keep))]
            parts.append(ds)
        stations = list(dict.fromkeys(s for p in parts for s in p["station_id"].values.astype(str)))
        aligned = []
        for p in parts:
            p = p.assign_coords(station=p["station_id"].values.astype(str)).reindex(
                station=stations
            )
            aligned.append(p.drop_vars([v for v in ("time_bnds",) if v in p]))
        ds = xr.concat(
            aligned,
            dim="time",
            data_vars="minimal",
            coords="minimal",
            compat="override",
            join="outer",
        )
        for name in ("station_id", "station_name", "lat", "lon", "alt"):
            if name in ds and "time" in ds[name].dims:
                ds[name] = ds[name].isel(time=0, drop=True)
        if start is not None or end is not None:
            ds = ds.sel(time=slice(start, end))
        ds.attrs = parts[-1].attrs
        return ds

    def _month_of(self, path: Path) -> pd.Timestamp:
        return pd.Timestamp(path.stem.rsplit("_", 1)[1] + "-01")

    # ------------------------------------------------------------------ writing
    def upsert(self, block: CanonicalBlock, qc_config: dict[str, Any]) -> UpsertResult:
        """Merge a block into the store, re-run QC on the touched period, write atomically.

        Parameters
        ----------
        block : CanonicalBlock
            New values in canonical units.
        qc_config : dict
            Merged QC configuration (``configs/qc.yml`` + network overrides).
        """
        if len(block.times) == 0:
            return UpsertResult([], 0, 0, 0)
        with self.lock():
            return self._upsert_locked(block, qc_config)

    def _upsert_locked(self, block: CanonicalBlock, qc_config: dict[str, Any]) -> UpsertResult:
        plan = self.plan(block)
        checked = self.check(block, plan, qc_config)
        written = self.write(plan, checked)
        return UpsertResult(written, checked.new, checked.changed, checked.same)

    # The three steps of an upsert, public so that :mod:`pipelines.engine` can run ``check`` per
    # station group on workers (read-only) and ``write`` once, under the lock, on the coordinator.
    def plan(self, block: CanonicalBlock) -> UpsertPlan:
        """Months, stations and variables an upsert of ``block`` reads, checks and rewrites.

        Call under :meth:`lock`: the plan reflects the files present now.
        """
        stations = list(block.stations)
        existing_months = [self._month_of(p) for p in self.partitions()]
        touched = _month_starts(block.times)
        # QC context: one month either side; the month after is rewritten as its QC may change.
        lo = touched[0] - pd.offsets.MonthBegin(1)
        hi = touched[-1] + pd.offsets.MonthBegin(1)
        window = [
            m for m in pd.date_range(lo, hi, freq="MS") if m in touched or m in existing_months
        ]
        rewrite = [m for m in window if m in touched or (m == hi and m in existing_months)]
        entries = self.manifest()
        for p in self.partitions():  # keep stations that exist only in old files
            with self.open_partition(p, entries=entries, full=False) as ds:
                for s in ds["station_id"].values.astype(str):
                    if s not in stations:
                        stations.append(s)
        grids = [self._month_grid(m) for m in window]
        times = grids[0].append(grids[1:]) if len(grids) > 1 else grids[0]
        variables = list(dict.fromkeys(list(block.values) + self._stored_variables()))
        return UpsertPlan(stations, window, rewrite, grids, times, variables)

    def check(
        self,
        block: CanonicalBlock,
        plan: UpsertPlan,
        qc_config: dict[str, Any],
        *,
        rows: list[str] | None = None,
        keep: list[str] | None = None,
        threads: int | None = None,
    ) -> CheckedRows:
        """Merge ``block`` into the stored window and run QC on it; writes nothing.

        Parameters
        ----------
        block : CanonicalBlock
            New values (it may hold more or fewer stations than ``rows``).
        plan : UpsertPlan
            From :meth:`plan`.
        qc_config : dict
            Merged QC configuration.
        rows : list of str, optional
            Stations to merge and check, in ``plan.stations`` order (default: all). A station
            group plus its halo of neighbours: checks that compare stations see the halo.
        keep : list of str, optional
            Stations of ``rows`` to return and count (default: all of ``rows``).
        threads : int, optional
            Threads for the checks, variable by variable (default :func:`qc_threads`); the
            result does not depend on it.
        """
        stations = list(plan.stations) if rows is None else list(rows)
        window, grids, times = plan.window, plan.grids, plan.times
        S, T = len(stations), len(times)
        variables = plan.variables
        values = {v: np.full((S, T), np.nan) for v in variables}
        src = {v: np.zeros((S, T), dtype="int8") for v in variables}
        ibits = {v: np.zeros((S, T), dtype="uint16") for v in variables}
        offset = 0
        for m, grid in zip(window, grids, strict=True):
            old = self._load_month(m, stations)
            sl = slice(offset, offset + len(grid))
            for v in variables:
                if v in old:
                    values[v][:, sl] = old[v]
                    src[v][:, sl] = old.get(f"{v}_source_flag", np.zeros_like(src[v][:, sl]))
                    ibits[v][:, sl] = (
                        old.get(f"{v}_qc", np.zeros_like(ibits[v][:, sl])) & INGEST_BITS
                    )
            offset += len(grid)
        # merge the block (its rows among ``stations``)
        b_idx = pd.Index(block.stations).get_indexer(stations)
        mine = np.flatnonzero(b_idx >= 0)
        s_idx, b_rows = mine, b_idx[mine]
        t_idx = times.get_indexer(block.times)
        kept = np.ones(S, bool) if keep is None else np.isin(stations, keep)
        kept_rows = kept[s_idx][:, None]
        new = changed = same = 0
        for v, full in block.values.items():
            arr = full[b_rows]
            target = values[v][np.ix_(s_idx, t_idx)]
            has = ~np.isnan(arr)
            was = ~np.isnan(target)
            diff = has & was & ~np.isclose(arr, target, rtol=1e-6, atol=1e-6)
            new += int(np.sum(has & ~was & kept_rows))
            changed += int(np.sum(diff & kept_rows))
            same += int(np.sum(has & was & ~diff & kept_rows))
            merged = np.where(has, arr, target)
            values[v][np.ix_(s_idx, t_idx)] = merged
            sf = src[v][np.ix_(s_idx, t_idx)]
            bsf = block.source_flags[v][b_rows]
            received = has | (bsf != 0)
            src[v][np.ix_(s_idx, t_idx)] = np.where(received, bsf, sf)
            ib = ibits[v][np.ix_(s_idx, t_idx)]
            ibits[v][np.ix_(s_idx, t_idx)] = np.where(has, block.ingest_bits[v][b_rows], ib)
        # QC over the window
        lat, lon = self._coords(stations)
        ctx = QCContext(
            times=times,
            lat=lat,
            lon=lon,
            frequency=self.freq,
            time_zone=self.network.time_zone,
            time_label=self.network.time_label,
            variables=self.registry,
            source_flags=src,
            valid_statuses=tuple(qc_config.get("valid_statuses", ["N", "S", "qc_suspect"])),
            threads=qc_threads() if threads is None else threads,
            station_class=self._classes(stations),
        )
        # store float32 precision so that QC sees exactly what a re-ingest will read back
        f32 = {v: a.astype("float32").astype("float64") for v, a in values.items()}
        bits, status = run_checks(f32, ctx, qc_config.get("checks", {}), preset_bits=ibits)
        out = [s for s, k in zip(stations, kept, strict=True) if k]
        return CheckedRows(
            out,
            {v: a[kept] for v, a in f32.items()},
            {v: a[kept] for v, a in src.items()},
            {v: a[kept] for v, a in bits.items()},
            {v: a[kept] for v, a in status.items()},
            new,
            changed,
            same,
        )

    def write(self, plan: UpsertPlan, checked: CheckedRows) -> list[str]:
        """Write the rewritten months of a checked window atomically (call under :meth:`lock`).

        Every file goes to a temporary sibling first; their checksums are then recorded in the
        manifest together with those of the files they replace (``also``, see :meth:`manifest`),
        the files are moved into place, and the manifest is written once more without the old
        versions. A kill at any point leaves every partition old or new and acceptable.
        The new checksums are kept in :attr:`checksums_written`.

        Returns the partition files written.

        Raises
        ------
        pipelines.errors.StoreFull
            If the disk (or quota) ran out of space: nothing was replaced, no temporary left.
        """
        if checked.stations != list(plan.stations):
            checked = CheckedRows.combine([checked], plan.stations)
        stations = plan.stations
        entries = self._settled_manifest()
        new: dict[str, dict[str, Any]] = {}
        try:
            with atomic_batch(fsync=True) as batch:
                try:
                    offset = 0
                    months = zip(plan.window, plan.grids, strict=True)
                    for m, grid in track(months, total=len(plan.window), desc="write months"):
                        sl = slice(offset, offset + len(grid))
                        offset += len(grid)
                        if m not in plan.rewrite:
                            continue
                        ds = self._to_dataset(
                            stations,
                            grid,
                            {v: a[:, sl] for v, a in checked.values.items()},
                            {v: a[:, sl] for v, a in checked.src.items()},
                            {v: a[:, sl] for v, a in checked.bits.items()},
                            {v: a[:, sl] for v, a in checked.status.items()},
                            m,
                        )
                        final = self.path_for(m)
                        tmp = batch.path(final)
                        ds.to_netcdf(tmp, format="NETCDF4", encoding=self._encoding(ds))
                        new[final.name] = file_checksum(tmp)
                    pending = dict(entries)
                    for name, entry in new.items():
                        if (self.dir / name).is_file():
                            old = entries.get(name, {"sha256": None})
                            entry = entry | {"also": [old]}
                        pending[name] = entry
                    self._write_manifest(pending)
                except (OSError, RuntimeError) as exc:  # temporaries still there: free space now
                    if _disk_full(exc, self.dir):
                        raise self._full(exc) from exc
                    raise
        except OSError as exc:  # the flush or the renames
            if exc.errno in _NO_SPACE:
                raise self._full(exc) from exc
            raise
        with contextlib.suppress(OSError):  # the pending manifest accepts the new files already
            self._write_manifest(entries | new)
        self.checksums_written = {str(self.dir / n): e for n, e in new.items()}
        return [str(f) for f in batch.finals]

    def _full(self, exc: BaseException) -> StoreFull:
        try:
            st = os.statvfs(self.dir)
            free = f"{st.f_bavail * st.f_frsize:,} bytes free"
        except OSError:
            free = "free space unknown"
        return StoreFull(
            str(self.dir),
            f"disk full while writing the station store ({free}; {exc}): nothing stored was "
            "changed. Free space (or raise the quota) and run the ingest again",
        )

    def _stored_variables(self) -> list[str]:
        parts = self.partitions()
        if not parts:
            return []
        with self.open_partition(parts[-1], full=False) as ds:
            return [v for v in ds.data_vars if v in self.registry]

    def _coords(self, stations: list[str]) -> tuple[np.ndarray, np.ndarray]:
        by_id = {s.id: s for s in self.network.stations}
        lat = np.array([by_id[s].lat if s in by_id else np.nan for s in stations])
        lon = np.array([by_id[s].lon if s in by_id else np.nan for s in stations])
        return lat, lon

    def _classes(self, stations: list[str]) -> np.ndarray:
        by_id = {s.id: s.station_class for s in self.network.stations}
        return np.array([by_id.get(s) for s in stations], dtype=object)

    # ------------------------------------------------------------------ CF dataset
    def _to_dataset(
        self,
        stations: list[str],
        times: pd.DatetimeIndex,
        values: dict[str, np.ndarray],
        src: dict[str, np.ndarray],
        bits: dict[str, np.ndarray],
        status: dict[str, np.ndarray],
        month: pd.Timestamp,
    ) -> xr.Dataset:
        net = self.network
        by_id = {s.id: s for s in net.stations}
        lat, lon = self._coords(stations)
        alt = np.array(
            [
                by_id[s].altitude if s in by_id and by_id[s].altitude is not None else np.nan
                for s in stations
            ]
        )
        names = [(by_id[s].name or s) if s in by_id else s for s in stations]
        coords_attr = "time lat lon alt station_name"
        data: dict[str, Any] = {}
        flag_values = np.arange(len(FLAG_MEANINGS), dtype="int8")
        masks = np.array([b for b, _ in QC_BITS.values()], dtype="int16")
        for v in sorted(values):
            meta = self.registry[v]
            attrs = {
                "long_name": meta["long_name"],
                **cf_unit_attrs(meta),
                "coordinates": coords_attr,
                "cell_methods": meta.get("cell_methods", "time: point"),
                "ancillary_variables": f"{v}_flag {v}_qc {v}_source_flag",
                "valid_min": np.float32(meta["valid_range"][0]) if "valid_range" in meta else None,
                "valid_max": np.float32(meta["valid_range"][1]) if "valid_range" in meta else None,
            }
            if meta.get("standard_name"):
                attrs["standard_name"] = meta["standard_name"]
            attrs = {k: a for k, a in attrs.items() if a is not None}
            data[v] = xr.Variable(("station", "time"), values[v].astype("float32"), attrs)
            flag_attrs = {
                "long_name": f"final data status of {v} (HJ 212-2017 flags + QC)",
                "flag_values": flag_values,
                "flag_meanings": " ".join(FLAG_MEANINGS),
                "hj212_codes": "N F M S D C T B",
                "coordinates": coords_attr,
            }
            flag_attrs["standard_name"] = "status_flag"
            data[f"{v}_flag"] = xr.Variable(
                ("station", "time"), status[v].astype("int8"), flag_attrs
            )
            src_attrs = dict(
                flag_attrs, long_name=f"data status of {v} as received from the source"
            )
            data[f"{v}_source_flag"] = xr.Variable(
                ("station", "time"), src[v].astype("int8"), src_attrs
            )
            qc_attrs = {
                "long_name": f"QC checks failed by {v} (bit mask)",
                "standard_name": "quality_flag",
                "flag_masks": masks,
                "flag_meanings": " ".join(QC_BITS),
                "coordinates": coords_attr,
            }
            # int16: CF-1.8 has no unsigned types; the bits used fit in 15 bits
            data[f"{v}_qc"] = xr.Variable(("station", "time"), bits[v].astype("int16"), qc_attrs)
        if net.time_label in ("interval_end", "interval_start"):
            lo = times - self.freq if net.time_label == "interval_end" else times
            hi = times if net.time_label == "interval_end" else times + self.freq
            data["time_bnds"] = xr.Variable(
                ("time", "nv"), np.stack([lo.values, hi.values], axis=1)
            )
        coords = {
            "time": xr.Variable(
                "time", times.values, {"standard_name": "time", "long_name": "time", "axis": "T"}
            ),
            "station_id": xr.Variable(
                "station",
                np.array(stations, dtype=object),
                {"cf_role": "timeseries_id", "long_name": "station identifier"},
            ),
            "station_name": xr.Variable(
                "station", np.array(names, dtype=object), {"long_name": "station name"}
            ),
            "lat": xr.Variable(
                "station",
                lat,
                {
                    "standard_name": "latitude",
                    "long_name": "station latitude",
                    "units": "degrees_north",
                },
            ),
            "lon": xr.Variable(
                "station",
                lon,
                {
                    "standard_name": "longitude",
                    "long_name": "station longitude",
                    "units": "degrees_east",
                },
            ),
            "alt": xr.Variable(
                "station",
                alt,
                {
                    "standard_name": "height_above_mean_sea_level",
                    "long_name": "station altitude",
                    "units": "m",
                    "positive": "up",
                    "axis": "Z",
                },
            ),
        }
        if "time_bnds" in data:
            coords["time"].attrs["bounds"] = "time_bnds"
        ds = xr.Dataset(data, coords=coords)
        ds.attrs = {
            "Conventions": "CF-1.8",
            "featureType": "timeSeries",
            "title": net.title or net.name,
            "summary": f"Quality-controlled station observations of network '{net.name}', {month:%Y-%m} (UTC).",
            "source": "Qingyuan station store; inputs listed in the ingest reports",
            "institution": "Qingyuan",
            "history": f"written by qingyuan {code_version()} (pipelines.store)",
            "network": net.name,
            "time_zone": net.time_zone,
            "time_label": net.time_label,
            "time_label_note": {
                "interval_end": "time is the END of the averaging interval (value at H = mean of (H-1, H])",
                "interval_start": "time is the START of the averaging interval",
                "instant": "time is the instant of the reading",
            }[net.time_label],
            "time_coverage_resolution": net.frequency,
            "qc_config": "configs/qc.yml",
            "flag_convention": "HJ 212-2017 data flags plus qc_suspect, qc_invalid, missing",
        }
        return ds

    def _encoding(self, ds: xr.Dataset) -> dict[str, dict[str, Any]]:
        enc: dict[str, dict[str, Any]] = {
            "time": {"units": _TIME_UNITS, "calendar": "standard", "dtype": "int32"},
            "station_id": {"dtype": "S1"},
            "station_name": {"dtype": "S1"},
        }
        if "time_bnds" in ds:
            enc["time_bnds"] = {"units": _TIME_UNITS, "calendar": "standard", "dtype": "int32"}
        for name, da in ds.data_vars.items():
            if name == "time_bnds":
                continue
            e: dict[str, Any] = {"zlib": True, "complevel": 1}
            if da.dtype == np.float32:
                e["_FillValue"] = np.float32(np.nan)
            else:
                e["_FillValue"] = None
            enc[name] = e
        for c in ("lat", "lon", "alt"):
            enc[c] = {"_FillValue": None} if c != "alt" else {"_FillValue": np.nan}
        return enc
