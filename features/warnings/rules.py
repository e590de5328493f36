"""Heavy-pollution warning levels from a probabilistic daily-AQI forecast (pure functions).

The scheme (levels, their conditions, decision settings, measures) comes from
``configs/warnings/*.yml`` through :func:`pipelines.config.warnings.load_warning_config`, which
fills every default of the ``decision`` block; nothing here knows a threshold or a default. A *day* is a 24-h window counted from
the issue time (the rolling daily AQI of the national scheme, which may cross midnight).

Decision, for one area and one issue time:

1. For every day and every AQI limit used by the scheme, the probability that the daily AQI
   exceeds the limit is read from the forecast quantiles; the day counts as exceeding when the
   probability reaches ``decision.confidence``.
2. When at least ``upper_bound_from_days`` heavy days (AQI > 200) are forecast, the level follows
   the upper bound of the forecast range instead (the ``upper_quantile`` exceeds the limit).
3. The level is the most severe one whose conditions hold (a condition: ``days`` consecutive days
   above the limit); the episode runs from the first to the last heavy day, merging runs separated
   by at most ``merge_gap_days`` clean days.
4. With no level, the forecast is *clear* for the hours until the first day that would exceed the
   lowest level's limit; a warning may be lifted only when that exceeds ``lift_clear_hours``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from features.quantiles import exceedance_from_quantiles

__all__ = [
    "Condition",
    "Decision",
    "Level",
    "Transition",
    "WarningScheme",
    "decide",
    "longest_run",
    "next_transition",
]


def longest_run(flags: np.ndarray) -> int:
    """Length of the longest run of consecutive True values."""
    best = run = 0
    for f in np.asarray(flags, bool):
        run = run + 1 if f else 0
        best = max(best, run)
    return best


@dataclass(frozen=True)
class Condition:
    """Daily AQI above ``limit`` (or at least, when ``inclusive``) on ``days`` consecutive days."""

    limit: float
    days: int
    inclusive: bool = False

    @classmethod
    def from_config(cls, cfg: dict[str, Any]) -> Condition:
        """Parse ``{aqi_above: 200, days: 2}`` or ``{aqi_at_least: 500, days: 1}``."""
        if "aqi_above" in cfg:
            return cls(float(cfg["aqi_above"]), int(cfg.get("days", 1)), False)
        return cls(float(cfg["aqi_at_least"]), int(cfg.get("days", 1)), True)

    @property
    def key(self) -> tuple[float, bool]:
        """Identifies the exceedance series this condition reads."""
        return (self.limit, self.inclusive)


@dataclass(frozen=True)
class Level:
    """One warning level and its alternative condition sets."""

    name: str
    rank: int
    names: dict[str, str]
    colour: str
    cap_severity: str
    any_of: tuple[tuple[Condition, ...], ...]

    def holds(self, exceed: dict[tuple[float, bool], np.ndarray]) -> bool:
        """Return True when all conditions of one alternative hold on the daily flags."""
        return any(
            all(longest_run(exceed[c.key]) >= c.days for c in alternative)
            for alternative in self.any_of
        )


@dataclass
class WarningScheme:
    """A warning scheme from ``configs/warnings/<name>.yml`` (inheritance already resolved)."""

    name: str
    title: str
    levels: list[Level]  # least severe first
    decision: dict[str, Any]
    measures: dict[str, dict[str, str]] = field(default_factory=dict)
    aqi_family: str = "hj633"
    kind: str = "air"  # "air": forecast daily AQI; "water": observed class and thresholds
    water: dict[str, Any] = field(default_factory=dict)  # the ``water:`` block of a water file
    supervision: dict[str, Any] = field(default_factory=dict)  # ``supervision:`` (kind source)
    # how a replay scores the warnings (``verification:`` block: heavy day, episode length)
    verification: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_config(cls, cfg: dict[str, Any]) -> WarningScheme:
        """Build from a plain mapping."""
        levels = [
            Level(
                name=str(lv["name"]),
                rank=int(lv["rank"]),
                names={str(k): str(v) for k, v in lv.get("names", {}).items()},
                colour=str(lv.get("colour", "#888888")),
                cap_severity=str(lv.get("cap_severity", "Unknown")),
                any_of=tuple(
                    tuple(Condition.from_config(c) for c in alt) for alt in lv.get("any_of", [])
                ),
            )
            for lv in cfg["levels"]
        ]
        return cls(
            name=str(cfg["name"]),
            title=str(cfg.get("title", cfg["name"])),
            levels=levels,
            decision=dict(cfg.get("decision", {})),
            measures={k: dict(v) for k, v in cfg.get("measures", {}).items()},
            aqi_family=str(cfg.get("aqi_family", "hj633")),
            kind=str(cfg.get("kind", "air")),
            water=dict(cfg.get("water") or {}),
            supervision=dict(cfg.get("supervision") or {}),
            verification=dict(cfg.get("verification") or {}),
        )

    @property
    def observed(self) -> bool:
        """Decided from observations (water, source supervision), not from a forecast."""
        return self.kind in ("water", "source")

    def level(self, name: str | None) -> Level | None:
        """Return the level called ``name`` (None for None)."""
        if name is None:
            return None
        for lv in self.levels:
            if lv.name == name:
                return lv
        raise KeyError(f"scheme {self.name} has no level {name!r}")

    def severity_index(self, name: str | None) -> int:
        """0 for no warning, 1 for the least severe level, increasing with severity."""
        if name is None:
            return 0
        return [lv.name for lv in self.levels].index(name) + 1

    @property
    def keys(self) -> list[tuple[float, bool]]:
        """Every (limit, inclusive) pair the scheme needs."""
        return sorted({c.key for lv in self.levels for alt in lv.any_of for c in alt})

    @property
    def heavy_key(self) -> tuple[float, bool]:
        """The key of the least severe level's first condition (AQI > 200 in both schemes)."""
        return self.levels[0].any_of[0][0].key


