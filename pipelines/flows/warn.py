"""Flows ``warn`` and ``deliver``; the warning and water-alert drills of the main job; replay."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prefect import flow, task

from features.drills import drill_days, drill_history
from features.times import to_utc
from pipelines.config import load_network
from pipelines.flows.paths import default_outputs, default_store

__all__ = [
    "cities_of",
    "deliver_flow",
    "drill_and_warn",
    "replay_job",
    "warn_flow",
    "warn_result",
    "warn_status",
    "warn_task",
    "water_alerts_task",
]


def cities_of(network: str) -> list[str]:
    """Operational city warning files (``configs/warnings``) that watch a network."""
    from pipelines.config.warnings import list_warning_configs, load_warning_config

    out = []
    for name in list_warning_configs():
        _, city = load_warning_config(name)
        if city is not None and city.network == network and city.operational:
            out.append(name)
    return out


@task(name="warn", retries=1, retry_delay_seconds=10)
def warn_task(
    city: str,
    out_dir: str,
    forecast_path: str | None = None,
    now: str | None = None,
    cap_status: str | None = None,
    store_root: str | None = None,
) -> dict[str, Any]:
    """Decide, persist and publish one warning file's alerts.

    Air files decide from the newest forecast file; water files (``kind: water``) from the
    station store's QC-valid readings up to ``now``.
    """
    import pandas as pd

    from pipelines.config.warnings import load_warning_config
    from pipelines.warnings.job import run_warnings

    scheme, _ = load_warning_config(city)
    if scheme.observed:  # decided from the station store (water quality, source supervision)
        from pipelines.warnings.supervision import run_supervision_alerts
        from pipelines.warnings.water import run_water_alerts

        job = {"water": run_water_alerts, "source": run_supervision_alerts}[scheme.kind]
        rep = job(
            city,
            Path(out_dir),
            Path(default_store(store_root)),
            pd.Timestamp(now) if now else None,
            cap_status=cap_status,
        )
    else:
        rep = run_warnings(
            city,
            Path(out_dir),
            Path(forecast_path) if forecast_path else None,
            pd.Timestamp(now) if now else None,
            cap_status=cap_status,
        )
    return warn_result(city, rep)


def warn_result(city: str, rep: Any) -> dict[str, Any]:
    """Plain summary of a :class:`pipelines.warnings.job.WarnReport`."""
    return {
        "city": city,
        "issue_time": str(rep.issue_time),
        "ops_alert": rep.ops_alert,
        "decisions": {
            a.area: {
                "action": a.action,
                "level": a.level,
                "identifier": a.identifier,
                "duplicate": a.duplicate,
            }
            for a in rep.applied
        },
        "outlook": {area: [round(float(x)) for x in o.median] for area, o in rep.outlooks.items()},
        "p_heavy": {
            area: [round(p, 2) for p in d.day_probability]
            for area, d in rep.decisions.items()
            if d.day_probability
        },
        "outputs": rep.outputs,
        "delivery": rep.delivery,
    }


@flow(name="warn", log_prints=True)
def warn_flow(
    city: str,
    out_dir: str | None = None,
    forecast_path: str | None = None,
    now: str | None = None,
    store_root: str | None = None,
) -> dict[str, Any]:
    """Warning decision of one warning file (``configs/warnings/<city>.yml``, air or water)."""
    return warn_task(city, default_outputs(out_dir), forecast_path, now, None, store_root)


def water_alerts_task(
    network: str, store_root: str, out_dir: str, cities: list[str]
) -> dict[str, Any]:
    """Water alert job on the bundled (historic) data: a drill over the record, then the latest.

    ``run.<network>.water_drill: {start, every_hours}`` in ``configs/forecast.yml`` runs the alert
    job at those times up to the end of the data, as the scheduler would have; the CAP status is
    ``run.<network>.cap_status``.
    """
    from pipelines.forecast.jobs import forecast_config
    from pipelines.warnings.water import water_drill

    run_cfg = (forecast_config().get("run") or {}).get(network, {})
    drill = run_cfg.get("water_drill") or {}
    out: dict[str, Any] = {}
    for city in cities:
        rep, history = water_drill(
            city,
            Path(out_dir),
            Path(store_root),
            str(drill.get("start", "1900-01-01")),
            str(drill.get("end", "2262-01-01")),
            float(drill.get("every_hours", 24)),
            run_cfg.get("cap_status"),
        )
        res = warn_result(city, rep)
        res["history"] = history
        out[city] = res
    return out


def drill_and_warn(
    network: str, store_root: str, out_dir: str, latest: dict[str, Any], cities: list[str]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Warning job on the bundled (historic) data: a drill window of daily runs, then the latest.

    With ``run.<network>.drill: {city, start, end}`` in ``configs/forecast.yml`` the daily
    00:00-local forecast and the warning decision of the drill city run for each local day of that
    window first, as the scheduler would have run them (a drill on historic data); then the latest
    forecast is decided for the operational cities. "Now" is each forecast's issue time; the CAP
    status of the run's messages is ``run.<network>.cap_status`` when set.
    """
    import pandas as pd

    from pipelines.forecast.jobs import forecast_config, issue_forecast

    run_cfg = (forecast_config().get("run") or {}).get(network, {})
    tz = load_network(network).time_zone
    status = run_cfg.get("cap_status")
    latest_local = pd.Timestamp(latest["issue_time_local"])
    steps: list[tuple[str, pd.Timestamp, list[str]]] = []
    drill = run_cfg.get("drill") or {}
    if drill:
        for day in drill_days(drill["start"], drill["end"], latest_local):
            path = issue_forecast(
                network, Path(store_root), str(day), Path(out_dir), run_cfg["targets"]
            )
            steps.append((str(path), day, [drill.get("city", cities[0])]))
    steps.append((latest["file"], latest_local, cities))
    results, history = [], []
    for path, local, step_cities in steps:
        now = to_utc(local, tz)
        for city in step_cities:
            res = warn_task(city, out_dir, path, str(now), status)
            if local == latest_local:
                results.append(res)
            history += drill_history(res, local, city)
    return results, history


