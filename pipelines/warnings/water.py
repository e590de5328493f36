"""The water alert job: station store -> QC-valid readings -> decision -> lifecycle -> publish.

A water warning file (``configs/warnings/<name>.yml`` with ``kind: water``) names a water network,
its areas (sections, each a group of stations with a GB 3838 target class) and the ``water:``
rules. Every run takes the readings up to ``now`` (the data cut-off is the newest reading at or
before it), drops values whose QC flag is not valid, decides each area with
:func:`features.warnings.water.decide_water` and goes through the same lifecycle store, CAP/JSON
rendering, bulletin and outbox as the air warnings: the run is the alert-job skeleton of
:mod:`pipelines.warnings.alert_job`.

Data older than ``water.max_data_age_hours`` changes no alert: an operational alert says so.
"""

from __future__ import annotations

import base64
import io
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from features.assessment import mask_invalid
from features.times import to_local
from features.units import convert
from features.warnings.outlook import area_station_ids
from features.warnings.rules import WarningScheme
from features.warnings.water import ThresholdRule, WaterRules, decide_water
from pipelines.config import load_network, load_qc, load_variables, water_standard
from pipelines.config.rivers import section_targets
from pipelines.config.warnings import AreaSpec, CitySettings
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

__all__ = ["run_water_alerts", "water_chart", "water_drill", "water_rules"]


def water_rules(scheme: WarningScheme, registry: dict[str, Any]) -> WaterRules:
    """Return the scheme's water rules, thresholds converted to the registry (store) units."""
    rules = WaterRules.from_config(scheme.water)
    converted = []
    for r in rules.thresholds:
        to = registry[r.variable]["units"]
        value = float(convert(np.array([r.value]), r.units or to, to)[0])
        converted.append(ThresholdRule(r.variable, value, r.below, r.readings, r.level, units=to))
    return WaterRules(
        class_level=rules.class_level,
        class_window_hours=rules.class_window_hours,
        thresholds=tuple(converted),
        review_hours=rules.review_hours,
        standard=rules.standard,
    )


def water_chart(
    times: pd.DatetimeIndex,
    series: dict[str, np.ndarray],
    variable: str,
    units: str,
    lines: list[tuple[float, str]],
    tz: str,
    title: str,
) -> str:
    """Inline PNG (base64) of one variable at the stations of an area, with threshold lines."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from pipelines.fonts import use_cjk_font

    use_cjk_font()
    fig, ax = plt.subplots(figsize=(6.5, 2.6), dpi=110)
    local = to_local(times, tz)
    for sid, v in series.items():
        ax.plot(local, v, lw=0.9, label=sid)
    for value, label in lines:
        ax.axhline(value, color="grey", ls="--", lw=0.8)
        ax.text(
            1.0,
            value,
            label,
            va="bottom",
            ha="right",
            fontsize=7,
            color="grey",
            transform=ax.get_yaxis_transform(),
        )
    ax.set_ylabel(f"{variable} [{units}]", fontsize=8)
    ax.set_title(title, fontsize=9)
    ax.tick_params(labelsize=7)
    if len(series) > 1:
        ax.legend(fontsize=7)
    fig.autofmt_xdate()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight")
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def area_target(area: Any, net: Any, targets: dict[str, str]) -> str | None:
    """Return the area's own target class, else the strictest target of its sections."""
    if area.target_class:
        return area.target_class
    from features.water_class import CLASS_NAMES

    found = [targets[s] for s in area_station_ids(area, net) if s in targets]
    return min(found, key=CLASS_NAMES.index) if found else None


def _load(city_name: str) -> tuple[WarningScheme, CitySettings]:
    scheme, city = load_city(city_name)
    if scheme.kind != "water":
        raise ValueError(f"{city_name} is an air warning file; use pipelines.warnings.job")
    return scheme, city


def _valid_readings(
    ds: xr.Dataset, variables: list[str], valid_statuses: list[str]
) -> tuple[pd.DatetimeIndex, dict[str, dict[str, np.ndarray]]]:
    valid = mask_invalid(ds, variables, valid_statuses)
    times = pd.DatetimeIndex(valid["time"].values)
    stations = [str(s) for s in valid["station"].values]
    out = {
        sid: {v: valid[v].values[i].astype(float) for v in variables if v in valid}
        for i, sid in enumerate(stations)
    }
    return times, out


