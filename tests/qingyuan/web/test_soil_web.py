"""The soil page and API (issue #18) on the web workspace's Meuse survey: who sees what."""

from __future__ import annotations

import io

import pandas as pd
import pytest
import xarray as xr

SOIL = "/api/v1/soil/meuse_soil"


@pytest.fixture(scope="module")
def html(headers):
    return {r: {**h, "Accept": "text/html"} for r, h in headers.items()}


def test_the_soil_results_for_an_analyst_carry_classes_hot_spots_cv_and_assumptions(
    client, headers
):
    r = client.get(SOIL, headers=headers["analyst"])
    assert r.status_code == 200, r.text
    d = r.json()
    assert d["ingest"] == {
        "rows_in": 620,
        "rows_stored": 620,
        "rows_merged": 0,
        "rows_quarantined": 0,
        "balanced": True,
    }
    s = d["summary"]
    assert s["samples"] == 155 and set(s["shares"]) == {"soil_cd", "soil_cu", "soil_pb", "soil_zn"}
    for v, sh in s["shares"].items():  # the shares of each analyte sum to one
        assert sh["negligible"] + sh["risk possible"] + sh["risk high"] == pytest.approx(
            1, abs=1e-3
        ), v
    assert (
        len(s["hot_spots"]) == 5 and s["hot_spots"][0]["nemerow"] >= s["hot_spots"][-1]["nemerow"]
    )
    assert any("lime" in a for a in d["assumptions"])  # the pH assumption travels with the results
    assert {c["variable"] for c in d["cv"]} == set(s["shares"])
    assert all(c["ok_rmse_log"] > 0 and c["idw_rmse_log"] > 0 for c in d["cv"])
    assert d["grid"] == "meuse_soil_soil_maps.nc" and len(d["figures"]) == 4
    assert "meuse_soil_soil_assessment.csv" in d["tables"]
    assert not any("/" in f for f in d["figures"] + d["tables"])  # names, never server paths


def test_decision_staff_see_the_classes_and_maps_but_not_the_plots(client, headers, tmp_path):
    d = client.get(SOIL, headers=headers["decision"]).json()
    assert d["summary"]["shares"] and "hot_spots" not in d["summary"]
    assert "meuse_soil_soil_assessment.csv" not in d["tables"]
    assert "meuse_soil_kriging_cv.csv" in d["tables"]
    r = client.get(f"{SOIL}/files/meuse_soil_soil_assessment.csv", headers=headers["decision"])
    assert r.status_code == 403
    grid = client.get(f"{SOIL}/files/meuse_soil_soil_maps.nc", headers=headers["decision"])
    assert grid.headers["content-type"] == "application/x-netcdf"
    (tmp_path / "grid.nc").write_bytes(grid.content)
    with xr.open_dataset(tmp_path / "grid.nc") as ds:
        p = ds["soil_cd_p_exceed_screening"]
        assert 0 <= float(p.min()) and float(p.max()) <= 1


def test_the_sample_table_for_an_analyst_is_the_assessment(client, headers):
    r = client.get(f"{SOIL}/files/meuse_soil_soil_assessment.csv", headers=headers["analyst"])
    assert r.headers["content-type"].startswith("text/csv")
    t = pd.read_csv(io.StringIO(r.text))
    assert len(t) == 620 and t["sample_id"].nunique() == 155


def test_soil_files_are_only_what_the_results_list(client, headers, web_ws):
    from pipelines import results as R

    a = headers["analyst"]
    r = client.get(f"{SOIL}/files/meuse_soil_soil_summary.json", headers=a)
    assert r.status_code == 404 and "meuse_soil_soil_cd_map.png" in r.json()["error"]["message"]
    for bad in ("..%2F..%2Fapp.db", "%2Fetc%2Fpasswd"):
        assert client.get(f"{SOIL}/files/{bad}", headers=a).status_code in (404, 422)
    ws = R.Workspace(web_ws.store, web_ws.outputs)
    for bad in ("..", "../app.db", "/etc/passwd", "meuse_soil_soil_summary.md"):
        with pytest.raises(R.NotFound):
            R.soil_file(ws, "meuse_soil", bad)
    r = client.get("/api/v1/soil/beijing", headers=a)  # a station network is not a soil one
    assert r.status_code == 404 and "meuse_soil" in r.json()["error"]["message"]


def test_the_soil_page_by_role(client, html):
    a = client.get("/soil?lang=en", headers=html["analyst"]).text
    assert 'data-table="shares"' in a and 'data-table="hot_spots"' in a and 'data-table="cv"' in a
    assert 'data-plot="meuse-' in a and "lime class" in a and "620 = 620 + 0 + 0" in a
    assert a.count("/api/v1/soil/meuse_soil/files/") >= 7  # 4 maps + grid + 2 tables
    d = client.get("/soil?lang=zh", headers=html["decision"]).text
    assert 'data-table="shares"' in d and "data-plot=" not in d and "土壤环境" in d
    z = client.get("/soil?lang=zh", headers=html["analyst"]).text
    assert "重度污染" in z and "风险高" in z  # grades and classes in the page's language
    assert "meuse_soil_soil_assessment.csv" not in d
    assert client.get("/soil", headers=html["public"], follow_redirects=False).status_code == 303
    nav = client.get("/?lang=en", headers=html["public"]).text
    assert 'href="/soil"' not in nav  # the public's navigation has no soil entry
    assert 'href="/soil"' in client.get("/?lang=en", headers=html["decision"]).text
