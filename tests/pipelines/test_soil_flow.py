"""The ``soil`` Prefect flow, once (the session's Prefect harness); the jobs are tested directly."""

from __future__ import annotations

import json


def test_soil_flow_on_meuse(tmp_path, prefect_harness):
    from pipelines.flows.soil import soil_flow

    res = soil_flow(["meuse_soil"], str(tmp_path / "store"), str(tmp_path / "out"))
    r = res["meuse_soil"]
    assert r["ingest"]["rows_in"] == 620 and r["ingest"]["balanced"]
    assert r["samples"] == 155 and len(r["hot_spots"]) == 5
    assert {c["variable"] for c in r["maps"]["cv"]} == {"soil_cd", "soil_cu", "soil_pb", "soil_zn"}
    assert (tmp_path / "out" / "soil" / "meuse_soil_soil_summary.md").is_file()
    json.dumps(res, ensure_ascii=False)  # goes into the run's summary.json as it is
    # the run's summary.md carries the soil section (samples, classes, hot spots, assumptions)
    from pipelines.flows.summary import render_markdown

    md = render_markdown({"networks": {}, "soil": res})
    assert "## Soil `meuse_soil`" in md and "meuse-82" in md and "lime class 1" in md
    # the stored campaign and the grid pass the CF 1.8 checker; RD New (EPSG:28992, a double
    # stereographic) has no CF grid mapping, so lon / lat (WGS 84) describe the samples and cells
    import xarray as xr
    from qy_helpers import cf_check

    stored = tmp_path / "store" / "soil" / "meuse_soil" / "meuse_soil_meuse-survey.nc"
    for path in (stored, r["maps"]["grid"]):
        report = cf_check(path)
        failures = [(p["name"], p["msgs"]) for p in report["all_priorities"] if p["msgs"]]
        assert report["scored_points"] == report["possible_points"], (path, failures)
        with xr.open_dataset(path) as ds:
            assert ds["crs"].attrs["grid_mapping_name"] == "latitude_longitude"
            assert "Amersfoort" in ds["x"].attrs["source_crs_wkt"]
    with xr.open_dataset(stored) as ds:
        assert ds["time"].isnull().all()  # the survey's date is unknown: missing, not 1970
