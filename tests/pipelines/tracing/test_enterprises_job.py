"""The enterprise attribution job on stored ambient and source-network data (tmp stores only)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from qy_helpers import write_network

from benchmarks.twins.plume import Source, simulate_receptors
from features.qc import FLAG_CODES
from features.tracing.trajectory import WindField
from pipelines.ingest import ingest
from pipelines.tracing.enterprises import attribution_params, enterprise_job

HOURS, TURN = 150, 120
START = "2021-01-01 01:00"  # UTC
LOCAL = pd.Timedelta(hours=8)  # the CSV files give Beijing time (the networks time_zone)
SITES = {"A": (40.0, 116.4), "B": (40.05, 116.45), "C": (30.0, 110.0)}

AIR = """
name: airnet
title: air network with wind and SO2
kind: air
time_zone: Asia/Shanghai
time_label: interval_end
frequency: 1h
sources:
  - adapter: column_table
    files: ["{files}"]
    time_column: time
    station_column: site
    columns:
      so2: {{variable: so2, units: ug m-3}}
      pm25: {{variable: pm25, units: ug m-3}}
      ws: {{variable: wind_speed, units: m s-1}}
      wd: {{variable: wind_from_direction, units: degree}}
stations:
  - {{id: A, lat: 40.0, lon: 116.4}}
  - {{id: B, lat: 40.05, lon: 116.45}}
  - {{id: C, lat: 30.0, lon: 110.0}}
"""

SOURCES = """
name: {name}
title: synthetic sources
kind: source
synthetic: true
time_zone: Asia/Shanghai
time_label: interval_end
frequency: 1h
sources:
  - adapter: column_table
    files: ["{files}"]
    time_column: time
    station_column: site
    columns:
      so2_mass: {{variable: stack_so2_mass, units: kg}}
      nh3n_mass: {{variable: effluent_nh3n_mass, units: kg}}
