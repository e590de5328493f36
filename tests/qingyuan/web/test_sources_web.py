"""Pollution sources and supervision alerts in the web app and API, with their access rules.

The workspace (:func:`qy_web.build_workspace`) holds the SYNTHETIC ``beijing_sources`` network:
one day of HJ 212 traffic over TCP, ingested, and its supervision alerts (E02 and E09 red, E17
orange, five yellow). ``configs/access.yml`` ``by_kind`` makes every read of a ``kind: source``
network or warning file require the ``enterprise`` dataset (analyst, admin); decision staff see
the counts of alerts in force (``supervision_summary``), the public nothing.
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from pathlib import Path

import pytest
from qy_web import PASSWORD

NET = "beijing_sources"


@pytest.fixture(autouse=True)
def _no_language_cookie(client):
    """``?lang=`` sets a cookie on the shared client: forget it after each test."""
    yield
    client.cookies.clear()


@pytest.fixture(scope="module")
def source_warnings(client, headers) -> dict[str, dict]:
    """The supervision alerts by enterprise (read as the analyst)."""
    r = client.get(f"/api/v1/warnings?city={NET}&page_size=100", headers=headers["analyst"])
    assert r.status_code == 200, r.text
    return {w["area"]: w for w in r.json()["items"]}


def _restricted_paths(ws: dict[str, dict]) -> list[str]:
    wid = ws["E02"]["id"]
    return [
        f"/api/v1/networks/{NET}/stations",
        f"/api/v1/networks/{NET}/status",
        f"/api/v1/networks/{NET}/enterprises",
        f"/api/v1/networks/{NET}/stations/E02-G1/observations",
        f"/api/v1/networks/{NET}/stations/E02-G1/observations?format=csv",
        f"/api/v1/warnings?city={NET}",
        f"/api/v1/warnings/{wid}",
        f"/api/v1/warnings/{wid}/cap",
        f"/api/v1/cap/{ws['E02']['last_identifier']}",
        f"/api/v1/cities/{NET}/feed.json",
        f"/api/v1/cities/{NET}/bulletin",
        f"/station/{NET}/E02-G1",
        f"/warnings/{wid}",
    ]


def test_access_matrix_enterprise_data(client, headers, source_warnings):
    for path in _restricted_paths(source_warnings):
        assert client.get(path, headers=headers["public"]).status_code == 401, path
        r = client.get(path, headers=headers["decision"])
        assert r.status_code == 403 and "enterprise" in r.text, path
        for role in ("analyst", "admin"):
            assert client.get(path, headers=headers[role]).status_code == 200, (role, path)


def test_lists_leave_sources_out_for_public_and_decision(client, headers):
    for role in ("public", "decision"):
        h = headers[role]
        nets = client.get("/api/v1/networks", headers=h).json()["items"]
        assert NET not in [n["name"] for n in nets]
        cities = client.get("/api/v1/cities", headers=h).json()["items"]
        assert NET not in [c["name"] for c in cities]
        ws = client.get("/api/v1/warnings?page_size=1000", headers=h).json()["items"]
        assert ws and all(w["city"] != NET for w in ws)
        assert "示例热电厂" not in client.get("/warnings", headers=h).text
        assert "qy-enterprise" not in client.get("/?network=beijing", headers=h).text
        assert client.get(f"/?network={NET}", headers=h).status_code == 404
    h = headers["analyst"]
    nets = {n["name"]: n for n in client.get("/api/v1/networks", headers=h).json()["items"]}
    assert nets[NET]["kind"] == "source" and nets[NET]["synthetic"] is True
    assert nets[NET]["n_enterprises"] == 20
    ws = client.get("/api/v1/warnings?page_size=1000", headers=h).json()["items"]
    assert {w["city"] for w in ws} >= {"beijing", NET}
    assert client.get("/api/v1/auth/me", headers=h).json()["datasets"].count("enterprise") == 1


def test_enterprises_endpoint(client, headers):
    r = client.get(f"/api/v1/networks/{NET}/enterprises?page_size=100", headers=headers["analyst"])
    assert r.status_code == 200
    assert "password" not in r.text and "demoe01g1" not in r.text and "88888880000001" not in r.text
    body = r.json()
    assert body["total"] == 20 and body["network"] == NET
    ents = {e["id"]: e for e in body["items"]}
    e02 = ents["E02"]
    assert e02["name"] == "示例热电厂乙" and e02["synthetic"] is True
    assert e02["alert"]["level"] == "red" and e02["alert"]["condition"] == "exceedance"
    assert ents["E09"]["alert"]["level"] == "red" and ents["E17"]["alert"]["level"] == "orange"
    assert ents["E01"]["alert"] is None
    st = e02["stations"][0]
    assert st["id"] == "E02-G1" and st["medium"] == "air" and st["stack_height_m"] == 180
    std = st["standard"]
    assert std["name"] == "gb13223-2011" and std["class_id"] == "coal_boiler_existing"
    assert std["limits"]["stack_so2"]["max"] == 200 and std["reference_o2"] == 6
    latest = st["latest"]
    assert latest["time"] and latest["pollutants"]["stack_so2"]["limit"] == 200
    assert "stack_hg" not in latest["pollutants"]  # limited, but not reported
    w = ents["E17"]["stations"][0]
    assert w["medium"] == "water" and w["standard"]["period"] == "day"
    # an air network has no enterprises
    r = client.get("/api/v1/networks/beijing/enterprises", headers=headers["analyst"])
    assert r.status_code == 404 and "source networks: beijing_sources" in r.text


def test_source_status_is_not_aqi_or_water_class(client, headers):
    r = client.get(f"/api/v1/networks/{NET}/status", headers=headers["analyst"])
    assert r.status_code == 200
    body = r.json()
    assert body["kind"] == "source"
    rows = {s["id"]: s for s in body["stations"]}
    n = client.get(f"/api/v1/networks/{NET}/stations", headers=headers["analyst"]).json()
    assert len(rows) == n["total"] > 20
    assert all("aqi" not in s and "class" not in s for s in rows.values())
    assert rows["E02-G1"]["alert"]["level"] == "red"
    assert rows["E02-G1"]["pollutants"]["stack_so2"]["units"] == "mg m-3"
    # the AQI and class routes refuse a source network with a 404 that says why
    for path in (
        f"/api/v1/networks/{NET}/stations/E02-G1/aqi/hourly",
        f"/api/v1/networks/{NET}/aqi/daily",
        f"/api/v1/networks/{NET}/water-class",
    ):
        r = client.get(path, headers=headers["analyst"])
        assert r.status_code == 404 and "source network" in r.text, path


def test_supervision_alerts_in_the_api(client, headers, source_warnings):
    assert {a for a, w in source_warnings.items() if w["status"] == "active"} >= {
        "E02",
        "E09",
        "E17",
    }
    w = source_warnings["E02"]
    assert w["kind"] == "source" and w["level"] == "red"
    assert w["enterprise"]["name"] == "示例热电厂乙" and w["determining_station"] == "E02-G1"
    assert w["condition"] == "exceedance" and w["primary_pollutant"] == "stack_so2"
    assert w["limit"] == 200 and w["ratio"] >= 2 and w["units"]["stack_so2"] == "mg m-3"
    assert w["findings"] and w["period"] and w["flags"] == "N"
    assert w.get("expected_aqi") is None
    one = client.get(f"/api/v1/warnings/{w['id']}", headers=headers["admin"]).json()
    assert one["messages"] and one["messages"][-1]["message"]["enterprise"]["id"] == "E02"


def test_audit_records_enterprise_reads(client, headers, source_warnings):
    client.get(f"/station/{NET}/E09-G1", headers=headers["analyst"])
    client.get(f"/api/v1/warnings/{source_warnings['E09']['id']}", headers=headers["decision"])
    rows = client.get("/api/v1/audit?page_size=200", headers=headers["admin"]).json()["items"]
    mine = [a for a in rows if a["dataset"] == "enterprise"]
    assert any(a["username"] == "analyst1" and a["outcome"] == "ok" for a in mine), mine[:3]
    assert any(a["username"] == "decision1" and a["outcome"] == "denied" for a in mine)


def test_station_page_of_a_stack(client, headers):
    r = client.get(f"/station/{NET}/E02-G1?lang=zh", headers=headers["analyst"])
    assert r.status_code == 200
    html = r.text
    assert "示例热电厂乙" in html and "GB 13223-2011" in html and "coal_boiler_existing" in html
    assert 'id="stack-height"' in html and "180" in html
    assert "限值 200" in html  # the SO2 limit line on the chart
    assert html.count('class="qy-discharge"') == 3  # dust, SO2, NOx (Hg is not reported)
    assert "合成演示数据" in html
    assert "AQI" not in html
    # the outfall of a wastewater plant: a daily-mean standard
    html = client.get(f"/station/{NET}/E17-W1?lang=en", headers=headers["analyst"]).text
    assert "daily mean" in html and "effluent_cod" in html and "SYNTHETIC" in html
    # flags are marked: E07-G1 is in maintenance (M) for hours of the day
    html = client.get(f"/station/{NET}/E07-G1", headers=headers["analyst"]).text
    assert "qy-flag-invalid" in html


def test_map_of_sources_and_enterprises_over_the_air_map(client, headers):
    r = client.get(f"/?network={NET}&lang=zh", headers=headers["analyst"])
    assert r.status_code == 200
    assert "qy-marker-star" in r.text and "qy-marker-outfall" in r.text
    assert "示例热电厂乙" in r.text and "严重超标红色报警" in r.text
    html = client.get("/?network=beijing", headers=headers["analyst"]).text
    assert html.count("qy-enterprise") >= 5 and "/station/beijing_sources/E" in html
    html = client.get("/?network=beijing", headers=headers["public"]).text
    assert "beijing_sources" not in html


def test_warnings_pages(client, headers, source_warnings):
    html = client.get("/warnings", headers=headers["analyst"]).text
    assert "示例热电厂乙" in html and "qy-enterprise-name" in html and "200 mg m-3" in html
    assert 'id="supervision-counts"' not in html
    html = client.get("/warnings", headers=headers["decision"]).text
    assert 'id="supervision-counts"' in html and "示例热电厂" not in html
    assert "E02" not in html
    html = client.get("/warnings", headers=headers["public"]).text
    assert 'id="supervision-counts"' not in html
    w = source_warnings["E02"]
    html = client.get(f"/warnings/{w['id']}", headers=headers["analyst"]).text
    for s in ("示例热电厂乙", "E02-G1", "exceedance", "stack_so2", "200 mg m-3", "qy-findings"):
        assert s in html, s
    assert "预计AQI范围" not in html and "健康提示" not in html


def test_no_server_error_on_the_new_paths(client, headers, source_warnings):
    paths = [
        *_restricted_paths(source_warnings),
        f"/?network={NET}",
        "/?network=beijing",
        "/",
        "/warnings",
        "/water",
        f"/station/{NET}/E17-W1",
        f"/station/{NET}/E05-G1",  # offline from 13:00
        f"/station/{NET}/NOPE",
        f"/api/v1/networks/{NET}/stations/NOPE/observations",
        f"/api/v1/networks/{NET}/stations/E02-G1/observations?format=netcdf",
        "/api/v1/networks/nope/enterprises",
        "/api/v1/warnings/pending",
        f"/api/v1/warnings/pending?city={NET}",
    ]
    for role, h in headers.items():
        for path in paths:
            for lang in ("zh", "en"):
                sep = "&" if "?" in path else "?"
                r = client.get(f"{path}{sep}lang={lang}", headers=h)
                assert r.status_code < 500, (role, path, r.text[:300])


def test_enterprise_attribution_job_and_routes(client, headers, web_ws):
    """An analyst asks which enterprises explain Dongsi's PM2.5 on the source day; the ranking
    is stored, listed and read back, with no server path in what is handed out."""
    url, listing = (
        "/api/v1/jobs/attribution/beijing",
        "/api/v1/networks/beijing/attribution/enterprises",
    )
    body = {"station": "Dongsi", "at": "2017-02-11T12:00:00", "variable": "pm25"}
    assert client.post(url, json=body, headers=headers["public"]).status_code == 401
    for role in ("public", "decision"):
        assert client.get(listing, headers=headers[role]).status_code in (401, 403), role
    r = client.post(url, json=body, headers=headers["decision"])
    assert r.status_code == 403, r.text
    r = client.post(url, json=body, headers=headers["analyst"])
    assert r.status_code == 200, r.text
    res = r.json()
    assert res["id"] == "Dongsi_pm25_20170211T12" and res["station"] == "Dongsi"
    assert res["source_networks"] == [NET] and res["provenance"]["synthetic"] is True
    ranked = [x for x in res["ranking"] if x["rank"] is not None]
    assert ranked and [x["rank"] for x in ranked] == list(range(1, len(ranked) + 1))
    assert str(web_ws.root) not in r.text  # names, not server paths
    items = client.get(listing, headers=headers["analyst"]).json()["items"]
    assert res["id"] in [x["id"] for x in items]
    (mine,) = [x for x in items if x["id"] == res["id"]]
    assert [t["enterprise"] for t in mine["top"]] == [x["enterprise"] for x in ranked[:3]]
    one = client.get(f"{listing}/{res['id']}", headers=headers["admin"])
    assert one.status_code == 200 and one.json()["ranking"] == res["ranking"]
    miss = client.get(f"{listing}/Dongsi_pm25_20000101T00", headers=headers["analyst"])
    assert miss.status_code == 404 and res["id"] in miss.text
    src = client.get(f"/api/v1/networks/{NET}/attribution/enterprises", headers=headers["analyst"])
    assert src.status_code == 404 and "source network" in src.text
    bad = client.post(url, json={**body, "station": "Atlantis"}, headers=headers["analyst"])
    assert bad.status_code == 422 and "Atlantis" in bad.text
    extra = client.post(url, json={**body, "deliver": True}, headers=headers["analyst"])
    assert extra.status_code == 422


def test_openapi_documents_the_enterprise_route(client):
    spec = client.get("/api/openapi.json").json()
    op = spec["paths"]["/api/v1/networks/{network}/enterprises"]["get"]
    assert "Enterprises" in op["summary"] and "MNs" in op["description"]
    assert "source" in spec["paths"]["/api/v1/networks/{network}/status"]["get"]["description"]


def test_access_schema_validates_by_kind(tmp_path):
    from pipelines.config.web import access_config
    from pipelines.errors import ConfigError

    base = (Path(__file__).resolve().parents[3] / "configs" / "access.yml").read_text()
    for bad, why in (
        ("    warnings: enterprise\n", "    warnings: nosuch\n"),
        ("  water:  {status: water_class}\n", ""),
        ("    networks: enterprise\n", "    forecasts: enterprise\n"),
    ):
        assert bad in base
        p = tmp_path / "access.yml"
        p.write_text(base.replace(bad, why), encoding="utf-8")
        with pytest.raises(ConfigError):
            access_config(p)


# --------------------------------------------------------------------------- browser
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def server(web_app):
    """The application served by uvicorn on a free 127.0.0.1 port, in a thread."""
    import uvicorn

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    srv = uvicorn.Server(uvicorn.Config(web_app, host="127.0.0.1", port=port, log_level="warning"))
    th = threading.Thread(target=srv.run, daemon=True)
    th.start()
    for _ in range(200):
        if srv.started:
            break
        time.sleep(0.05)
    assert srv.started, "uvicorn did not start"
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    th.join(10)


def test_browser_enterprise_station_and_supervision_warning(
    web_app, server, source_warnings, tmp_path
):
    from playwright.sync_api import sync_playwright

    assert CHROMIUM, "chromium is not installed (make test installs it: apt-get install chromium)"
    shots = Path(os.environ.get("QY_SCREENSHOTS") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        ctx = b.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
        page = ctx.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(f"{server}/login")
        page.fill("input[name=username]", "analyst1")
        page.fill("input[name=password]", PASSWORD)
        page.click("form.qy-form button[type=submit]")
        page.wait_for_load_state("networkidle")
        page.goto(f"{server}/station/{NET}/E02-G1")
        assert page.locator("#enterprise-name").inner_text().startswith("示例热电厂乙")
        assert page.locator("#series figure.qy-discharge svg").count() == 3
        page.screenshot(path=str(shots / "enterprise_station_analyst.png"), full_page=True)
        page.goto(f"{server}/warnings/{source_warnings['E02']['id']}")
        assert "示例热电厂乙" in page.inner_text("main")
        page.screenshot(path=str(shots / "supervision_warning_analyst.png"), full_page=True)
        page.goto(f"{server}/?network={NET}")
        assert page.locator("#map svg .qy-marker-star").count() >= 14
        page.screenshot(path=str(shots / "map_sources_analyst.png"), full_page=True)
        b.close()
    assert not errors, errors
