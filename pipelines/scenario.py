"""The scenario job: forecast file + PMF solution + city config -> cut forecast, AQI, level.

``qingyuan scenario`` answers "if we cut this source class by X % from time T, how much lower will
PM2.5 be, and will the daily AQI / warning level drop?". Reads the forecast file (the newest of
the network by default), the PMF output folder named by ``configs/scenarios/<city>.yml`` and the
city's warning file; computes the cut forecast (:mod:`features.scenario`); runs the baseline and
the cut forecast through the warning job's own daily-AQI outlook and level decision
(:func:`models.forecast.outlook.area_daily_outlook`, :func:`features.warnings.rules.decide`);
writes ``scenario_hourly.csv``, ``scenario_daily.csv``, ``scenario.json`` and ``scenario.md``
with provenance and the assumptions.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from features.aqi import category_of, select_standard
from features.scenario import (
    ASSUMPTIONS,
    ASSUMPTIONS_ZH,
    class_share,
    deviation_paths,
    effective_cut,
    scenario_draws,
    share_deviations,
)
from features.times import to_local, to_utc
from features.warnings.outlook import area_mean_forecast, station_index
from features.warnings.rules import decide
from models.forecast.daily import daily_statistic, rolling_day_columns
from models.forecast.outlook import area_daily_outlook
from pipelines.config import aqi_standards, load_network, load_variables
from pipelines.config.locations import outputs_dir, project_root
from pipelines.config.scenario import load_scenario_config
from pipelines.files import atomic_write

__all__ = [
    "PmfShares",
    "ScenarioError",
    "ScenarioResult",
    "deviation_note",
    "fit_bundled_pmf",
    "period_note",
    "read_pmf_shares",
    "resolve_factors",
    "run_bundled_scenario",
    "run_scenario",
    "scenario_tables",
    "scenario_wind",
    "wind_note",
]


class ScenarioError(ValueError):
    """Bad scenario input: unknown class, cut outside 0-100 %, time outside the forecast ..."""


@dataclass
class PmfShares:
    """What a scenario needs from a PMF solution.

    Attributes
    ----------
    contributions : pandas.DataFrame
        Factor contributions to the total variable (sample time x factor) [units of the total].
    relative_intervals : dict
        Source (``bootstrap``, ``disp``) -> factor -> ``(low, high)`` 5 % / 95 % (bootstrap) or
        DISP points of the factor's total-variable profile value, relative to its base value [1].
    folder : pathlib.Path
        The solution's folder.
    mlflow_run_id : str
        The PMF run's MLflow id, when its ``summary.json`` has one.
    profiles : pandas.DataFrame
        Profiles in concentration units (species x factor).
    """

    contributions: pd.DataFrame
    relative_intervals: dict[str, dict[str, tuple[float, float]]]
    folder: Path
    mlflow_run_id: str = ""
    profiles: pd.DataFrame | None = None


def read_pmf_shares(folder: Path, total: str, *, dq_max: float = 4.0) -> PmfShares:
    """Read a ``qingyuan trace pmf`` output folder: contributions in total-variable units.

    The contribution of factor ``k`` to the total variable is the normalised contribution
    (``contributions_normalised.csv``, mean 1) times the factor's profile value of the total
    (``profiles_concentration.csv``). Bootstrap (``bootstrap_profiles.csv``) and DISP
    (``disp_intervals.csv``) intervals of that profile value are read as ratios to the
    replicates' median / the base value, which does not depend on the tables' scaling.

    Parameters
    ----------
    folder : pathlib.Path
        The output folder.
    total : str
        The total variable (a species of the solution).
    dq_max : float, optional
        DISP interval at this dQmax.

    Raises
    ------
    ScenarioError
        If a table is missing or the total variable is not a species of the solution.
    """
    folder = Path(folder)
    need = [folder / "contributions_normalised.csv", folder / "profiles_concentration.csv"]
    for p in need:
        if not p.is_file():
            raise ScenarioError(
                f"PMF solution {folder}: {p.name} is missing (run qingyuan trace pmf)"
            )
    g = pd.read_csv(need[0], index_col=0)
    f = pd.read_csv(need[1], index_col=0)
    if total not in f.index:
        raise ScenarioError(
            f"PMF solution {folder}: total variable {total!r} is not a species "
            f"(species: {', '.join(map(str, f.index[:12]))} ...)"
        )
    try:
        g.index = pd.DatetimeIndex(pd.to_datetime(g.index))
    except (ValueError, TypeError) as exc:
        raise ScenarioError(f"PMF solution {folder}: sample names are not times ({exc})") from exc
    contrib = g[f.columns] * f.loc[total].to_numpy(float)[None, :]
    intervals: dict[str, dict[str, tuple[float, float]]] = {}
    bs = folder / "bootstrap_profiles.csv"
    if bs.is_file():
        t = pd.read_csv(bs)
        t = t[t["species"].astype(str) == total]
        intervals["bootstrap"] = {
            f"factor_{int(r.factor)}": _ratio(r.p5, r.p95, r.p50) for r in t.itertuples()
        }
    disp = folder / "disp_intervals.csv"
    if disp.is_file():
        t = pd.read_csv(disp)
        t = t[(t["species"].astype(str) == total) & np.isclose(t["dq_max"], dq_max)]
        intervals["disp"] = {
            f"factor_{int(r.factor)}": _ratio(r.low, r.high, r.base) for r in t.itertuples()
        }
    run_id = ""
    summary = folder / "summary.json"
    if summary.is_file():
        run_id = str(json.loads(summary.read_text(encoding="utf-8")).get("mlflow_run_id", ""))
    return PmfShares(contrib, intervals, folder, run_id, f)


def resolve_factors(factors: list[str], profiles: pd.DataFrame) -> list[str]:
    """Factor columns of a class: ``marker:<species>`` -> the factor with most of that species.

    Parameters
    ----------
    factors : list of str
        Contribution columns (``factor_3``) or ``marker:<species>`` entries.
    profiles : pandas.DataFrame
        Profiles in concentration units (species x factor).

    Raises
    ------
    ScenarioError
        If a marker species or a factor is not in the solution.
    """
    out = []
    for f in factors:
        if f.startswith("marker:"):
            sp = f.split(":", 1)[1]
            if sp not in profiles.index:
                raise ScenarioError(f"marker species {sp!r} is not in the PMF solution")
            out.append(str(profiles.loc[sp].astype(float).idxmax()))
        elif f not in profiles.columns:
            raise ScenarioError(
                f"factor {f!r} is not in the PMF solution (factors: {', '.join(profiles.columns)})"
            )
        else:
            out.append(f)
    if len(set(out)) != len(out):
        raise ScenarioError(f"the class's factors {factors} resolve to the same factor twice")
    return out


def _ratio(low: float, high: float, centre: float) -> tuple[float, float]:
    if not (np.isfinite(centre) and centre > 0):
        return (1.0, 1.0)
    lo = float(np.clip(low / centre, 1e-3, 1.0)) if np.isfinite(low) else 1.0
    hi = float(max(high / centre, 1.0)) if np.isfinite(high) else 1.0
    return lo, hi


def class_interval(
    shares: PmfShares, factors: list[str], weights: np.ndarray, source: str
) -> tuple[float, float]:
    """Relative 5 / 95 % points of a class's share from its factors' intervals [1].

    Factors are combined with weights = their base contributions to the total; ``source`` is
    ``bootstrap``, ``disp``, ``both`` (the wider of the two) or ``none``.
    """
    if source == "none":
        return (1.0, 1.0)
    w = np.asarray(weights, float) / max(float(np.sum(weights)), 1e-300)
    out = []
    for s in ("bootstrap", "disp") if source == "both" else (source,):
        table = shares.relative_intervals.get(s)
        if not table:
            continue
        lo = sum(wi * table.get(f, (1.0, 1.0))[0] for wi, f in zip(w, factors, strict=True))
        hi = sum(wi * table.get(f, (1.0, 1.0))[1] for wi, f in zip(w, factors, strict=True))
        out.append((lo, hi))
    if not out:
        return (1.0, 1.0)
    return (min(o[0] for o in out), max(o[1] for o in out))


@dataclass
class ScenarioResult:
    """A scenario's tables, decisions and provenance (what the files and the CLI show)."""

    hourly: pd.DataFrame
    daily: pd.DataFrame
    meta: dict[str, Any]
    files: dict[str, str] = field(default_factory=dict)