@dataclass
class Decision:
    """What the forecast says for one area at one issue time."""

    level: str | None
    start: pd.Timestamp | None  # UTC, start of the first heavy day of the episode
    end: pd.Timestamp | None  # UTC, end of its last heavy day
    probability: float  # min over the episode's heavy days of P(AQI > heavy limit); or max P
    aqi_range: tuple[float, float] | None  # P10..P90 of the peak day's AQI (None for water)
    primary_pollutant: str
    clear_hours: float  # hours from issue until the first heavy day (horizon if none)
    lead_hours: float | None  # start - issue time
    used_upper_bound: bool
    day_probability: list[float]  # P(AQI > heavy limit) for every day
    reasons: list[str]  # in English: what the lifecycle database has always stored
    details: dict[str, Any] = field(default_factory=dict)  # kind-specific facts (water findings)
    # the same reasons in Chinese, one for one (empty in a decision stored before they existed)
    reasons_zh: list[str] = field(default_factory=list)

    def why(self, lang: str = "en") -> str:
        """Return the reasons joined by ``"; "`` in ``lang`` (``zh``, else English).

        A decision without Chinese reasons (stored before they existed) answers in English.
        """
        if lang == "zh" and len(self.reasons_zh) == len(self.reasons):
            return "; ".join(self.reasons_zh)
        return "; ".join(self.reasons)


