"""Pollution-source supervision in ``qingyuan run``: HJ 212 over TCP -> store -> alerts -> ranking.

The bundled day (``configs/hj212.yml: run.traffic``, SYNTHETIC enterprises) is sent by one
simulated data logger per MN to a real receiver on a free ``127.0.0.1`` port, which writes its
durable raw log and quarantine under ``<store>/hj212/``; the source network is then ingested from
that log like any other source (QC flags, CF store, row accounting), its supervision alerts are
decided at the end of the day through the warning path, and the enterprises are ranked for the
largest rise of the configured ambient stations on that day.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
from prefect import get_run_logger, task

from pipelines.config import load_network
from pipelines.config.hj212 import hj212_config
from pipelines.config.locations import project_root
from pipelines.flows.assess import assess_task
from pipelines.flows.ingest import ingest_flow
from pipelines.flows.warn import cities_of, warn_result
from pipelines.warnings.supervision import run_supervision_alerts

__all__ = ["supervision_task"]


@task(name="hj212-supervision")
def supervision_task(store_root: str, out_dir: str) -> dict[str, Any] | None:
    """Replay the bundled HJ 212 day through a receiver, ingest, alert and rank (None: not set)."""
    from pipelines.hj212.replay import replay_through_receiver
    from pipelines.hj212.traffic import read_traffic

    spec = hj212_config()
    if spec.run is None:
        return None
    log = get_run_logger()
    net = load_network(spec.run.network)
    traffic = Path(spec.run.traffic)
    traffic = traffic if traffic.is_absolute() else project_root() / traffic
    queues = read_traffic(traffic)
    rx = replay_through_receiver(queues, Path(store_root) / "hj212", spec=spec)
    log.info(
        "HJ 212: %d frames from %d loggers over TCP port %d: %d accepted and acknowledged, "
        "%d quarantined",
        rx["frames"],
        rx["loggers"],
        rx["port"],
        rx["accepted"],
        rx["quarantined"],
    )
    report = ingest_flow(net.name, store_root)
    period = report.get("period")
    out: dict[str, Any] = {
        "network": net.name,
        "synthetic": net.synthetic,
        "traffic": str(traffic),
        "receiver": rx,
        "ingest": {
            k: report[k]
            for k in (
                "rows_in",
                "rows_stored",
                "rows_merged",
                "rows_quarantined",
                "balanced",
                "report_file",
            )
            if k in report
        }
        | {"notes": [n for s in report.get("sources", []) for n in s.get("notes", [])]},
    }
    if not period:
        return out
    summary = assess_task.fn(net.name, store_root, out_dir)
    out["compliance"] = {
        "file": str(Path(out_dir) / f"{net.name}_discharge_compliance.csv"),
        "completeness_percent": summary["completeness_percent"],
    }
    now = pd.Timestamp(period[1])  # the data cut-off of the replayed day (UTC)
    out["alerts"] = {}
    for city in cities_of(net.name):
        rep = run_supervision_alerts(city, Path(out_dir), Path(store_root), now)
        out["alerts"][city] = warn_result(city, rep) | {"findings": _findings(rep)}
    out["attribution"] = _attribution(spec, net.name, store_root, out_dir, now)
    return out


def _findings(rep: Any) -> list[dict[str, Any]]:
    """Each enterprise's alert level and the finding that determined it (for the summary)."""
    rows = []
    for area, d in rep.decisions.items():
        if d.level is None:
            continue
        det = d.details
        rows.append(
            {
                "enterprise": area,
                "name": det.get("enterprise", {}).get("name", ""),
                "level": d.level,
                "condition": det.get("condition"),
                "station": det.get("determining_station"),
                "pollutant": d.primary_pollutant,
                "value": det.get("observed"),
                "limit": det.get("limit"),
                "period_utc": det.get("period"),
                "flags": det.get("flags", ""),
                "findings": len(det.get("findings", [])),
                "why": d.reasons[0] if d.reasons else "",
            }
        )
    return rows


def largest_rise(
    network: str, station: str, variable: str, store_root: str, day_end: pd.Timestamp
) -> pd.Timestamp:
    """Return the hour of the largest robust anomaly z (72-h trailing median) in the day to ``day_end``."""
    from features.assessment import mask_invalid
    from features.tracing.upstream import anomaly_z
    from pipelines.config import load_qc, load_variables
    from pipelines.store import StationStore

    net = load_network(network)
    start = day_end - pd.Timedelta(days=5)
    ds = StationStore(Path(store_root), net, load_variables()["variables"]).open(
        [variable], start=start, end=day_end
    )
    series = mask_invalid(ds, [variable], load_qc(net)["valid_statuses"])[variable]
    s = series.sel(station=station).to_series()
    z = pd.Series(anomaly_z(s.to_numpy(), 72), index=s.index)
    day = z[z.index > day_end - pd.Timedelta(hours=24)]
    if day.empty or not (day > 0).any():
        raise ValueError(f"no rise of {variable} at {network}/{station} in the day to {day_end}")
    return pd.Timestamp(day.idxmax())


def _attribution(
    spec: Any, source_network: str, store_root: str, out_dir: str, now: pd.Timestamp
) -> list[dict[str, Any]]:
    """Rank the enterprises for the largest rise of each configured station on the replayed day.

    A station whose network has no store (not ingested in this run) or no rise that day is
    reported with the reason instead of a ranking.
    """
    from pipelines.tracing.enterprises import enterprise_job

    out = []
    for a in spec.run.attribute:
        try:
            at = largest_rise(a.network, a.station, a.variable, store_root, now)
            res = enterprise_job(
                a.network,
                Path(store_root),
                Path(out_dir),
                a.station,
                at,
                variable=a.variable,
                sources=source_network,
            )
        except (ValueError, FileNotFoundError, KeyError) as exc:
            out.append(
                {
                    "network": a.network,
                    "station": a.station,
                    "variable": a.variable,
                    "error": str(exc),
                }
            )
            continue
        out.append(res)
    return out