def _area_dataset(ds: xr.Dataset, idx: np.ndarray) -> tuple[xr.Dataset, dict[str, Any]]:
    """Return the area-mean forecast as a one-station dataset of the forecast layout."""
    means = area_mean_forecast(ds, idx)
    data = {}
    for v, (m, q) in means.items():
        data[f"{v}_mean"] = (("station", "issue_time", "lead_time"), m)
        data[f"{v}_quantile"] = (("station", "issue_time", "lead_time", "quantile"), q)
    area = xr.Dataset(
        data,
        coords={
            "station": ["area"],
            "issue_time": ds["issue_time"].values[:1],
            "lead_time": ds["lead_time"].values,
            "quantile": ds["quantile"].values,
        },
    )
    return area, means


def _provenance(ds: xr.Dataset, path: Path, variable: str) -> dict[str, Any]:
    def by_target(key: str) -> str:
        raw = ds.attrs.get(key, "")
        try:
            return str(json.loads(raw).get(variable, raw)) if raw else ""
        except (ValueError, AttributeError):
            return str(raw)

    return {
        "forecast_file": str(path),
        "model_uri": by_target("model_uris") or ds[f"{variable}_mean"].attrs.get("model_uri", ""),
        "mlflow_run_id": by_target("mlflow_run_ids")
        or ds[f"{variable}_mean"].attrs.get("mlflow_run_id", ""),
        "issue_time": str(ds.attrs.get("issue_time", "")),
        "data_cutoff": str(ds.attrs.get("data_cutoff", "")),
    }


