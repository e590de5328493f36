"""A SYNTHETIC national monitoring network for benchmarks: YAML + CSV files the real adapters read.

:func:`write_national` writes, under one folder,

- ``configs/``: a copy of the checkout's configuration plus ``networks/national_air.yml``,
  ``networks/national_water.yml`` (``column_table`` adapter), ``warnings/national.yml`` (one
  area per synthetic city, national 2018 scheme) and ``forecast.yml`` overrides for the water
  network, so that ``QINGYUAN_CONFIG=<folder>/configs`` makes them ordinary named networks;
- ``data/<network>/archive.csv``: the backfill period, hourly;
- ``data/<network>/feed.csv``: the last ``lookback`` hours up to and including the new hour, as
  an hourly feed delivers them (the hours before the new one repeat what is stored).

The network YAML reads ``data/<network>/incoming/*.csv``: :func:`stage` moves the archive or the
feed there. Positions: city centres inside a coarse outline of mainland China, denser in the
east; stations scattered around them. Values: a regional AR(1) "weather" factor per city
(multi-day episodes), diurnal cycles and station noise. Faults, so that QC has work to do:
station outages (6-72 h), 2 % random gaps, sentinel values (-999), spikes, stuck (flat-line)
sensors and PM2.5 > PM10 inversions.
"""

from __future__ import annotations

import shutil
import textwrap
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent

#: Coarse outline of mainland China (lon, lat), enough to keep synthetic stations on land.
CHINA = np.array(
    [
        (73.5, 39.5), (80.0, 45.0), (87.0, 49.0), (91.0, 45.5), (97.0, 42.8), (105.0, 41.8),
        (111.0, 43.5), (116.0, 46.0), (119.5, 50.5), (122.0, 53.2), (127.0, 50.0), (131.0, 47.8),
        (134.5, 48.2), (131.0, 43.0), (124.5, 40.0), (121.5, 39.0), (118.5, 38.5), (121.0, 37.5),
        (122.5, 36.8), (120.0, 35.0), (121.8, 31.0), (122.0, 29.5), (119.5, 25.5), (116.5, 23.0),
        (110.5, 21.0), (108.0, 21.6), (106.5, 22.5), (101.0, 21.3), (97.5, 24.0), (98.0, 28.0),
        (92.0, 27.8), (86.0, 28.0), (80.5, 30.5), (78.5, 34.0), (74.5, 37.0),
    ]
)  # fmt: skip

AIR_VARIABLES = {
    "pm25": "ug m-3",
    "pm10": "ug m-3",
    "so2": "ug m-3",
    "no2": "ug m-3",
    "co": "mg m-3",
    "o3": "ug m-3",
}
WATER_VARIABLES = {
    "dissolved_oxygen": "mg L-1",
    "ph": "1",
    "turbidity": "FNU",
    "conductivity": "uS cm-1",
    "water_temperature": "degC",
}


@dataclass
class NationalSet:
    """Paths and sizes of one written synthetic national set.

    Attributes
    ----------
    root : pathlib.Path
        The folder holding ``configs/`` and ``data/``.
    config : pathlib.Path
        The configuration folder (``QINGYUAN_CONFIG``).
    networks : dict of str to int
        Network name -> stations.
    rows : dict of str to dict of str to int
        Network -> {"archive": rows, "feed": rows} (CSV lines = station-hours).
    start, new_hour : pandas.Timestamp
        First hour of the archive and the new hour of the feed (UTC, interval end).
    cities : int
        Synthetic cities (warning areas).
    faults : dict
        Counts of injected faults per network and kind.
    """

    root: Path
    config: Path
    networks: dict[str, int]
    rows: dict[str, dict[str, int]]
    start: pd.Timestamp
    new_hour: pd.Timestamp
    cities: int
    faults: dict[str, dict[str, int]] = field(default_factory=dict)


def inside(lon: np.ndarray, lat: np.ndarray, poly: np.ndarray = CHINA) -> np.ndarray:
    """Points inside a polygon (even-odd rule)."""
    x, y = poly[:, 0], poly[:, 1]
    xj, yj = np.roll(x, 1), np.roll(y, 1)
    res = np.zeros(lon.shape, bool)
    for a, b, c, d in zip(x, y, xj, yj, strict=True):
        cross = ((b > lat) != (d > lat)) & (lon < (c - a) * (lat - b) / (d - b + 1e-12) + a)
        res ^= cross
    return res