def decide(
    scheme: WarningScheme,
    issue_time: pd.Timestamp,
    day_quantiles: np.ndarray,
    quantile_levels: tuple[float, ...],
    day_primary: list[str] | None = None,
) -> Decision:
    """Decide the warning level for one area from its daily AQI forecast.

    Parameters
    ----------
    scheme : WarningScheme
        Levels and decision settings.
    issue_time : pandas.Timestamp
        UTC issue time; day ``d`` covers ``issue + 24 d h .. issue + 24 (d + 1) h``.
    day_quantiles : numpy.ndarray
        ``D x Q`` quantiles of the daily AQI of each day.
    quantile_levels : tuple of float
        The ``Q`` levels.
    day_primary : list of str, optional
        Primary pollutant of each day (from the median forecast).
    """
    cfg = scheme.decision
    conf = float(cfg["confidence"])
    q = np.asarray(day_quantiles, float)
    D = q.shape[0]
    levels = tuple(float(x) for x in quantile_levels)
    upper_q = float(cfg["upper_quantile"])
    upper = q[:, levels.index(upper_q)] if upper_q in levels else q[:, -1]
    prob = {
        key: exceedance_from_quantiles(q, levels, key[0] - (1e-9 if key[1] else 0.0))
        for key in scheme.keys
    }
    heavy = scheme.heavy_key
    exceed = {k: np.nan_to_num(p) >= conf for k, p in prob.items()}
    reasons: list[str] = []
    reasons_zh: list[str] = []

    def say(en: str, zh: str) -> None:
        reasons.append(en)
        reasons_zh.append(zh)

    used_upper = False
    n_heavy = int(exceed[heavy].sum())
    if n_heavy >= int(cfg["upper_bound_from_days"]):
        used_upper = True
        exceed = {k: (upper >= k[0]) if k[1] else (upper > k[0]) for k in scheme.keys}
        say(
            f"{n_heavy} heavy days forecast: level from the upper bound (P{upper_q * 100:g})",
            f"预报重污染 {n_heavy} 天:按预报上限 (P{upper_q * 100:g}) 定级",
        )
    level = None
    for lv in scheme.levels:  # least severe first; keep the most severe that holds
        if lv.holds(exceed):
            level = lv
    days_heavy = np.flatnonzero(exceed[heavy])
    p_heavy = np.nan_to_num(prob[heavy])
    start = end = None
    lead = None
    if level is not None and len(days_heavy):
        gap = int(cfg["merge_gap_days"])
        # episode: the first run of heavy days, extended over gaps of <= ``gap`` clean days
        first = last = int(days_heavy[0])
        for d in days_heavy[1:]:
            if d - last - 1 <= gap:
                last = int(d)
            else:
                break
        start = issue_time + pd.Timedelta(hours=24 * first)
        end = issue_time + pd.Timedelta(hours=24 * (last + 1))
        lead = float((start - issue_time) / pd.Timedelta(hours=1))
        episode = p_heavy[first : last + 1][exceed[heavy][first : last + 1]]
        probability = float(episode.min()) if len(episode) else float(p_heavy.max())
        centre = q[first : last + 1, levels.index(0.5) if 0.5 in levels else 0]
        peak = first + int(np.argmax(np.nan_to_num(centre, nan=-np.inf)))
        say(
            f"{level.names.get('en', level.name)}: {len(days_heavy)} day(s) with daily AQI > "
            f"{heavy[0]:g} forecast (P >= {conf:g}{', upper bound' if used_upper else ''})",
            f"{level.names.get('zh', level.name)}:预报 {len(days_heavy)} 天日 AQI > "
            f"{heavy[0]:g} (概率 ≥ {conf:g}{',按预报上限' if used_upper else ''})",
        )
        if lead < float(cfg["min_lead_hours"]):
            say(
                f"short notice: episode starts {lead:.0f} h after issue",
                f"提前量不足:污染过程在发布后 {lead:.0f} 小时开始",
            )
    else:
        probability = float(p_heavy.max()) if D else 0.0
        finite = np.isfinite(q[:, -1])
        peak = int(np.argmax(np.where(finite, q[:, -1], -np.inf))) if finite.any() else 0
    # hours known to stay below the lowest level: up to the first heavy day, or the first day
    # without a valid forecast (unknown is not clear)
    invalid = np.flatnonzero(~np.isfinite(q).all(axis=1))
    stops = [int(x) for x in (*days_heavy[:1], *invalid[:1])]
    clear = float(24 * min(stops)) if stops else float(24 * D)
    if len(invalid) == D:
        say("no valid daily AQI in the forecast", "预报中没有有效的日 AQI")
    lo_q, hi_q = q[peak, 0], q[peak, -1]
    # the central forecast of the peak day: what health advice speaks of (P90 is the tail)
    median = {"aqi_median": float(q[peak, levels.index(0.5)])} if D and 0.5 in levels else {}
    primary = (day_primary or [""] * D)[peak] if D else ""
    return Decision(
        level=level.name if level else None,
        start=start,
        end=end,
        probability=probability,
        aqi_range=(float(lo_q), float(hi_q)),
        primary_pollutant=primary,
        clear_hours=clear,
        lead_hours=lead,
        used_upper_bound=used_upper,
        day_probability=[float(x) for x in p_heavy],
        reasons=reasons,
        details=median,
        reasons_zh=reasons_zh,
    )