def scenario_wind(
    net: Any,
    stations: Any,
    sample_times: pd.DatetimeIndex,
    issue: pd.Timestamp,
    leads: np.ndarray,
    *,
    store: Path,
) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """Wind of the PMF samples (observed) and of the scenario hours (forecast), for ``by_wind``.

    The samples' wind is the vector mean of the observed wind (``wind_from_direction``,
    ``wind_speed`` of the station store) over the area's stations and the hours of each sample
    (from its time, for the median spacing of the samples, at most 24 h); the hours' wind is the
    vector mean over those stations of the network's forecast-weather feed (``eastward_wind``,
    ``northward_wind``) from the newest NWP run visible at the issue time. An hour or sample
    without wind is NaN (the share falls back to the overall one there).

    Returns
    -------
    sample_wind, wind : numpy.ndarray
        Directions the wind blows from [degree from north], per sample and per lead.
    info : dict
        What was used: observed hours and stations, the feed, its run, hours with a wind.
    """
    from features.wind import from_direction, wind_components
    from pipelines.nwp.store import valid_time_features
    from pipelines.store import StationStore

    registry = load_variables()["variables"]
    ids = net.station_ids()
    stations = [ids[i] for i in station_index(ids, stations)]  # a list of ids or "all"
    times = pd.DatetimeIndex(sample_times)
    step = pd.Series(times).diff().median() if len(times) > 1 else pd.Timedelta(hours=1)
    span = min(max(pd.Timedelta(step), pd.Timedelta(hours=1)), pd.Timedelta(hours=24))
    info: dict[str, Any] = {"sample_hours": f"{span / pd.Timedelta(hours=1):g} h from each sample"}
    sample_wind = np.full(len(times), np.nan)
    names = ["wind_from_direction", "wind_speed"]
    st = StationStore(store, net, registry)
    if len(times) and st.partitions():
        ds = st.open(variables=names, start=str(times.min()), end=str(times.max() + span))
        idx = station_index(ds["station"].values, stations)
        if len(idx) and all(v in ds for v in names):
            u, v = wind_components(
                ds["wind_speed"].values[idx], ds["wind_from_direction"].values[idx]
            )
            with warnings.catch_warnings():  # an hour no station observed the wind: NaN
                warnings.simplefilter("ignore", RuntimeWarning)
                hourly = pd.DataFrame(
                    {"u": np.nanmean(u, axis=0), "v": np.nanmean(v, axis=0)},
                    index=pd.DatetimeIndex(ds["time"].values),
                )
            hours = int(span / pd.Timedelta(hours=1))
            for k, t in enumerate(times):
                part = hourly.loc[t : t + pd.Timedelta(hours=hours - 1)]
                if part.notna().all(axis=1).any():
                    sample_wind[k] = float(from_direction(part["u"].mean(), part["v"].mean()))
    info["samples_with_wind"] = int(np.isfinite(sample_wind).sum())
    info["samples"] = len(times)
    wind = np.full(len(leads), np.nan)
    feed = net.weather_feed()
    if feed is None:
        info["forecast_wind"] = "the network has no forecast_weather feed"
    else:
        vt = valid_time_features(
            Path(store) / net.name,
            feed.name,
            issue,
            leads,
            latency_hours=feed.latency_hours,
            variables=["eastward_wind", "northward_wind"],
            stations=list(stations),
        )
        d = vt.data
        with warnings.catch_warnings():  # an hour no station has a forecast wind for: NaN
            warnings.simplefilter("ignore", RuntimeWarning)
            wind = from_direction(
                np.nanmean(d["eastward_wind"].values, axis=0),
                np.nanmean(d["northward_wind"].values, axis=0),
            )
        info |= {
            "feed": feed.name,
            "nwp_issue_time": None
            if vt.run_issue_time is None
            else f"{vt.run_issue_time:%Y-%m-%dT%H:%MZ}",
            "synthetic_feed": bool(getattr(feed, "synthetic", None)),
        }
    info["hours_with_wind"] = int(np.isfinite(wind).sum())
    info["hours"] = len(leads)
    return sample_wind, wind, info


