"""The supervision alert job: source-network store -> findings per enterprise -> lifecycle -> publish.

A ``kind: source`` warning file (``configs/warnings/<name>.yml``) names a ``kind: source`` network
(enterprises, their stacks and outfalls with MN, standard and class) and the ``supervision:``
rules. Every run reads the station store up to ``now`` (the cut-off is the newest hour with any
value received), judges every station with :func:`features.warnings.supervision.decide_supervision`
(exceedance of its discharge standard, offline, flagged, flat, inconsistent) and goes through the
same alert-job skeleton as the air and water warnings (:mod:`pipelines.warnings.alert_job`).
Data older than ``supervision.max_data_age_hours`` change no alert: an operational alert says so.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from features.warnings.outlook import area_station_ids
from features.warnings.supervision import SupervisionRules, decide_supervision
from pipelines.assess import source_station_data
from pipelines.config import load_qc, load_variables
from pipelines.config.warnings import AreaSpec
from pipelines.store import StationStore
from pipelines.warnings.alert_job import (
    AlertJob,
    AreaResult,
    OpsAlert,
    load_city,
    open_alert_job,
    run_alert_job,
)
from pipelines.warnings.cap import area_circle, render_message
from pipelines.warnings.reports import WarnReport

__all__ = ["run_supervision_alerts"]


def _step(store_root: Path):
    def prepare(job: AlertJob, report: WarnReport):
        scheme, city, net, now = job.scheme, job.city, job.net, job.now
        rules = SupervisionRules.from_config(scheme.supervision)
        max_age = float(scheme.supervision["max_data_age_hours"])
        reg = load_variables()["variables"]
        try:
            ds = StationStore(Path(store_root), net, reg).open()
        except (OSError, ValueError, FileNotFoundError) as exc:
            return OpsAlert(
                "data_missing",
                f"station store of {net.name} cannot be read ({exc}): no alert changed",
            )
        ds = ds.sel(time=slice(now - pd.Timedelta(hours=2 * rules.lookback_hours), now))
        data = source_station_data(ds, net, valid_statuses=load_qc(net)["valid_statuses"])
        received = [
            st.times[np.flatnonzero(s != "missing")[-1]]
            for st in data.values()
            for s in st.status.values()
            if (s != "missing").any()
        ]
        if not received:
            return OpsAlert("data_missing", f"no data of {net.name} up to {now}: no alert changed")
        cutoff = max(received)
        age = float((now - cutoff) / pd.Timedelta(hours=1))
        if age > max_age:
            return OpsAlert(
                "data_stale",
                f"newest data of {net.name} are from {cutoff} UTC, {age:.0f} h old "
                f"(> {max_age:g} h allowed): no alert changed",
                cutoff,
            )
        report.issue_time = cutoff
        units = {v: reg[v]["units"] for st in data.values() for v in st.values if v in reg}
        prov = {
            "data_source": f"station store {net.name} (HJ 212 online monitoring)",
            "data_cutoff": str(cutoff),
            "model_uris": "",
            "mlflow_run_ids": "",
            "qc_valid_statuses": ",".join(load_qc(net)["valid_statuses"]),
            "standard": ",".join(sorted({s.standard for s in net.stations if s.standard})),
            "synthetic": "yes" if net.synthetic else "no",
        }
        subscribers = [s.model_dump() for s in city.subscribers]
        by_id = {s.id: s for s in net.stations}

        def decide_area(area: AreaSpec) -> AreaResult:
            ids = [s for s in area_station_ids(area, net) if s in data]
            ent_id = by_id[ids[0]].enterprise if ids else None
            ent = net.enterprise(ent_id) if ent_id else None
            decision = decide_supervision(
                scheme,
                rules,
                cutoff,
                [data[s] for s in ids],
                enterprise={"id": ent.id, "name": ent.name, "industry": ent.industry}
                if ent
                else {},
                units=units,
            )
            circle = area_circle(
                np.array([by_id[s].lat for s in ids]), np.array([by_id[s].lon for s in ids]), 1.0
            )

            def render(ctx: dict[str, Any]) -> tuple[str, str]:
                return render_message(ctx, scheme, city, area, None, net.time_zone, circle)

            applied = job.store.apply(
                scheme, city.name, area.id, cutoff, decision, prov, render, subscribers
            )
            return AreaResult(decision, applied)

        return decide_area

    return prepare


def run_supervision_alerts(
    city_name: str,
    outputs: Path,
    store_root: Path,
    now: pd.Timestamp | None = None,
    *,
    db: Path | None = None,
    deliver: bool = True,
    cap_status: str | None = None,
    write_outputs: bool = True,
) -> WarnReport:
    """Decide, persist and publish the supervision alerts of one ``kind: source`` warning file.

    Parameters
    ----------
    city_name : str
        Warning file (``configs/warnings/<name>.yml``, ``kind: source``).
    outputs : pathlib.Path
        Outputs root; alerts go to ``warnings/<name>/``, the lifecycle database defaults to
        ``warnings/warnings.db`` (shared with the air and water warnings).
    store_root : pathlib.Path
        Station store root.
    now : pandas.Timestamp, optional
        The present (UTC); data after it are ignored (replays of a past day). Default: the wall
        clock.
    """
    scheme, city = load_city(city_name)
    if scheme.kind != "source":
        raise ValueError(f"{city_name} is a {scheme.kind} warning file, not kind: source")
    job = open_alert_job(scheme, city, outputs, db=db, now=now, cap_status=cap_status)
    report = WarnReport(job.city.name, None, str(store_root))
    return run_alert_job(
        job, report, _step(store_root), deliver=deliver, write_outputs=write_outputs
    )
