"""Publishing and delivery of a city's warnings: CAP files, the JSON feed, the bulletin, webhooks.

Everything is written under ``warnings/<city>/`` of the outputs root with
:func:`pipelines.files.atomic_write`, so a reader sees the old file or the new one, never half,
while holding the folder's writer lock (:func:`pipelines.files.writer_lock`), which removes the
temporary files of a publication that was killed.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

from features.warnings.rules import WarningScheme
from pipelines.config.warnings import CitySettings, OutboxSettings
from pipelines.files import atomic_write, writer_lock
from pipelines.warnings.bulletin import write_bulletin
from pipelines.warnings.cap import weather_forecast
from pipelines.warnings.outbox import deliver_due, outbox_status
from pipelines.warnings.reports import WarnReport
from pipelines.warnings.store import WarningStore

__all__ = ["deliver_city", "publish"]


def deliver_city(db: Path | str, city: CitySettings | None) -> dict[str, int]:
    """Deliver the due outbox rows with the city's retry settings (``outbox:`` block)."""
    opts = city.outbox if city else OutboxSettings()
    return deliver_due(db, max_attempts=int(opts.max_attempts), backoff_s=float(opts.backoff_s))


def _message(text: str) -> dict[str, Any]:
    """Load a stored message's JSON with its weather-forecast provenance parsed.

    Older messages hold the forecast file's JSON string; unparsable text stays as it is.
    """
    m = json.loads(text)
    prov = m.get("provenance")
    if isinstance(prov, dict) and isinstance(prov.get("weather_forecast"), str):
        wf = weather_forecast(prov)
        if wf is None:
            del prov["weather_forecast"]
        else:
            prov["weather_forecast"] = wf
    return m


def publish(
    store: WarningStore,
    scheme: WarningScheme,
    city: CitySettings,
    report: WarnReport,
    outputs: Path,
) -> None:
    """Write CAP files of new messages, the JSON feed and the bulletin under ``warnings/<city>/``.

    Fills ``report.outputs`` with the paths written. Decisions held for confirmation
    (action ``held``) are internal and not published.
    """
    out = Path(outputs) / "warnings" / city.name
    (out / "cap").mkdir(parents=True, exist_ok=True)
    with writer_lock(out, clean=[out / "cap"]):
        _publish(store, scheme, city, report, out)


def _publish(
    store: WarningStore, scheme: WarningScheme, city: CitySettings, report: WarnReport, out: Path
) -> None:
    for m in store.messages(city.name, limit=1_000_000):  # every message has its CAP file
        f = out / "cap" / f"{m['identifier']}.xml"
        if not f.exists():
            atomic_write(f, m["cap_xml"])
    # steps held for confirmation (action "held") are internal: never in the feed or bulletin
    decided = [a for a in report.applied if a.action != "held"]
    messages = store.messages(city.name, limit=200)
    active = store.active(city.name)
    by_id = {m["identifier"]: _message(m["json"]) for m in messages}
    feed = {
        "city": city.name,
        "generated": dt.datetime.now(dt.UTC).isoformat(),
        "forecast_issue_time": str(report.issue_time) if report.issue_time is not None else None,
        "forecast_file": report.forecast_file,
        "ops_alerts": store.ops_alerts(city.name)[-20:],
        "active": [{**w, "message": by_id.get(w["last_identifier"])} for w in active],
        "decisions": [
            {
                "area": a.area,
                "action": a.action,
                "level": a.level,
                "identifier": a.identifier,
                "duplicate": a.duplicate,
                "why": a.why,
            }
            for a in decided
        ],
        "messages": [_message(m["json"]) for m in messages],
        "outbox": outbox_status(store.path),
    }
    feed_path = atomic_write(
        out / "feed.json", json.dumps(feed, ensure_ascii=False, indent=2, default=str)
    )
    latest = [a.identifier for a in decided if a.identifier]
    report.outputs = {
        "feed": str(feed_path),
        "cap_dir": str(out / "cap"),
        "new_cap": [str(out / "cap" / f"{i}.xml") for i in latest],  # type: ignore[dict-item]
        "bulletin": str(write_bulletin(out / "bulletin.html", scheme, city, report, active, by_id)),
        "database": store.location,  # the file, or the server URL without password
    }