def run_scenario(
    city: str,
    class_name: str,
    cut_percent: float,
    *,
    start: str | pd.Timestamp,
    forecast_file: Path | None = None,
    outputs: Path | None = None,
    out: Path | None = None,
    pmf_solution: Path | None = None,
    lag_hours: float | None = None,
    ramp_hours: float | None = None,
    seed: int = 0,
    store: Path | None = None,
) -> ScenarioResult:
    """Run one scenario and write its files.

    Parameters
    ----------
    city : str
        A scenario file (``configs/scenarios/<city>.yml``) or a path to one.
    class_name : str
        A class of that file (e.g. ``coal_heating``).
    cut_percent : float
        Emission cut of the class [%], 0..100.
    start : str or pandas.Timestamp
        When the cut starts, local time of the network (naive) or an aware time.
    forecast_file : pathlib.Path, optional
        A forecast file of the network (``qingyuan forecast``); default the newest under
        ``<outputs>/forecasts/<network>/``.
    outputs : pathlib.Path, optional
        The outputs directory (default ``outputs/``); the files go to
        ``<outputs>/scenarios/<city>/<class>_cut<X>_<start>/`` unless ``out`` is given.
    out : pathlib.Path, optional
        Folder for ``scenario_hourly.csv``, ``scenario_daily.csv``, ``scenario.json``,
        ``scenario.md``.
    pmf_solution : pathlib.Path, optional
        Override of the config's ``pmf.solution`` folder.
    lag_hours, ramp_hours : float, optional
        Overrides of the config's ``response`` [h].
    seed : int, optional
        Monte-Carlo seed.
    store : pathlib.Path, optional
        The station store root (default ``store/``): the observed and forecast wind of
        ``share.method: by_wind`` (:func:`scenario_wind`).

    Raises
    ------
    ScenarioError
        Unknown class, cut outside 0-100 %, start outside the forecast, unusable inputs.
    """
    from pipelines.forecast.files import open_forecast
    from pipelines.warnings.alert_job import load_city
    from pipelines.warnings.job import latest_forecast

    spec, cfg_path = load_scenario_config(city)
    if class_name not in spec.classes:
        raise ScenarioError(
            f"unknown class {class_name!r} for {spec.name} (known: {', '.join(spec.classes)})"
        )
    if not 0.0 <= float(cut_percent) <= 100.0:
        raise ScenarioError(f"--cut must be between 0 and 100 % (got {cut_percent:g})")
    cls = spec.classes[class_name]
    net = load_network(spec.network)
    registry = load_variables()
    units = registry["variables"][spec.variable]["units"]
    outputs = Path(outputs) if outputs else outputs_dir()
    if forecast_file is None:
        forecast_file = latest_forecast(outputs, spec.network)
        if forecast_file is None:
            raise ScenarioError(
                f"no forecast file under {outputs / 'forecasts' / spec.network} "
                "(run qingyuan forecast, or give --forecast)"
            )
    try:
        ds = open_forecast(forecast_file)
    except ValueError as exc:
        raise ScenarioError(str(exc)) from exc
    if f"{spec.variable}_mean" not in ds:
        raise ScenarioError(f"{forecast_file}: no {spec.variable} forecast")
    file_units = ds[f"{spec.variable}_mean"].attrs.get("units")
    if file_units and file_units != units:
        raise ScenarioError(
            f"{forecast_file}: {spec.variable} in {file_units!r}, registry says {units!r}"
        )
    scheme, settings = load_city(spec.warnings)
    area = next((a for a in settings.areas if a.id == spec.area), None)
    if area is None:
        raise ScenarioError(f"{spec.area!r} is not an area of {spec.warnings}")
    idx = station_index(ds["station"].values, area.stations)
    if len(idx) == 0:
        raise ScenarioError(f"area {area.id}: none of its stations is in {forecast_file}")
    issue = pd.Timestamp(ds["issue_time"].values[0])
    leads = ds["lead_time"].values.astype(int)
    times = issue + pd.to_timedelta(leads, unit="h")  # hour labels (interval end), UTC
    t0 = pd.Timestamp(start)
    t0_utc = to_utc(t0, net.time_zone)
    if not (issue <= t0_utc < times[-1]):
        lo, hi = to_local(issue, net.time_zone), to_local(times[-1], net.time_zone)
        raise ScenarioError(
            f"--from {t0} is outside the forecast ({lo:%Y-%m-%d %H:%M} .. {hi:%Y-%m-%d %H:%M} "
            f"local, issued {issue:%Y-%m-%d %H:%M} UTC)"
        )
    folder = Path(pmf_solution) if pmf_solution else project_root() / spec.pmf.solution
    shares = read_pmf_shares(folder, spec.pmf.total, dq_max=spec.share.dq_max)
    factors = resolve_factors(cls.columns(), shares.profiles)
    sample_wind = wind = None
    wind_info = None
    if spec.share.method == "by_wind":
        from pipelines.config.locations import store_dir

        sample_wind, wind, wind_info = scenario_wind(
            net,
            area.stations,
            pd.DatetimeIndex(shares.contributions.index),
            issue,
            leads,
            store=Path(store) if store else store_dir(),
        )
    share = class_share(
        shares.contributions,
        factors,
        pd.DatetimeIndex(times),
        method=spec.share.method,
        time_zone=net.time_zone,
        window_days=spec.share.window_days,
        sample_wind=sample_wind,
        wind=wind,
        sectors=spec.share.sectors,
    )
    weights = shares.contributions[factors].clip(lower=0).sum().to_numpy(float)
    interval = class_interval(shares, factors, weights, spec.share.interval)
    paths, dev_info = None, {"source": spec.share.variability}
    if spec.share.variability == "record":  # hour-to-hour departures from the typical mix
        dev = share_deviations(
            shares.contributions,
            factors,
            method=spec.share.method,
            time_zone=net.time_zone,
            window_days=spec.share.window_days,
            sample_wind=sample_wind,
            sectors=spec.share.sectors,
        )
        paths = deviation_paths(dev, len(times), spec.draws, np.random.default_rng([seed, 17]))
        finite = dev.to_numpy(float)[np.isfinite(dev.to_numpy(float))]
        if len(finite):
            dev_info["relative_10_90"] = [float(v) for v in np.percentile(finite, [10, 90])]
        dev_info["samples"] = int(len(finite))
    lag = spec.response.lag_hours if lag_hours is None else float(lag_hours)
    ramp = spec.response.ramp_hours if ramp_hours is None else float(ramp_hours)
    cut = effective_cut(
        pd.DatetimeIndex(times), t0_utc, cut_percent / 100.0, lag_hours=lag, ramp_hours=ramp
    )
    base_ds, means = _area_dataset(ds, idx)
    mean, q = means[spec.variable]
    levels = tuple(float(x) for x in ds["quantile"].values)
    sc = scenario_draws(
        mean[0, 0],
        q[0, 0],
        levels,
        share=share,
        cut=cut,
        share_interval=interval,
        share_paths=paths,
        draws=spec.draws,
        seed=seed,
    )
    cut_ds = base_ds.copy(deep=True)
    cut_ds[f"{spec.variable}_mean"].values[0, 0] = sc.cut_mean
    cut_ds[f"{spec.variable}_quantile"].values[0, 0] = sc.cut_quantiles
    standards = aqi_standards(scheme.aqi_family)
    outlooks, decisions, pm_daily = {}, {}, {}
    cols, _ = rolling_day_columns(pd.DatetimeIndex([issue]), len(leads), net.time_zone)
    validity = standards[-1].validity
    for name, d in (("baseline", base_ds), ("cut", cut_ds)):
        o = area_daily_outlook(
            d,
            np.array([0]),
            area_id=area.id,
            time_zone=net.time_zone,
            standards=standards,
            registry=registry,
        )
        outlooks[name] = o
        decisions[name] = decide(scheme, issue, o.quantiles, o.levels, o.primary)
        hourly_q = d[f"{spec.variable}_quantile"].values  # 1 x 1 x L x Q
        pm_daily[name] = np.stack(
            [daily_statistic(hourly_q[..., k], cols, "24h", validity) for k in range(len(levels))],
            axis=-1,
        )[0, 0]  # D x Q
    lo_k, mid_k, hi_k = 0, levels.index(0.5) if 0.5 in levels else len(levels) // 2, -1
    band = f"P{levels[lo_k] * 100:g}-P{levels[hi_k] * 100:g}"
    local = to_local(pd.DatetimeIndex(times), net.time_zone)
    hourly = pd.DataFrame(
        {
            "time_utc": pd.DatetimeIndex(times),
            "time_local": local,
            "share_percent": 100 * share,
            "cut_effective_percent": 100 * cut,
            "baseline_mean": mean[0, 0],
            "baseline_median": q[0, 0][:, mid_k],
            "baseline_low": q[0, 0][:, lo_k],
            "baseline_high": q[0, 0][:, hi_k],
            "cut_mean": sc.cut_mean,
            "cut_median": sc.cut_quantiles[:, mid_k],
            "cut_low": sc.cut_quantiles[:, lo_k],
            "cut_high": sc.cut_quantiles[:, hi_k],
            "reduction_mean": sc.reduction_mean,
            "reduction_low": sc.reduction_quantiles[:, lo_k],
            "reduction_high": sc.reduction_quantiles[:, hi_k],
        }
    )
    starts = outlooks["baseline"].starts
    std_of = [select_standard(to_local(s, net.time_zone).date(), standards) for s in starts]
    rows = []
    for d, s in enumerate(starts):
        row: dict[str, Any] = {
            "window_start_local": to_local(s, net.time_zone),
            "window_end_local": to_local(s + pd.Timedelta(hours=24), net.time_zone),
        }
        for name in ("baseline", "cut"):
            aq = outlooks[name].quantiles[d]
            row |= {
                f"{name}_pm25_24h_median": pm_daily[name][d, mid_k],
                f"{name}_pm25_24h_low": pm_daily[name][d, lo_k],
                f"{name}_pm25_24h_high": pm_daily[name][d, hi_k],
                f"{name}_aqi_median": aq[mid_k],
                f"{name}_aqi_low": aq[lo_k],
                f"{name}_aqi_high": aq[hi_k],
                f"{name}_category": int(category_of(np.array([aq[mid_k]]), std_of[d])[0]),
            }
        rows.append(row)
    daily = pd.DataFrame(rows)

    def level_info(name: str) -> dict[str, Any]:
        dec = decisions[name]
        lv = scheme.level(dec.level)
        return {
            "level": dec.level,
            "level_names": lv.names if lv else {"en": "no warning", "zh": "无预警"},
            "severity": scheme.severity_index(dec.level),
            "start": str(dec.start) if dec.start is not None else None,
            "end": str(dec.end) if dec.end is not None else None,
            "probability_heavy": dec.probability,
            "reasons": dec.reasons,
        }

    base_lv, cut_lv = level_info("baseline"), level_info("cut")
    meta: dict[str, Any] = {
        "city": spec.name,
        "network": spec.network,
        "area": area.id,
        "class": class_name,
        "class_names": cls.names,
        "factors": factors,
        "cut_percent": float(cut_percent),
        "start_local": str(t0 if t0.tzinfo is None else to_local(t0_utc, net.time_zone)),
        "start_utc": str(t0_utc),
        "lag_hours": lag,
        "ramp_hours": ramp,
        "variable": spec.variable,
        "units": units,
        "band": band,
        "share": {
            "method": spec.share.method,
            "window_days": spec.share.window_days,
            "mean_percent": float(100 * share.mean()),
            "interval_source": spec.share.interval,
            "relative_interval_5_95": list(interval),
            "hourly_deviation": dev_info,
            **({"wind": wind_info} if wind_info is not None else {}),
        },
        "warning_scheme": scheme.name,
        "baseline": base_lv,
        "with_cut": cut_lv,
        "level_drops": cut_lv["severity"] < base_lv["severity"],
        "mean_reduction_after_start": float(np.mean(sc.reduction_mean[cut > 0]))
        if (cut > 0).any()
        else 0.0,
        # the band of the period's mean reduction over the Monte-Carlo draws (not the mean of
        # the hourly bands: hourly departures from the typical mix partly cancel over a period)
        "mean_reduction_after_start_band": [
            float(sc.period_reduction_quantiles[lo_k]),
            float(sc.period_reduction_quantiles[hi_k]),
        ]
        if (cut > 0).any()
        else [0.0, 0.0],
        "assumptions": list(ASSUMPTIONS),
        "assumptions_zh": list(ASSUMPTIONS_ZH),
        "provenance": _provenance(ds, Path(forecast_file), spec.variable)
        | {
            "pmf_solution": str(shares.folder),
            "pmf_mlflow_run_id": shares.mlflow_run_id,
            "pmf_total": spec.pmf.total,
            "config_file": str(cfg_path),
            "warning_file": spec.warnings,
            "monte_carlo_draws": spec.draws,
            "seed": seed,
        },
    }
    result = ScenarioResult(hourly, daily, meta)
    if out is None:
        stamp = f"{to_local(t0_utc, net.time_zone):%Y%m%dT%H%M}"
        out = outputs / "scenarios" / spec.name / f"{class_name}_cut{cut_percent:g}_{stamp}"
    result.files = write_scenario(result, Path(out))
    return result


