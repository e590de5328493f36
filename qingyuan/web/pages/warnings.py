"""Warnings pages: in force, awaiting confirmation, history; one warning's lifecycle."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse

from pipelines import results as R
from pipelines.warnings.cap import why_text
from pipelines.warnings.db import database_exists
from qingyuan.web.accounts import Principal
from qingyuan.web.deps import audit, check_csrf, principal, readable_kind, reader, reveal
from qingyuan.web.errors import ApiError
from qingyuan.web.pages.present import aqi_category, expired, local, scheme_levels
from qingyuan.web.params import RowId
from qingyuan.web.render import lang_of, render

__all__ = ["router", "source_facts", "warning_card"]

router = APIRouter(include_in_schema=False)


def _tz(cities: dict[str, dict], city: str) -> str:
    from pipelines.config import load_network

    return load_network(cities[city]["network"]).time_zone


def _mapping(v: Any) -> dict[str, Any]:
    """Return a provenance entry that the forecast file keeps as JSON text, as a mapping."""
    if isinstance(v, dict):
        return v
    try:
        out = json.loads(v) if v else {}
    except (TypeError, ValueError):
        return {"": v}
    return out if isinstance(out, dict) else {"": out}


def warning_card(
    w: dict[str, Any], cities: dict[str, dict], lang: str, *, internal: bool
) -> dict[str, Any]:
    """Return what a warning card shows, from a warning record of :func:`pipelines.results.warnings`."""
    tz = _tz(cities, w["city"])
    m = w.get("message") or {}
    lv = scheme_levels(w["city"]).get(w["level"], {})
    area = next((a for a in cities[w["city"]]["areas"] if a["id"] == w["area"]), {"names": {}})
    exp = m.get("expected_aqi") or {}
    top = exp.get("p90")
    cat = aqi_category(top) if top is not None else None
    card = {
        "id": w["id"],
        "city": w["city"],
        "network": cities[w["city"]]["network"],
        "city_title": (cities[w["city"]].get("sender_name") or {}).get(lang, w["city"]),
        "status": w["status"],
        "level": w["level"],
        "level_name": (lv.get("names") or {}).get(lang, w["level"]),
        "area_name": area["names"].get(lang, w["area"]),
        "onset": local(w.get("onset"), tz),
        "expires": local(w.get("expires"), tz),
        "aqi_range": f"{exp.get('p10', '')}–{exp.get('p90', '')}" if exp else "",
        "confidence": m.get("probability"),
        "primary": m.get("primary_pollutant", ""),
        "advice": (cat or {}).get("advice", {}).get(lang, ""),
        "measures": (m.get("measures") or {}).get(lang, "")
        if isinstance(m.get("measures"), dict)
        else m.get("measures", ""),
        "why": why_text(m).get(lang, m.get("why", "")),
        "identifier": w.get("last_identifier"),
        "version": w.get("version"),
        "first_issued": local(w.get("first_issued"), tz),
        "last_updated": local(w.get("last_updated"), tz),
        "provenance": None,
        "drivers": [],
        "source": None,
    }
    if (m.get("kind") or cities[w["city"]].get("kind")) == "source":
        card.update(aqi_range="", advice="", confidence=None)
        card["source"] = source_facts(m, tz)
    prov = m.get("provenance") if internal else None
    if prov and card["source"] is None:
        wf = prov.get("weather_forecast") or {}
        nwp = "; ".join(
            f"{k}: {v.get('feed', '')} {v.get('run_issue_time', '')} ({v.get('status', '')}{', synthetic' if v.get('synthetic') else ''})"
            for k, v in wf.items()
            if isinstance(v, dict)
        )
        drivers = (prov.get("top_drivers") or {}).get("groups", [])
        uris, runs = _mapping(prov.get("model_uris")), _mapping(prov.get("mlflow_run_ids"))
        card["provenance"] = {
            "data_cutoff": local(prov.get("data_cutoff"), tz),
            "models": [f"{k}: {v} (MLflow run {runs.get(k, '?')})" for k, v in uris.items()],
            "nwp": nwp,
            "confirmed_by": prov.get("confirmed_by", ""),
        }
        card["drivers"] = [
            {
                "name": (d.get("names") or {}).get(lang, d.get("driver")),
                "share": d.get("share"),
                "contribution": d.get("contribution"),
            }
            for d in drivers
        ]
    return card


def _utc_local(t: Any, tz: str) -> str:
    """Return a supervision period bound (naive UTC text) in local time."""
    return local(t, tz) if t else ""


def source_facts(m: dict[str, Any], tz: str, *, max_findings: int = 12) -> dict[str, Any]:
    """Return what a supervision alert states (:func:`pipelines.warnings.cap._source_fields` payload).

    Returns
    -------
    dict
        ``enterprise {id, name, industry}``, ``outfall`` (the determining stack or outfall),
        ``condition``, ``pollutant``, ``value`` (text with units), ``limit``, ``ratio``,
        ``period`` (local), ``flags``, ``findings`` (at most ``max_findings`` texts) and
        ``n_findings``.
    """
    observed = m.get("observed") or {}
    units = m.get("units") or {}
    pol = m.get("primary_pollutant") or (next(iter(observed)) if observed else "")
    value = observed.get(pol) if pol else None
    period = m.get("period") or []
    findings = m.get("findings") or []
    return {
        "enterprise": m.get("enterprise") or {},
        "outfall": m.get("determining_station") or "",
        "condition": m.get("condition") or "",
        "pollutant": pol,
        "value": "" if value is None else f"{value:.4g} {units.get(pol, '')}".strip(),
        "limit": "" if m.get("limit") is None else f"{m['limit']:g} {units.get(pol, '')}".strip(),
        "ratio": m.get("ratio"),
        "period": " – ".join(_utc_local(x, tz) for x in period[:2]) if period else "",
        "flags": m.get("flags") or "",
        "findings": [f.get("text") or str(f) for f in findings[:max_findings]],
        "n_findings": len(findings),
    }


def _supervision_counts(request: Request, who: Principal, cities: dict[str, dict]) -> list:
    """Supervision alerts in force by file and level, for roles that may not read them in full."""
    ws = request.app.state.settings.workspace
    hidden = [
        c
        for c in cities.values()
        if c["kind"] == "source" and not readable_kind(request, who, "warnings", c["kind"])
    ]
    if not hidden or not reveal(request, who, "supervision_summary"):
        return []
    active = R.warnings(ws, status="active").data
    lang = lang_of(request)
    out = []
    for c in hidden:
        mine = [w for w in active if w["city"] == c["name"]]
        levels = sorted(c["levels"], key=lambda lv: lv["rank"])
        out.append(
            {
                "title": (c.get("sender_name") or {}).get(lang, c["name"]),
                "total": len(mine),
                "levels": [
                    {
                        "name": lv["names"].get(lang, lv["name"]),
                        "level": lv["name"],
                        "colour": lv["colour"],
                        "n": sum(1 for w in mine if w["level"] == lv["name"]),
                    }
                    for lv in levels
                ],
            }
        )
    return out


@router.get("/warnings")
def warnings_page(request: Request, who: Principal = Depends(reader("warnings"))):
    """Warnings in force, those awaiting confirmation (cleared roles) and the history."""
    from qingyuan.web.api.warnings import visible

    lang = lang_of(request)
    ws = request.app.state.settings.workspace
    all_cities = {c["name"]: c for c in R.cities(ws).data}
    cities = {c["name"]: c for c in visible(request, who, list(all_cities.values()), key="name")}
    internal = "provenance" not in request.app.state.policy.hidden_fields(who.role, "warnings")
    rows = [w for w in visible(request, who, R.warnings(ws).data) if w["city"] in cities]
    last = {n["name"]: n.get("last_time") for n in R.networks(ws).data}
    cards = []
    for w in rows:
        card = warning_card(w, cities, lang, internal=internal)
        card["expired"] = w["status"] == "active" and expired(
            w, last.get(cities[w["city"]]["network"])
        )
        cards.append(card)
    pending: list[dict] = []
    if database_exists(ws.warnings_db) and reveal(request, who, "warnings_pending"):
        for p in visible(request, who, R.pending(ws).data, "warnings_pending"):
            if p["city"] not in cities:
                continue
            tz = _tz(cities, p["city"])
            d = p.get("decision") or {}
            lv = scheme_levels(p["city"]).get(p.get("proposed_level") or "", {})
            area = next(
                (a for a in cities[p["city"]]["areas"] if a["id"] == p["area"]), {"names": {}}
            )
            pending.append(
                {
                    **p,
                    "level_name": (lv.get("names") or {}).get(lang, p.get("proposed_level") or ""),
                    "area_name": area["names"].get(lang, p["area"]),
                    "start": local(d.get("start"), tz),
                    "end": local(d.get("end"), tz),
                    "issue_local": local(p.get("issue_time"), tz),
                }
            )
    can_confirm = request.app.state.policy.may(who.role, "warning.confirm").allowed
    return render(
        request,
        "warnings.html",
        {
            "active": [c for c in cards if c["status"] == "active" and not c["expired"]],
            "history": [c for c in cards if c["status"] != "active" or c["expired"]],
            "pending": pending,
            "can_confirm": can_confirm,
            "cities": list(cities.values()),
            "supervision_counts": _supervision_counts(request, who, all_cities),
        },
    )


@router.get("/warnings/{warning_id}")
def warning_page(request: Request, warning_id: RowId, who: Principal = Depends(reader("warnings"))):
    """One warning: what it says, why, provenance, lifecycle messages, annotations."""
    from qingyuan.web.api.warnings import annotations_of, require_city

    lang = lang_of(request)
    ws = request.app.state.settings.workspace
    cities = {c["name"]: c for c in R.cities(ws).data}
    w = R.warning(ws, warning_id).data
    if w["city"] not in cities:
        raise ApiError(404, f"warning {warning_id} belongs to no configured city")
    require_city(request, who, w["city"], kind=w.get("kind"))
    internal = "provenance" not in request.app.state.policy.hidden_fields(who.role, "warnings")
    msgs = w.get("messages") or []
    latest = msgs[-1]["message"] if msgs else {}
    card = warning_card({**w, "message": latest}, cities, lang, internal=internal)
    tz = _tz(cities, w["city"])
    lifecycle = [
        {
            "identifier": m["identifier"],
            "msg_type": m["msg_type"],
            "action": m["action"],
            "sent": local(m["sent"], tz),
            "level": (m.get("message") or {}).get("level"),
            "why": why_text(m.get("message") or {}).get(lang, ""),
        }
        for m in msgs
    ]
    can_annotate = request.app.state.policy.may(who.role, "warning.annotate").allowed
    notes = (
        annotations_of(request, warning_id)
        if "annotations" not in request.app.state.policy.hidden_fields(who.role, "warnings")
        else []
    )
    return render(
        request,
        "warning.html",
        {"w": card, "lifecycle": lifecycle, "notes": notes, "can_annotate": can_annotate},
    )


@router.post("/warnings/{warning_id}/annotate")
def annotate_form(
    request: Request,
    warning_id: RowId,
    text: str = Form(..., min_length=1, max_length=4000),
    csrf_token: str = Form("", max_length=128),
):
    """Return the annotation form of the warning page."""
    from qingyuan.web.db import Annotation

    who = principal(request)
    d = request.app.state.policy.may(who.role, "warning.annotate")
    if not d.allowed:
        raise ApiError(d.status, d.reason)
    check_csrf(who, csrf_token)
    w = R.warning(request.app.state.settings.workspace, warning_id).data
    from qingyuan.web.api.warnings import require_city

    require_city(request, who, w["city"], kind=w.get("kind"))
    with request.app.state.sessions.begin() as s:
        s.add(
            Annotation(
                city=w["city"], warning_id=warning_id, username=who.username or "", text=text
            )
        )
    audit(request, who, "warning.annotate", dataset="warnings", detail={"warning_id": warning_id})
    return RedirectResponse(f"/warnings/{warning_id}", status_code=303)


@router.post("/warnings/pending/{pending_id}/{verb}")
def pending_form(
    request: Request,
    pending_id: RowId,
    verb: str,
    note: str = Form("", max_length=4000),
    csrf_token: str = Form("", max_length=128),
):
    """Confirm or reject a held decision from the warnings page."""
    from pipelines.warnings.confirm import confirm_pending, reject_pending

    if verb not in ("confirm", "reject"):
        raise ApiError(404, "no such action")
    who = principal(request)
    d = request.app.state.policy.may(who.role, f"warning.{verb}")
    if not d.allowed:
        raise ApiError(d.status, d.reason)
    check_csrf(who, csrf_token)
    ws = request.app.state.settings.workspace
    held = next((p for p in R.pending(ws).data if p["id"] == pending_id), None)
    if held is not None:
        from qingyuan.web.api.warnings import require_city

        require_city(request, who, held["city"], read="warnings_pending")
    fn = confirm_pending if verb == "confirm" else reject_pending
    try:
        fn(pending_id, by=who.username or "", note=note, outputs=ws.outputs, db=ws.warnings_db)
    except LookupError as exc:
        raise ApiError(404, str(exc)) from None
    except ValueError as exc:
        raise ApiError(409, str(exc)) from None
    audit(
        request,
        who,
        f"warning.{verb}",
        dataset="warnings_pending",
        detail={"pending_id": pending_id, "note": note},
    )
    return RedirectResponse("/warnings", status_code=303)
