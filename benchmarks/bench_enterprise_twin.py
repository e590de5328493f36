"""Synthetic twin: which enterprise explains an ambient anomaly? (issue #14)

Run: ``.venv/bin/python benchmarks/bench_enterprise_twin.py`` (``--store DIR``: an already
ingested Beijing store instead of a fresh one; ``--tune``: the tuning runs, see below).

Air: 20 synthetic enterprises at the positions of ``configs/networks/beijing_sources.yml``, each
emitting SO2 at a steady base rate (log-normal, median 40 kg/h) with random emission episodes
(150 per two months, 2-12 h at 5-50 x the base rate); the Gaussian-puff simulator (:mod:`benchmarks.twins.plume`)
carries them on the real Beijing wind field (the 12 stations' hourly winds, IDW on a 0.1 degree
grid) to the 12 station positions, on top of the stations' real observed SO2 (the other sources)
with 5 % + 1 ug m-3 measurement noise. The online monitors report the rates with 5 % noise and
2 % of the hours missing. An episode is an *anomaly* when, at the station and hour where it adds
the most, the reading's robust anomaly z (72 h) is >= 3 and the episode is at least half of the
excess over the trailing median; the analyst then asks at that station and hour (the hour of
the largest z within 2 h). The true emitter is the enterprise whose episode adds the most there.
The ranking (:func:`features.tracing.enterprises.attribute_air`) sees the reported emissions, the
station readings and a wind field: either the simulation's own ("same winds", a lower bound on
real errors), or one with a spatially uniform AR(1) error of 25 degrees in direction and 25 % in
speed (1-h correlation 0.9) ("perturbed winds"). Its footprint (sigma0 1 km, growth 0.35,
mixing height 500 m) differs from the simulator's (2 km, 0.15, 800 m).

Water: outfalls discharging NH3-N at steady rates with random episodes (1-8 h, 10-60 kg/h), the
1-D advection-dispersion simulator (:mod:`benchmarks.twins.river`: true velocities 0.8-1.25 x
configured per reach, dispersion 5-40 m2/s, AR(1) background and noise) gives the readings of
every section (12 days, 8 episodes); an episode is an anomaly where it adds the most, by the
same rule as for air.
Cases: the illustrative ``example_cn`` river with the 6 outfalls of ``beijing_sources`` plus 14
random ones, and random 15-section trees with 20 random outfalls.

Baselines side by side: the nearest enterprise (water: the upstream outfall with the shortest
travel time), the largest emitter (largest mean reported rate over the 24 h before the anomaly;
water: among the upstream outfalls) and, for air, the nearest enterprise within 22.5 degrees of
the upwind direction at the anomaly hour (on the simulation's winds).

Tuning vs reporting: method parameters were chosen with ``--tune`` on a different winter
(2015-12-01..2016-01-31) and seeds 1000+; the reported figures use 2016-12-01..2017-01-31 and
seeds 0+ and were not used to choose anything.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from benchmarks._machine import machine, write_section  # noqa: E402
from benchmarks.twins.plume import Source, simulate_receptors  # noqa: E402
from benchmarks.twins.river import Spill, random_tree, simulate_spill  # noqa: E402
from features.geo import haversine_km  # noqa: E402
from features.river_network import RiverNetwork  # noqa: E402
from features.tracing.enterprises import (  # noqa: E402
    AttributionParams,
    Emitter,
    attribute_air,
    attribute_water,
    bearing_deg,
)
from features.tracing.trajectory import WindField  # noqa: E402
from features.tracing.upstream import anomaly_z  # noqa: E402
from features.wind import wind_components  # noqa: E402
from pipelines.tracing.enterprises import attribution_params  # noqa: E402

PERIODS = {"report": ("2016-12-01", "2017-01-31 23:00"), "tune": ("2015-12-01", "2016-01-31 23:00")}
SEED0 = {"report": 0, "tune": 1000}
MAX_AGE_H = 48  # puff age in the simulator [h]
Z_MIN = 3.0


def position(ranking: pd.DataFrame, truth: str, column: str) -> int:
    """Place of the true emitter by ``column``: ties count against it, nothing found = last."""
    v = ranking.set_index("enterprise")[column].astype(float)
    mine = v.get(truth, np.nan)
    if not np.isfinite(mine) or mine <= 0:
        return len(v)
    return int((v > mine).sum()) + 1


# --------------------------------------------------------------------------- air
def beijing_met(store: Path, start: str, end: str) -> dict:
    """Winds, real SO2 and the IDW wind field of the 12 Beijing stations."""
    from features.assessment import mask_invalid
    from pipelines.config import load_network, load_qc, load_variables
    from pipelines.store import StationStore

    net = load_network("beijing")
    ds = StationStore(store, net, load_variables()["variables"]).open(start=start, end=end)
    valid = mask_invalid(
        ds, ["so2", "wind_speed", "wind_from_direction"], load_qc(net)["valid_statuses"]
    )
    times = pd.DatetimeIndex(ds["time"].values)
    ws = pd.DataFrame(valid["wind_speed"].values.T).interpolate(limit_direction="both").to_numpy().T
    wd = valid["wind_from_direction"].values
    wd = pd.DataFrame(wd.T).ffill().bfill().to_numpy().T
    so2 = pd.DataFrame(valid["so2"].values.T).interpolate(limit_direction="both").to_numpy().T
    lat = np.array([s.lat for s in net.stations])
    lon = np.array([s.lon for s in net.stations])
    return {
        "times": times,
        "lat": lat,
        "lon": lon,
        "ws": ws,
        "wd": wd,
        "so2": so2,
        "ids": [s.id for s in net.stations],
        "field": idw_field(times, lat, lon, ws, wd),
    }


def idw_field(times, lat, lon, ws, wd) -> WindField:
    u, v = wind_components(ws, wd)
    return WindField.from_stations(
        times, lat, lon, u, v, np.arange(38.3, 41.71, 0.1), np.arange(114.8, 118.21, 0.1)
    )


def perturbed_field(met: dict, rng: np.random.Generator) -> WindField:
    """The station winds with a uniform AR(1) direction (25 deg) and speed (25 %) error."""
    n = len(met["times"])
    e_dir, e_spd = np.zeros(n), np.zeros(n)
    for i in range(1, n):
        e_dir[i] = 0.9 * e_dir[i - 1] + rng.normal(0, 25 * np.sqrt(1 - 0.81))
        e_spd[i] = 0.9 * e_spd[i - 1] + rng.normal(0, 0.25 * np.sqrt(1 - 0.81))
    ws = met["ws"] * np.exp(e_spd)[None, :]
    wd = (met["wd"] + e_dir[None, :]) % 360
    return idw_field(met["times"], met["lat"], met["lon"], ws, wd)


def enterprises() -> list[tuple[str, str, float, float]]:
    from pipelines.config import load_network

    net = load_network("beijing_sources")
    return [(e.id, e.name_en or e.name, e.lat, e.lon) for e in net.enterprises]


def _sim(field, src, lat, lon, times) -> np.ndarray:
    return simulate_receptors(
        field, src, lat, lon, times, max_age_hours=MAX_AGE_H, background=0.0, noise=0.0
    )


def air_realization(met: dict, seed: int, episodes: int = 150) -> dict:
    """One realization: true and reported emissions, station readings, episode contributions."""
    rng = np.random.default_rng(seed)
    ents = enterprises()
    times, lat, lon, field = met["times"], met["lat"], met["lon"], met["field"]
    n, E = len(times), len(ents)
    base = np.exp(rng.normal(np.log(40.0), 1.0, E))  # kg/h
    rate = np.repeat(base[:, None], n, 1)
    # simulator rates are in t/h for ug m-3 (its factor 1e12 = 1e9 ug/kg x 1e3 kg/t)
    steady = _sim(
        field,
        [Source(e[0], e[2], e[3], b / 1000) for e, b in zip(ents, base, strict=True)],
        lat,
        lon,
        times,
    )
    extra = []  # (enterprise, start, end, contribution R x n)
    for _ in range(episodes):
        k = int(rng.integers(E))
        s = int(rng.integers(96, n - 48))
        d = int(rng.integers(2, 13))
        dq = base[k] * float(rng.uniform(5, 50))
        rate[k, s : s + d] += dq
        hi = min(n, s + d + MAX_AGE_H)
        one = [Source(ents[k][0], ents[k][2], ents[k][3], dq / 1000)]
        c = np.zeros((len(lat), n))
        c[:, s:hi] = _sim(field, one, lat, lon, times[s:hi])
        c[:, s + d : hi] -= _sim(field, one, lat, lon, times[s + d : hi])
        extra.append((k, s, s + d, c))
    total = steady + sum(c for *_, c in extra) + met["so2"]
    total = total * np.exp(rng.normal(0, 0.05, total.shape)) + rng.normal(0, 1.0, total.shape)
    total = np.maximum(total, 0.5)
    reported = rate * (1 + rng.normal(0, 0.05, rate.shape))
    reported[rng.random(rate.shape) < 0.02] = np.nan
    return {"ents": ents, "rate": rate, "reported": reported, "ambient": total, "episodes": extra}


def pick_anomalies(
    contrib: list[tuple[int, int, int, np.ndarray]], ambient: np.ndarray
) -> list[dict]:
    """The detectable anomalies: where and when each episode adds the most, if it stands out.

    ``contrib``: (enterprise, start, end, receptors x hours contribution) per episode; a case
    when the reading's robust z (72 h) there (at its largest within 2 h) is >= ``Z_MIN`` and the
    episode is at least half of the excess over the trailing median. The true emitter is the
    enterprise whose episodes add the most at that receptor and hour.
    """
    n = ambient.shape[1]
    z = np.stack([anomaly_z(a, 72) for a in ambient])
    base = np.stack(
        [pd.Series(a).rolling(72, min_periods=18).median().shift(1).to_numpy() for a in ambient]
    )
    cases: list[dict] = []
    for _k, s, e, c in contrib:
        window = c[:, s : min(n, e + 48)]
        if not (window > 0).any():
            continue
        r, t = np.unravel_index(int(np.argmax(window)), window.shape)
        t += s
        lo, hi = max(0, t - 2), min(n, t + 3)
        T = lo + int(np.argmax(z[r, lo:hi]))
        if z[r, T] < Z_MIN or c[r, T] < 0.5 * (ambient[r, T] - base[r, T]):
            continue
        if any(x["receptor"] == r and x["T"] == T for x in cases):
            continue  # two episodes, one anomaly
        sums: dict[int, float] = {}
        for kk, _, _, cc in contrib:
            sums[kk] = sums.get(kk, 0.0) + cc[r, T]
        truth = max(sums, key=sums.get)
        cases.append({"receptor": int(r), "T": int(T), "truth": truth, "z": float(z[r, T])})
    return cases


def air_baselines(met: dict, real: dict, case: dict, field: WindField) -> dict[str, int]:
    r, T = case["receptor"], case["T"]
    ents = real["ents"]
    e_lat = np.array([e[2] for e in ents])
    e_lon = np.array([e[3] for e in ents])
    d = haversine_km(met["lat"][r], met["lon"][r], e_lat, e_lon)
    q = np.nanmean(real["reported"][:, max(0, T - 23) : T + 1], axis=1)
    t_mid = met["times"].values[T : T + 1] - np.timedelta64(30, "m")
    u, v = field.at(t_mid, met["lat"][r : r + 1], met["lon"][r : r + 1])
    upwind = float(np.degrees(np.arctan2(-u, -v))[0] % 360)
    brg = bearing_deg(met["lat"][r], met["lon"][r], e_lat, e_lon)
    off = np.abs((brg - upwind + 180) % 360 - 180)
    order = {
        "nearest": list(np.argsort(d)),
        "largest emitter": list(np.argsort(-q)),
        "upwind at T": list(np.argsort(np.where(off <= 22.5, d, 1e6 + d))),
    }
    return {k: v.index(case["truth"]) + 1 for k, v in order.items()}


def run_air(met: dict, params: AttributionParams, seeds: list[int], min_cases: int) -> pd.DataFrame:
    rows = []
    for seed in seeds:
        real = air_realization(met, seed)
        cases = pick_anomalies(real["episodes"], real["ambient"])
        fields = {
            "same winds": met["field"],
            "perturbed winds": perturbed_field(met, np.random.default_rng(seed + 7)),
        }
        for case in cases:
            r, T = case["receptor"], case["T"]
            emitters = [
                Emitter(e[0], e[1], e[2], e[3], real["reported"][i])
                for i, e in enumerate(real["ents"])
            ]
            row = {
                "seed": seed,
                "station": met["ids"][r],
                "T": met["times"][T],
                "truth": real["ents"][case["truth"]][0],
                "z": case["z"],
            }
            for name, fld in fields.items():
                t0 = time.perf_counter()
                res = attribute_air(
                    met["times"],
                    real["ambient"][r],
                    met["times"][T],
                    emitters,
                    field=fld,
                    lat=met["lat"][r],
                    lon=met["lon"][r],
                    params=params,
                )
                row[f"{name} s"] = time.perf_counter() - t0
                row[name] = position(res.ranking, row["truth"], "score")
                row[f"{name} (by share)"] = position(res.ranking, row["truth"], "share")
            row.update(air_baselines(met, real, case, met["field"]))
            rows.append(row)
        print(
            f"air seed {seed}: {len(cases)} anomalies of {len(real['episodes'])} episodes",
            flush=True,
        )
        if len(rows) >= min_cases:
            break
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- water
def _outfalls(net: RiverNetwork, rng: np.random.Generator, n: int) -> list[tuple[str, float]]:
    reaches = [s for s, sec in net.sections.items() if sec.downstream is not None]
    return [(str(rng.choice(reaches)), float(rng.uniform(0.05, 0.95))) for _ in range(n)]


def example_cn_outfalls(
    net: RiverNetwork, rng: np.random.Generator
) -> list[tuple[str, str, float]]:
    from pipelines.config import load_network

    src = load_network("beijing_sources")
    real = [(s.enterprise, s.reach, s.reach_fraction) for s in src.stations if s.medium == "water"]
    synth = [(f"X{i:02d}", r, f) for i, (r, f) in enumerate(_outfalls(net, rng, 20 - len(real)))]
    return real + synth


def water_realization(
    net: RiverNetwork, outfalls, seed: int, days: float = 12.0, episodes: int = 8
) -> dict:
    rng = np.random.default_rng(seed)
    times = pd.date_range("2024-06-01 01:00", periods=int(days * 24), freq="h")
    n, E = len(times), len(outfalls)
    base = rng.uniform(0.5, 5.0, E)  # kg/h NH3-N
    rate = np.repeat(base[:, None], n, 1)
    vf = {s: float(rng.uniform(0.8, 1.25)) for s in net.sections}
    disp = float(rng.uniform(5, 40))
    bg = simulate_spill(
        net,
        Spill(outfalls[0][1], 0.5, times[0], 0.0),
        times,
        vf,
        disp,
        background=0.5,
        seed=int(rng.integers(1e9)),
    )
    amb = {s: v.copy() for s, v in bg.items()}
    extra = []
    for _ in range(episodes):
        k = int(rng.integers(E))
        s = int(rng.integers(int(n * 0.4), int(n * 0.75)))
        d = int(rng.integers(1, 9))
        dq = float(rng.uniform(10, 60))
        rate[k, s : s + d] += dq
        _, reach, frac = outfalls[k]
        sec = net.sections[reach]
        u = sec.distance_km * 1000 / (sec.travel_time_h * 3600) * vf[reach]  # true velocity [m/s]
        scale = 1000.0 * u / sec.flow_m3_s  # kg per m of river -> mg/L
        c = {sid: np.zeros(n) for sid in net.sections}
        for h in range(d):
            # the hour's discharge as one release at the middle of the hour
            t_rel = times[s + h] - pd.Timedelta(minutes=30)
            p = simulate_spill(
                net, Spill(reach, frac, t_rel, dq), times, vf, disp, background=0.0, noise=0.0
            )
            for sid in c:
                c[sid] += p[sid] * scale
        extra.append((k, s, s + d, c))
        for sid in amb:
            amb[sid] = amb[sid] + c[sid]
    reported = rate * (1 + rng.normal(0, 0.05, rate.shape))
    reported[rng.random(rate.shape) < 0.02] = np.nan
    return {"times": times, "rate": rate, "reported": reported, "ambient": amb, "episodes": extra}


def water_cases(net: RiverNetwork, real: dict) -> list[dict]:
    ids = list(net.sections)
    amb = np.stack([real["ambient"][sid] for sid in ids])
    contrib = [(k, s, e, np.stack([c[sid] for sid in ids])) for k, s, e, c in real["episodes"]]
    cases = pick_anomalies(contrib, amb)
    return [c | {"section": ids[c["receptor"]]} for c in cases]


def run_water(
    label: str, make, params: AttributionParams, seeds: list[int], min_cases: int
) -> pd.DataFrame:
    rows = []
    for seed in seeds:
        net, outfalls = make(seed)
        real = water_realization(net, outfalls, seed)
        times = real["times"]
        emitters = [
            Emitter(o[0], o[0], np.nan, np.nan, real["reported"][i], o[1], o[2])
            for i, o in enumerate(outfalls)
        ]
        for case in water_cases(net, real):
            sec, T = case["section"], case["T"]
            t0 = time.perf_counter()
            res = attribute_water(
                times, real["ambient"][sec], times[T], emitters, net=net, section=sec, params=params
            )
            truth = outfalls[case["truth"]][0]
            row = {
                "case": label,
                "seed": seed,
                "section": sec,
                "T": times[T],
                "truth": truth,
                "z": case["z"],
                "seconds": time.perf_counter() - t0,
            }
            row["method"] = position(res.ranking, truth, "score")
            row["method (by share)"] = position(res.ranking, truth, "share")
            up = res.ranking[res.ranking["status"] != "not upstream"]
            travel = {}
            for i, o in enumerate(outfalls):
                s_ = net.sections[o[1]]
                rest = net.travel_time(s_.downstream, sec)
                if rest is not None:
                    travel[i] = (1 - o[2]) * s_.travel_time_h + rest
            q = np.nanmean(real["reported"][:, max(0, T - 23) : T + 1], axis=1)
            near = sorted(travel, key=travel.get)
            big = sorted(travel, key=lambda i: -q[i])
            row["nearest"] = (
                near.index(case["truth"]) + 1 if case["truth"] in near else len(outfalls)
            )
            row["largest emitter"] = (
                big.index(case["truth"]) + 1 if case["truth"] in big else len(outfalls)
            )
            row["upstream outfalls"] = len(up)
            rows.append(row)
        if len(rows) >= min_cases:
            break
    print(f"water {label}: {len(rows)} anomalies", flush=True)
    return pd.DataFrame(rows)


def example_cn_case(seed: int):
    from pipelines.config.rivers import load_river_network

    net = load_river_network("example_cn")
    return net, example_cn_outfalls(net, np.random.default_rng(seed + 11))


def tree_case(seed: int):
    net = random_tree(15, seed=seed)
    rng = np.random.default_rng(seed + 13)
    return net, [(f"X{i:02d}", r, f) for i, (r, f) in enumerate(_outfalls(net, rng, 20))]


# --------------------------------------------------------------------------- report
def shares(col: pd.Series) -> tuple[float, float]:
    return float((col == 1).mean()), float((col <= 3).mean())


def summary_rows(df: pd.DataFrame, methods: list[str]) -> list[tuple[str, float, float]]:
    return [(m, *shares(df[m])) for m in methods]


def load_store(args) -> tuple[Path, tempfile.TemporaryDirectory | None]:
    if args.store:
        return Path(args.store), None
    from pipelines.ingest import ingest

    tmp = tempfile.TemporaryDirectory()
    store = Path(tmp.name) / "store"
    ingest("beijing", store)
    return store, tmp


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--store", default=None, help="an ingested Beijing store (default: ingest one)")
    ap.add_argument("--tune", action="store_true", help="tuning runs (other winter and seeds)")
    ap.add_argument("--cases", type=int, default=100, help="anomalies per case (at least)")
    args = ap.parse_args()
    mode = "tune" if args.tune else "report"
    store, tmp = load_store(args)
    t_start = time.perf_counter()
    met = beijing_met(store, *PERIODS[mode])
    params = attribution_params()  # configs/source.yml, as the job uses them
    seeds = list(range(SEED0[mode], SEED0[mode] + 200))  # until --cases anomalies
    air = run_air(met, params, seeds, args.cases)
    water = pd.concat(
        [
            run_water(
                "example_cn + 14 random outfalls", example_cn_case, params, seeds, args.cases
            ),
            run_water("random 15-section trees, 20 outfalls", tree_case, params, seeds, args.cases),
        ]
    )
    seconds = time.perf_counter() - t_start
    out = ROOT / "outputs" / "enterprise_twin"
    out.mkdir(parents=True, exist_ok=True)
    air.to_csv(out / f"air_{mode}.csv", index=False)
    water.to_csv(out / f"water_{mode}.csv", index=False)
    air_methods = [
        "same winds",
        "perturbed winds",
        "same winds (by share)",
        "perturbed winds (by share)",
        "nearest",
        "largest emitter",
        "upwind at T",
    ]
    for m, a, b in summary_rows(air, air_methods):
        print(f"air  {m:<30} top-1 {a:.0%}  top-3 {b:.0%}")
    for label, g in water.groupby("case"):
        for m, a, b in summary_rows(
            g, ["method", "method (by share)", "nearest", "largest emitter"]
        ):
            print(f"water {label[:20]:<20} {m:<20} top-1 {a:.0%}  top-3 {b:.0%}")
    print(f"{seconds:.0f} s")
    if tmp is not None:
        tmp.cleanup()
    if mode == "report":
        write_report(air, water, seconds, params)


def write_report(
    air: pd.DataFrame, water: pd.DataFrame, seconds: float, params: AttributionParams
) -> None:
    body = (
        f"\nMachine: {machine()}. Command: `.venv/bin/python benchmarks/bench_enterprise_twin.py` "
        f"({seconds:.0f} s, ingest included). SYNTHETIC enterprises and emissions; see the script's "
        "docstring for the twin. Air: 20 enterprises at the beijing_sources positions, SO2 episodes "
        "(2-12 h, 5-50 x base) carried by Gaussian puffs on the real Beijing winds 2016-12-01.."
        "2017-01-31 onto the 12 stations' real SO2; water: NH3-N discharge episodes (1-8 h) in the "
        f"1-D advection-dispersion simulator. An anomaly: robust z >= {Z_MIN:g} with the episode at "
        "least half of the excess. Parameters (configs/source.yml: 24-h window, footprint sigma0 "
        "1 km + 0.35 x distance, scale prior a factor 5, water pulse spread 0.3 h/sqrt(h)) were "
        "chosen on another winter (2015-12..2016-01) and seeds 1000+ (`--tune`); these figures use "
        "seeds 0+ and chose nothing. Ranks count ties against the method (a true emitter with "
        "score 0 is last).\n\n"
        "| case | anomalies | ranking: true emitter 1st | in top 3 | nearest 1st / top 3 | largest emitter 1st / top 3 | upwind at T 1st / top 3 |\n"
        "|---|---|---|---|---|---|---|\n"
    )
    for met in ("same winds", "perturbed winds"):
        a1, a3 = shares(air[met])
        n1, n3 = shares(air["nearest"])
        l1, l3 = shares(air["largest emitter"])
        u1, u3 = shares(air["upwind at T"])
        body += f"| air, {met} | {len(air)} | {a1:.0%} | {a3:.0%} | {n1:.0%} / {n3:.0%} | {l1:.0%} / {l3:.0%} | {u1:.0%} / {u3:.0%} |\n"
    for label, g in water.groupby("case", sort=False):
        a1, a3 = shares(g["method"])
        n1, n3 = shares(g["nearest"])
        l1, l3 = shares(g["largest emitter"])
        body += f"| water, {label} | {len(g)} | {a1:.0%} | {a3:.0%} | {n1:.0%} / {n3:.0%} | {l1:.0%} / {l3:.0%} | - |\n"
    body += (
        f"\nMedian ranking time per anomaly: air {air['same winds s'].median():.2f} s, water "
        f"{water['seconds'].median():.2f} s. Water baselines rank only the upstream outfalls "
        f"(median {water['upstream outfalls'].median():.0f} of 20). 'Same winds': the ranking uses the "
        "simulation's wind field (perfect meteorology, a lower bound on real errors); 'perturbed "
        "winds': a 25 degree / 25 % AR(1) wind error (the baselines use the simulation's winds). "
        "The largest-emitter baseline is strong here because the twin's episodes are large; the "
        "ranking adds where and when the plume or the river carries them. Per-anomaly tables: "
        "outputs/enterprise_twin/.\n"
    )
    write_section(str(ROOT / "BENCHMARKS.md"), "Enterprise attribution twin (issue #14)", body)


if __name__ == "__main__":
    main()
