"""Render the main job's result as Markdown (``outputs/summary.md``, also shown in the terminal)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

__all__ = ["render_markdown", "write_summary"]


def _table(header: list[str], rows: list[list[Any]]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return out


def render_markdown(result: dict[str, Any]) -> str:
    """Markdown summary of :func:`pipelines.flows.run_flow`'s result."""
    lines = ["# Qingyuan run summary", ""]
    for name, s in result["networks"].items():
        ing = s["ingest"]
        lines += [
            f"## Network `{name}` ({s['kind']})",
            "",
            f"- stations: {len(s['stations'])} ({', '.join(s['stations'])})",
            f"- period (UTC): {s['period_utc'][0]} .. {s['period_utc'][1]}; local zone {s['time_zone']}",
            f"- rows in {ing['rows_in']:,} = stored {ing['rows_stored']:,} + merged "
            f"{ing.get('rows_merged', 0):,} (identical re-sent rows) + quarantined "
            f"{ing['rows_quarantined']:,} (balanced: {ing['balanced']})",
            f"- ingest report: `{ing['report_file']}`"
            + (f"; quarantine: `{ing['quarantine_file']}`" if ing.get("quarantine_file") else ""),
            *_feed_lines(ing.get("weather_forecasts")),
            "",
        ]
        flag_names = sorted({k for f in s["flag_counts"].values() for k in f})
        rows = [
            [v, s["completeness_percent"][v]] + [s["flag_counts"][v].get(k, 0) for k in flag_names]
            for v in s["flag_counts"]
        ]
        lines += ["Completeness (% valid of the period) and QC flag counts:", ""]
        lines += _table(["variable", "valid %", *flag_names], rows) + [""]
        if "days_per_aqi_category" in s:
            cats = ["excellent", "good", "light", "moderate", "heavy", "severe", "no_aqi"]
            rows = [[st, *[c[k] for k in cats]] for st, c in s["days_per_aqi_category"].items()]
            lines += [
                f"Days per AQI category (HJ 633, editions used: {', '.join(s['aqi_editions'])}):",
                "",
            ]
            lines += _table(["station", *cats], rows) + [""]
        if "days_per_water_class" in s:
            classes = ["I", "II", "III", "IV", "V", "劣V", "no_class"]
            rows = [[st, *[c[k] for k in classes]] for st, c in s["days_per_water_class"].items()]
            lines += [
                f"Days per GB 3838 class (single factor over: {s['water_class_parameters']}):",
                "",
            ]
            lines += _table(["station", *classes], rows) + [""]
        if s.get("grid_file"):
            lines += [f"Gridded daily PM2.5 map: `{s['grid_file']}`", ""]
        if s.get("forecast"):
            fc = s["forecast"]
            trained = (
                f" (trained now: {', '.join(fc['trained'])})"
                if fc["trained"]
                else " (champions reused)"
            )
            lines += [
                f"Forecast issued {fc['issue_time_local']} local from {fc['model_uris']}{trained}: "
                f"`{fc['file']}`",
                *_weather_lines(fc.get("weather_forecast")),
                "",
            ]
            for target, days in fc.items():
                if isinstance(days, dict) and "D+1" in days:
                    rows = [[d, v["p50_mean"], v["p90_station_max"]] for d, v in days.items()]
                    lines += _table(
                        [
                            f"{target} day",
                            "network mean of P50",
                            "highest station P90 (daily mean)",
                        ],
                        rows,
                    ) + [""]
        if s.get("warning_history"):
            lines += [
                "Warning lifecycle steps of this run (drill window of daily 00:00-local runs, then the latest):",
                "",
            ]
            lines += _table(
                ["issue (local)", "city", "area", "action", "level", "CAP identifier"],
                [
                    [
                        h["issue_local"],
                        h["city"],
                        h["area"],
                        h["action"],
                        h["level"] or "-",
                        h["identifier"] or "-",
                    ]
                    for h in s["warning_history"]
                ],
            ) + [""]
            for city in dict.fromkeys(h["city"] for h in s["warning_history"]):
                h = next(x for x in s["warning_history"] if x["city"] == city)
                lines += [
                    f"- `{city}`: bulletin `{h['bulletin']}`, CAP messages `{h['cap_dir']}`",
                ]
            lines += [""]
        for w in s.get("warnings", []):
            lines += [f"Warnings, city `{w['city']}` (forecast issued {w['issue_time']} UTC):", ""]
            if w.get("ops_alert"):
                lines += [f"- OPERATIONAL ALERT: {w['ops_alert']}", ""]
            rows = [
                [
                    area,
                    d["action"],
                    d["level"] or "-",
                    " / ".join(str(x) for x in w["outlook"].get(area, [])),
                    " / ".join(f"{p:.2f}" for p in w["p_heavy"].get(area, [])),
                ]
                for area, d in w["decisions"].items()
            ]
            lines += _table(
                ["area", "action", "level", "daily AQI, next 24-h windows", "P(AQI > 200)"], rows
            ) + [""]
            out = w.get("outputs", {})
            lines += [
                f"- bulletin: `{out.get('bulletin')}`",
                f"- JSON feed: `{out.get('feed')}`",
                f"- CAP 1.2 messages: `{out.get('cap_dir')}`"
                + (f" (new: {len(out.get('new_cap', []))})" if out.get("new_cap") else ""),
                f"- lifecycle database (audit log, outbox): `{out.get('database')}`",
                "",
            ]
        for city, w in (s.get("water_alerts") or {}).items():
            lines += _water_lines(city, w)
        if s.get("source_tracing"):
            lines += _source_lines(s["source_tracing"])
    if result.get("supervision"):
        lines += _supervision_lines(result["supervision"])
    if result.get("pmf_demo"):
        p = result["pmf_demo"]
        lines += [
            "## PMF worked example (EPA PMF5 Baton Rouge data, `configs/source.yml: pmf_demo`)",
            "",
            f"- Q(true) {p['q_true']:,.1f}, Q(robust) {p['q_robust']:,.1f}, Q_exp {p['q_exp']:,.0f}; "
            f"{p['runs_converged']} of the starts converged; {p['seconds']} s",
            f"- bad species left out: {', '.join(p['dropped_species']) or 'none'}",
        ]
        if p.get("bootstrap"):
            lines.append(f"- bootstrap mapping per factor [%]: {p['bootstrap']['mapped_percent']}")
        lines += [
            f"- profiles, contributions, diagnostics and figures: `{p['outputs']}` (MLflow run {p.get('mlflow_run_id')})",
            "",
        ]
    for name, sc in (result.get("scenarios") or {}).items():
        lines += _scenario_lines(name, sc)
    if result.get("soil"):
        from pipelines.soil.report import render_soil

        for name, res in result["soil"].items():
            lines += [render_soil(name, res), ""]
    return "\n".join(lines)