def wind_note(w: dict[str, Any]) -> str:
    """One sentence on the wind a ``by_wind`` share used (the ``share.wind`` of the meta)."""
    feed = (
        f"feed {w['feed']}{' (synthetic)' if w.get('synthetic_feed') else ''}, run "
        f"{w.get('nwp_issue_time') or 'none visible'}"
        if "feed" in w
        else w.get("forecast_wind", "")
    )
    return (
        f"Share by wind sector: forecast wind for {w['hours_with_wind']} of {w['hours']} hours "
        f"({feed}); observed wind for {w['samples_with_wind']} of {w['samples']} PMF samples "
        f"({w['sample_hours']}). Hours without a wind use the overall share."
    )


def deviation_note(share: dict[str, Any]) -> str:
    """Describe the hourly share deviations for the share line (empty when not used)."""
    d = share.get("hourly_deviation") or {}
    if d.get("source") != "record" or "relative_10_90" not in d:
        return ""
    lo, hi = d["relative_10_90"]
    return (
        f", and hour-to-hour departures from it drawn as runs of the PMF record's "
        f"(10-90 % of the hours {lo:.2f}-{hi:.2f} times the share, {d['samples']} samples)"
    )


def period_note(m: dict[str, Any]) -> str:
    """Format the mean reduction after the cut starts with its band (from a scenario meta)."""
    lo, hi = m.get("mean_reduction_after_start_band", [np.nan, np.nan])
    return f"{m['mean_reduction_after_start']:.1f} {m['units']} ({m['band']} {lo:.1f}-{hi:.1f})"


