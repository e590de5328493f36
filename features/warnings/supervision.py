"""Pollution-source supervision alerts from online-monitoring data (pure functions, no I/O).

Configured in a warning file with ``kind: source`` (``supervision:`` block); an area is an
enterprise (its stacks and outfalls are the stations). Five conditions, each found per station
in the look-back window ending at the data cut-off:

* **exceedance**: a valid hourly (flue gas, corrected to the reference O2) or daily (wastewater)
  mean above the discharge limit of the station's standard and class, or outside a range (pH)
  (:func:`features.discharge.assess`); at ``severe_ratio`` × the limit or more it takes the
  severe level;
* **offline**: no value received for longer than ``offline_hours``;
* **flagged**: a variable flagged maintenance / calibration / fault / stopped / manual /
  communication failure (HJ 212 ``M C D F S B``) for ``flagged_hours`` or more in a row;
* **flat**: a variable's valid values unchanged (within ``flat_tolerance``) for ``flat_hours``;
* **inconsistent**: zero flow reported while concentrations or emitted masses are above zero.

The result is a :class:`features.warnings.rules.Decision`, so supervision alerts share the
lifecycle, CAP (category ``Env``), feed, bulletin and outbox of the air and water warnings.
Observed conditions are certain; an alert is valid ``review_hours`` past the cut-off and lifted
when nothing has held for ``decision.lift_clear_hours``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from features.discharge import DischargeStandard, assess
from features.warnings.rules import Decision, WarningScheme

__all__ = ["StationData", "SupervisionRules", "decide_supervision", "station_findings"]

#: HJ 212 status letters and what they say (the ``flagged`` condition).
FLAG_WORDS = {
    "F": "stopped",
    "M": "maintenance",
    "S": "manual value",
    "D": "fault",
    "C": "calibration",
    "B": "communication failure",
    "T": "over the upper limit",
}
#: :data:`FLAG_WORDS` in Chinese.
FLAG_WORDS_ZH = {
    "F": "停运",
    "M": "维护",
    "S": "手工输入",
    "D": "故障",
    "C": "校准",
    "B": "通讯异常",
    "T": "超测定上限",
}

#: Flow variable of each medium, and the variables that cannot be above zero without flow.
FLOW = {"air": "stack_gas_flow", "water": "effluent_flow"}


@dataclass(frozen=True)
class SupervisionRules:
    """The ``supervision:`` block of a ``kind: source`` warning file."""

    exceedance_level: str
    severe_level: str | None
    severe_ratio: float
    data_level: str | None
    offline_hours: float
    flagged_hours: float
    flagged_statuses: tuple[str, ...]
    flat_hours: float
    flat_tolerance: float
    flat_variables: tuple[str, ...]
    lookback_hours: float
    review_hours: float

    @classmethod
    def from_config(cls, cfg: dict[str, Any]) -> SupervisionRules:
        """Build from the validated ``supervision`` mapping (every key present)."""
        return cls(
            exceedance_level=str(cfg["exceedance_level"]),
            severe_level=cfg["severe_level"],
            severe_ratio=float(cfg["severe_ratio"]),
            data_level=cfg["data_level"],
            offline_hours=float(cfg["offline_hours"]),
            flagged_hours=float(cfg["flagged_hours"]),
            flagged_statuses=tuple(cfg["flagged_statuses"]),
            flat_hours=float(cfg["flat_hours"]),
            flat_tolerance=float(cfg["flat_tolerance"]),
            flat_variables=tuple(cfg["flat_variables"]),
            lookback_hours=float(cfg["lookback_hours"]),
            review_hours=float(cfg["review_hours"]),
        )


@dataclass
class StationData:
    """One stack or outfall: its hourly data and what judges it.

    ``times`` are interval ends (UTC, naive), ascending, hourly; ``values`` hold every value
    received (NaN where none), ``status`` the final status letter of each (``N``, ``M`` …,
    ``qc_invalid``, ``missing``), ``valid`` whether it may be compared with a limit.
    """

    station: str
    name: str
    medium: str
    times: pd.DatetimeIndex
    values: dict[str, np.ndarray]
    status: dict[str, np.ndarray]
    valid: dict[str, np.ndarray]
    standard: DischargeStandard | None
    class_id: str | None
    overrides: dict[str, float] = field(default_factory=dict)
    time_zone: str = "Asia/Shanghai"


def _longest_run(mask: np.ndarray) -> tuple[int, int]:
    """(length, end index + 1) of the last longest run of True values ((0, 0) when none)."""
    best, end, run = 0, 0, 0
    for k, m in enumerate(mask):
        run = run + 1 if m else 0
        if run and run >= best:
            best, end = run, k + 1
    return best, end


def _trailing_run(mask: np.ndarray) -> int:
    """Length of the trailing run of True values."""
    if not len(mask) or not mask[-1]:
        return 0
    falses = np.flatnonzero(~mask)
    return int(len(mask) - (falses[-1] + 1 if len(falses) else 0))


def _fmt_t(t: pd.Timestamp) -> str:
    return f"{pd.Timestamp(t):%Y-%m-%d %H:%M} UTC"


def station_findings(
    data: StationData,
    rules: SupervisionRules,
    as_of: pd.Timestamp,
    *,
    units: dict[str, str] | None = None,
) -> list[dict[str, Any]]:
    """Every condition that holds for one station in the look-back window ending at ``as_of``.

    Returns
    -------
    list of dict
        ``kind`` (exceedance, offline, flagged, flat, inconsistent), ``level``, ``station``,
        ``variable``, ``start`` / ``end`` (UTC), ``value``, ``limit``, ``ratio``, ``flags``,
        ``text`` (English) and ``text_zh`` (Chinese); exceedances also carry the
        :class:`~features.discharge.Exceedance` as a dict.
    """
    units = units or {}
    as_of = pd.Timestamp(as_of)
    keep = (data.times > as_of - pd.Timedelta(hours=rules.lookback_hours)) & (data.times <= as_of)
    t = data.times[keep]
    out: list[dict[str, Any]] = []
    vals = {v: np.asarray(x, float)[keep] for v, x in data.values.items()}
    stat = {v: np.asarray(x, object)[keep] for v, x in data.status.items()}
    ok = {v: np.asarray(x, bool)[keep] for v, x in data.valid.items()}
    received = np.zeros(len(t), bool)
    for s in stat.values():
        received |= s != "missing"
    sid = data.station

    # offline: nothing received for longer than offline_hours before the cut-off
    last = t[np.flatnonzero(received)[-1]] if received.any() else None
    silent_h = (
        float((as_of - last) / pd.Timedelta(hours=1)) if last is not None else rules.lookback_hours
    )
    if rules.data_level and silent_h > rules.offline_hours:
        since = (
            f"since {_fmt_t(last)}"
            if last is not None
            else f"in the last {rules.lookback_hours:g} h"
        )
        since_zh = (
            f"自 {_fmt_t(last)} 起" if last is not None else f"近 {rules.lookback_hours:g} 小时内"
        )
        out.append(
            {
                "kind": "offline",
                "level": rules.data_level,
                "station": sid,
                "variable": "",
                "start": last if last is not None else t[0] if len(t) else as_of,
                "end": as_of,
                "value": round(silent_h, 1),
                "text": f"{sid}: monitor offline, no data received {since} "
                f"({silent_h:.0f} h > {rules.offline_hours:g} h)",
                "text_zh": f"{sid}: 监测设备离线,{since_zh}未收到数据 "
                f"({silent_h:.0f} 小时 > {rules.offline_hours:g} 小时)",
            }
        )

    # exceedances of the standard (valid data only)
    if data.standard is not None and data.class_id and len(t):
        frame = pd.DataFrame(vals, index=t)
        valid = pd.DataFrame(ok, index=t).reindex(columns=frame.columns, fill_value=False)
        for e in assess(
            data.standard,
            data.class_id,
            frame,
            valid=valid,
            time_zone=data.time_zone,
            overrides=data.overrides or None,
        ):
            end = pd.Timestamp(e.end).tz_convert("UTC").tz_localize(None)
            if end > as_of or end <= as_of - pd.Timedelta(hours=rules.lookback_hours):
                continue
            severe = e.ratio is not None and e.ratio >= rules.severe_ratio and rules.severe_level
            limit = (
                f"{e.limit:g}"
                if e.limit is not None
                else f"{e.limit_range[0]:g}–{e.limit_range[1]:g}"
            )
            out.append(
                {
                    "kind": "exceedance",
                    "level": rules.severe_level if severe else rules.exceedance_level,
                    "station": sid,
                    "variable": e.variable,
                    "start": pd.Timestamp(e.start).tz_convert("UTC").tz_localize(None),
                    "end": end,
                    "value": round(float(e.value), 3),
                    "limit": e.limit if e.limit is not None else list(e.limit_range or ()),
                    "ratio": None if e.ratio is None else round(float(e.ratio), 2),
                    "flags": "N",
                    "exceedance": e.to_dict(),
                    "text": f"{sid}: {e.variable} {e.value:.3g} {e.units} "
                    f"{'>' if e.direction == 'above' else 'outside'} {limit} {e.units} "
                    f"({data.standard.name} {data.class_id}; {e.basis}"
                    + (f"; {e.ratio:.2f}× the limit" if e.ratio is not None else "")
                    + f") {_fmt_t(e.start)}–{_fmt_t(e.end)}",
                    "text_zh": f"{sid}: {e.variable} {e.value:.3g} {e.units} "
                    f"{'>' if e.direction == 'above' else '超出'} {limit} {e.units} "
                    f"({data.standard.name} {data.class_id}; {e.basis_zh or e.basis}"
                    + (f"; 为限值的 {e.ratio:.2f} 倍" if e.ratio is not None else "")
                    + f") {_fmt_t(e.start)}–{_fmt_t(e.end)}",
                }
            )

    # flagged too long / flat / inconsistent
    for v in sorted(stat):
        s = stat[v]
        if rules.data_level and len(s):
            run, stop = _longest_run(np.isin(s, rules.flagged_statuses))
            if run >= rules.flagged_hours:
                letters = sorted(set(s[stop - run : stop]))
                words = ", ".join(f"{x} ({FLAG_WORDS.get(x, x)})" for x in letters)
                words_zh = ", ".join(f"{x} ({FLAG_WORDS_ZH.get(x, x)})" for x in letters)
                start = t[stop - run] - pd.Timedelta(hours=1)
                out.append(
                    {
                        "kind": "flagged",
                        "level": rules.data_level,
                        "station": sid,
                        "variable": v,
                        "start": start,
                        "end": t[stop - 1],
                        "value": run,
                        "flags": "".join(letters),
                        "text": f"{sid}: {v} flagged {words} for {run} h "
                        f"({_fmt_t(start)} – {_fmt_t(t[stop - 1])}; ≥ {rules.flagged_hours:g} h): "
                        "not used to judge limits",
                        "text_zh": f"{sid}: {v} 标记 {words_zh} 持续 {run} 小时 "
                        f"({_fmt_t(start)} – {_fmt_t(t[stop - 1])}; ≥ {rules.flagged_hours:g} 小时):"
                        "不参与超标判定",
                    }
                )
        if rules.data_level and v in rules.flat_variables and v in vals:
            x, good = vals[v], ok.get(v, np.zeros(len(t), bool))
            xs = x[good]
            if len(xs) >= rules.flat_hours:
                # a run of valid values equal (within the tolerance) to the run's first value
                tol = rules.flat_tolerance * np.maximum(np.abs(xs[:-1]), 1e-9)
                same = np.concatenate([[False], np.abs(np.diff(xs)) <= tol])
                run, stop = _longest_run(same)
                run += 1  # n equal steps = n + 1 equal values
                if run >= rules.flat_hours and xs[stop - 1] != 0:
                    tt = t[good]
                    start = tt[stop - run] - pd.Timedelta(hours=1)
                    out.append(
                        {
                            "kind": "flat",
                            "level": rules.data_level,
                            "station": sid,
                            "variable": v,
                            "start": start,
                            "end": tt[stop - 1],
                            "value": round(float(xs[stop - 1]), 3),
                            "text": f"{sid}: {v} stuck at {xs[stop - 1]:g} {units.get(v, '')} "
                            f"for {run} valid hours ({_fmt_t(start)} – {_fmt_t(tt[stop - 1])}; "
                            f"≥ {rules.flat_hours:g} h): analyser suspected",
                            "text_zh": f"{sid}: {v} 连续 {run} 个有效小时恒为 {xs[stop - 1]:g} "
                            f"{units.get(v, '')} ({_fmt_t(start)} – {_fmt_t(tt[stop - 1])}; "
                            f"≥ {rules.flat_hours:g} 小时):疑似分析仪故障",
                        }
                    )
    flow = FLOW.get(data.medium)
    if rules.data_level and flow in vals:
        fv, fok = vals[flow], ok.get(flow, np.zeros(len(t), bool))
        others = [v for v in vals if v != flow and not v.endswith(("_o2", "_temperature", "_ph"))]
        emitting = np.zeros(len(t), bool)
        for v in others:
            emitting |= ok.get(v, np.zeros(len(t), bool)) & (np.nan_to_num(vals[v]) > 0)
        bad = fok & (fv == 0) & emitting
        if bad.any():
            hours = t[bad]
            out.append(
                {
                    "kind": "inconsistent",
                    "level": rules.data_level,
                    "station": sid,
                    "variable": flow,
                    "start": hours[0] - pd.Timedelta(hours=1),
                    "end": hours[-1],
                    "value": int(bad.sum()),
                    "text": f"{sid}: zero {flow} with emissions reported in {int(bad.sum())} h "
                    f"({_fmt_t(hours[0])} … {_fmt_t(hours[-1])}): data do not add up",
                    "text_zh": f"{sid}: {int(bad.sum())} 小时内 {flow} 为零却报有排放 "
                    f"({_fmt_t(hours[0])} … {_fmt_t(hours[-1])}):数据逻辑不符",
                }
            )
    return _merge_variables(out)


def _merge_variables(findings: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One flagged finding per station, period and flags (not one per variable)."""
    out: list[dict[str, Any]] = []
    seen: dict[tuple, dict[str, Any]] = {}
    for f in findings:
        if f["kind"] != "flagged":
            out.append(f)
            continue
        key = (f["station"], f["start"], f["end"], f["flags"])
        if key in seen:
            g = seen[key]
            g["variables"].append(f["variable"])
            g["text"] = g["text"].replace(
                f"{g['station']}: {', '.join(g['variables'][:-1])} flagged",
                f"{g['station']}: {', '.join(g['variables'])} flagged",
            )
            g["text_zh"] = g["text_zh"].replace(
                f"{g['station']}: {', '.join(g['variables'][:-1])} 标记",
                f"{g['station']}: {', '.join(g['variables'])} 标记",
            )
            continue
        f = {**f, "variables": [f["variable"]]}
        seen[key] = f
        out.append(f)
    return out


