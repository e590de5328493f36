"""``qingyuan hj212 serve`` + ``simulate`` + ``ingest`` + ``warn``: the commands a user runs."""

from __future__ import annotations

import socket
import subprocess
import sys
import time

from click.testing import CliRunner

from qingyuan.cli import main


def invoke(*args):
    return CliRunner().invoke(main, list(args))


def test_simulate_refuses_bad_input(tmp_path):
    res = invoke("hj212", "simulate", "--network", "beijing")
    assert res.exit_code == 2 and "not kind: source" in res.output
    res = invoke("hj212", "simulate", "--network", "nowhere")
    assert res.exit_code == 2 and "no such network" in res.output
    res = invoke("hj212", "simulate", "--day", "2017-13-01")
    assert res.exit_code == 2
    bad = tmp_path / "bad.txt"
    bad.write_text("no tab\n")
    res = invoke("hj212", "simulate", "--replay", str(bad))
    assert res.exit_code == 2 and "bad.txt:1" in res.output
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    res = invoke("hj212", "simulate", "--port", str(port), "--max-reconnects", "1")
    assert res.exit_code == 2 and "no frame was acknowledged" in res.output


def test_simulate_write_then_replay_over_tcp_then_ingest_and_warn(tmp_path):
    day = tmp_path / "day.txt.xz"
    res = invoke("hj212", "simulate", "--write", str(day), "--minute-monitors", "0", "--no-faults")
    assert res.exit_code == 0 and "517 frames of 22 loggers" in res.output, res.output
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    store = tmp_path / "store"
    cmd = [sys.executable, "-m", "qingyuan", "hj212", "serve", "--store", str(store)]
    proc = subprocess.Popen(
        [*cmd, "--port", str(port)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except ConnectionRefusedError:
                time.sleep(0.1)
        res = invoke("hj212", "simulate", "--replay", str(day), "--port", str(port))
        assert res.exit_code == 0, res.output
        assert "acknowledged 517" in res.output and "given up 0" in res.output
    finally:
        proc.terminate()
        proc.wait(10)
    lines = [x for p in (store / "hj212" / "raw").glob("*.log") for x in p.read_text().splitlines()]
    assert len(lines) == 517
    res = invoke("ingest", "--network", "beijing_sources", "--store", str(store))
    assert res.exit_code == 0, res.output
    assert "517" in res.output
    out = tmp_path / "out"
    res = invoke(
        "warn",
        "--city",
        "beijing_sources",
        "--outputs",
        str(out),
        "--store",
        str(store),
        "--as-of",
        "2017-02-11T16:00",
    )
    assert res.exit_code == 0, res.output
    assert (out / "warnings" / "beijing_sources" / "bulletin.html").is_file()
    feed = (out / "warnings" / "beijing_sources" / "feed.json").read_text()
    assert "E02" in feed and "exceedance" in feed
