"""Campaigns and depth layers are not mixed: summary, change between campaigns, maps (#18)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from click.testing import CliRunner

from features.soil.indices import nemerow_index
from pipelines.soil.assess import campaign_order, select_campaign_layer
from pipelines.soil.jobs import assess_job, ingest_job, map_job
from pipelines.soil.maps import make_maps

HEADER = (
    "sample_id,plot,x,y,depth_top_cm,depth_bottom_cm,land_use,land_subtype,ph,date,campaign,"
    "analyte,value,unit,method,dl"
)
NETWORK = """
name: soilcamp
kind: soil
crs: EPSG:32650
analytes: {Cd: soil_cd, Pb: soil_pb}
sources:
  - adapter: soil_csv
    files: [data/*.csv]
map_resolution_m: 250
assumptions: ["test network"]
"""
N = 24
WORSE = 6  # plots whose topsoil Cd goes from negligible (0.2) to risk possible (0.5)


def _rows() -> list[str]:
    rng = np.random.default_rng(3)
    x = 500000 + rng.uniform(0, 3000, N)
    y = 3500000 + rng.uniform(0, 3000, N)
    out = []

    def row(sid, i, top, bot, date, camp, analyte, value):
        out.append(
            f"{sid},P{i},{x[i]:.1f},{y[i]:.1f},{top},{bot},agricultural,other,7.0,{date},{camp},"
            f"{analyte},{value},mg/kg,x,"
        )

    for i in range(N):
        # campaign names sort against their dates: the newest is "a-2026"
        row(f"S{i}", i, 0, 20, "2025-05-01", "b-2025", "Cd", f"{0.2 + 0.001 * i:.3f}")
        row(f"S{i}", i, 0, 20, "2025-05-01", "b-2025", "Pb", f"{30 + i}")
        cd = 0.5 + 0.001 * i if i < WORSE else 0.25 + 0.001 * i
        row(f"S{i}", i, 0, 20, "2026-05-01", "a-2026", "Cd", f"{cd:.3f}")
        pb = "<200" if i == 0 else f"{40 + i}"  # DL 200 > screening 120: not assessed
        row(f"S{i}", i, 0, 20, "2026-05-01", "a-2026", "Pb", pb)
        row(f"S{i}-sub", i, 20, 40, "2026-05-01", "a-2026", "Cd", f"{5 + 0.01 * i:.2f}")
    return out


@pytest.fixture
def stored(tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "a.csv").write_text("\n".join([HEADER, *_rows()]) + "\n", encoding="utf-8")
    net = tmp_path / "soilcamp.yml"
    net.write_text(NETWORK, encoding="utf-8")
    r = ingest_job(str(net), str(tmp_path / "store"))
    assert r["balanced"] and r["rows_quarantined"] == 0 and r["rows_stored"] == 5 * N
    return tmp_path, str(net)


def test_summary_is_of_the_newest_campaigns_topsoil(stored):
    root, net = stored
    r = assess_job(net, str(root / "store"), str(root / "out"))
    sel = r["selection"]
    assert sel["campaign"] == "a-2026" and sel["campaigns"] == ["b-2025", "a-2026"]
    assert sel["previous"] == "b-2025" and sel["layer"] == "0-20 cm" and sel["layers"] == [0, 20]
    assert sel["rows_left_out"] == 3 * N  # the older campaign's two analytes and the subsoil
    assert r["samples"] == N
    cd = r["shares"]["soil_cd"]
    assert cd["samples"] == N and cd["risk high"] == 0  # the subsoil's 5 mg/kg not mixed in
    assert cd["risk possible"] == pytest.approx(round(WORSE / N, 4))
    pb = r["shares"]["soil_pb"]
    assert pb["not_assessed"] == 1 and pb["samples"] == N - 1
    # every stored row is in the assessment table, with the sample's Nemerow index
    table = pd.read_csv(r["files"]["assessment"])
    assert len(table) == 5 * N
    one = table[(table["campaign"] == "a-2026") & (table["sample_id"] == "S3")]
    assert one["nemerow_sample"].nunique() == 1
    assert one["nemerow_sample"].iloc[0] == pytest.approx(float(nemerow_index(one["pi"])))


def test_change_between_campaigns(stored):
    root, net = stored
    r = assess_job(net, str(root / "store"), str(root / "out"))
    assert r["change"]["soil_cd"] == {"same": N - WORSE, "worse": WORSE}
    assert r["change"]["soil_pb"] == {"not comparable": 1, "same": N - 1}
    ch = pd.read_csv(r["files"]["change"])
    worse = ch[(ch["analyte"] == "soil_cd") & (ch["change"] == "worse")]
    assert sorted(worse["plot"]) == sorted(f"P{i}" for i in range(WORSE))
    assert (ch["campaign_before"] == "b-2025").all() and (ch["campaign_after"] == "a-2026").all()
    saved = json.loads((root / "out" / "soil" / "soilcamp_soil_summary.json").read_text())
    assert saved["change"] == r["change"]
    # the older campaign on request: no earlier one, so no change table
    old = assess_job(net, str(root / "store"), str(root / "out2"), campaign="b-2025")
    assert old["selection"]["previous"] is None and old["change"] is None
    assert "change" not in old["files"]


def test_layer_and_campaign_selection_errors(stored):
    root, net = stored
    sub = assess_job(net, str(root / "store"), str(root / "out"), depth_top_cm=20)
    assert sub["selection"]["layer"] == "20-40 cm" and sub["shares"]["soil_cd"]["risk high"] == 1
    assert sub["change"] is None  # the older campaign has no 20 cm layer
    with pytest.raises(ValueError, match=r"campaigns: \['b-2025', 'a-2026'\]"):
        assess_job(net, str(root / "store"), str(root / "out"), campaign="c-2027")
    with pytest.raises(ValueError, match=r"layer tops \[cm\]: \[0.0, 20.0\]"):
        assess_job(net, str(root / "store"), str(root / "out"), depth_top_cm=10)


def test_maps_are_of_one_campaign_and_layer(stored):
    root, net = stored
    r = map_job(net, str(root / "store"), str(root / "out"), figures=False)
    cv = r["cv"].set_index("variable")
    assert cv.at["soil_cd", "n"] == N
    with xr.open_dataset(r["grid"]) as ds:
        assert ds.attrs["campaign"] == "a-2026" and ds.attrs["depth_layer"] == "0-20 cm"
        assert float(ds["soil_cd"].max()) < 1.0  # the 5 mg/kg subsoil is not in the topsoil map
    from pipelines.config import load_network
    from pipelines.soil.assess import assess_rows
    from pipelines.soil.store import SoilStore

    spec = load_network(net)
    rows = assess_rows(SoilStore(root / "store", spec, {}).read(), spec)
    with pytest.raises(ValueError, match="campaigns or depth layers mixed"):
        make_maps(rows, spec, root / "m", figures=False)


def test_campaign_order_by_date_then_name():
    rows = pd.DataFrame(
        {
            "campaign": ["z", "z", "y", "undated-b", "undated-a"],
            "date": ["2020-01-01", "2020-03-01", "2021-01-01", None, None],
        }
    )
    assert campaign_order(rows) == ["z", "y", "undated-a", "undated-b"]
    part, info = select_campaign_layer(
        rows.assign(depth_top_cm=0.0, depth_bottom_cm=20.0), campaign="y"
    )
    assert len(part) == 1 and info["previous"] == "z"


def test_cli_assess_and_map_take_campaign_and_layer(stored):
    from qingyuan.cli import main

    root, net = stored
    common = ["--network", net, "--store", str(root / "store"), "--outputs", str(root / "o")]
    r = CliRunner().invoke(main, ["soil", "assess", *common, "--campaign", "b-2025"])
    assert r.exit_code == 0, r.output
    assert "campaign b-2025, layer 0-20 cm; other campaigns: a-2026" in r.output
    assert "| soil_pb | 24 |" in r.output
    r = CliRunner().invoke(main, ["soil", "assess", *common])
    assert "Change from campaign b-2025 to a-2026" in r.output
    assert f"| soil_cd | {WORSE} | 0 | {N - WORSE} | 0 |" in r.output
    r = CliRunner().invoke(main, ["soil", "map", *common, "--depth-top", "20"])
    assert r.exit_code == 0, r.output
    assert "campaign a-2026, layer 20-40 cm" in r.output
    r = CliRunner().invoke(main, ["soil", "assess", *common, "--campaign", "nope"])
    assert r.exit_code != 0 and "campaign 'nope' not stored" in r.output
