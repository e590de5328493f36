"""The station page: series with QC flags, forecast with its P10–P90 band, calendar, downloads.

Each part is shown as far as the role allows.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from fastapi import APIRouter, Depends, Query, Request

from pipelines import results as R
from pipelines.config import load_variables
from qingyuan.web.accounts import Principal
from qingyuan.web.deps import kind_dataset, network_reader, readable, reveal
from qingyuan.web.errors import ApiError
from qingyuan.web.pages.present import (
    aqi_category,
    category_name,
    category_table,
    local,
    water_colour,
)
from qingyuan.web.params import Ident
from qingyuan.web.render import lang_of, render

__all__ = ["router"]

_READ_STATIONS = network_reader("stations")  # by the network's kind (access.yml by_kind)

router = APIRouter(include_in_schema=False)

#: HJ 212 / QC status codes of the store marked on the chart (0 normal and 10 missing are not).
_SUSPECT, _INVALID = 8, 9


def _flag_marks(times: pd.DatetimeIndex, flags: np.ndarray, lang: str) -> list[dict]:
    susp = [t for t, f in zip(times, flags, strict=True) if f == _SUSPECT]
    bad = [t for t, f in zip(times, flags, strict=True) if f not in (0, _SUSPECT, 10)]
    out = []
    if susp:
        out.append(
            {
                "times": susp,
                "label": "可疑 (QC)" if lang == "zh" else "suspect (QC)",
                "class_": "qy-flag-suspect",
            }
        )
    if bad:
        out.append(
            {
                "times": bad,
                "label": "无效/仪器状态" if lang == "zh" else "invalid / instrument status",
                "class_": "qy-flag-invalid",
            }
        )
    return out


def _calendar_names(lang: str) -> dict:
    if lang == "zh":
        return {}
    return {
        "weekdays": ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"),
        "months": (
            "Jan",
            "Feb",
            "Mar",
            "Apr",
            "May",
            "Jun",
            "Jul",
            "Aug",
            "Sep",
            "Oct",
            "Nov",
            "Dec",
        ),
    }


def _provenance(p: dict) -> dict[str, str]:
    """Return a forecast's provenance as short lines (the file keeps some entries as JSON text)."""
    from qingyuan.web.pages.warnings import _mapping

    uris, runs = _mapping(p.get("model_uris")), _mapping(p.get("mlflow_run_ids"))
    out = {k: f"{v} (MLflow run {runs.get(k, '?')})" for k, v in uris.items()}
    wf = _mapping(p.get("weather_forecast"))
    for k, v in wf.items():
        if isinstance(v, dict):
            run = v.get("run_issue_time") or v.get("considered_run") or ""
            extra = f"; fallback {v['fallback']}" if v.get("fallback") else ""
            out[f"{k} NWP"] = (
                f"{v.get('feed', '')} {run} {v.get('status', '')}{' (synthetic)' if v.get('synthetic') else ''}{extra}"
            )
    return out


def _source_marks(frame: pd.DataFrame, lang: str) -> list[dict]:
    """Flag markers of a discharge series, at the measured value of each flagged hour."""
    flags = frame["flag"].to_numpy()
    height = frame["measured"].to_numpy(float)
    marks = []
    for label, class_, pick in (
        ("可疑 (QC)" if lang == "zh" else "suspect (QC)", "qy-flag-suspect", flags == _SUSPECT),
        (
            "无效/仪器状态 (不参与评价)"
            if lang == "zh"
            else "invalid / instrument status (not judged)",
            "qy-flag-invalid",
            ~np.isin(flags, (0, _SUSPECT, 10)),
        ),
    ):
        idx = np.flatnonzero(pick)
        if len(idx):
            marks.append(
                {
                    "index": list(idx),
                    "values": list(height[idx]),
                    "label": label,
                    "class_": class_,
                }
            )
    return marks


def _limit_lines(frame: pd.DataFrame, lang: str) -> list[tuple]:
    word = "限值" if lang == "zh" else "limit"
    out = []
    for col in ("limit", "limit_low", "limit_high"):
        for v in sorted({float(x) for x in frame[col].dropna().unique()}):
            out.append((v, f"{word} {v:g}", "#b71c1c"))
    return out


