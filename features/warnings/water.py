"""Water-quality alert decisions from observed station series (pure functions, no I/O).

Two kinds of condition, both configured in a water warning file (``configs/warnings/*.yml`` with
``kind: water``):

* **class exceedance**: the GB 3838 single-factor class of a station's trailing window means
  (``class_window_hours``) is worse than the area's target class;
* **threshold breach**: the last ``readings`` valid readings of a variable are all below (``below``)
  or above (``above``) a threshold, e.g. dissolved oxygen < 3 mg/L or NH3-N > 1.5 mg/L.

An area is a group of stations (usually one section); its level is the most severe level reached
by any of its stations, and the message names the station and parameter that determine it. The
result is a :class:`features.warnings.rules.Decision`, so water alerts share the air warnings'
lifecycle (issue, upgrade, downgrade, extend, lift), CAP/JSON rendering, bulletin and outbox.
Observed conditions are certain (``probability`` 1); an alert is valid for ``review_hours`` after
the data cut-off and extended by each run in which the condition still holds; it is lifted when no
condition has held for more than the scheme's ``decision.lift_clear_hours``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from features.warnings.rules import Decision, WarningScheme
from features.water_class import CLASS_NAMES, WaterStandard, section_class

__all__ = ["ThresholdRule", "WaterRules", "condition_series", "decide_water"]


@dataclass(frozen=True)
class ThresholdRule:
    """``variable`` below / above ``value`` [``units``] on ``readings`` consecutive valid readings."""

    variable: str
    value: float
    below: bool
    readings: int
    level: str
    units: str = ""

    def describe(self) -> str:
        """``dissolved_oxygen < 3 mg L-1``."""
        return f"{self.variable} {'<' if self.below else '>'} {self.value:g} {self.units}".strip()


@dataclass(frozen=True)
class WaterRules:
    """Water alert settings of a warning file (``water:`` block)."""

    class_level: str | None
    class_window_hours: float
    thresholds: tuple[ThresholdRule, ...]
    review_hours: float
    standard: str

    @classmethod
    def from_config(cls, cfg: dict[str, Any]) -> WaterRules:
        """Build from the validated ``water`` mapping of a warning file (every key present)."""
        rules = tuple(
            ThresholdRule(
                variable=str(t["variable"]),
                value=float(t["below"] if t.get("below") is not None else t["above"]),
                below=t.get("below") is not None,
                readings=int(t["readings"]),
                level=str(t["level"]),
                units=str(t["units"]),
            )
            for t in cfg["thresholds"]
        )
        return cls(
            class_level=cfg["class_level"],
            class_window_hours=float(cfg["class_window_hours"]),
            thresholds=rules,
            review_hours=float(cfg["review_hours"]),
            standard=str(cfg["standard"]),
        )


def _trailing_run_start(flags: np.ndarray) -> int | None:
    """Index where the trailing run of True values starts (None when the last value is False)."""
    if not len(flags) or not flags[-1]:
        return None
    falses = np.flatnonzero(~flags)
    return int(falses[-1] + 1) if len(falses) else 0


def condition_series(
    times: pd.DatetimeIndex,
    values: dict[str, np.ndarray],
    rules: WaterRules,
    standard: WaterStandard,
    waterbody: str,
    target_class: int | None,
) -> dict[str, Any]:
    """Where each condition holds along one station's series.

    Parameters
    ----------
    times : pandas.DatetimeIndex
        UTC reading times (regular or not), ascending.
    values : dict of numpy.ndarray
        Variable -> valid values (invalid / QC-flagged readings already NaN), in the threshold
        units.
    target_class : int or None
        1..5 (I..V); None disables the class condition.

    Returns
    -------
    dict
        ``class``: int array (window-mean class, 0 = no data), ``class_breach``: bool array,
        ``determining``: str array, ``threshold_breach``: {rule index: bool array} (True at a
        reading that ends ``readings`` consecutive valid readings beyond the threshold).
    """
    n = len(times)
    out: dict[str, Any] = {"threshold_breach": {}}
    params = [p for p in standard.evaluated(waterbody) if p in values]
    if rules.class_level and target_class is not None and params:
        window = f"{rules.class_window_hours:g}h"
        frame = pd.DataFrame({p: values[p] for p in params}, index=times)
        means = frame.rolling(window, min_periods=1).mean()
        cls, det = section_class({p: means[p].to_numpy() for p in params}, standard, waterbody)
        out["class"], out["determining"] = cls, det
        out["class_breach"] = cls > target_class
        out["class_means"] = means
    else:
        out["class"] = np.zeros(n, int)
        out["determining"] = np.full(n, "", object)
        out["class_breach"] = np.zeros(n, bool)
    for i, rule in enumerate(rules.thresholds):
        v = values.get(rule.variable)
        if v is None:
            continue
        ok = ~np.isnan(v)
        beyond = np.where(ok, (v < rule.value) if rule.below else (v > rule.value), False)
        # consecutive valid readings beyond the threshold (missing readings are skipped, not
        # counted as clean: a sensor gap does not end a breach)
        hit = np.zeros(n, bool)
        count = 0
        for k in range(n):
            if not ok[k]:
                continue
            count = count + 1 if beyond[k] else 0
            hit[k] = count >= rule.readings
        out["threshold_breach"][i] = hit
    return out


def decide_water(
    scheme: WarningScheme,
    rules: WaterRules,
    standard: WaterStandard,
    waterbody: str,
    as_of: pd.Timestamp,
    stations: dict[str, tuple[pd.DatetimeIndex, dict[str, np.ndarray]]],
    target_class: str | None,
    units: dict[str, str] | None = None,
) -> Decision:
    """Decide the water alert level of one area at ``as_of`` (UTC, the data cut-off).

    Parameters
    ----------
    stations : dict
        Station id -> (times, values) with readings up to ``as_of`` over at least
        ``class_window_hours + 2 lift_clear_hours`` (older readings are ignored). Pass only the
        variables a station monitors: one without a valid reading in the last
        ``class_window_hours`` makes the station's state unknown, so no alert is lifted.
    target_class : str or None
        Target class name (``"III"``); None: thresholds only.
    units : dict, optional
        Variable -> units, for the messages.
    """
    units = units or {}
    as_of = pd.Timestamp(as_of)
    target = CLASS_NAMES.index(target_class) + 1 if target_class else None
    lift = float(scheme.decision["lift_clear_hours"])
    lookback = pd.Timedelta(hours=rules.class_window_hours + 2 * lift)
    best: tuple[int, dict[str, Any]] | None = None  # (severity, finding)
    last_held: pd.Timestamp | None = None
    any_data = False
    unknown = False
    details: dict[str, Any] = {"target_class": target_class, "stations": {}}
    for sid, (times, values) in stations.items():
        keep = (times > as_of - lookback) & (times <= as_of)
        t = times[keep]
        vals = {k: np.asarray(v, float)[keep] for k, v in values.items()}
        if not len(t) or all(np.isnan(v).all() for v in vals.values()):
            details["stations"][sid] = {"status": "no valid data"}
            continue
        any_data = True
        recent = t > as_of - pd.Timedelta(hours=rules.class_window_hours)
        silent = sorted(v for v, x in vals.items() if np.isnan(x[recent]).all())
        cs = condition_series(t, vals, rules, standard, waterbody, target)
        now_idx = len(t) - 1
        st: dict[str, Any] = {
            "class": CLASS_NAMES[cs["class"][now_idx] - 1] if cs["class"][now_idx] else None,
            "determining": str(cs["determining"][now_idx]),
        }
        held = cs["class_breach"].copy()
        findings: list[tuple[int, dict[str, Any]]] = []
        if cs["class_breach"][now_idx]:
            start = _trailing_run_start(cs["class_breach"])
            det = str(cs["determining"][now_idx])
            means = cs["class_means"].iloc[now_idx]
            findings.append(
                (
                    scheme.severity_index(rules.class_level),
                    {
                        "station": sid,
                        "kind": "class",
                        "level": rules.class_level,
                        "start": t[start] - pd.Timedelta(hours=rules.class_window_hours),
                        "parameter": det,
                        "observed_class": st["class"],
                        "value": {p: round(float(means[p]), 3) for p in det.split(",") if p},
                        "text": f"{sid}: class {st['class']} over the last "
                        f"{rules.class_window_hours:g} h (target {target_class}), determined by "
                        f"{det} ("
                        + ", ".join(
                            f"{p} mean {means[p]:.2f} {units.get(p, '')}".rstrip()
                            for p in det.split(",")
                            if p
                        )
                        + ")",
                        "text_zh": f"{sid}: 近 {rules.class_window_hours:g} 小时水质类别 "
                        f"{st['class']} (目标 {target_class}),定类因子 {det} ("
                        + ", ".join(
                            f"{p} 均值 {means[p]:.2f} {units.get(p, '')}".rstrip()
                            for p in det.split(",")
                            if p
                        )
                        + ")",
                    },
                )
            )
        for i, rule in enumerate(rules.thresholds):
            hit = cs["threshold_breach"].get(i)
            if hit is None:
                continue
            held |= hit
            if hit[now_idx]:
                v = vals[rule.variable]
                start = _trailing_run_start(
                    np.where(
                        np.isnan(v), True, (v < rule.value) if rule.below else (v > rule.value)
                    )
                )
                start = now_idx if start is None else start
                run = v[start:]
                extreme = np.nanmin(run) if rule.below else np.nanmax(run)
                findings.append(
                    (
                        scheme.severity_index(rule.level),
                        {
                            "station": sid,
                            "kind": "threshold",
                            "level": rule.level,
                            "start": t[start],
                            "parameter": rule.variable,
                            "value": {rule.variable: round(float(extreme), 3)},
                            "text": f"{sid}: {rule.describe()} on the last "
                            f"{int((~np.isnan(run)).sum())} valid readings since "
                            f"{t[start]:%Y-%m-%d %H:%M} UTC "
                            f"({'min' if rule.below else 'max'} {extreme:.2f} {rule.units})".rstrip(),
                            "text_zh": f"{sid}: 自 {t[start]:%Y-%m-%d %H:%M} UTC 起连续 "
                            f"{int((~np.isnan(run)).sum())} 个有效读数 {rule.describe()} "
                            f"({'最小值' if rule.below else '最大值'} "
                            + f"{extreme:.2f} {rule.units}".rstrip()
                            + ")",
                        },
                    )
                )
        if held.any():
            h = t[np.flatnonzero(held)[-1]]
            last_held = h if last_held is None else max(last_held, h)
        st["findings"] = [f["text"] for _, f in findings]
        st["findings_zh"] = [f["text_zh"] for _, f in findings]
        if silent:  # a monitored variable went quiet: its conditions are unknown, not clear
            unknown = True
            st["not_reporting"] = silent
            st["findings"].append(
                f"{sid}: no valid {', '.join(silent)} in the last {rules.class_window_hours:g} h "
                "(unknown is not clear)"
            )
            st["findings_zh"].append(
                f"{sid}: 近 {rules.class_window_hours:g} 小时无有效 {', '.join(silent)} 读数"
                "(未知不等于达标)"
            )
        details["stations"][sid] = st
        for sev, f in findings:
            if best is None or sev > best[0] or (sev == best[0] and f["start"] < best[1]["start"]):
                best = (sev, f)
    reasons = [txt for s in details["stations"].values() for txt in s.get("findings", [])]
    reasons_zh = [txt for s in details["stations"].values() for txt in s.get("findings_zh", [])]
    if not any_data or unknown:
        if not any_data:
            reasons.append("no valid readings in the look-back window: unknown is not clear")
            reasons_zh.append("回溯时段内无有效读数:未知不等于达标")
        clear = 0.0
    elif last_held is None:
        clear = float(lookback / pd.Timedelta(hours=1))
    else:
        clear = float((as_of - last_held) / pd.Timedelta(hours=1))
    if best is None:
        return Decision(
            level=None,
            start=None,
            end=None,
            probability=1.0 if any_data else 0.0,
            aqi_range=None,
            primary_pollutant="",
            clear_hours=clear,
            lead_hours=None,
            used_upper_bound=False,
            day_probability=[],
            reasons=reasons,
            details=details,
            reasons_zh=reasons_zh,
        )
    sev, f = best
    details.update(
        {
            "determining_station": f["station"],
            "condition": f["kind"],
            "observed_class": f.get("observed_class"),
            "observed": f["value"],
            "units": {p: units.get(p, "") for p in f["value"]},
        }
    )
    return Decision(
        level=f["level"],
        start=pd.Timestamp(f["start"]),
        end=as_of + pd.Timedelta(hours=rules.review_hours),
        probability=1.0,
        aqi_range=None,
        primary_pollutant=f["parameter"],
        clear_hours=0.0,
        lead_hours=None,
        used_upper_bound=False,
        day_probability=[],
        reasons=reasons,
        details=details,
        reasons_zh=reasons_zh,
    )
