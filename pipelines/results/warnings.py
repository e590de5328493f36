"""Warnings and their lifecycle, read from the warning database and the published files.

The database is the one :class:`pipelines.warnings.store.WarningStore` keeps
(``outputs/warnings/warnings.db``: warnings, decisions, messages, audit, outbox, ops_alerts); it is
opened read-only (a ``file:...?mode=ro`` URI), so a read never creates it, never takes a write
lock and never changes it. Each message's ``json`` column is the payload of
:func:`pipelines.warnings.cap.message_dict` (level, onset / expires, expected AQI, probability,
primary pollutant, health advice, measures, why, drivers, provenance). The published feed, the
bulletin and the CAP files are under ``outputs/warnings/<city>/``. Cities and their areas come
from ``configs/warnings/`` (:func:`pipelines.config.warnings.load_warning_config`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from features.warnings.outlook import area_station_ids
from pipelines.results import configs
from pipelines.results.cache import file_signature, memo, newest_mtime
from pipelines.results.jsonable import iso_utc, jsonable, parse_json
from pipelines.results.warning_db import db_files, db_rows
from pipelines.results.workspace import NotFound, Read, Workspace, safe_name, unknown

__all__ = [
    "bulletin_path",
    "cap_message",
    "cities",
    "feed",
    "lifecycle_audit",
    "message_owner",
    "ops_alerts",
    "outbox",
    "pending",
    "warning",
    "warnings",
]

_TIME_FIELDS = (
    "onset",
    "expires",
    "first_issued",
    "last_updated",
    "last_sent",
    "sent",
    "issue_time",
    "at",
    "next_attempt_at",
    "delivered_at",
)
# provenance values that the jobs store as JSON text inside the JSON
_NESTED_JSON = ("model_uris", "mlflow_run_ids", "weather_forecast")


def _provenance(value: Any) -> Any:
    p = parse_json(value)
    if isinstance(p, dict):
        p = dict(p)
        for k in _NESTED_JSON:
            if isinstance(p.get(k), str):
                inner = parse_json(p[k])
                p[k] = inner if isinstance(inner, dict | list) else p[k]
    return p


def _clean(row: dict[str, Any]) -> dict[str, Any]:
    """Return a row with times as ISO-8601 UTC text and JSON columns parsed."""
    out = dict(row)
    for k in _TIME_FIELDS:
        if k in out and isinstance(out[k], str) and out[k]:
            out[k] = iso_utc(out[k])
    for k in ("decision", "details"):
        if isinstance(out.get(k), str):
            out[k] = parse_json(out[k])
    if "provenance" in out:
        out["provenance"] = _provenance(out["provenance"])
    return jsonable(out)


# --------------------------------------------------------------------------- cities
def _city_records() -> list[dict[str, Any]]:
    out = []
    for name, scheme, city in configs.warning_cities():
        net = configs.network(city.network) if city.network in configs.network_names() else None
        areas = []
        for a in city.areas:
            ids = (
                area_station_ids(a, net)
                if net is not None
                else ([] if a.stations == "all" else list(a.stations))
            )
            areas.append(
                {
                    "id": a.id,
                    "names": dict(a.names),
                    "stations": ids,
                    "all_stations": a.stations == "all",
                    "geocode": dict(a.geocode),
                    "target_class": a.target_class,
                }
            )
        out.append(
            {
                "name": name,
                "network": city.network,
                "kind": scheme.kind,
                "scheme": scheme.name,
                "operational": city.operational,
                "cap_status": city.cap_status,
                "sender_name": dict(city.sender_name),
                "levels": [
                    {"name": lv.name, "rank": lv.rank, "names": dict(lv.names), "colour": lv.colour}
                    for lv in scheme.levels
                ],
                "areas": areas,
            }
        )
    return out


def cities(ws: Workspace) -> Read:
    """Return the configured warning cities (``configs/warnings/<city>.yml`` with a network).

    Parameters
    ----------
    ws : Workspace
        The workspace (the cities are configuration; kept for a uniform call).

    Returns
    -------
    Read
        ``data``: list of ``{name, network, kind ("air" | "water" | "source"), scheme, operational,
        cap_status, sender_name, levels [{name, rank, names, colour}], areas [{id, names {zh,
        en}, stations (ids; "all" resolved), all_stations, geocode, target_class}]}``.
    """
    return _cities()


def _cities() -> Read:
    return memo("cities", (), files=configs.warning_files(), compute=_city_records)


def _area_names() -> dict[tuple[str, str], dict[str, str]]:
    return {(c["name"], a["id"]): a["names"] for c in _cities().data for a in c["areas"]}


def _known_cities(ws: Workspace) -> list[str]:
    configured = [c["name"] for c in _cities().data]
    in_db = [r["city"] for r in db_rows(ws, "SELECT DISTINCT city FROM warnings ORDER BY city")]
    return sorted(set(configured) | set(in_db))


# --------------------------------------------------------------------------- warnings
_SUMMARY = (
    "kind",
    "level_names",
    "level_colour",
    "severity",
    "expected_aqi",
    "probability",
    "primary_pollutant",
    "health",
    "measures",
    "why",
    "why_text",  # the reasons {zh, en} (messages since issue #16; ``why`` is the English)
    "drivers",
    "observed_class",
    "target_class",
    "determining_station",
    # supervision alerts (kind source): pipelines.warnings.cap._source_fields
    "enterprise",
    "condition",
    "observed",
    "units",
    "limit",
    "ratio",
    "flags",
    "period",
    "findings",
)


def _warning_record(
    row: dict[str, Any], names: dict[tuple[str, str], dict[str, str]]
) -> dict[str, Any]:
    message = parse_json(row.pop("message_json", None))
    last_action = row.pop("last_action", None)
    rec = _clean(row)
    rec["area_names"] = names.get((rec["city"], rec["area"]), {})
    rec["last_action"] = last_action
    if isinstance(message, dict):
        for k in _SUMMARY:
            if k in message:
                rec[k] = message[k]
        rec["confidence"] = message.get("probability")
        rec["provenance"] = _provenance(message.get("provenance"))
        rec["message"] = message
    else:
        rec["message"] = None
    return jsonable(rec)


_WARNINGS_SQL = (
    "SELECT w.*, m.json AS message_json, m.action AS last_action FROM warnings w "
    "LEFT JOIN messages m ON m.identifier = w.last_identifier"
)


def warnings(ws: Workspace, *, city: str | None = None, status: str | None = None) -> Read:
    """Issued warnings, newest first, with area names and their latest message.

    Parameters
    ----------
    ws : Workspace
        The workspace.
    city : str, optional
        One city (warning configuration name, e.g. ``beijing``).
    status : {"active", "lifted"}, optional
        Only warnings in force or only lifted ones.

    Returns
    -------
    Read
        ``data``: list of the ``warnings`` table rows (``id, city, area, level, status, onset,
        expires, first_issued, last_updated, version, last_identifier, last_sent``; times
        ISO-8601 UTC) with ``area_names`` ``{zh, en}``, ``last_action`` and, from the latest
        message's payload, ``level_names, level_colour, severity, expected_aqi {p10, p90},
        confidence (= probability), primary_pollutant, health {category, effects, advice},
        measures, why, why_text, drivers, provenance`` (water alerts: ``observed_class,
        target_class, determining_station``; supervision alerts: ``enterprise {id, name, industry},
        determining_station, condition, observed {variable: value}, units, limit, ratio, flags,
        period [start, end], findings``) and ``message`` (the whole payload as sent).

    Raises
    ------
    NotFound
        For a city that is neither configured nor in the database.
    """
    if status not in (None, "active", "lifted"):
        raise ValueError(f"status must be 'active', 'lifted' or None, not {status!r}")
    if city is not None:
        known = _known_cities(ws)
        if city not in known:
            raise unknown("warning city", city, known=known)
    where, args = [], []
    if city is not None:
        where.append("w.city = ?")
        args.append(city)
    if status is not None:
        where.append("w.status = ?")
        args.append(status)
    sql = _WARNINGS_SQL + (" WHERE " + " AND ".join(where) if where else "")
    sql += " ORDER BY w.last_updated DESC, w.id DESC"
    files = db_files(ws) + configs.warning_files()

    def compute() -> list[dict[str, Any]]:
        names = _area_names()
        return [_warning_record(r, names) for r in db_rows(ws, sql, tuple(args))]

    return memo("warnings", (str(ws.outputs), city, status), files=files, compute=compute)


def warning(ws: Workspace, warning_id: int) -> Read:
    """One warning with its lifecycle: every message, decision and audit row.

    Parameters
    ----------
    ws : Workspace
        The workspace.
    warning_id : int
        The warning's id.

    Returns
    -------
    Read
        ``data``: the record of :func:`warnings` plus ``messages`` (oldest first: ``identifier,
        msg_type, action, sent, refs, message`` (the parsed JSON payload)), ``decisions``
        (``city, area, issue_time, action, warning_id, identifier, decision``) and ``audit``
        (the audit rows of the warning, with ``provenance`` and ``decision`` parsed).

    Raises
    ------
    NotFound
        For an id the database does not hold.
    """
    wid = int(warning_id)
    files = db_files(ws) + configs.warning_files()

    def compute() -> dict[str, Any]:
        rows = db_rows(ws, _WARNINGS_SQL + " WHERE w.id = ?", (wid,))
        if not rows:
            ids = [r["id"] for r in db_rows(ws, "SELECT id FROM warnings ORDER BY id")]
            span = f"{ids[0]}..{ids[-1]} ({len(ids)} warnings)" if ids else "none (no warning yet)"
            raise NotFound(f"unknown warning {wid}; known ids: {span}")
        rec = _warning_record(rows[0], _area_names())
        msgs = db_rows(
            ws,
            "SELECT identifier, msg_type, action, sent, refs, json FROM messages "
            "WHERE warning_id = ? ORDER BY sent, rowid",
            (wid,),
        )
        rec["messages"] = [
            {
                **_clean({k: v for k, v in m.items() if k != "json"}),
                "message": jsonable(parse_json(m["json"])),
            }
            for m in msgs
        ]
        rec["decisions"] = [
            _clean(d)
            for d in db_rows(
                ws, "SELECT * FROM decisions WHERE warning_id = ? ORDER BY issue_time", (wid,)
            )
        ]
        rec["audit"] = [
            _clean(a)
            for a in db_rows(ws, "SELECT * FROM audit WHERE warning_id = ? ORDER BY seq", (wid,))
        ]
        return rec

    return memo("warning", (str(ws.outputs), wid), files=files, compute=compute)


def cap_message(ws: Workspace, identifier: str) -> Read:
    """Return the CAP 1.2 XML of one message, as sent.

    Parameters
    ----------
    ws : Workspace
        The workspace.
    identifier : str
        The CAP identifier (``qingyuan.<city>.<area>.<warning>.<version>``).

    Returns
    -------
    Read
        ``data``: the XML text (from the database; from ``outputs/warnings/<city>/cap/`` when
        the database does not hold it).

    Raises
    ------
    NotFound
        For an identifier that no message has.
    """
    safe_name("CAP message", identifier)
    files = db_files(ws)

    def compute() -> Read:
        rows = db_rows(ws, "SELECT cap_xml FROM messages WHERE identifier = ?", (identifier,))
        if rows:
            sig = file_signature(files)
            return Read(rows[0]["cap_xml"], newest_mtime(sig), tuple(p for p, m, _ in sig if m))
        for path in sorted((ws.outputs / "warnings").glob(f"*/cap/{identifier}.xml")):
            text = path.read_text(encoding="utf-8")
            return Read(text, newest_mtime(file_signature([path])), (str(path),))
        newest = [
            r["identifier"]
            for r in db_rows(
                ws, "SELECT identifier FROM messages ORDER BY sent DESC, rowid DESC LIMIT 10"
            )
        ]
        n = db_rows(ws, "SELECT COUNT(*) AS n FROM messages")
        total = n[0]["n"] if n else 0
        raise NotFound(
            f"unknown CAP message {identifier!r}; newest: {', '.join(newest) or 'none'}"
            + (f" ({total} in all)" if total > len(newest) else "")
        )

    return memo("cap_message", (str(ws.outputs), identifier), files=files, compute=compute)


def message_owner(ws: Workspace, identifier: str) -> dict[str, Any] | None:
    """Return the warning city and kind of a CAP message (None when the database does not hold it).

    Parameters
    ----------
    ws : Workspace
        The workspace.
    identifier : str
        The CAP identifier.

    Returns
    -------
    dict or None
        ``{city, kind}``: the message's ``city`` column and the ``kind`` of its payload
        (``air``, ``water``, ``source``; None when the payload does not say), for access by the
        warning file's kind.
    """
    safe_name("CAP message", identifier)
    rows = db_rows(ws, "SELECT city, json FROM messages WHERE identifier = ?", (identifier,))
    if not rows:
        return None
    payload = parse_json(rows[0]["json"])
    kind = payload.get("kind") if isinstance(payload, dict) else None
    return {"city": rows[0]["city"], "kind": kind}


def _published(ws: Workspace, city: str, name: str, what: str) -> Path:
    safe_name("warning city", city)
    path = ws.outputs / "warnings" / city / name
    if not path.is_file():
        have = sorted(p.parent.name for p in (ws.outputs / "warnings").glob(f"*/{name}"))
        raise unknown(
            f"warning city {what}",
            city,
            known=have,
            where=f"(no {name} under the outputs' warnings/)",
        )
    return path


def feed(ws: Workspace, city: str) -> Read:
    """Return the city's published JSON feed (``outputs/warnings/<city>/feed.json``), parsed.

    Parameters
    ----------
    ws : Workspace
        The workspace.
    city : str
        The warning city.

    Returns
    -------
    Read
        ``data``: the feed as published (``city, generated, forecast_issue_time, ops_alerts,
        active, decisions, messages, outbox``).

    Raises
    ------
    NotFound
        When the city has no feed.
    """
    path = _published(ws, city, "feed.json", "feed")
    return memo(
        "feed",
        str(path),
        files=[path],
        compute=lambda: jsonable(parse_json(path.read_text(encoding="utf-8"))),
    )


def bulletin_path(ws: Workspace, city: str) -> Path:
    """Return the city's published bulletin (``outputs/warnings/<city>/bulletin.html``).

    Parameters
    ----------
    ws : Workspace
        The workspace.
    city : str
        The warning city.

    Returns
    -------
    pathlib.Path
        The HTML file.

    Raises
    ------
    NotFound
        When the city has no bulletin.
    """
    return _published(ws, city, "bulletin.html", "bulletin")


def lifecycle_audit(ws: Workspace, *, city: str | None = None) -> Read:
    """Return the append-only lifecycle audit log of the warning database, oldest first.

    Parameters
    ----------
    ws : Workspace
        The workspace.
    city : str, optional
        One city.

    Returns
    -------
    Read
        ``data``: list of ``{seq, at, city, area, issue_time, warning_id, action, from_level,
        to_level, why, provenance, decision, prev_hash, hash}`` (provenance and decision parsed;
        ``prev_hash`` / ``hash``: the city's hash chain, :mod:`pipelines.warnings.audit_chain`).
    """
    return _table_rows(ws, "audit", city=city, order="seq")


def _table_rows(
    ws: Workspace, table: str, *, city: str | None, order: str, where: str = ""
) -> Read:
    """Rows of one lifecycle-database table (optionally one city's), cleaned, memoised."""
    conds = [c for c in (where, "city = ?" if city else "") if c]
    sql = f"SELECT * FROM {table}" + (" WHERE " + " AND ".join(conds) if conds else "")
    args = (city,) if city else ()
    return memo(
        f"table:{table}:{where}",
        (str(ws.outputs), city),
        files=db_files(ws),
        compute=lambda: [_clean(r) for r in db_rows(ws, f"{sql} ORDER BY {order}", args)],
    )


def pending(ws: Workspace, *, city: str | None = None) -> Read:
    """Decisions held for confirmation (``status = 'pending'``), oldest first, read-only.

    Parameters
    ----------
    ws : Workspace
        The workspace.
    city : str, optional
        One city.

    Returns
    -------
    Read
        ``data``: rows of the lifecycle database's ``pending`` table with ``decision`` and
        ``provenance`` parsed (empty for a database without the table).
    """
    return _table_rows(ws, "pending", city=city, order="id", where="status = 'pending'")


def ops_alerts(ws: Workspace, *, city: str | None = None) -> Read:
    """Operational alerts of the warning jobs (runs that changed no warning, and why), oldest first.

    Parameters
    ----------
    ws : Workspace
        The workspace.
    city : str, optional
        One city.

    Returns
    -------
    Read
        ``data``: list of ``{seq, at, city, issue_time, kind, message}``.
    """
    return _table_rows(ws, "ops_alerts", city=city, order="seq")


def outbox(ws: Workspace) -> Read:
    """Return the webhook delivery outbox: counts by status, undelivered rows and every row.

    ``counts`` and ``undelivered`` are what :func:`pipelines.warnings.outbox.outbox_status`
    reports, read with the same queries over the read-only connection (``outbox_status`` opens
    the database for writing, which a reader must not).

    Parameters
    ----------
    ws : Workspace
        The workspace.

    Returns
    -------
    Read
        ``data``: ``{counts {status: n}, undelivered [{id, identifier, url, format, status,
        attempts, next_attempt_at, last_error}], rows [every outbox row, oldest first]}``;
        empty when there is no database yet.
    """

    def compute() -> dict[str, Any]:
        counts = {
            r["status"]: r["n"]
            for r in db_rows(ws, "SELECT status, COUNT(*) AS n FROM outbox GROUP BY status")
        }
        undelivered = db_rows(
            ws,
            "SELECT id, identifier, url, format, status, attempts, next_attempt_at, last_error "
            "FROM outbox WHERE status != 'delivered' ORDER BY id",
        )
        rows = db_rows(ws, "SELECT * FROM outbox ORDER BY id")
        return {
            "counts": counts,
            "undelivered": [_clean(r) for r in undelivered],
            "rows": [_clean(r) for r in rows],
        }

    return memo("outbox", str(ws.outputs), files=db_files(ws), compute=compute)