def _readings_step(store_root: Path, dataset: xr.Dataset | None, write_outputs: bool):
    """Return the water kind of the alert job: read the valid readings, decide area by area."""

    def prepare(job: AlertJob, report: WarnReport):
        scheme, city, net, now = job.scheme, job.city, job.net, job.now
        reg = load_variables()["variables"]
        rules = water_rules(scheme, reg)
        std = water_standard(rules.standard)
        max_age = float(scheme.water["max_data_age_hours"])
        try:
            ds = dataset if dataset is not None else StationStore(Path(store_root), net, reg).open()
        except (OSError, ValueError, FileNotFoundError) as exc:
            ds, problem = None, f"station store of {net.name} cannot be read ({exc})"
        else:
            problem = None
        if ds is not None:
            ds = ds.sel(time=slice(None, now))
            needed = sorted(
                {p for p in std.evaluated(net.waterbody)} | {r.variable for r in rules.thresholds}
            )
            variables = [v for v in needed if v in ds]
            if not variables or ds.sizes.get("time", 0) == 0:
                problem = f"no readings of {needed} in the {net.name} store up to {now}"
        if problem:
            return OpsAlert("data_missing", problem + ": no alert changed")
        times, readings = _valid_readings(ds, variables, load_qc(net)["valid_statuses"])
        has = np.zeros(len(times), bool)
        for vals in readings.values():
            for v in vals.values():
                has |= ~np.isnan(v)
        if not has.any():
            problem = f"no valid reading in the {net.name} store up to {now}"
            cutoff = None
        else:
            cutoff = times[np.flatnonzero(has)[-1]]
            age = float((now - cutoff) / pd.Timedelta(hours=1))
            if age > max_age:
                problem = (
                    f"newest valid reading of {net.name} is {cutoff} UTC, {age:.0f} h old "
                    f"(> {max_age:g} h allowed)"
                )
        if problem:
            kind = "data_stale" if cutoff is not None else "data_missing"
            return OpsAlert(kind, problem + ": no alert changed", cutoff)
        report.issue_time = cutoff
        monitored = {
            s: {v: bool((~np.isnan(x)).any()) for v, x in r.items()} for s, r in readings.items()
        }
        lookback = pd.Timedelta(
            hours=rules.class_window_hours + 2 * float(scheme.decision["lift_clear_hours"])
        )
        window = (times > cutoff - lookback) & (times <= cutoff)
        wt = times[window]
        units = {v: reg[v]["units"] for v in variables}
        by_id = {s.id: s for s in net.stations}
        prov = {
            "data_source": f"station store {net.name}",
            "data_cutoff": str(cutoff),
            "model_uris": "",
            "mlflow_run_ids": "",
            "qc_valid_statuses": ",".join(load_qc(net)["valid_statuses"]),
            "standard": std.name,
        }
        subscribers = [s.model_dump() for s in city.subscribers]
        targets = section_targets(net.name)

        def decide_area(area: AreaSpec) -> AreaResult:
            # the target class lives in the river file; an area may override it
            area = area.model_copy(update={"target_class": area_target(area, net, targets)})
            ids = [s for s in area_station_ids(area, net) if s in readings]
            # a station's variables: those it has ever reported (NDFA has no NH3-N, TOE no Chl ...)
            stations = {
                s: (wt, {v: x[window] for v, x in readings[s].items() if monitored[s][v]})
                for s in ids
            }
            decision = decide_water(
                scheme, rules, std, net.waterbody, cutoff, stations, area.target_class, units
            )
            circle = area_circle(
                np.array([by_id[s].lat for s in ids]), np.array([by_id[s].lon for s in ids])
            )

            def render(ctx: dict[str, Any]) -> tuple[str, str]:
                return render_message(ctx, scheme, city, area, None, net.time_zone, circle)

            applied = job.store.apply(
                scheme, city.name, area.id, cutoff, decision, prov, render, subscribers
            )
            chart = None
            if write_outputs:
                var = (decision.primary_pollutant or "").split(",")[0] or (
                    rules.thresholds[0].variable if rules.thresholds else variables[0]
                )
                if var in units:
                    lines = [(r.value, r.describe()) for r in rules.thresholds if r.variable == var]
                    chart = water_chart(
                        wt,
                        {s: stations[s][1].get(var, np.full(len(wt), np.nan)) for s in ids},
                        var,
                        units[var],
                        lines,
                        net.time_zone,
                        f"{area.id}: {var}, last {lookback / pd.Timedelta(hours=1):.0f} h (valid readings)",
                    )
            return AreaResult(decision, applied, chart=chart)

        return decide_area

    return prepare


