"""CNEMC surface-water publishing format against a real local HTTP server (paged, flaky)."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

import numpy as np
import pytest
from qy_helpers import write_network

from pipelines.config import load_network, load_variables
from pipelines.errors import SourceError
from pipelines.ingest import ingest
from pipelines.sources.cnemc import clean_cell
from pipelines.store import StationStore

THEAD = [
    "省份",
    "流域",
    "断面名称",
    "监测时间",
    "水质类别",
    "水温(℃)",
    "pH(无量纲)",
    "溶解氧(mg/L)",
    "电导率(μS/cm)",
    "浊度(NTU)",
    "高锰酸盐指数(mg/L)",
    "氨氮(mg/L)",
    "总磷(mg/L)",
    "总氮(mg/L)",
    "站点情况",
]


def row(section, t, nh3n="0.35", status="正常", do="<span title='原始值'>7.8</span>"):
    return [
        "江苏省",
        "长江流域",
        section,
        t,
        "Ⅱ",
        "12.3",
        "7.9",
        do,
        "412",
        "15.2",
        "3.1",
        nh3n,
        "0.081",
        "2.1",
        status,
    ]


ROWS = [
    row("清河城区上游", "12-31 20:00"),  # New Year: fetched on 01-01, so last year
    row("清河城区上游", "01-01 00:00", nh3n="0.025L"),  # below the detection limit
    row("清河城区上游", "01-01 04:00", nh3n="--"),  # missing
    row("白河入清河口", "01-01 00:00", status="维护"),  # maintenance: kept, flagged
    row("白河入清河口", "01-01 04:00", do="12..5"),  # not a number: quarantined
    ["江苏省", "长江流域", "白河入清河口"],  # truncated row: quarantined
]


@pytest.fixture()
def cnemc_server():
    state = {"requests": 0, "fail_first": 1}

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_POST(self):
            state["requests"] += 1
            n = int(self.headers.get("Content-Length", 0))
            form = {k: v[0] for k, v in parse_qs(self.rfile.read(n).decode()).items()}
            if state["requests"] <= state["fail_first"]:
                self.send_response(503)
                self.end_headers()
                return
            size, page = int(form["PageSize"]), int(form["PageIndex"])
            if state.get("endless"):  # distinct rows on every page, a total that never comes
                rows = [row(f"S{page}-{i}", "01-01 00:00") for i in range(size)]
                state["pages"] = page
                body = json.dumps({"thead": THEAD, "tbody": rows, "total": 10**9}).encode()
                self.send_response(200)
                self.end_headers()
                self.wfile.write(body)
                return
            body = json.dumps(
                {
                    "thead": THEAD,
                    "tbody": ROWS[(page - 1) * size : page * size],
                    "total": len(ROWS),
                },
                ensure_ascii=False,
            ).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.end_headers()
            self.wfile.write(body)

    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    th = threading.Thread(target=srv.serve_forever, daemon=True)
    th.start()
    yield f"http://127.0.0.1:{srv.server_address[1]}/GJZ/Ajax/Publish.ashx", state
    srv.shutdown()


NETWORK = """
name: cnemc_test
kind: water
time_zone: Asia/Shanghai
time_label: instant
frequency: 4h
sources:
  - adapter: cnemc
    url: "{url}"
    end: "2021-01-01T06:00"
    page_size: 4
    backoff: 0.01
    columns:
      水温: {{variable: water_temperature, units: degC}}
      pH: {{variable: ph, units: "1"}}
      溶解氧: {{variable: dissolved_oxygen, units: mg L-1}}
      电导率: {{variable: conductivity, units: uS cm-1}}
      浊度: {{variable: turbidity, units: NTU}}
      高锰酸盐指数: {{variable: codmn, units: mg L-1}}
      氨氮: {{variable: nh3n, units: mg L-1}}
      总磷: {{variable: tp, units: mg L-1}}
      总氮: {{variable: tn, units: mg L-1}}
stations:
  - {{id: 清河城区上游, lat: 32.0, lon: 118.8}}
  - {{id: 白河入清河口, lat: 32.1, lon: 118.9}}
"""


def test_cell_cleaning():
    assert clean_cell("<span title='x'>0.08</span>") == ("0.08", False)
    assert clean_cell("0.025L") == ("0.0125", True)
    assert clean_cell("<0.01") == ("0.005", True)
    assert clean_cell("--") == ("", False)


def test_cnemc_ingest_from_a_local_server(tmp_path, cnemc_server):
    url, state = cnemc_server
    path = write_network(tmp_path, NETWORK.format(url=url), "cnemc_test")
    net = load_network(str(path))
    report = ingest(str(path), tmp_path / "store")
    assert state["requests"] >= 3  # one 503, then two pages of 4
    assert report.rows_in == 6 and report.rows_quarantined == 2 and report.balanced
    ds = StationStore(tmp_path / "store", net, load_variables()["variables"]).open()
    up = ds.sel(station="清河城区上游")
    times = {str(t)[:16] for t in up["time"].values[np.isfinite(up["ph"].values)]}
    assert "2020-12-31T12:00" in times  # 12-31 20:00 Beijing time, last year, in UTC
    nh3n = up["nh3n"].to_series().dropna()
    assert sorted(nh3n.tolist()) == pytest.approx([0.0125, 0.35])  # half the 0.025 DL
    down = ds.sel(station="白河入清河口")
    flag = down["dissolved_oxygen_flag"].to_series().dropna()
    assert 2 in set(flag.astype(int))  # 维护 -> HJ 212 M (maintenance), value kept
    assert np.isfinite(down["dissolved_oxygen"].values).sum() == 1


def test_a_server_whose_pages_never_end_is_an_error_naming_max_pages(tmp_path, cnemc_server):
    url, state = cnemc_server
    state.update(endless=True, fail_first=0)
    body = NETWORK.format(url=url).replace(
        "    page_size: 4\n", "    page_size: 4\n    max_pages: 5\n"
    )
    path = write_network(tmp_path, body, "cnemc_test")
    with pytest.raises(SourceError, match="max_pages = 5") as err:
        ingest(str(path), tmp_path / "store")
    assert state["pages"] == 5 and "10000000" in str(err.value)
    assert not list(tmp_path.rglob("*.nc"))  # nothing half-read was stored