def _source_view(
    request: Request, who: Principal, ctx: dict, last: pd.Timestamp, lang: str
) -> dict:
    """Build the page of a stack or outfall: its standard, per pollutant the series and limit."""
    from qingyuan.web.charts import time_series

    ws = request.app.state.settings.workspace
    net, st = ctx["net"], ctx["st"]
    network, station = net["name"], st["id"]
    start = last - pd.Timedelta(days=7)
    if net.get("first_time"):  # a short record: the chart starts with it
        first = pd.Timestamp(net["first_time"]).tz_convert("UTC").tz_localize(None)
        start = max(start, first)
    reg = load_variables()["variables"]
    ent = next(
        (
            e
            for e in R.enterprises(ws, network, status=False).data
            if e["id"] == st.get("enterprise")
        ),
        None,
    )
    rec = next((s for s in (ent or {}).get("stations", []) if s["id"] == station), {})
    ctx["source"] = {
        "enterprise": ent,
        "station": rec,
        "standard": rec.get("standard"),
        "alert": (ent or {}).get("alert"),
        "synthetic": net.get("synthetic") or (ent or {}).get("synthetic"),
        "charts": [],
    }
    if not reveal(request, who, kind_dataset(request, "observations", net["kind"])):
        return ctx
    data = R.discharge_series(ws, network, station, start=start, end=last).data
    std = rec.get("standard") or {}
    for var, frame in data["series"].items():
        if not frame["measured"].notna().any() and not frame["value"].notna().any():
            continue  # a limited pollutant this station does not report
        unit = (std.get("limits") or {}).get(var, {}).get("units") or reg.get(var, {}).get(
            "units", ""
        )
        name = var
        if std.get("reference_o2") is not None:
            name += " 折算" if lang == "zh" else f" at {std['reference_o2']:g} % O2"
        over = frame["value"] > frame["limit"]
        ctx["source"]["charts"].append(
            {
                "variable": var,
                "svg": time_series(
                    list(frame.index),
                    [
                        {
                            "name": name,
                            "values": frame["value"].to_numpy(float),
                            "class_": "qy-line-obs",
                        }
                    ],
                    flags=_source_marks(frame, lang),
                    thresholds=_limit_lines(frame, lang),
                    title=f"{st['name']} · {var}",
                    y_label=f"{var} [{unit}]",
                    tz=net["time_zone"],
                ),
                "limit": ", ".join(f"{v:g}" for v, _, _ in _limit_lines(frame, lang)),
                "units": unit,
                "hours_over": int(over.sum()),
                "hours_valid": int(frame["value"].notna().sum()),
            }
        )
    q = f"start={start:%Y-%m-%dT%H:%M:%SZ}&end={last:%Y-%m-%dT%H:%M:%SZ}"
    base = f"/api/v1/networks/{network}/stations/{station}/observations?{q}"
    ctx["downloads"] = {
        "csv": base + "&format=csv",
        "netcdf": base + "&format=netcdf",
        "json": base,
    }
    return ctx