def _scenario_lines(name: str, sc: dict[str, Any]) -> list[str]:
    """Summarise the control-measure scenario of ``qingyuan run`` (``scenarios/<name>.yml: run``)."""
    head = [f"## Control-measure scenario, {name} (`configs/scenarios/{name}.yml: run`)", ""]
    if "skipped" in sc:
        return [*head, f"- skipped: {sc['skipped']}", ""]
    cls = sc["class_names"].get("zh", sc["class"])
    lines = [
        *head,
        f"- {sc['class']} ({cls}, PMF {', '.join(sc['factors'])}, share {sc['share_mean_percent']:.1f} %) "
        f"cut {sc['cut_percent']:g} % from {sc['start_local']} (local)",
        f"- warning level: baseline {sc['baseline_level'].get('en')} ({sc['baseline_level'].get('zh')}), "
        f"with the cut {sc['cut_level'].get('en')} ({sc['cut_level'].get('zh')})"
        + (" - the level drops" if sc["level_drops"] else " - no change of level"),
    ]
    for d in sc["daily"]:
        lines.append(
            f"  - 24 h from {str(d['window_start_local'])[:16]}: PM2.5 {d['baseline_pm25_24h_median']:.0f} -> "
            f"{d['cut_pm25_24h_median']:.0f} ({d['cut_pm25_24h_low']:.0f}-{d['cut_pm25_24h_high']:.0f}), "
            f"AQI {d['baseline_aqi_median']:.0f} -> {d['cut_aqi_median']:.0f}"
        )
    lines += [
        "- assumptions: " + "; ".join(sc["assumptions"]),
        f"- files: `{sc['files'].get('markdown', '')}`; PMF solution `{sc['pmf_solution']}`",
        "",
    ]
    return lines


