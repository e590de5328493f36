"""Operations: ingest reports, quarantined rows and what the last runs did.

Ingest reports are the JSON files :func:`pipelines.ingest.ingest` writes to
``<store>/<network>/reports/<ingest_id>.json`` (with ``<ingest_id>_quarantine.csv`` when rows
were refused); the main run's summary is ``outputs/summary.json``
(:func:`pipelines.flows.summary.write_summary`).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pandas as pd

from pipelines.results import configs
from pipelines.results.cache import memo
from pipelines.results.forecasts import forecast_files
from pipelines.results.jsonable import iso_utc, jsonable
from pipelines.results.warning_db import db_files, db_rows
from pipelines.results.workspace import NotFound, Read, Workspace, unknown

__all__ = ["ingest_reports", "last_runs", "quarantine"]

_REPORT = re.compile(r"^[\w.\-]{1,200}$")
_STAMP = re.compile(r"_(\d{8}T\d{4})Z\.nc$")
# keys of a network in summary.json and the step they show ran
_STEPS = {
    "ingest": "ingest",
    "days_per_aqi_category": "assess",
    "days_per_water_class": "assess",
    "grid_file": "grid",
    "forecast": "forecast",
    "warnings": "warnings",
    "warning_history": "warning_drill",
    "water_alerts": "water_alerts",
    "source_tracing": "source_tracing",
}


def _report_dir(ws: Workspace, network: str) -> Path:
    return ws.store / network / "reports"


def _report_files(ws: Workspace, network: str) -> list[Path]:
    d = _report_dir(ws, network)
    return sorted(d.glob("*.json")) if d.is_dir() else []


def _name(p: Any) -> str | None:
    return Path(p).name if p else None


def _report(path: Path, network: str) -> dict[str, Any]:
    rep = json.loads(path.read_text(encoding="utf-8"))
    q = rep.get("quarantine_file")
    if not q and (path.parent / f"{path.stem}_quarantine.csv").is_file():
        q = f"{path.stem}_quarantine.csv"
    rep.update(
        id=rep.get("ingest_id") or path.stem,
        network=rep.get("network") or network,
        quarantine_file=_name(q),
        report_file=path.name,
        partitions_written=[_name(p) for p in rep.get("partitions_written") or []],
        started=iso_utc(rep.get("started")),
        finished=iso_utc(rep.get("finished")),
    )
    if rep.get("period"):
        rep["period"] = [iso_utc(t) for t in rep["period"]]
    return jsonable(rep)


def _reports(ws: Workspace, network: str) -> list[dict[str, Any]]:
    return [
        memo("ingest_report", str(p), files=[p], compute=lambda p=p: _report(p, network)).data
        for p in _report_files(ws, network)
    ]


def ingest_reports(ws: Workspace, *, network: str | None = None, limit: int = 50) -> Read:
    """Ingest reports, newest first.

    Parameters
    ----------
    ws : Workspace
        The workspace.
    network : str, optional
        One network (default: every configured network).
    limit : int
        At most this many reports.

    Returns
    -------
    Read
        ``data``: list of the parsed report JSON (``ingest_id, network, started, finished,
        sources [{adapter, files, rows_in, rows_stored, rows_merged, rows_quarantined, rejected,
        notes}], rows_in, rows_stored, rows_merged, rows_quarantined, values_new, values_changed, values_unchanged,
        period, quarantine_reasons, balanced``; chained reports also ``seq, prev_hash, hash``,
        :mod:`pipelines.report_chain`) with ``id`` (the report id), ``report_file``,
        ``partitions_written`` and ``quarantine_file`` as file names (None when nothing was
        quarantined); times ISO-8601 UTC.

    Raises
    ------
    NotFound
        For an unknown network.
    """
    names = [configs.network(network).name] if network is not None else configs.network_names()
    files = [p for n in names for p in _report_files(ws, n)]
    key = (str(ws.store), tuple(names), tuple(str(p) for p in files), int(limit))

    def compute() -> list[dict[str, Any]]:
        rows = [r for n in names for r in _reports(ws, n)]
        rows.sort(key=lambda r: (r.get("started") or "", r["id"]), reverse=True)
        return rows[: max(int(limit), 0)]

    return memo("ingest_reports", key, files=files, compute=compute)


def quarantine(ws: Workspace, network: str, report_id: str) -> Read:
    """Return the input rows an ingest refused, with file, line, field and reason.

    Parameters
    ----------
    ws : Workspace
        The workspace.
    network : str
        The network.
    report_id : str
        The report id (``ingest_id``, e.g. ``20261202T032652Z-c9b139``).

    Returns
    -------
    Read
        ``data``: pandas DataFrame with ``file, line, field, reason, raw`` (``line`` int).

    Raises
    ------
    NotFound
        Unknown network or report, or a report without quarantined rows.
    """
    net = configs.network(network)
    reports = [p.stem for p in _report_files(ws, net.name)]
    if not isinstance(report_id, str) or not _REPORT.match(report_id) or report_id not in reports:
        raise unknown(
            "ingest report",
            report_id,
            known=reversed(reports),
            where=f"of network {net.name!r}",
            limit=20,
        )
    path = _report_dir(ws, net.name) / f"{report_id}_quarantine.csv"
    if not path.is_file():
        raise NotFound(
            f"ingest report {report_id!r} of network {net.name!r} quarantined no rows (no {path.name})"
        )

    def compute() -> pd.DataFrame:
        df = pd.read_csv(path, dtype=str, keep_default_na=False)
        if "line" in df:
            df["line"] = pd.to_numeric(df["line"], errors="coerce").astype("Int64")
        df.attrs = {"network": net.name, "report": report_id}
        return df

    return memo("quarantine", str(path), files=[path], compute=compute)


def _summary(path: Path, modified: Any) -> dict[str, Any] | None:
    if not path.is_file():
        return None
    raw = json.loads(path.read_text(encoding="utf-8"))
    nets = {}
    for name, s in (raw.get("networks") or {}).items():
        fc = s.get("forecast") or {}
        entry: dict[str, Any] = {
            "kind": s.get("kind"),
            "steps": sorted({step for k, step in _STEPS.items() if s.get(k) is not None}),
            "period_utc": [iso_utc(t) for t in s.get("period_utc") or []],
            "ingest": {
                k: (_name(v) if k in ("report_file", "quarantine_file") else v)
                for k, v in (s.get("ingest") or {}).items()
            }
            or None,
            "forecast": {
                "file": _name(fc.get("file")),
                "issue_time_local": fc.get("issue_time_local"),
                "trained": fc.get("trained"),
            }
            if fc
            else None,
        }
        runs = s.get("warnings") or []
        entry["warnings"] = [
            {
                "city": w.get("city"),
                "issue_time": iso_utc(w.get("issue_time")),
                "decisions": w.get("decisions"),
                "ops_alert": w.get("ops_alert"),
            }
            for w in runs
        ]
        alerts = s.get("water_alerts") or {}
        entry["water_alerts"] = {
            c: {
                "issue_time": iso_utc(w.get("issue_time")),
                "decisions": w.get("decisions"),
                "ops_alert": w.get("ops_alert"),
            }
            for c, w in alerts.items()
            if isinstance(w, dict)
        }
        nets[name] = entry
    pmf = raw.get("pmf_demo")
    return jsonable(
        {
            "file": path.name,
            "generated": iso_utc(modified),
            "networks": nets,
            "pmf": {
                "outputs": _name(pmf.get("outputs")),
                "mlflow_run_id": pmf.get("mlflow_run_id"),
                "seconds": pmf.get("seconds"),
            }
            if isinstance(pmf, dict)
            else None,
        }
    )


def _forecast_stamp(path: Path) -> str | None:
    m = _STAMP.search(path.name)
    return iso_utc(pd.Timestamp(m.group(1))) if m else None


def last_runs(ws: Workspace) -> Read:
    """Return what the last main / scheduled runs did, from the files they left.

    Parameters
    ----------
    ws : Workspace
        The workspace.

    Returns
    -------
    Read
        ``data``: ``{summary: {file, generated (its modification time), networks {name: {kind,
        steps (ingest, assess, grid, forecast, warnings, warning_drill, water_alerts,
        source_tracing: what ran), period_utc, ingest, forecast, warnings, water_alerts}},
        pmf} or None (no summary.json), ingest {network: {id, started, finished, rows_in,
        rows_stored, rows_quarantined} of the newest report}, forecasts {network: {issue_time,
        file} of the newest file}, warnings {city: {issue_time (newest decision),
        decided_at (when it was taken), decisions (count)}}}``.
    """
    names = configs.network_names()
    summary = ws.outputs / "summary.json"
    reports = {n: _report_files(ws, n) for n in names}
    fc = {n: forecast_files(ws, n) for n in names}
    files = [summary, *[p for v in reports.values() for p in v[-1:]], *db_files(ws)]
    key = (
        str(ws.store),
        str(ws.outputs),
        tuple((n, tuple(p.name for p in reports[n]), tuple(p.name for p in fc[n])) for n in names),
    )

    def compute() -> dict[str, Any]:
        ingest = {}
        for n in names:
            rows = _reports(ws, n)
            if rows:
                r = max(rows, key=lambda r: (r.get("started") or "", r["id"]))
                ingest[n] = {
                    k: r.get(k)
                    for k in (
                        "id",
                        "started",
                        "finished",
                        "rows_in",
                        "rows_stored",
                        "rows_merged",
                        "rows_quarantined",
                        "balanced",
                    )
                }
        forecasts = {
            n: {"issue_time": _forecast_stamp(fc[n][-1]), "file": fc[n][-1].name}
            for n in names
            if fc[n]
        }
        decided = db_rows(
            ws,
            "SELECT city, MAX(issue_time) AS issue_time, MAX(at) AS decided_at, COUNT(*) AS n "
            "FROM audit GROUP BY city ORDER BY city",
        )
        warned = {
            r["city"]: {
                "issue_time": iso_utc(r["issue_time"]),
                "decided_at": iso_utc(r["decided_at"]),
                "decisions": r["n"],
            }
            for r in decided
        }
        modified = summary.stat().st_mtime if summary.is_file() else None
        stamp = pd.Timestamp(modified, unit="s", tz="UTC") if modified else None
        return {
            "summary": _summary(summary, stamp),
            "ingest": ingest,
            "forecasts": forecasts,
            "warnings": warned,
        }

    return memo("last_runs", key, files=files, compute=compute)