@router.get("/station/{network}/{station}")
def station_page(
    request: Request,
    network: Ident,
    station: Ident,
    variable: str | None = Query(None, pattern=r"^[A-Za-z0-9_]{1,64}$"),
    who: Principal = Depends(_READ_STATIONS),
):
    """One station; a pollution source's stack or outfall shows its discharge against the limits."""
    from qingyuan.web.charts import AQI_COLOURS, calendar, time_series

    lang = lang_of(request)
    ws = request.app.state.settings.workspace
    net = next((n for n in R.networks(ws).data if n["name"] == network), None)
    if net is None:
        raise ApiError(404, f"unknown network {network!r}")
    R.intact(net)
    st = next((s for s in R.stations(ws, network).data if s["id"] == station), None)
    if st is None:
        raise ApiError(404, f"unknown station {station!r} in network {network!r}")
    tz = net["time_zone"]
    reg = load_variables()["variables"]
    last = (
        pd.Timestamp(net["last_time"]).tz_convert("UTC").tz_localize(None)
        if net.get("last_time")
        else None
    )
    ctx: dict = {
        "net": net,
        "st": st,
        "series_svg": "",
        "forecast_svg": "",
        "calendar_svg": "",
        "variables": [],
        "variable": None,
        "downloads": None,
        "forecast": None,
        "source": None,
    }
    if last is None:
        return render(request, "station.html", ctx)
    if net["kind"] == "source":
        return render(request, "station.html", _source_view(request, who, ctx, last, lang))
    start = last - pd.Timedelta(days=7)
    # 1. the time series: raw values with QC flags (analysts), else the published hourly AQI
    if reveal(request, who, kind_dataset(request, "observations", net["kind"])):
        variables = [v for v in net["variables"] if v in reg]
        var = variable if variable in variables else (variables[0] if variables else None)
        if "pm25" in variables and variable is None:
            var = "pm25"
        ctx["variables"], ctx["variable"] = variables, var
        if var:
            obs = R.observations(ws, network, station, start=start, end=last, variables=[var]).data
            unit = obs.attrs.get("units", {}).get(var, reg[var].get("units", ""))
            flags = (
                obs[f"{var}_flag"].to_numpy() if f"{var}_flag" in obs else np.zeros(len(obs), int)
            )
            ctx["series_svg"] = time_series(
                list(obs.index),
                [
                    {
                        "name": reg[var].get("long_name", var),
                        "values": obs[var].to_numpy(float),
                        "class_": "qy-line-obs",
                    }
                ],
                flags=_flag_marks(obs.index, flags, lang),
                title=f"{st['name']} · {var}",
                y_label=f"{var} [{unit}]",
                tz=tz,
            )
            q = f"start={start:%Y-%m-%dT%H:%M:%SZ}&end={last:%Y-%m-%dT%H:%M:%SZ}&variables={var}"
            base = f"/api/v1/networks/{network}/stations/{station}/observations?{q}"
            ctx["downloads"] = {
                "csv": base + "&format=csv",
                "netcdf": base + "&format=netcdf",
                "json": base,
            }
    elif net["kind"] == "air" and readable(request, who, "aqi"):
        h = R.hourly_aqi(ws, network, station, start=start, end=last).data
        ctx["series_svg"] = time_series(
            list(h.index),
            [{"name": "AQI", "values": h["aqi"].to_numpy(float), "class_": "qy-line-aqi"}],
            title=f"{st['name']} · AQI",
            y_label="AQI",
            thresholds=[(100, "100"), (200, "200")],
            tz=tz,
        )
    # 2. the forecast with its P10–P90 band
    if reveal(request, who, "forecasts"):
        try:
            fc = R.forecast(ws, network, station=station).data
        except R.NotFound:
            fc = None
        if fc and fc["series"]:
            s = fc["series"][0]
            qs = s["quantiles"]
            lo, hi = qs.get(min(qs, key=float)), qs.get(max(qs, key=float))
            ctx["forecast"] = {
                "issue_local": local(fc["issue_time"], tz),
                "cutoff_local": local(fc.get("data_cutoff"), tz),
                "variable": s["variable"],
                "provenance": _provenance(fc.get("provenance") or {}),
            }
            ctx["forecast_svg"] = time_series(
                [pd.Timestamp(t) for t in s["valid_time"]],
                [
                    {
                        "name": "P50" if "0.5" in qs else "mean",
                        "values": np.asarray(qs.get("0.5", s["mean"]), float),
                        "class_": "qy-line-fc",
                    }
                ],
                band={
                    "lower": np.asarray(lo, float),
                    "upper": np.asarray(hi, float),
                    "name": f"P{float(min(qs, key=float)) * 100:.0f}–P{float(max(qs, key=float)) * 100:.0f}",
                },
                title=f"{st['name']} · {s['variable']} forecast",
                y_label=f"{s['variable']} [{s.get('unit', '')}]",
                tz=tz,
            )
    # 3. the calendar of the last year
    day0 = last - pd.Timedelta(days=365)
    if net["kind"] == "air" and readable(request, who, "aqi"):
        d = R.daily_aqi(ws, network, station=station, start=day0, end=last).data
        d = pd.DataFrame(d)
        if len(d):
            days = list(pd.to_datetime(d["date"]).dt.date)
            vals = [None if pd.isna(c) else int(c) for c in d["category"]]
            labels = [
                f"{dd}: AQI {'' if pd.isna(a) else int(a)} {category_name(aqi_category(a), lang)}"
                for dd, a in zip(days, d["aqi"], strict=True)
            ]
            legend = [(c["colour"], category_name(c, lang)) for c in category_table()]
            ctx["calendar_svg"] = calendar(
                days,
                vals,
                colours=AQI_COLOURS,
                title=f"{st['name']} · daily AQI",
                labels=labels,
                legend=legend,
                **_calendar_names(lang),
            )
    elif net["kind"] == "water" and readable(request, who, "water_class"):
        d = pd.DataFrame(R.water_class(ws, network, station=station, start=day0, end=last).data)
        if len(d):
            order = ["I", "II", "III", "IV", "V", "劣V"]
            days = list(pd.to_datetime(d["date"]).dt.date)
            vals = [order.index(c) + 1 if c in order else None for c in d["class"]]
            colours = {i + 1: water_colour(c) for i, c in enumerate(order)}
            labels = [f"{dd}: {c}" for dd, c in zip(days, d["class"], strict=True)]
            ctx["calendar_svg"] = calendar(
                days,
                vals,
                colours=colours,
                title=f"{st['name']} · daily class",
                labels=labels,
                legend=[(water_colour(c), c) for c in order],
                **_calendar_names(lang),
            )
    return render(request, "station.html", ctx)