def scenario_tables(result: ScenarioResult) -> str:
    """Short markdown of a scenario: the question, the daily table, the levels, assumptions."""
    m = result.meta
    u = m["units"]
    name = m["class_names"].get("zh", m["class"])
    lines = [
        f"# Scenario: {m['class']} ({name}) cut {m['cut_percent']:g} % from {m['start_local']} "
        f"(local), area {m['area']}",
        "",
        f"Class share of {m['variable']} at the receptor (PMF, {m['share']['method']}): mean "
        f"{m['share']['mean_percent']:.1f} %, relative 5-95 % "
        f"{m['share']['relative_interval_5_95'][0]:.2f}-{m['share']['relative_interval_5_95'][1]:.2f}"
        f" ({m['share']['interval_source']}){deviation_note(m['share'])}. Ranges: forecast "
        f"{m['band']} combined with the share spread (Monte Carlo). Mean reduction after the cut "
        f"starts: {period_note(m)}.",
        *(["", wind_note(m["share"]["wind"])] if "wind" in m["share"] else []),
        "",
        f"| 24-h window from (local) | {m['variable']} baseline [{u}] | with cut [{u}] | "
        "AQI baseline | AQI with cut |",
        "|---|---|---|---|---|",
    ]
    for r in result.daily.itertuples():
        lines.append(
            f"| {r.window_start_local:%Y-%m-%d %H:%M} | {r.baseline_pm25_24h_median:.0f} "
            f"({r.baseline_pm25_24h_low:.0f}-{r.baseline_pm25_24h_high:.0f}) | "
            f"{r.cut_pm25_24h_median:.0f} ({r.cut_pm25_24h_low:.0f}-{r.cut_pm25_24h_high:.0f}) | "
            f"{r.baseline_aqi_median:.0f} ({r.baseline_aqi_low:.0f}-{r.baseline_aqi_high:.0f}) | "
            f"{r.cut_aqi_median:.0f} ({r.cut_aqi_low:.0f}-{r.cut_aqi_high:.0f}) |"
        )
    b, c = m["baseline"], m["with_cut"]
    lines += [
        "",
        f"Warning level ({m['warning_scheme']}): baseline **{b['level_names'].get('en')}** "
        f"({b['level_names'].get('zh')}), with the cut **{c['level_names'].get('en')}** "
        f"({c['level_names'].get('zh')}): {'the level drops' if m['level_drops'] else 'no change of level'}.",
        "",
        "Assumptions:",
        *[f"- {a}" for a in m["assumptions"]],
        "",
        "Provenance: "
        + "; ".join(f"{k} {v}" for k, v in m["provenance"].items() if v not in ("", None)),
        "",
    ]
    return "\n".join(lines)