def run_water_alerts(
    city_name: str,
    outputs: Path,
    store_root: Path,
    now: pd.Timestamp | None = None,
    db: Path | None = None,
    deliver: bool = True,
    cap_status: str | None = None,
    dataset: xr.Dataset | None = None,
    write_outputs: bool = True,
) -> WarnReport:
    """Decide, persist and publish the water alerts of one water warning file.

    Parameters
    ----------
    city_name : str
        Water warning file (``configs/warnings/<name>.yml``, ``kind: water``).
    outputs : pathlib.Path
        Outputs root; alerts are written to ``warnings/<name>/``, the database defaults to
        ``warnings/warnings.db`` (shared with the air warnings).
    store_root : pathlib.Path
        Station store root (``store/``).
    now : pandas.Timestamp, optional
        The present (UTC); readings after it are ignored (drills). Default: the wall clock.
    dataset : xarray.Dataset, optional
        The network's store dataset, already opened (drills pass it once for many runs).
    write_outputs : bool
        Write the feed, CAP files and bulletin (drills write them once, at the end).
    """
    scheme, city = _load(city_name)
    job = open_alert_job(scheme, city, outputs, db=db, now=now, cap_status=cap_status)
    report = WarnReport(job.city.name, None, str(store_root))
    step = _readings_step(store_root, dataset, write_outputs)
    return run_alert_job(job, report, step, deliver=deliver, write_outputs=write_outputs)


def water_drill(
    city_name: str,
    outputs: Path,
    store_root: Path,
    start: str,
    end: str,
    every_hours: float = 24,
    cap_status: str | None = "Exercise",
) -> tuple[WarnReport, list[dict[str, Any]]]:
    """Run the water alert job at regular times over historic data, as the scheduler would have.

    The store is opened once; outputs (feed, CAP files, bulletin) are written after the last run.
    Returns the last run's report and every lifecycle step that sent a message.
    """
    scheme, city = _load(city_name)
    net = load_network(city.network)
    ds = StationStore(Path(store_root), net, load_variables()["variables"]).open().load()
    rules = water_rules(scheme, load_variables()["variables"])
    needed = set(water_standard(rules.standard).evaluated(net.waterbody))
    needed |= {r.variable for r in rules.thresholds}
    present = np.zeros(ds.sizes["time"], bool)
    for v in needed & set(ds.data_vars):
        present |= ds[v].notnull().any("station").values
    if not present.any():
        raise ValueError(f"water drill {city_name}: the {net.name} store has no {sorted(needed)}")
    # the drill ends with the data (a run after it would only report stale data)
    last = pd.Timestamp(ds["time"].values[np.flatnonzero(present)[-1]])
    times = pd.date_range(pd.Timestamp(start), min(pd.Timestamp(end), last), freq=f"{every_hours}h")
    history: list[dict[str, Any]] = []
    report = None
    for i, t in enumerate(times):
        final = i == len(times) - 1
        report = run_water_alerts(
            city_name,
            outputs,
            store_root,
            now=t,
            deliver=False,
            cap_status=cap_status,
            dataset=ds,
            write_outputs=final,
        )
        for a in report.applied:
            if a.action not in ("none", "hold"):  # a rerun reports the steps already taken
                history.append(
                    {
                        "issue_time": str(a.issue_time),
                        "area": a.area,
                        "action": a.action,
                        "level": a.level,
                        "identifier": a.identifier,
                    }
                )
    if report is None:
        raise ValueError(f"water drill {city_name}: no run time between {start} and {end}")
    return report, history
