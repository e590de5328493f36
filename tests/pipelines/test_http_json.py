"""HTTP JSON source against a real server on 127.0.0.1 that fails, then recovers."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import pandas as pd
import pytest
from qy_helpers import write_network

from pipelines.config import load_network
from pipelines.errors import SourceError
from pipelines.ingest import ingest
from pipelines.sources.http_json import fetch_json


class _Feed:
    """A CNEMC-like hourly feed: fails the first `fail_first` requests with HTTP 503."""

    def __init__(self, fail_first: int = 0):
        self.fail_first = fail_first
        self.requests: list[dict] = []

    def records(self, start: pd.Timestamp, end: pd.Timestamp) -> list[dict]:
        out = []
        for t in pd.date_range(start.ceil("h"), end, freq="h"):
            for code in ("1001A", "1003A"):
                out.append(
                    {
                        "stationCode": code,
                        "timePoint": t.isoformat(),
                        "pm2_5": round(30 + t.hour, 1),
                        "pm2_5_flag": "N",
                        "co": 0.8,
                        "o3_ppb": 20.0,
                    }
                )
        out.append(
            {
                "stationCode": "9999A",
                "timePoint": end.isoformat(),
                "pm2_5": 5,
                "co": 0.1,
                "o3_ppb": 1,
            }
        )
        out.append({"timePoint": end.isoformat(), "pm2_5": 5})
        return out


@pytest.fixture()
def feed_server():
    feed = _Feed()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):  # keep test output quiet
            pass

        def do_GET(self):
            url = urlparse(self.path)
            q = {k: v[0] for k, v in parse_qs(url.query).items()}
            feed.requests.append({"path": url.path, **q})
            if len(feed.requests) <= feed.fail_first:
                self.send_response(503)
                self.end_headers()
                self.wfile.write(b"busy")
                return
            if url.path != "/api/values":
                self.send_response(404)
                self.end_headers()
                return
            body = json.dumps(
                {"data": feed.records(pd.Timestamp(q["start"]), pd.Timestamp(q["end"]))}
            ).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield feed, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


NETWORK = """
name: httpnet
kind: air
time_zone: Asia/Shanghai
time_label: interval_end
frequency: 1h
sources:
  - adapter: http_json
    url: {url}/api
    values_endpoint: /values
    lookback: 6h
    end: "2016-03-01T12:00:00+08:00"
    retries: 3
    backoff: 0.05
    fields: {{station: stationCode, time: timePoint}}
    columns:
      pm2_5: {{variable: pm25, units: ug m-3, flag_column: pm2_5_flag}}
      co: {{variable: co, units: mg m-3}}
      o3_ppb: {{variable: o3, units: ppb}}
stations:
  - {{id: Wanshouxigong, code: 1001A, lat: 39.8673, lon: 116.366}}
  - {{id: Dongsi, code: 1003A, lat: 39.9522, lon: 116.434}}
"""


def test_pull_with_retries_lookback_and_accounting(tmp_path, feed_server):
    feed, url = feed_server
    feed.fail_first = 2
    net_path = write_network(tmp_path, NETWORK.format(url=url), "httpnet")
    rep = ingest(str(net_path), tmp_path / "store", now=pd.Timestamp("2016-03-02", tz="UTC"))
    assert len(feed.requests) == 3  # two 503s, then success
    assert feed.requests[-1]["start"] == "2016-03-01T06:00:00+08:00"  # the look-back window
    assert (
        rep.rows_in == 16 and rep.rows_stored == 14 and rep.rows_quarantined == 2 and rep.balanced
    )
    from pipelines.config import load_variables
    from pipelines.store import StationStore

    ds = StationStore(
        tmp_path / "store", load_network(str(net_path)), load_variables()["variables"]
    ).open()
    # 20 ppb O3 -> 20 * 47.997 / 24.465 = 39.2 ug m-3 at 298.15 K
    assert float(ds["o3"].max()) == pytest.approx(39.24, abs=0.01)
    # re-pulling the same window (late data is normal) stores nothing twice
    rep2 = ingest(str(net_path), tmp_path / "store", now=pd.Timestamp("2016-03-02", tz="UTC"))
    assert rep2.values_new == 0 and rep2.values_changed == 0


def test_gives_up_after_retries(feed_server):
    feed, url = feed_server
    feed.fail_first = 100
    with pytest.raises(SourceError, match=r"gave up after 3 attempts; last error: HTTP 503"):
        fetch_json(url + "/api/values", retries=2, backoff=0.01)
    assert len(feed.requests) == 3


def test_non_retryable_and_unreachable(feed_server):
    _, url = feed_server
    with pytest.raises(SourceError, match="HTTP 404"):
        fetch_json(url + "/nowhere", retries=3, backoff=0.01)
    with pytest.raises(SourceError, match="gave up"):
        fetch_json("http://127.0.0.1:9/api", retries=1, backoff=0.01, timeout=0.5)