def write_summary(result: dict[str, Any], out_dir: str | Path) -> dict[str, Path]:
    """Write ``summary.json`` (the result) and ``summary.md`` (:func:`render_markdown`).

    Returns the two files (``json``, ``markdown``).
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    files = {"json": out / "summary.json", "markdown": out / "summary.md"}
    files["json"].write_text(json.dumps(result, indent=2, ensure_ascii=False))
    files["markdown"].write_text(render_markdown(result), encoding="utf-8")
    return files


def _yes(x: Any) -> bool:
    return x is True or (isinstance(x, str) and x.strip().lower() in ("true", "yes", "1"))


def _feed_lines(feeds: Any) -> list[str]:
    """Ingest lines of the weather-forecast feeds: runs written and stored, SYNTHETIC or not."""
    if not feeds:
        return []
    if not isinstance(feeds, dict):
        return [f"- weather-forecast feeds: {feeds}"]
    lines = []
    for name, f in feeds.items():
        if not isinstance(f, dict):
            lines.append(f"- weather-forecast feed `{name}`: {f}")
            continue
        kind = (
            "**SYNTHETIC** (observed weather plus errors, not a real weather forecast)"
            if _yes(f.get("synthetic"))
            else "real NWP"
        )
        span = (
            f" ({f.get('first_run')} .. {f.get('last_run')})"
            if f.get("first_run") or f.get("last_run")
            else ""
        )
        lines.append(
            f"- weather-forecast feed `{name}`, {kind}: {f.get('runs_written', '?')} runs written, "
            f"{f.get('runs_stored', '?')} stored{span}"
        )
    return lines


def _weather_lines(wf: Any) -> list[str]:
    """Describe the forecast's weather forecast: feed, SYNTHETIC or not, run, status / fallback."""
    if wf is None or wf == {} or wf == "":
        return []
    if isinstance(wf, str):
        try:
            wf = json.loads(wf)
        except ValueError:
            return [f"- weather forecast (NWP): unreadable provenance `{wf}`"]
    if (
        isinstance(wf, dict)
        and any(k in wf for k in ("feed", "status"))
        and not any(isinstance(v, dict) for v in wf.values())
    ):
        wf = {"all targets": wf}  # one feed state, not keyed by target
    if not isinstance(wf, dict) or not all(isinstance(v, dict) for v in wf.values()):
        return [f"- weather forecast (NWP): `{json.dumps(wf, ensure_ascii=False, default=str)}`"]
    lines = []
    for target, v in wf.items():
        synthetic = _yes(v.get("synthetic"))
        text = f"feed `{v.get('feed', '?')}`, synthetic: " + (
            "yes — **SYNTHETIC** (observed weather plus errors, not a real weather forecast)"
            if synthetic
            else "no"
        )
        if v.get("run_issue_time"):
            text += f", run issued {v['run_issue_time']}"
        text += f", status {v.get('status', '?')}"
        if v.get("reason"):
            text += f" ({v['reason']})"
        if v.get("status") == "missing":
            text += (
                f" -> forecast from fallback {v['fallback']}"
                if v.get("fallback")
                else " -> no fallback"
            )
        lines.append(f"- weather forecast (NWP) for {target}: {text}")
    return lines


def _source_lines(src: dict[str, Any]) -> list[str]:
    """Polar / CPF peaks per station and the trajectory maps."""
    polar, traj = src["polar"], src["trajectory"]
    var = polar["variable"]
    lines = [
        f"Source tracing of {var} ({src['period_utc'][0]} .. {src['period_utc'][1]} UTC):",
        "",
    ]
    rows = [
        [
            sid,
            f"{r[var]['cpf_peak_direction_deg']:.0f}",
            f"{r[var]['cpf_peak_speed_m_s']:.1f}",
            f"{r[var]['cpf_peak']:.2f}",
            f"`{r[var]['figure']}`",
        ]
        for sid, r in polar["stations"].items()
    ]
    lines += _table(
        ["station", "CPF peak from [deg]", "at wind speed [m/s]", "CPF", "polar plot"], rows
    )
    lines += [
        "",
        f"- back-trajectories: {traj['trajectories']} ({traj['wind_field']}); PSCF peak at "
        f"{traj['pscf_peak_lat_lon']}, CWT peak at {traj['cwt_peak_lat_lon']} (lat, lon); "
        f"`{traj['figure']}`",
        "",
    ]
    return lines


def _water_lines(city: str, w: dict[str, Any]) -> list[str]:
    """Water alerts of one water warning file: drill counts, the latest state, the outputs."""
    from collections import Counter

    hist = w.get("history", [])
    lines = [
        f"Water alerts `{city}` (alert job over the record; data cut-off of the last run "
        f"{w['issue_time']} UTC):",
        "",
    ]
    if w.get("ops_alert"):
        lines += [f"- OPERATIONAL ALERT: {w['ops_alert']}", ""]
    steps = Counter((h["area"], h["action"]) for h in hist)
    areas = sorted({h["area"] for h in hist})
    actions = ["issue", "upgrade", "downgrade", "extend", "lift"]
    lines += _table(
        ["section", *actions, "state at the end"],
        [
            [
                a,
                *[steps.get((a, k), 0) for k in actions],
                w["decisions"].get(a, {}).get("level") or "-",
            ]
            for a in areas
        ],
    ) + [""]
    if not hist:
        lines += ["- no alert condition in the record", ""]
    out = w.get("outputs", {})
    lines += [
        f"- bulletin: `{out.get('bulletin')}`",
        f"- JSON feed: `{out.get('feed')}`",
        f"- CAP 1.2 messages ({len(hist)} from the drill): `{out.get('cap_dir')}`",
        "",
    ]
    return lines