@dataclass(frozen=True)
class Transition:
    """What to do with an area's warning given the current state and a new decision.

    ``action`` is one of ``none`` (nothing active, nothing forecast), ``issue``, ``upgrade``,
    ``downgrade``, ``extend``, ``hold`` (keep as is) or ``lift``. ``why`` is in English (what the
    lifecycle database stores), ``why_zh`` the same in Chinese.
    """

    action: str
    level: str | None
    onset: pd.Timestamp | None
    expires: pd.Timestamp | None
    why: str
    why_zh: str = ""

    @property
    def why_text(self) -> dict[str, str]:
        """``{"zh", "en"}``: the reasons in both languages (Chinese falls back to English)."""
        return {"zh": self.why_zh or self.why, "en": self.why}


def next_transition(
    scheme: WarningScheme,
    current_level: str | None,
    current_onset: pd.Timestamp | None,
    current_expires: pd.Timestamp | None,
    decision: Decision,
    issue_time: pd.Timestamp,
) -> Transition:
    """Return the lifecycle step from the active warning (if any) and a new decision (pure).

    Rules: a level forecast with nothing active issues; a more / less severe level upgrades /
    downgrades; the same level with a later end extends (episodes closer than the merge gap were
    already joined by :func:`decide`); no level lifts only when the forecast stays below the
    lowest level for more than ``lift_clear_hours`` (otherwise the warning is held, so that two
    episodes with a short clean gap stay one warning).
    """
    lift_after = float(scheme.decision["lift_clear_hours"])
    hours = f"{decision.clear_hours:.0f}"
    if current_level is None:
        if decision.level is None:
            if scheme.observed:
                return Transition(
                    "none", None, None, None, "no alert condition observed", "未观测到预警条件"
                )
            return Transition(
                "none", None, None, None, "no warning level forecast", "预报未达到预警级别"
            )
        return Transition(
            "issue",
            decision.level,
            decision.start,
            decision.end,
            decision.why("en"),
            decision.why("zh"),
        )
    if decision.level is None:
        water = scheme.observed
        lowest = scheme.levels[0]
        if decision.clear_hours > lift_after:
            return Transition(
                "lift",
                None,
                current_onset,
                issue_time,
                f"no alert condition observed for {hours} h (> {lift_after:g} h)"
                if water
                else f"below the {lowest.name} condition and forecast to stay so for "
                f"{hours} h (> {lift_after:g} h)",
                f"已 {hours} 小时未观测到预警条件 (> {lift_after:g} 小时)"
                if water
                else f"低于{lowest.names.get('zh', lowest.name)}预警条件,预报将持续 {hours} 小时 "
                f"(> {lift_after:g} 小时)",
            )
        return Transition(
            "hold",
            current_level,
            current_onset,
            current_expires,
            f"no alert condition now, but one held {hours} h ago (<= {lift_after:g} h): alert kept"
            if water
            else f"no level forecast, but heavy pollution again within {hours} h "
            f"(<= {lift_after:g} h): warning kept",
            f"当前无预警条件,但 {hours} 小时前仍存在 (≤ {lift_after:g} 小时):预警保持"
            if water
            else f"预报未达到预警级别,但 {hours} 小时内将再次出现重污染 (≤ {lift_after:g} 小时):"
            "预警保持",
        )
    onset = min(current_onset, decision.start) if current_onset is not None else decision.start
    if current_onset is not None and current_onset <= issue_time:
        onset = current_onset  # already in force: the onset stays
    new, old = scheme.severity_index(decision.level), scheme.severity_index(current_level)
    why, why_zh = decision.why("en"), decision.why("zh")
    if new > old:
        return Transition("upgrade", decision.level, onset, decision.end, why, why_zh)
    if new < old:
        return Transition("downgrade", decision.level, onset, decision.end, why, why_zh)
    if current_expires is None or (decision.end is not None and decision.end > current_expires):
        return Transition("extend", decision.level, onset, decision.end, why, why_zh)
    return Transition(
        "hold",
        current_level,
        current_onset,
        current_expires,
        "unchanged: " + why,
        "未变化:" + why_zh,
    )