enterprises:
{enterprises}
stations:
{stations}
"""


def _stack(sid, ent, lat, lon, mn, medium="air", **more):
    extra = "".join(f", {k}: {v}" for k, v in more.items())
    std = (
        "gb13271-2014, standard_class: coal_in_use"
        if medium == "air"
        else "gb18918-2002, standard_class: 1A"
    )
    return (
        f"  - {{id: {sid}, enterprise: {ent}, medium: {medium}, mn: '{mn}', password: p{mn}, "
        f"lat: {lat}, lon: {lon}, standard: {std}{extra}}}"
    )


@pytest.fixture(scope="module")
def air(tmp_path_factory):
    """Ambient SO2 at A from two steady 2 t/h stacks 25 km W and E; north wind, then west."""
    tmp = tmp_path_factory.mktemp("attr")
    times = pd.date_range(START, periods=HOURS, freq="h")
    wd = np.where(np.arange(HOURS) < TURN, 0.0, 270.0)
    lat, lon = np.arange(29.0, 41.01, 0.1), np.arange(109.0, 117.41, 0.1)
    u = -3.0 * np.sin(np.radians(wd))[:, None, None] * np.ones((HOURS, len(lat), len(lon)))
    v = -3.0 * np.cos(np.radians(wd))[:, None, None] * np.ones_like(u)
    field = WindField(times.values, lat, lon, u, v)
    srcs = [Source("W", 40.0, 116.107, 2.0), Source("E", 40.0, 116.693, 2.0)]
    rl = np.array([p[0] for p in SITES.values()])
    rn = np.array([p[1] for p in SITES.values()])
    so2 = simulate_receptors(field, srcs, rl, rn, times, background=8.0, noise=0.05, seed=3)
    rows = []
    for k, sid in enumerate(SITES):
        for i, t in enumerate(times):
            rows.append(
                f"{t + LOCAL:%Y-%m-%d %H:%M},{sid},{so2[k, i]:.2f},{30 + (i % 7)},3.0,{wd[i]:.0f}"
            )
    csv = tmp / "air.csv"
    csv.write_text("time,site,so2,pm25,ws,wd\n" + "\n".join(rows) + "\n", encoding="utf-8")
    net = write_network(tmp, AIR.format(files=csv), "airnet")
    ingest(str(net), tmp / "store")
    # the source network: W and E report 2000 kg/h; Far lies beyond the radius; N reports nothing
    rng = np.random.default_rng(0)
    rows = [
        f"{t + LOCAL:%Y-%m-%d %H:%M},{st},{2000 * (1 + rng.normal(0, 0.03)):.1f},"
        for t in times
        for st in ("W-G1", "E-G1", "F-G1")
    ]
    scsv = tmp / "src.csv"
    scsv.write_text("time,site,so2_mass,nh3n_mass\n" + "\n".join(rows) + "\n", encoding="utf-8")
    ents = "\n".join(
        f"  - {{id: {e}, name: {n}, lat: {la}, lon: {lo}}}"
        for e, n, la, lo in [
            ("W", "West works", 40.0, 116.107),
            ("E", "East works", 40.0, 116.693),
            ("Far", "Far works", 41.0, 116.4),
            ("N", "Silent works", 40.1, 116.4),
        ]
    )
    stacks = "\n".join(
        [
            _stack("W-G1", "W", 40.0, 116.107, "1001"),
            _stack("E-G1", "E", 40.0, 116.693, "1002"),
            _stack("F-G1", "Far", 41.0, 116.4, "1003"),
            _stack("N-G1", "N", 40.1, 116.4, "1004"),
        ]
    )
    src = write_network(
        tmp,
        SOURCES.format(name="testsrc", files=scsv, enterprises=ents, stations=stacks),
        "testsrc",
    )
    ingest(str(src), tmp / "store")
    at = times[TURN + int(np.argmax(so2[0, TURN : TURN + 12]))]
    return {"tmp": tmp, "net": str(net), "src": str(src), "at": at, "times": times}


def test_air_job_ranks_the_upwind_enterprise_and_writes_its_files(air):
    tmp, at = air["tmp"], air["at"]
    res = enterprise_job(
        air["net"], tmp / "store", tmp / "out", "A", f"{at:%Y-%m-%dT%H:%M}", sources=air["src"]
    )
    assert res["variable"] == "so2" and res["emission_variable"] == "stack_so2"  # the anomalous one
    assert res["medium"] == "air" and res["units"] == "ug m-3" and res["anomaly_z"] > 3
    rank = {r["enterprise"]: r for r in res["ranking"]}
    assert res["ranking"][0]["enterprise"] == "W" and rank["W"]["rank"] == 1
    assert rank["W"]["pollutant"] == "stack_so2" and rank["W"]["share"] > 0.5
    assert rank["W"]["bearing_deg"] == pytest.approx(270, abs=1)
    assert rank["N"]["status"] == "no data" and rank["N"]["rank"] is None
    assert res["ranking"][-1]["enterprise"] == "N"
    assert "Far" not in rank  # 111 km away: beyond the 60 km radius
    prov = res["provenance"]
    assert prov["data_cutoff"] == str(at) and prov["synthetic"] is True
    assert prov["parameters"] == {
        k: list(v) if isinstance(v, tuple) else v for k, v in vars(attribution_params()).items()
    }
    assert "IDW" in prov["wind_field"] and res["source_networks"] == ["testsrc"]
    out = tmp / "out" / "tracing" / "airnet" / "enterprises"
    stem = f"A_so2_{at:%Y%m%dT%H}"
    for name in (f"{stem}.csv", f"{stem}_series.csv", f"{stem}.json"):
        assert (out / name).exists(), name
    table = pd.read_csv(out / f"{stem}.csv")
    assert list(table["enterprise"][:2]) == ["W", "E"] and "evidence" in table
    stored = json.loads((out / f"{stem}.json").read_text(encoding="utf-8"))
    assert stored["ranking"][0]["enterprise"] == "W"
    series = pd.read_csv(out / f"{stem}_series.csv", index_col=0)
    assert len(series) == 24 and {"observed", "excess"} <= set(series.columns)


def test_air_job_with_a_given_dataset_and_a_stopped_stack(air):
    tmp, at, times = air["tmp"], air["at"], air["times"]
    mass = np.full((2, HOURS), 2000.0)
    flag = np.zeros((2, HOURS), "int8")
    mass[0], flag[0] = np.nan, FLAG_CODES["F"]  # W stopped the whole time
    ds = xr.Dataset(
        {
            "stack_so2_mass": (("station", "time"), mass),
            "stack_so2_mass_flag": (("station", "time"), flag),
        },
        coords={"station": ["W-G1", "E-G1"], "time": times},
    )
    res = enterprise_job(
        air["net"],
        tmp / "store",
        tmp / "out2",
        "A",
        at,
        variable="so2",
        sources=air["src"],
        source_data={"testsrc": ds},
    )
    rank = {r["enterprise"]: r for r in res["ranking"]}
    assert rank["W"]["status"] == "ok" and rank["W"]["median_rate_kg_h"] == 0.0
    assert rank["W"]["score"] == 0.0  # a stopped stack explains nothing
    assert res["provenance"]["source_stores"]["testsrc"] == "dataset given by the caller"


def test_air_job_refuses_bad_requests(air):
    tmp, at = air["tmp"], air["at"]

    def run(station="A", when=at, **kw):
        return enterprise_job(air["net"], tmp / "store", tmp / "out3", station, when, **kw)

    with pytest.raises(ValueError, match="no station 'Z'"):
        run("Z", sources=air["src"])
    with pytest.raises(ValueError, match="outside the data of airnet"):
        run(when="2030-01-01T00:00", sources=air["src"])
    with pytest.raises(ValueError, match="not a time"):
        run(when="soon", sources=air["src"])
    with pytest.raises(ValueError, match="no emission variable for 'o3'"):
        run(variable="o3", sources=air["src"])
    with pytest.raises(ValueError, match="stores no no2"):
        run(variable="no2", sources=air["src"])
    with pytest.raises(ValueError, match="not a kind: source network"):
        run(sources=air["net"])
    with pytest.raises(ValueError, match="no kind: source network with an air stack within 60 km"):
        run("C")
    with pytest.raises(ValueError, match="is a source network"):
        enterprise_job(air["src"], tmp / "store", tmp / "out3", "W-G1", at)
    with pytest.raises(FileNotFoundError):
        enterprise_job(air["net"], tmp / "nowhere", tmp / "out3", "A", at, sources=air["src"])


def test_a_source_network_without_stored_data_lists_every_enterprise_as_no_data(air, tmp_path):
    body = (tmp_path / "x.yml").parent
    src = write_network(
        body,
        open(air["src"], encoding="utf-8").read().replace("name: testsrc", "name: emptysrc"),
        "emptysrc",
    )
    res = enterprise_job(
        air["net"], air["tmp"] / "store", tmp_path / "out", "A", air["at"], sources=str(src)
    )
    assert {r["status"] for r in res["ranking"]} == {"no data"}
    assert any("no stored data of source network emptysrc" in n for n in res["notes"])


# --------------------------------------------------------------------------- water
WATER = """
name: example_cn
title: the example river's sections (test)
kind: water
time_zone: Asia/Shanghai
time_label: interval_end
frequency: 1h
sources:
  - adapter: column_table
    files: ["{files}"]
    time_column: time
    station_column: site
    columns:
      nh3n: {{variable: nh3n, units: mg L-1}}