@flow(name="deliver", log_prints=True)
def deliver_flow(city: str, out_dir: str | None = None) -> dict[str, int]:
    """Scheduled outbox pass: retry due webhook deliveries of a city's warning messages."""
    from pipelines.config.warnings import load_warning_config
    from pipelines.warnings.job import deliver_city

    _, settings = load_warning_config(city)
    db = Path(default_outputs(out_dir)) / "warnings" / "warnings.db"
    if not db.exists():
        return {"delivered": 0, "failed": 0, "dead": 0}
    return deliver_city(db, settings)


def replay_job(
    city: str, model: str | None = None, store_root: str | None = None, out_dir: str | None = None
) -> tuple[Any, Path]:
    """Replay a city's daily warning decision over its test period; write the episode tables.

    The period, model and issue hour come from the ``replay:`` block of the warning file
    (``model`` overrides its model). Writes ``replay_<city>_<model>_<area>.csv`` per area and
    ``replay_<city>_<model>_log.csv`` into ``<out_dir>/replay``; returns the
    :func:`pipelines.warnings.replay.replay` result and that folder.
    """
    from pipelines.config.warnings import load_warning_config
    from pipelines.warnings.replay import replay

    _, settings = load_warning_config(city)
    if settings is None or not settings.replay:
        raise ValueError(f"{city}: no `replay:` block in its warning file")
    r = settings.replay
    res = replay(
        city,
        Path(default_store(store_root)),
        str(r["start"]),
        str(r["end"]),
        str(r["train_end"]),
        model or r.get("model", "lightgbm"),
        int(r.get("issue_hour", 0)),
    )
    out = Path(default_outputs(out_dir)) / "replay"
    out.mkdir(parents=True, exist_ok=True)
    for area, table in res.tables.items():
        table.to_csv(out / f"replay_{city}_{res.model}_{area}.csv", index=False)
    res.log.to_csv(out / f"replay_{city}_{res.model}_log.csv", index=False)
    return res, out


def warn_status(
    city: str, out_dir: str | None = None, deliver: bool = False
) -> tuple[dict[str, int] | None, dict[str, Any]]:
    """Active warnings, the last operational alerts and the outbox of a city; retry deliveries.

    With ``deliver`` the due outbox deliveries are retried first. Returns the delivery counts
    (None without ``deliver``) and the status (``active``, ``ops_alerts`` (the last five),
    ``outbox``).

    Raises
    ------
    FileNotFoundError
        When no warning database exists yet.
    """
    from pipelines.warnings.outbox import deliver_due, outbox_status
    from pipelines.warnings.store import WarningStore

    db = Path(default_outputs(out_dir)) / "warnings" / "warnings.db"
    if not db.exists():
        raise FileNotFoundError(f"no warning database at {db}: run `qingyuan warn` first")
    delivered = deliver_due(db) if deliver else None
    store = WarningStore(db)
    status = {
        "active": store.active(city),
        "ops_alerts": store.ops_alerts(city)[-5:],
        "outbox": outbox_status(db),
    }
    return delivered, status
