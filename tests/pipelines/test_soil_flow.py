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