stations:
{stations}
"""


def test_water_job_ranks_the_upstream_outfall_and_never_the_downstream_one(tmp_path):
    from pipelines.config.rivers import load_river_network

    river = load_river_network("example_cn")  # the file named like the network is used
    times = pd.date_range(START, periods=HOURS, freq="h")
    sections = list(river.sections)
    # U discharges 40 kg/h on reach QH03 (halfway: 3.3 h above QH04) in hours 100-103;
    # D, on QH04 below the section, discharges ten times more at the same time
    t_arr = np.arange(HOURS) - (100 + 1.5 + 0.5 * river.sections["QH03"].travel_time_h)
    pulse = 40.0 * 4 / (3.6 * 24) * np.exp(-0.5 * (t_arr / 1.5) ** 2) / (1.5 * np.sqrt(2 * np.pi))
    rng = np.random.default_rng(1)
    rows = []
    for sid in sections:
        c = 0.5 + rng.normal(0, 0.01, HOURS) + (pulse if sid == "QH04" else 0.0)
        rows += [f"{t + LOCAL:%Y-%m-%d %H:%M},{sid},{x:.4f}" for t, x in zip(times, c, strict=True)]
    csv = tmp_path / "water.csv"
    csv.write_text("time,site,nh3n\n" + "\n".join(rows) + "\n", encoding="utf-8")
    st = "\n".join(f"  - {{id: {s}, lat: 39.8, lon: 116.5}}" for s in sections)
    net = write_network(tmp_path, WATER.format(files=csv, stations=st), "example_cn")
    ingest(str(net), tmp_path / "store")
    q = {"U-W1": np.full(HOURS, 2.0), "D-W1": np.full(HOURS, 2.0)}
    q["U-W1"][100:104] += 40.0
    q["D-W1"][100:104] += 400.0
    srows = [
        f"{t + LOCAL:%Y-%m-%d %H:%M},{s},,{q[s][i]:.2f}"
        for i, t in enumerate(times)
        for s in ("U-W1", "D-W1")
    ]
    scsv = tmp_path / "src.csv"
    scsv.write_text("time,site,so2_mass,nh3n_mass\n" + "\n".join(srows) + "\n", encoding="utf-8")
    ents = "  - {id: U, name: Upstream plant, lat: 39.8, lon: 116.5}\n  - {id: D, name: Downstream plant, lat: 39.7, lon: 116.5}"
    stacks = "\n".join(
        [
            _stack(
                "U-W1",
                "U",
                39.8,
                116.5,
                "2001",
                "water",
                river="example_cn",
                reach="QH03",
                reach_fraction=0.5,
            ),
            _stack(
                "D-W1",
                "D",
                39.7,
                116.5,
                "2002",
                "water",
                river="example_cn",
                reach="QH04",
                reach_fraction=0.5,
            ),
        ]
    )
    src = write_network(
        tmp_path, SOURCES.format(name="wsrc", files=scsv, enterprises=ents, stations=stacks), "wsrc"
    )
    ingest(str(src), tmp_path / "store")
    at = times[100 + int(np.argmax(pulse[100:130]))]
    res = enterprise_job(
        str(net), tmp_path / "store", tmp_path / "out", "QH04", at, sources=str(src)
    )
    assert res["medium"] == "water" and res["river"] == "example_cn"
    assert res["variable"] == "nh3n" and res["emission_variable"] == "effluent_nh3n"
    rank = {r["enterprise"]: r for r in res["ranking"]}
    assert res["ranking"][0]["enterprise"] == "U" and rank["U"]["rank"] == 1
    assert rank["U"]["lag_h"] == pytest.approx(3.3, abs=1.0) and rank["U"]["share"] > 0.5
    assert rank["D"]["status"] == "not upstream" and rank["D"]["rank"] is None
    with pytest.raises(ValueError, match="no section 'XX'|no station 'XX'"):
        enterprise_job(str(net), tmp_path / "store", tmp_path / "out", "XX", at, sources=str(src))
