"""Soil ingest: the bad-input cases of issue #18, row accounting, re-ingest, the CF point file."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from features.qc.flags import FLAG_CODES
from features.units import ureg
from pipelines.config import load_network, load_variables
from pipelines.errors import ConfigError
from pipelines.soil.ingest import UNIT_FACTORS, check_rows, sample_tolerances
from pipelines.soil.jobs import assess_job, ingest_job
from pipelines.soil.maps import make_maps
from pipelines.soil.sources import read_sources
from pipelines.soil.store import SoilStore, to_dataset

HEADER = "sample_id,plot,x,y,depth_top_cm,depth_bottom_cm,land_use,land_subtype,ph,date,campaign,analyte,value,unit,method,dl"
# UTM 50N (EPSG:32650): x 500000 y 3500000 is 117 E, 31.6 N
GOOD = [
    "S1,P1,500000,3500000,0,20,agricultural,paddy,6.2,2026-05-10,c2026,Cd,0.45,mg/kg,GB/T 17141,0.01",
    "S1,P1,500000,3500000,0,20,agricultural,paddy,6.2,2026-05-10,c2026,Pb,95000,ug/kg,GB/T 17141,0.1",
    "S2,P1,500100,3500050,0,20,agricultural,other,7.8,2026-05-10,c2026,Cd,<0.05,mg/kg,GB/T 17141,",
    "S2,P1,500100,3500050,0,20,agricultural,other,7.8,2026-05-10,c2026,Zn,ND,mg/kg,HJ 491,1",
    "S3,P2,501000,3501000,0,20,construction,type1,,2026-05-11,c2026,Benzene,0.5,mg/kg,HJ 605,0.0019",
    "S3,P2,501000,3501000,0,20,construction,type1,,2026-05-11,c2026,As,0.0025,%,HJ 680,0.0001",
    "S1,P1,500000,3500000,0,20,agricultural,paddy,6.2,2026-05-10,c2026,Cd,0.45,mg/kg,GB/T 17141,0.01",
]
BAD = {  # line text -> field named in the quarantine report
    "S4,P3,500200,3500200,0,20,agricultural,other,6.0,2026-05-10,c2026,Unobtainium,1,mg/kg,x,": "analyte",
    "S4,P3,500200,3500200,0,20,agricultural,other,6.0,2026-05-10,c2026,Cu,12,mg/L,x,": "unit",
    "S5,P3,500300,3500300,0,20,agricultural,other,,2026-05-10,c2026,Cu,12,mg/kg,x,": "ph",
    "S6,P3,5000000,3500300,0,20,agricultural,other,6.5,2026-05-10,c2026,Cu,12,mg/kg,x,": "x",
    "S1,P1,500000,3500000,0,20,agricultural,paddy,6.2,2026-05-10,c2026,Cd,0.9,mg/kg,GB/T 17141,0.01": "value",
    "S7,P3,500400,3500400,0,20,agricultural,other,6.0,2026-05-10,c2026,Ni,ND,mg/kg,x,": "value",
    "S8,P3,500500,3500500,0,20,agricultural,other,6.0,2026-05-10,c2026,Ni,abc,mg/kg,x,": "value",
    "S9,P3,500600,3500600,0,20,wetland,other,6.0,2026-05-10,c2026,Ni,3,mg/kg,x,": "land_use",
    "S2,P1,500900,3500050,0,20,agricultural,other,7.8,2026-05-10,c2026,Pb,20,mg/kg,x,": "x",
}

NETWORK = """
name: {name}
kind: soil
crs: EPSG:32650
campaign: c2026
analytes: {{Cd: soil_cd, Pb: soil_pb, Zn: soil_zn, Cu: soil_cu, Ni: soil_ni, As: soil_as, Benzene: soil_benzene}}
sources:
  - adapter: soil_csv
    files: [data/*.csv]
assumptions: ["test network"]
"""


def _network(root: Path, lines: list[str], name: str = "soiltest") -> Path:
    (root / "data").mkdir(parents=True, exist_ok=True)
    (root / "data" / "a.csv").write_text("\n".join([HEADER, *lines]) + "\n", encoding="utf-8")
    path = root / f"{name}.yml"
    path.write_text(NETWORK.format(name=name), encoding="utf-8")
    return path


@pytest.fixture
def ingested(tmp_path):
    net = _network(tmp_path, GOOD + list(BAD))
    return tmp_path, net, ingest_job(str(net), str(tmp_path / "store"))


def test_row_accounting_and_reasons(ingested):
    root, _, r = ingested
    assert r["rows_in"] == len(GOOD) + len(BAD)
    assert r["rows_stored"] == len(GOOD) - 1 and r["rows_merged"] == 1  # one identical repeat
    assert r["rows_quarantined"] == len(BAD) and r["balanced"]
    q = pd.read_csv(r["quarantine_file"])
    text = (root / "data" / "a.csv").read_text(encoding="utf-8").splitlines()
    for _, row in q.iterrows():
        assert row["file"].endswith("a.csv")
        assert BAD[text[row["line"] - 1]] == row["field"], row.to_dict()
    reasons = " | ".join(q["reason"])
    assert "unknown analyte 'Unobtainium'" in reasons
    assert "unit 'mg/L' does not convert" in reasons
    assert "missing pH for an agricultural sample" in reasons
    assert "outside the area of use of EPSG:32650" in reasons
    assert "duplicate sample S1 soil_cd: " in reasons and "a.csv line 2 says 0.45" in reasons
    assert "ND without a detection limit" in reasons


def test_below_dl_and_units_are_stored_flagged(ingested):
    root, net, r = ingested
    path = Path(r["files"]["c2026"])
    assert path.parent == root / "store" / "soil" / "soiltest"
    with xr.open_dataset(path) as ds:
        assert ds.attrs["featureType"] == "point"
        i = {s: k for k, s in enumerate(ds["sample_id"].values.astype(str))}
        assert ds["soil_cd_below_dl"].values[i["S2"]] == 1
        assert ds["soil_cd"].values[i["S2"]] == pytest.approx(0.05)  # the DL, flagged
        assert ds["soil_zn_below_dl"].values[i["S2"]] == 1 and ds["soil_zn"].values[i["S2"]] == 1
        assert ds["soil_pb"].values[i["S1"]] == pytest.approx(95.0)  # 95000 ug/kg
        assert ds["soil_as"].values[i["S3"]] == pytest.approx(25.0)  # 0.0025 %
        assert ds["soil_cd"].attrs["units"] == "mg kg-1"
        assert ds["lat"].values[i["S1"]] == pytest.approx(31.6, abs=0.05)
        assert ds["lon"].values[i["S1"]] == pytest.approx(117.0, abs=0.01)
        assert np.isnan(ds["soil_ph"].values[i["S3"]])  # construction land needs no pH


def test_reingest_keeps_everything_and_refuses_changes(ingested):
    root, net, first = ingested
    again = ingest_job(str(net), str(root / "store"))
    assert again["rows_stored"] == 0 and again["balanced"]
    # the old file is gone; a new one: one new sample, one changed value of a stored sample
    (root / "data" / "a.csv").unlink()
    (root / "data" / "b.csv").write_text(
        "\n".join(
            [
                HEADER,
                "S10,P4,502000,3502000,0,20,agricultural,other,5.0,2026-05-12,c2026,Cd,0.2,mg/kg,x,",
                "S1,P1,500000,3500000,0,20,agricultural,paddy,6.2,2026-05-10,c2026,Pb,50,mg/kg,x,",
            ]
        )
        + "\n",
        encoding="utf-8",
    )
    third = ingest_job(str(net), str(root / "store"))
    assert third["rows_stored"] == 1 and third["balanced"]
    q = pd.read_csv(third["quarantine_file"])
    assert any("the store has 95 (revision 0), this line 50 (revision 0" in r for r in q["reason"])
    rows = SoilStore(root / "store", load_network(str(net)), {}).read()
    assert set(rows["sample_id"]) == {"S1", "S2", "S3", "S10"}
    assert rows.query("sample_id == 'S1' and variable == 'soil_pb'")["value"].item() == 95.0


def test_assessment_of_mixed_land_uses(ingested, tmp_path):
    root, net, _ = ingested
    res = assess_job(str(net), str(root / "store"), str(tmp_path / "out"))
    t = res["assessed"].set_index(["sample_id", "variable"])
    # S1 paddy pH 6.2: Cd 0.45 > 0.4 screening, <= 2.0 intervention
    assert t.loc[("S1", "soil_cd"), "screening"] == 0.4
    assert t.loc[("S1", "soil_cd"), "risk_class_name"] == "risk possible"
    # S2 other pH 7.8, Cd < 0.05: DL below the 0.6 screening value -> negligible
    assert t.loc[("S2", "soil_cd"), "risk_class"] == 1
    # S3 construction type 1: benzene 0.5 <= 1; As 25 > 20 screening, <= 120 intervention
    assert t.loc[("S3", "soil_benzene"), "risk_class"] == 1
    assert t.loc[("S3", "soil_as"), "risk_class"] == 2
    assert t.loc[("S3", "soil_as"), "standard"] == "gb36600-2018"
    assert Path(res["files"]["assessment"]).is_file()


def test_bad_network_file_names_file_line_field(tmp_path):
    path = _network(tmp_path, GOOD)
    path.write_text(path.read_text().replace("Cd: soil_cd", "Cd: soil_cadmium"), encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_network(str(path))
    assert "analytes.Cd" in str(err.value) and "soiltest.yml" in str(err.value)
    path.write_text(NETWORK.format(name="x").replace("EPSG:32650", "EPSG:999999"))
    with pytest.raises(ConfigError, match="crs"):
        load_network(str(path))


# --- review fixes: units, notations, duplicates, tolerances, re-ingest, maps -------------------

ROW = "S1,P1,500000,3500000,0,20,agricultural,paddy,6.2,2026-05-10,c2026,{a},{v},{u},x,{dl}"


def _check(tmp_path, lines):
    net = load_network(str(_network(tmp_path, lines)))
    good, q, merged, _ = check_rows(read_sources(net), net, load_variables()["variables"])
    return good, {r.line: r for r in q}, merged


@pytest.mark.parametrize(
    "unit", ["", " ", "-", "1", "count", "nan", "NaN", "Mg/kg", "MG/KG", "mg/L", "kg", "mol/kg"]
)
def test_non_mass_fraction_units_are_quarantined(tmp_path, unit):
    good, q, _ = _check(tmp_path, [ROW.format(a="Cd", v="0.3", u=unit, dl="")])
    assert len(good) == 0 and q[2].field == "unit"
    assert "mg/kg" in q[2].reason and "ppm" in q[2].reason  # names the allowed spellings


def test_allowed_units_match_pint_and_convert(tmp_path):
    for spelling, f in UNIT_FACTORS.items():
        expr = spelling.replace(" kg-1", "/kg").replace(".kg-1", "/kg").replace("·kg-1", "/kg")
        assert ureg.Quantity(1.0, expr).to("mg/kg").magnitude == pytest.approx(f), spelling
    spellings = list(UNIT_FACTORS)
    lines = [
        ROW.format(a="Cd", v="2", u=u, dl="").replace("S1,P1", f"S{k},P{k}")
        for k, u in enumerate(spellings)
    ]
    good, q, _ = _check(tmp_path, lines)
    assert not q
    got = dict(zip(good["sample_id"], good["value"], strict=True))
    for k, u in enumerate(spellings):
        assert got[f"S{k}"] == pytest.approx(2 * UNIT_FACTORS[u]), u


def test_value_notations_and_silently_accepted_values(tmp_path):
    lines = [
        ROW.format(a="Cd", v="0.05L", u="mg/kg", dl=""),  # line 2: Chinese below-DL
        ROW.format(a="Pb", v="＜0.05", u="mg/kg", dl=""),  # line 3: full-width <
        ROW.format(a="Zn", v="inf", u="mg/kg", dl=""),  # line 4
        ROW.format(a="Cu", v="3", u="mg/kg", dl="-0.1"),  # line 5
        ROW.format(a="Ni", v="3", u="mg/kg", dl="")
        .replace("S1,P1", "S2,P2")
        .replace("6.2", '"7,5"'),  # line 6
    ]
    good, q, _ = _check(tmp_path, lines)
    g = good.set_index("variable")
    for v in ("soil_cd", "soil_pb"):
        assert bool(g.at[v, "below_dl"]) and g.at[v, "value"] == pytest.approx(0.05)
        assert g.at[v, "dl"] == pytest.approx(0.05)
    assert q[4].field == "value" and "not finite" in q[4].reason
    assert q[5].field == "dl" and "negative detection limit" in q[5].reason
    assert q[6].field == "ph" and q[6].reason == "pH '7,5' is not a number"


def test_conflicting_duplicate_names_file_and_below_dl(tmp_path):
    lines = [
        ROW.format(a="Cd", v="<0.1", u="mg/kg", dl=""),
        ROW.format(a="Cd", v="0.1", u="mg/kg", dl=""),
    ]
    _, q, _ = _check(tmp_path, lines)
    assert q[3].field == "value"
    assert q[3].reason.endswith("a.csv line 2 says <0.1, this line 0.1")


def test_coordinate_tolerance_is_absolute(tmp_path):
    assert sample_tolerances("EPSG:32650")["y"] == 0.5
    assert sample_tolerances("EPSG:4326")["x"] == 1e-6
    lines = [
        ROW.format(a="Cd", v="0.3", u="mg/kg", dl=""),
        ROW.format(a="Pb", v="30", u="mg/kg", dl="").replace("3500000", "3500000.3"),  # same
        ROW.format(a="Zn", v="30", u="mg/kg", dl="").replace("3500000", "3500030"),  # 30 m
        ROW.format(a="Cu", v="30", u="mg/kg", dl="").replace("500000", "500001"),  # 1 m
    ]
    good, q, _ = _check(tmp_path, lines)
    assert set(good["variable"]) == {"soil_cd", "soil_pb"}
    assert q[4].field == "y" and "3500030" in q[4].reason and "a.csv line 2" in q[4].reason
    assert q[5].field == "x"


def test_reingest_refuses_changed_sample_fields(ingested):
    root, net, _ = ingested
    (root / "data" / "a.csv").unlink()
    s1 = "S1,P1,500000,3500000,0,20,agricultural,paddy,6.2,2026-05-10,c2026"
    changed = [
        (f"{s1.replace('6.2', '7.0')},Zn,50,mg/kg,x,", "ph", "stored 6.2, this line 7.0"),
        (f"{s1.replace('3500000', '3500030')},Cu,20,mg/kg,x,", "y", "stored 3500000.0"),
        (f"{s1.replace('paddy', 'other')},Ni,20,mg/kg,x,", "land_subtype", "stored paddy"),
        (f"{s1.replace('2026-05-10', '2026-05-11')},As,5,mg/kg,x,", "date", "2026-05-11"),
        (f"{s1.replace(',0,20,', ',0,30,')},Benzene,0.5,mg/kg,x,", "depth_bottom_cm", "30"),
        (f"{s1.replace('6.2', '7.0')},Cd,0.45,mg/kg,x,", "ph", "stored 6.2"),  # same value
    ]
    for line, fld, text in changed:
        (root / "data" / "b.csv").write_text(f"{HEADER}\n{line}\n", encoding="utf-8")
        r = ingest_job(str(net), str(root / "store"))
        assert r["balanced"] and r["rows_stored"] == 0 and r["rows_quarantined"] == 1, line
        q = pd.read_csv(r["quarantine_file"]).iloc[0]
        assert q["field"] == fld and text in q["reason"], (line, q["reason"])
        assert "differs from the store's" in q["reason"]
    ok = f"{s1.replace('3500000', '3500000.2')},Cu,20,mg/kg,x,"  # within 0.5 m: same sample
    (root / "data" / "b.csv").write_text(f"{HEADER}\n{ok}\n", encoding="utf-8")
    assert ingest_job(str(net), str(root / "store"))["rows_stored"] == 1
    rows = SoilStore(root / "store", load_network(str(net)), {}).read()
    s1_rows = rows[rows["sample_id"] == "S1"]
    assert set(s1_rows["variable"]) == {"soil_cd", "soil_pb", "soil_cu"}
    assert (s1_rows["ph"] == 6.2).all() and (s1_rows["y"] == 3500000).all()
    assert (s1_rows["land_subtype"] == "paddy").all()


def test_unreadable_source_names_the_file(tmp_path):
    from pipelines.errors import SourceError

    net = load_network(str(_network(tmp_path, [])))
    (tmp_path / "data" / "a.csv").write_text("sample_id,x\nS1,1\n", encoding="utf-8")
    with pytest.raises(SourceError, match=r"a\.csv:1: missing column"):
        read_sources(net)
    (tmp_path / "data" / "a.csv").write_bytes(b"sample\xff_id,x\nS1,1\n")
    with pytest.raises(SourceError, match=r"a\.csv:1: header line cannot be decoded"):
        read_sources(net)
    # an undecodable or wrongly split data line is one quarantined row with its line, the rest
    # of the file is read (it used to refuse the whole file, or shift the columns)
    good = GOOD[0].encode()
    (tmp_path / "data" / "a.csv").write_bytes(
        HEADER.encode()
        + b"\n"
        + good
        + b"\n"
        + good.replace(b"P1", b"P\xff")
        + b"\n"
        + good
        + b",extra\n"
    )
    rep = ingest_job(str(tmp_path / "soiltest.yml"), str(tmp_path / "store"))
    assert rep["rows_in"] == 3 and rep["rows_stored"] == 1 and rep["balanced"]
    q = pd.read_csv(rep["quarantine_file"])
    assert q["line"].tolist() == [3, 4] and q["reason"].str.contains("utf-8|fields").all()


def test_to_dataset_refuses_inconsistent_samples(tmp_path):
    good, _, _ = _check(tmp_path, [ROW.format(a="Cd", v="0.3", u="mg/kg", dl="")])
    net = load_network(str(tmp_path / "soiltest.yml"))
    two = pd.concat([good, good.assign(variable="soil_pb", ph=7.0)], ignore_index=True)
    with pytest.raises(ValueError, match="ph"):
        to_dataset(two, net, load_variables()["variables"])


def test_maps_use_every_valid_value(tmp_path):
    net = load_network(str(_network(tmp_path, GOOD)))
    rng = np.random.default_rng(1)
    n = 30
    base = pd.DataFrame(
        {
            "sample_id": [f"S{i}" for i in range(n)],
            "x": 500000 + rng.uniform(0, 2000, n),
            "y": 3500000 + rng.uniform(0, 2000, n),
        }
    )
    base["lon"], base["lat"] = 117.0, 31.6
    cd = base.assign(variable="soil_cd", value=rng.uniform(0.1, 1.0, n), screening=0.3)
    cd["below_dl"] = np.arange(n) % 3 == 0
    cd.loc[cd["below_dl"], "value"] = 0.1
    cd["risk_class"] = np.where(cd["below_dl"], 0, 1)  # as if below-DL rows were not classed
    cd["flag"] = FLAG_CODES["N"]
    cd.loc[n - 1, ["value", "flag"]] = [1e6, FLAG_CODES["qc_invalid"]]
    bz = base.assign(variable="soil_benzene", value=rng.uniform(0.1, 1.0, n), screening=np.nan)
    bz["below_dl"], bz["risk_class"], bz["flag"] = False, 0, FLAG_CODES["N"]
    res = make_maps(
        pd.concat([cd, bz], ignore_index=True), net, tmp_path / "m", figures=False, resolution=200
    )
    cv = res["cv"].set_index("variable")
    assert cv.at["soil_cd", "n"] == n - 1  # below-DL rows in, the qc_invalid row out
    assert cv.at["soil_benzene", "n"] == n  # no screening value, still mapped
    with xr.open_dataset(res["grid"]) as ds:
        assert float(ds["soil_cd"].max()) < 10
        assert np.isnan(ds["soil_benzene_p_exceed_screening"].values).all()


def _cf_failures(path) -> tuple[dict, list]:
    from qy_helpers import cf_check

    report = cf_check(path)
    return report, [(p["name"], p["msgs"]) for p in report["all_priorities"] if p["msgs"]]


def test_the_store_file_and_a_projected_grid_pass_the_cf_checker(ingested, tmp_path):
    root, net_path, res = ingested
    (path,) = res["files"].values()
    report, failures = _cf_failures(path)
    assert report["scored_points"] == report["possible_points"], failures
    with xr.open_dataset(path) as ds:
        assert ds.attrs["featureType"] == "point" and "cf_role" not in ds["sample_id"].attrs
        assert ds["crs"].attrs["grid_mapping_name"] == "latitude_longitude"  # of lon / lat
        assert "32650" in ds.attrs["source_crs"] and "UTM" in ds["x"].attrs["source_crs_wkt"]
        assert str(ds["time"].values[0])[:10] == "2026-05-10"  # dates decode back
        assert ds["soil_cd_source_line"].dtype == np.int32
    # a grid in UTM (which CF describes): projection coordinates with a transverse_mercator mapping
    # (the stored rows are too few to map: a synthetic survey on the same network instead)
    rng = np.random.default_rng(3)
    n = 25
    base = pd.DataFrame({"sample_id": [f"G{i}" for i in range(n)]})
    base["x"], base["y"] = 500000 + rng.uniform(0, 2000, n), 3500000 + rng.uniform(0, 2000, n)
    base["lon"], base["lat"] = 117.0, 31.6
    cd = base.assign(variable="soil_cd", value=rng.uniform(0.1, 1.0, n), screening=0.3)
    cd["below_dl"], cd["risk_class"], cd["flag"] = False, 1, FLAG_CODES["N"]
    grid = make_maps(cd, load_network(str(net_path)), tmp_path / "g", figures=False, resolution=200)
    report, failures = _cf_failures(grid["grid"])
    assert report["scored_points"] == report["possible_points"], failures
    with xr.open_dataset(grid["grid"]) as ds:
        assert ds["crs"].attrs["grid_mapping_name"] == "transverse_mercator"
        assert ds["x"].attrs["standard_name"] == "projection_x_coordinate"


REV_HEADER = HEADER + ",revision"
S1 = "S1,P1,500000,3500000,0,20,agricultural,paddy,6.2,2026-05-10,c2026,{a},{v},mg/kg,x,,{r}"


def _write(root: Path, name: str, lines: list[str]) -> None:
    for old in (root / "data").glob("*.csv"):
        old.unlink()
    (root / "data" / name).write_text("\n".join([REV_HEADER, *lines]) + "\n", encoding="utf-8")


def test_laboratory_corrections_replace_results_and_keep_the_replaced_ones(tmp_path):
    """A higher ``revision`` replaces a result (in the same input or in the store); the replaced
    results are in the revision log; a lower or equal revision that differs is refused."""
    net = _network(tmp_path, [])
    store = str(tmp_path / "store")
    # one input holding the first report and its correction
    _write(
        tmp_path,
        "a.csv",
        [
            S1.format(a="Pb", v="95", r=""),
            S1.format(a="Pb", v="50", r="1"),
            S1.format(a="Cd", v="0.3", r=""),
        ],
    )
    first = ingest_job(str(net), store)
    assert first["rows_stored"] == 2 and first["rows_superseded"] == 1 and first["balanced"]
    assert first["rows_merged"] == 1 and first["values_revised"] == 0

    def stored(var: str) -> pd.Series:
        rows = SoilStore(tmp_path / "store", load_network(str(net)), {}).read()
        return rows.query(f"sample_id == 'S1' and variable == '{var}'").iloc[0]

    assert (stored("soil_pb")["value"], stored("soil_pb")["revision"]) == (50.0, 1)
    log = pd.read_csv(first["revisions_file"])
    assert len(log) == 1 and log.iloc[0][["found_in", "value", "replaced_by_value"]].tolist() == [
        "input",
        95.0,
        50.0,
    ]
    # a later file with a second correction replaces the stored result
    _write(tmp_path, "b.csv", [S1.format(a="Pb", v="60", r="2")])
    from click.testing import CliRunner

    from qingyuan.cli import main

    cli = CliRunner().invoke(main, ["soil", "ingest", "--network", str(net), "--store", store])
    assert cli.exit_code == 0, cli.output
    assert (
        "laboratory corrections: 0 superseded in the input (merged), 1 stored results" in cli.output
    )
    second = json.loads(
        (tmp_path / "store" / "soil" / "soiltest" / "reports" / "soiltest_ingest.json").read_text()
    )
    assert second["rows_stored"] == 1 and second["values_revised"] == 1 and second["balanced"]
    assert (stored("soil_pb")["value"], stored("soil_pb")["revision"]) == (60.0, 2)
    assert stored("soil_cd")["value"] == pytest.approx(0.3)  # the other analyte is untouched
    log = pd.read_csv(second["revisions_file"])
    assert len(log) == 2
    last = log.iloc[-1]
    assert (last["found_in"], last["value"], last["revision"]) == ("store", 50.0, 1)
    assert (last["replaced_by_value"], last["replaced_by_revision"]) == (60.0, 2)
    # the stored result names the file and line it came from (the store keeps both)
    assert Path(last["file"]).name == "a.csv" and int(last["line"]) == 3
    assert Path(last["replaced_by_file"]).name == "b.csv"
    assert Path(stored("soil_pb")["file"]).name == "b.csv"
    assert Path(stored("soil_cd")["file"]).name == "a.csv"
    # the same file again: nothing new stored or logged
    again = ingest_job(str(net), store)
    assert again["rows_stored"] == 0 and again["values_revised"] == 0
    assert len(pd.read_csv(again["revisions_file"])) == 2
    # a result of a lower revision, or of the same revision, that differs: refused
    for line in (S1.format(a="Pb", v="70", r="1"), S1.format(a="Pb", v="61", r="2")):
        _write(tmp_path, "c.csv", [line])
        third = ingest_job(str(net), store)
        assert third["rows_quarantined"] == 1 and third["values_revised"] == 0
        (reason,) = pd.read_csv(third["quarantine_file"])["reason"]
        assert (
            "(revision 2), this line" in reason and "a correction needs a higher revision" in reason
        )
        assert stored("soil_pb")["value"] == 60.0
    # not a whole number >= 0: refused with the field named
    _write(tmp_path, "d.csv", [S1.format(a="Pb", v="62", r="x"), S1.format(a="Pb", v="63", r="-1")])
    bad = pd.read_csv(ingest_job(str(net), store)["quarantine_file"])
    assert bad["field"].tolist() == ["revision", "revision"] and bad["line"].tolist() == [2, 3]
    # the assessment reads the corrected result
    res = assess_job(str(net), store, str(tmp_path / "out"))
    pb = res["assessed"].query("sample_id == 'S1' and variable == 'soil_pb'")
    assert pb["value"].item() == 60.0