def write_scenario(result: ScenarioResult, out: Path) -> dict[str, str]:
    """Write the scenario's CSV tables, JSON and markdown to ``out``; return their paths."""
    out.mkdir(parents=True, exist_ok=True)
    files = {
        "hourly": out / "scenario_hourly.csv",
        "daily": out / "scenario_daily.csv",
        "json": out / "scenario.json",
        "markdown": out / "scenario.md",
    }
    atomic_write(files["hourly"], result.hourly.to_csv(index=False, float_format="%.3f"))
    atomic_write(files["daily"], result.daily.to_csv(index=False, float_format="%.3f"))
    doc = result.meta | {
        "daily": json.loads(result.daily.to_json(orient="records", date_format="iso")),
        "files": {k: str(v) for k, v in files.items()},
    }
    atomic_write(files["json"], json.dumps(doc, indent=2, ensure_ascii=False, default=str))
    atomic_write(files["markdown"], scenario_tables(result))
    return {k: str(v) for k, v in files.items()}


def fit_bundled_pmf(
    city: str,
    store: Path,
    out: Path,
    *,
    track: bool = False,
) -> dict[str, Any]:
    """Fit the PMF solution of a city's ``bundled_pmf`` block from the station store.

    Hourly means over the scenario area's stations of the listed variables (valid values only,
    hours with every variable), equation-based uncertainties
    (:func:`features.scenario.equation_uncertainty`), written as a PMF input pair under
    ``out/input/`` and fitted by :func:`pipelines.tracing.pmf.run_pmf` into ``out``.

    Parameters
    ----------
    city : str
        A scenario file with a ``bundled_pmf`` block.
    store : pathlib.Path
        The station store root.
    out : pathlib.Path
        The PMF output folder (the file's ``pmf.solution``).
    track : bool, optional
        Log the PMF run to MLflow.

    Returns
    -------
    dict
        The PMF job's summary.
    """
    from features.assessment import mask_invalid
    from features.scenario import equation_uncertainty
    from pipelines.config import load_qc
    from pipelines.store import StationStore
    from pipelines.tracing.pmf import run_pmf
    from pipelines.warnings.alert_job import load_city

    spec, _ = load_scenario_config(city)
    cfg = spec.bundled_pmf
    if cfg is None:
        raise ScenarioError(f"{spec.name}: no bundled_pmf block")
    net = load_network(spec.network)
    _, settings = load_city(spec.warnings)
    area = next(a for a in settings.areas if a.id == spec.area)
    registry = load_variables()["variables"]
    start_utc = to_utc(pd.Timestamp(cfg.start), net.time_zone)
    end_utc = to_utc(pd.Timestamp(cfg.end) + pd.Timedelta(hours=23), net.time_zone)
    ds = StationStore(store, net, registry).open(
        variables=list(cfg.variables), start=str(start_utc), end=str(end_utc)
    )
    valid = mask_invalid(ds, list(cfg.variables), load_qc(net)["valid_statuses"])
    idx = station_index(valid["station"].values, area.stations)
    frame = pd.DataFrame(
        {v: np.nanmean(valid[v].values[idx], axis=0) for v in cfg.variables},
        index=pd.DatetimeIndex(valid["time"].values),
    ).dropna()
    if len(frame) < 10 * cfg.factors:
        raise ScenarioError(f"{spec.name}: only {len(frame)} complete hours for the PMF")
    mdl = np.array([cfg.mdl.get(v, 0.0) for v in cfg.variables])
    x, u = equation_uncertainty(frame.to_numpy(float), cfg.error_fraction, mdl)
    inp = Path(out) / "input"
    inp.mkdir(parents=True, exist_ok=True)
    names = [f"{spec.name}_{area.id}_con.csv", f"{spec.name}_{area.id}_unc.csv"]
    for name, arr in zip(names, (x, u), strict=True):
        table = pd.DataFrame(
            arr, index=frame.index.strftime("%Y-%m-%d %H:%M"), columns=frame.columns
        )
        table.index.name = "time_utc"
        atomic_write(inp / name, table.to_csv(float_format="%.4g"))
    return run_pmf(
        inp / names[0],
        inp / names[1],
        cfg.factors,
        Path(out),
        starts=cfg.starts,
        total=spec.pmf.total,
        bootstrap_n=cfg.bootstrap,
        track=track,
    )