def city_centres(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``n`` city centres inside the outline, denser towards the east coast."""
    lon, lat = np.empty(0), np.empty(0)
    while len(lon) < n:
        x = rng.uniform(73, 135, 4 * n)
        y = rng.uniform(18, 54, 4 * n)
        keep = inside(x, y) & (rng.random(4 * n) < np.exp((x - 122) / 9.0))
        lon, lat = np.append(lon, x[keep]), np.append(lat, y[keep])
    return lon[:n], lat[:n]


def ar1(rng: np.random.Generator, shape: tuple[int, int], rho: float) -> np.ndarray:
    """Unit-variance AR(1) series along the last axis."""
    e = rng.normal(0, np.sqrt(1 - rho**2), shape)
    out = np.empty(shape)
    out[:, 0] = rng.normal(0, 1, shape[0])
    for t in range(1, shape[1]):
        out[:, t] = rho * out[:, t - 1] + e[:, t]
    return out


def _faults(
    values: dict[str, np.ndarray], rng: np.random.Generator, flat_vars: list[str]
) -> dict[str, int]:
    """Inject gaps and QC-triggering faults in place; return their counts."""
    S, T = next(iter(values.values())).shape
    n = {"outage_hours": 0, "random_gaps": 0, "sentinels": 0, "spikes": 0, "flat_hours": 0}
    outage = np.zeros((S, T), bool)
    for s in np.flatnonzero(rng.random(S) < 0.15 * T / 720):
        a = int(rng.integers(0, T))
        outage[s, a : a + int(rng.integers(6, 73))] = True
    n["outage_hours"] = int(outage.sum())
    for v, a in values.items():
        gaps = rng.random((S, T)) < 0.02
        n["random_gaps"] += int(gaps.sum())
        spikes = rng.random((S, T)) < 0.0005
        a[spikes] = a[spikes] * 6 + 10 * np.nanstd(a)
        n["spikes"] += int(spikes.sum())
        if v in flat_vars:
            for s in np.flatnonzero(rng.random(S) < 0.03 * T / 720):
                b = int(rng.integers(0, max(1, T - 24)))
                d = int(rng.integers(12, 25))
                a[s, b : b + d] = a[s, b]
                n["flat_hours"] += d
        sent = rng.random((S, T)) < 0.0005
        a[sent] = -999.0
        n["sentinels"] += int(sent.sum())
        a[gaps | outage] = np.nan
    return n


def air_values(
    times: pd.DatetimeIndex, city: np.ndarray, n_city: int, rng: np.random.Generator
) -> dict[str, np.ndarray]:
    """Hourly air pollutants of stations belonging to ``city`` (index per station)."""
    S, T = len(city), len(times)
    hour = ((times.hour + 8) % 24).to_numpy()  # Beijing time
    episode = ar1(rng, (n_city, T), 0.985)[city]  # multi-day regional episodes
    level = rng.lognormal(np.log(40), 0.35, n_city)[city][:, None]
    diurnal = 1 + 0.25 * np.cos(2 * np.pi * (hour - 22) / 24)[None, :]
    noise = ar1(rng, (S, T), 0.8)
    pm25 = level * np.exp(0.6 * episode + 0.15 * noise) * diurnal
    pm10 = pm25 * rng.uniform(1.3, 2.0, (S, 1)) * np.exp(0.1 * rng.normal(0, 1, (S, T)))
    no2 = (
        30 * np.exp(0.3 * episode + 0.2 * noise) * (1 + 0.3 * np.cos(2 * np.pi * (hour - 20) / 24))
    )
    so2 = rng.lognormal(np.log(10), 0.5, (S, 1)) * np.exp(0.3 * episode + 0.2 * noise)
    co = 0.8 * np.exp(0.35 * episode + 0.1 * noise)
    o3 = np.maximum(5, 60 + 45 * np.cos(2 * np.pi * (hour - 15) / 24) - 10 * episode + 8 * noise)
    return {
        "pm25": np.round(pm25, 0),
        "pm10": np.round(pm10, 0),
        "so2": np.round(so2, 0),
        "no2": np.round(no2, 0),
        "co": np.round(co, 1),
        "o3": np.round(o3, 0),
    }


def water_values(
    times: pd.DatetimeIndex, city: np.ndarray, n_city: int, rng: np.random.Generator
) -> dict[str, np.ndarray]:
    """Hourly water-quality parameters of the water stations (automatic stations)."""
    S, T = len(city), len(times)
    hour = ((times.hour + 8) % 24).to_numpy()
    day = np.cos(2 * np.pi * (hour - 15) / 24)[None, :]
    wt = rng.uniform(2, 18, (S, 1)) + 1.5 * day + 0.3 * ar1(rng, (S, T), 0.95)
    do = np.clip(14.6 - 0.35 * wt + 1.2 * day + 0.4 * ar1(rng, (S, T), 0.9), 0.5, 20)
    rain = ar1(rng, (n_city, T), 0.97)[city]
    turb = rng.lognormal(np.log(15), 0.6, (S, 1)) * np.exp(0.5 * rain)
    cond = rng.lognormal(np.log(450), 0.4, (S, 1)) * np.exp(-0.05 * rain)
    ph = 7.8 + 0.15 * day + 0.1 * ar1(rng, (S, T), 0.9)
    return {
        "dissolved_oxygen": np.round(do, 2),
        "ph": np.round(ph, 2),
        "turbidity": np.round(turb, 1),
        "conductivity": np.round(cond, 0),
        "water_temperature": np.round(wt, 1),
    }


def _csv(path: Path, ids: list[str], times: pd.DatetimeIndex, values: dict[str, np.ndarray]) -> int:
    """One long CSV (time, site, variables...), local time stamps; returns the rows written."""
    S, T = len(ids), len(times)
    local = (times + pd.Timedelta(hours=8)).strftime("%Y-%m-%d %H:%M")
    frame = pd.DataFrame(
        {
            "time": np.tile(local.to_numpy(), S),
            "site": np.repeat(np.array(ids), T),
            **{v: a.reshape(-1) for v, a in values.items()},
        }
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False, float_format="%g")
    return len(frame)


def _network_yaml(
    path: Path, name: str, kind: str, variables: dict[str, str], ids, lat, lon, data: Path
) -> None:
    cols = "\n".join(f"      {v}: {{variable: {v}, units: '{u}'}}" for v, u in variables.items())
    stations = "\n".join(
        f"  - {{id: '{s}', lat: {a:.4f}, lon: {o:.4f}}}"
        for s, a, o in zip(ids, lat, lon, strict=True)
    )
    body = (
        f"# SYNTHETIC national {kind} network written by benchmarks/national.py.\n"
        f"name: {name}\ntitle: Synthetic national {kind} network (benchmark)\nkind: {kind}\n"
        "time_zone: Asia/Shanghai\ntime_label: interval_end\nfrequency: 1h\n"
        "sources:\n  - adapter: column_table\n"
        f'    files: ["{data}/incoming/*.csv"]\n'
        "    time_column: time\n    time_format: '%Y-%m-%d %H:%M'\n    station_column: site\n"
        f"    columns:\n{cols}\n"
        "qc:\n  checks:\n    sentinel:\n      values: [-999]\n"
        f"stations:\n{stations}\n"
    )
    path.write_text(body, encoding="utf-8")


def _warning_yaml(path: Path, network: str, areas: dict[str, list[str]]) -> None:
    lines = [
        "# SYNTHETIC: one area per synthetic city of the national benchmark network.",
        "name: national",
        "inherits: national-2018",
        f"network: {network}",
        "cap_status: Exercise",
        "bulletin_charts: at_risk  # 340 areas: chart only those at risk",
        "areas:",
    ]
    for a, ids in areas.items():
        lines.append(f"  - id: {a}")
        lines.append(f"    names: {{zh: 城市{a[4:]}, en: City {a[4:]}}}")
        lines.append(f"    stations: [{', '.join(repr(i) for i in ids)}]")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def write_national(
    root: Path,
    n_air: int = 2000,
    n_water: int = 3600,
    days: int = 40,
    lookback: int = 72,
    cities: int = 340,
    seed: int = 15,
    start: str = "2024-01-01 01:00",
) -> NationalSet:
    """Write the synthetic national set (see the module docstring).

    Parameters
    ----------
    root : pathlib.Path
        Empty folder to write into (a temporary one).
    n_air, n_water : int
        Air and water stations (``n_water = 0``: no water network).
    days : int
        Backfill (archive) length; the new hour is the hour after it.
    lookback : int
        Hours in the feed file, the new hour included.
    cities : int
        Synthetic cities: warning areas and regional weather factors.
    seed : int
        Random seed.
    start : str
        First hour of the archive (UTC, interval end).

    Returns
    -------
    NationalSet
        Paths, sizes and fault counts.
    """
    root = Path(root)
    rng = np.random.default_rng(seed)
    cfg = root / "configs"
    shutil.copytree(ROOT / "configs", cfg)
    for old in list((cfg / "networks").glob("*.yml")) + list((cfg / "warnings").glob("*.yml")):
        if old.stem not in ("national_2018", "mee_2017"):
            old.unlink()  # only the synthetic networks and the schemes they inherit
    times = pd.date_range(start, periods=24 * days + 1, freq="h")
    clon, clat = city_centres(cities, rng)
    out = NationalSet(root, cfg, {}, {}, times[0], times[-1], cities)
    areas: dict[str, list[str]] = {}
    for name, kind, n, make, variables in (
        ("national_air", "air", n_air, air_values, AIR_VARIABLES),
        ("national_water", "water", n_water, water_values, WATER_VARIABLES),
    ):
        if n == 0:
            continue
        city = rng.integers(0, cities, n)
        city[: min(n, cities)] = np.arange(min(n, cities))  # every city has a station
        spread = 0.12 if kind == "air" else 0.5
        lat = clat[city] + rng.normal(0, spread, n)
        lon = clon[city] + rng.normal(0, spread, n)
        prefix = "A" if kind == "air" else "W"
        ids = [f"{prefix}{i:05d}" for i in range(n)]
        values = make(times, city, cities, rng)
        flat = list(variables)
        out.faults[name] = _faults(values, rng, flat)
        data = root / "data" / name
        rows = {
            "archive": _csv(data / "archive.csv", ids, times[:-1], {v: a[:, :-1] for v, a in values.items()}),
            "feed": _csv(data / "feed.csv", ids, times[-lookback:], {v: a[:, -lookback:] for v, a in values.items()}),
        }  # fmt: skip
        (data / "incoming").mkdir(parents=True, exist_ok=True)
        _network_yaml(cfg / "networks" / f"{name}.yml", name, kind, variables, ids, lat, lon, data)
        out.networks[name] = n
        out.rows[name] = rows
        if kind == "air":
            for s, c in zip(ids, city, strict=True):
                areas.setdefault(f"city{c:03d}", []).append(s)
    if "national_air" in out.networks:
        _warning_yaml(
            cfg / "warnings" / "national.yml", "national_air", dict(sorted(areas.items()))
        )
    fc = (cfg / "forecast.yml").read_text(encoding="utf-8")
    # drivers (TreeSHAP) only where a warning may need them: air stations whose top quantile
    # reaches the HJ 633 IAQI-200 concentration of the target (24-h; O3 1-h) at some lead (a
    # heavy-pollution warning needs an area above daily AQI 200); the
    # water alerts are decided on observed classes and read no forecast drivers
    water = textwrap.indent(
        "national_air:\n"
        "  drivers: at_risk\n"
        "  thresholds: {pm25: 150, pm10: 350, o3: 400, no2: 280, so2: 800, co: 24}\n"
        "national_water:\n"
        "  targets: [dissolved_oxygen, ph, turbidity, conductivity, water_temperature]\n"
        "  models: [persistence, climatology, lightgbm]\n"
        "  drivers: none\n",
        "  ",
    )
    fc = fc.replace("networks:                       # per-network overrides of everything above\n",
                    "networks:\n" + water, 1)  # fmt: skip
    (cfg / "forecast.yml").write_text(fc, encoding="utf-8")
    return out


def stage(ds: NationalSet, network: str, which: str) -> Path:
    """Put the archive or the feed (``which``) alone into the network's ``incoming/`` folder."""
    data = ds.root / "data" / network
    inc = data / "incoming"
    for f in inc.glob("*.csv"):
        f.unlink()
    target = inc / f"{which}.csv"
    shutil.copyfile(data / f"{which}.csv", target)
    return target