def _supervision_lines(s: dict[str, Any]) -> list[str]:
    """Summary of the HJ 212 step: receiver counts, store accounting, alerts, enterprise ranking."""
    rx, ing = s["receiver"], s["ingest"]
    cl = rx["client"]
    lines = [
        f"## Pollution-source supervision (HJ 212), network `{s['network']}`"
        + (" — **SYNTHETIC enterprises and data**" if s.get("synthetic") else ""),
        "",
        f"- replayed `{s['traffic']}`: {rx['frames']:,} frames from {rx['loggers']} data loggers "
        f"over TCP to a receiver on 127.0.0.1:{rx['port']}",
        f"- receiver: packets in {rx['packets_in']:,} = accepted {rx['accepted']:,} (raw log "
        f"fsync'd, then answered 9014) + quarantined {rx['quarantined']} "
        f"({', '.join(f'{k}: {n}' for k, n in rx['quarantine_reasons'].items()) or 'none'})",
        f"- loggers: acknowledged {cl['acknowledged']:,}, re-sent {cl['resent']}, given up "
        f"{cl['given_up']}; answer p50 {cl['ack_p50_ms']} ms, p99 {cl['ack_p99_ms']} ms",
        f"- store: hourly uploads in {ing.get('rows_in', 0):,} = stored {ing.get('rows_stored', 0):,}"
        f" + merged {ing.get('rows_merged', 0):,} + quarantined {ing.get('rows_quarantined', 0):,}"
        f" (balanced: {ing.get('balanced')}); " + "; ".join(ing.get("notes", [])),
        f"- discharge compliance per outfall and pollutant: `{s.get('compliance', {}).get('file')}`",
        "",
    ]
    for city, a in (s.get("alerts") or {}).items():
        lines += [f"Supervision alerts `{city}` (data cut-off {a['issue_time']} UTC):", ""]
        rows = [
            [
                f["enterprise"],
                f["name"],
                f["level"],
                f["condition"],
                f["station"],
                f["pollutant"] or "—",
                ", ".join(f"{k} {v:g}" for k, v in (f["value"] or {}).items()),
                f["limit"] if f["limit"] is not None else "—",
                " .. ".join(f["period_utc"] or []),
                f["flags"] or "—",
            ]
            for f in a["findings"]
        ]
        lines += (
            _table(
                [
                    "enterprise",
                    "name",
                    "level",
                    "condition",
                    "outfall",
                    "pollutant",
                    "value",
                    "limit",
                    "period (UTC)",
                    "flags",
                ],
                rows,
            )
            if rows
            else ["no enterprise in alert"]
        )
        out = a.get("outputs", {})
        lines += [
            "",
            f"- bulletin: `{out.get('bulletin')}`; JSON feed: `{out.get('feed')}`; CAP 1.2: "
            f"`{out.get('cap_dir')}`",
            "",
        ]
    for r in s.get("attribution") or []:
        lines += _attribution_lines(r)
    return lines


def _attribution_lines(r: dict[str, Any]) -> list[str]:
    """Return the summary lines of the enterprise ranking of one ambient anomaly."""
    where = f"`{r.get('network')}/{r.get('station')}`"
    if r.get("error"):
        return [
            f"Enterprise ranking for {r.get('variable')} at {where}: not made ({r['error']})",
            "",
        ]
    head = (
        f"Enterprises ranked for the {r.get('variable')} rise at {where} at {r.get('at')} UTC "
        f"(excess {r.get('excess')}, anomaly z {float(r.get('anomaly_z') or 0):.1f}; SYNTHETIC "
        "enterprises against real ambient data: an illustration of the method, not a finding):"
    )
    rows = [
        [
            x.get("rank"),
            x.get("enterprise"),
            x.get("name"),
            x.get("status", ""),
            f"{float(x.get('score') or 0):.3g}",
            f"{float(x.get('share') or 0):.0%}",
            f"{float(x.get('distance_km') or 0):.0f}",
            f"{float(x.get('bearing_deg') or 0):.0f}",
            f"{float(x.get('lag_h') or 0):.1f}",
        ]
        for x in (r.get("ranking") or [])[:5]
    ]
    table = (r.get("files") or {}).get("table")
    return (
        [head, ""]
        + _table(
            [
                "rank",
                "enterprise",
                "name",
                "status",
                "score",
                "share",
                "distance km",
                "bearing °",
                "lag h",
            ],
            rows,
        )
        + ["", f"- table: `{table}`", ""]
    )