def run_bundled_scenario(city: str, store: Path, outputs: Path) -> dict[str, Any] | None:
    """Run the ``run`` scenario of a city on the bundled data (``qingyuan run``), if it has one.

    Fits the bundled PMF into ``<outputs>/pmf/<city>`` (:func:`fit_bundled_pmf`), then runs the
    configured scenario on the forecast file issued at ``run.issue_local`` (the drill's).
    """
    from pipelines.forecast.files import forecast_path

    spec, _ = load_scenario_config(city)
    if spec.run is None or spec.bundled_pmf is None:
        return None
    net = load_network(spec.network)
    fc = forecast_path(
        Path(outputs),
        spec.network,
        to_utc(pd.Timestamp(spec.run.issue_local), net.time_zone),
    )
    if not Path(fc).is_file():
        return {"skipped": f"no forecast file {fc} (the drill did not run)"}
    pmf_dir = Path(outputs) / "pmf" / spec.name
    pmf = fit_bundled_pmf(city, store, pmf_dir)
    res = run_scenario(
        city,
        spec.run.class_,
        spec.run.cut,
        start=spec.run.start,
        forecast_file=Path(fc),
        outputs=Path(outputs),
        pmf_solution=pmf_dir,
        store=Path(store),
    )
    m = res.meta
    return {
        "class": m["class"],
        "class_names": m["class_names"],
        "factors": m["factors"],
        "cut_percent": m["cut_percent"],
        "start_local": m["start_local"],
        "share_mean_percent": m["share"]["mean_percent"],
        "baseline_level": m["baseline"]["level_names"],
        "cut_level": m["with_cut"]["level_names"],
        "level_drops": m["level_drops"],
        "daily": json.loads(res.daily.to_json(orient="records", date_format="iso")),
        "assumptions": m["assumptions"],
        "pmf_q_true": pmf.get("q_true"),
        "pmf_solution": str(pmf_dir),
        "files": res.files,
    }


def scenario_notes(outputs: Path, warning_file: str, area: str, issue: Any) -> list[str]:
    """One line per stored scenario of an area and forecast issue (for the bulletin's measures).

    Parameters
    ----------
    outputs : pathlib.Path
        The outputs directory (scenarios under ``<outputs>/scenarios/``).
    warning_file : str
        The city warning file's name (``beijing-2016``), as the scenarios record it.
    area : str
        The area id.
    issue : datetime-like
        The forecast issue time (naive UTC) the scenarios must have been run on.

    Returns
    -------
    list of str
        Bilingual lines: class, cut, start, PM2.5 and level without / with the cut, and the
        assumptions in short; empty when there is none.
    """
    if issue is None:
        return []
    want = pd.Timestamp(issue)
    lines = []
    for p in sorted(Path(outputs, "scenarios").glob("*/*/scenario.json")):
        try:
            m = json.loads(p.read_text(encoding="utf-8"))
            stamp = str(m["provenance"].get("issue_time", "")).rstrip("Z")
            same = bool(stamp) and pd.Timestamp(stamp) == want
        except (OSError, ValueError, KeyError):
            continue
        if not same or m.get("area") != area or m["provenance"].get("warning_file") != warning_file:
            continue
        names = m.get("class_names", {})
        b, c = m["baseline"]["level_names"], m["with_cut"]["level_names"]
        days = m.get("daily") or []
        pm = (
            f"{days[-1]['baseline_pm25_24h_median']:.0f} -> {days[-1]['cut_pm25_24h_median']:.0f} "
            f"{m['units']}"
            if days
            else ""
        )
        lines.append(
            f"情景 Scenario: {names.get('zh', m['class'])} / {names.get('en', m['class'])} "
            f"-{m['cut_percent']:g} % from {m['start_local']}: 24-h PM2.5 (last window) {pm}; "
            f"level 级别 {b.get('zh')}/{b.get('en')} -> {c.get('zh')}/{c.get('en')} "
            "(线性响应、无化学反馈 linear response, no chemistry feedback; PMF shares at the "
            "receptor taken as city-scale)"
        )
    return lines