def decide_supervision(
    scheme: WarningScheme,
    rules: SupervisionRules,
    as_of: pd.Timestamp,
    stations: list[StationData],
    *,
    enterprise: dict[str, str] | None = None,
    units: dict[str, str] | None = None,
) -> Decision:
    """Decide the supervision alert level of one enterprise at ``as_of`` (UTC, the data cut-off).

    The level is the most severe level of any finding of any of its stations; the determining
    finding (most severe, then earliest) names the station, pollutant, value, limit, period and
    flags; the onset is the start of the first finding. ``clear_hours`` is the time since the last finding ended (the look-back when none).
    """
    as_of = pd.Timestamp(as_of)
    units = units or {}
    findings = [f for st in stations for f in station_findings(st, rules, as_of, units=units)]
    details: dict[str, Any] = {
        "enterprise": enterprise or {},
        "findings": [_plain(f) for f in findings],
        "stations": {st.station: st.name for st in stations},
    }
    reasons = [f["text"] for f in findings]
    reasons_zh = [f["text_zh"] for f in findings]
    if not findings:
        return Decision(
            level=None,
            start=None,
            end=None,
            probability=1.0,
            aqi_range=None,
            primary_pollutant="",
            clear_hours=rules.lookback_hours,
            lead_hours=None,
            used_upper_bound=False,
            day_probability=[],
            reasons=["no supervision condition in the look-back window"],
            details=details,
            reasons_zh=["回溯时段内无报警条件"],
        )
    best = max(findings, key=lambda f: (scheme.severity_index(f["level"]), -f["start"].value))
    last_end = max(pd.Timestamp(f["end"]) for f in findings)
    details.update(
        {
            "determining_station": best["station"],
            "condition": best["kind"],
            "observed": {best["variable"] or "silence_hours": best["value"]},
            "limit": best.get("limit"),
            "ratio": best.get("ratio"),
            "flags": best.get("flags", ""),
            "period": [str(best["start"]), str(best["end"])],
            "units": {best["variable"]: units.get(best["variable"], "")}
            if best["variable"]
            else {"silence_hours": "h"},
        }
    )
    return Decision(
        level=best["level"],
        start=min(pd.Timestamp(f["start"]) for f in findings),  # onset: the first finding
        end=as_of + pd.Timedelta(hours=rules.review_hours),
        probability=1.0,
        aqi_range=None,
        primary_pollutant=best["variable"],
        clear_hours=max(0.0, float((as_of - last_end) / pd.Timedelta(hours=1))),
        lead_hours=None,
        used_upper_bound=False,
        day_probability=[],
        reasons=reasons,
        details=details,
        reasons_zh=reasons_zh,
    )


def _plain(f: dict[str, Any]) -> dict[str, Any]:
    return {k: (str(v) if isinstance(v, pd.Timestamp) else v) for k, v in f.items()}
