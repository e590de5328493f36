"""A killed qingyuan process leaves no temporary Prefect API server behind (issue #16).

Real processes throughout: ``qingyuan ingest`` runs its Prefect flow against the temporary API
server Prefect starts, and is SIGKILLed while the flow waits on a feed that never answers; the
server must go with it (``PR_SET_PDEATHSIG``). A server started where that guard cannot be set
(from another thread) is left orphaned by the kill and ended by the next ``qingyuan`` start
(:func:`pipelines.server_guard.sweep`). Every path is in ``tmp_path``: the run directory, the
Prefect home (its database), the store and the outputs.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
from qy_helpers import write_network

from pipelines import server_guard

BIN = Path(sys.executable).parent
STARTUP_S = 180.0


@pytest.fixture(scope="module")
def prefect_home(tmp_path_factory) -> Path:
    """One Prefect home (its database, migrated by the first server) for the module."""
    return tmp_path_factory.mktemp("prefect-home")


def _env(tmp_path: Path, prefect_home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    return env | {
        "QINGYUAN_RUN_DIR": str(tmp_path / "run"),
        "PREFECT_HOME": str(prefect_home),
        "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": str(int(STARTUP_S) - 10),
        "PREFECT_LOGGING_LEVEL": "WARNING",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "QINGYUAN_STORE": str(tmp_path / "store"),
        "QINGYUAN_OUTPUTS": str(tmp_path / "outputs"),
    }


def _records(tmp_path: Path) -> list[dict]:
    return [
        json.loads(p.read_text()) for p in (tmp_path / "run" / "prefect-servers").glob("*.json")
    ]


def _listening(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex(("127.0.0.1", port)) == 0


def _gone(pid: int, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if server_guard.process_start(pid) is None:
            return True
        time.sleep(0.1)
    return False


def _kill_group(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)


@pytest.fixture()
def silent_feed():
    """A TCP port that accepts HTTP requests and never answers; ``accepted`` is set on the first."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)
    accepted = threading.Event()
    conns: list[socket.socket] = []

    def serve() -> None:
        while True:
            try:
                c, _ = srv.accept()
            except OSError:
                return
            conns.append(c)
            accepted.set()

    threading.Thread(target=serve, daemon=True).start()
    yield f"http://127.0.0.1:{srv.getsockname()[1]}", accepted
    srv.close()
    for c in conns:
        c.close()


NETWORK = """
name: hangnet
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
    retries: 0
    timeout: 600
    fields: {{station: stationCode, time: timePoint}}
    columns:
      pm2_5: {{variable: pm25, units: ug m-3}}
stations:
  - {{id: Wanshouxigong, code: 1001A, lat: 39.8673, lon: 116.366}}
"""


def test_sigkilled_qingyuan_takes_its_prefect_server_along(tmp_path, prefect_home, silent_feed):
    url, accepted = silent_feed
    net = write_network(tmp_path, NETWORK.format(url=url), "hangnet")
    env = _env(tmp_path, prefect_home)
    log = (tmp_path / "ingest.log").open("wb")
    proc = subprocess.Popen(
        [
            str(BIN / "qingyuan"),
            "ingest",
            "--network",
            str(net),
            "--store",
            str(tmp_path / "store"),
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        # the flow is running (its read-source task waits on the feed): the server is up
        assert accepted.wait(STARTUP_S), (tmp_path / "ingest.log").read_text()[-3000:]
        [rec] = _records(tmp_path)
        assert rec["parent"] == proc.pid and rec["pdeathsig"] is True
        assert server_guard.is_prefect_server(rec["cmdline"]) and _listening(rec["port"])
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
        assert _gone(rec["pid"], 30), "the Prefect server outlived its SIGKILLed parent"
        assert not _listening(rec["port"])
    finally:
        _kill_group(proc)
        log.close()
    # the next start forgets the record of the server that is gone
    res = subprocess.run(
        [str(BIN / "qingyuan"), "networks"], env=env, capture_output=True, text=True, timeout=120
    )
    assert res.returncode == 0, res.stderr
    assert _records(tmp_path) == []


ORPHAN = textwrap.dedent(
    """
    import threading, time
    from pipelines import server_guard
    server_guard.install()
    from prefect.server.api.server import SubprocessASGIServer

    def start():  # from a thread: no parent-death signal, only the record
        SubprocessASGIServer().start(timeout=170)
        print("UP", flush=True)

    t = threading.Thread(target=start)
    t.start()
    t.join()
    time.sleep(600)
    """
)


def test_next_qingyuan_start_ends_an_orphaned_prefect_server(tmp_path, prefect_home):
    env = _env(tmp_path, prefect_home)
    proc = subprocess.Popen(
        [sys.executable, "-c", ORPHAN],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    rec = None
    try:
        assert proc.stdout.readline().strip() == b"UP"
        [rec] = _records(tmp_path)
        assert rec["parent"] == proc.pid and rec["pdeathsig"] is False
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
        time.sleep(1)
        assert server_guard.process_start(rec["pid"]) == rec["start"]  # orphaned, still there
        assert _listening(rec["port"])
        res = subprocess.run(
            [str(BIN / "qingyuan"), "networks"],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert res.returncode == 0, res.stderr
        assert _gone(rec["pid"], 5) and not _listening(rec["port"])
        assert _records(tmp_path) == []
    finally:
        _kill_group(proc)
        if rec and server_guard.process_start(rec["pid"]) == rec["start"]:
            os.kill(rec["pid"], signal.SIGKILL)


def test_sweep_never_signals_a_reused_pid_or_a_live_parent(tmp_path, monkeypatch):
    monkeypatch.setenv(server_guard.RUN_DIR_ENV, str(tmp_path / "run"))
    folder = tmp_path / "run" / "prefect-servers"
    folder.mkdir(parents=True)
    sleeper = subprocess.Popen(["sleep", "60"])
    try:
        start = server_guard.process_start(sleeper.pid)
        dead_parent = {"parent": 2**22 + 7, "parent_start": 1}
        server_cmd = [
            "python",
            "-m",
            "uvicorn",
            "--factory",
            "prefect.server.api.server:create_app",
        ]
        # a record whose pid now runs another program (pid reused): forgotten, not signalled
        (folder / "1.json").write_text(
            json.dumps({"pid": sleeper.pid, "start": start, "cmdline": server_cmd} | dead_parent)
        )
        # a server whose parent still runs (this process): left alone, record kept
        mine = {"parent": os.getpid(), "parent_start": server_guard.process_start(os.getpid())}
        (folder / "2.json").write_text(
            json.dumps({"pid": sleeper.pid, "start": start, "cmdline": ["sleep", "60"]} | mine)
        )
        assert server_guard.sweep(wait_s=0.5) == []
        assert sleeper.poll() is None
        assert sorted(p.name for p in folder.iterdir()) == ["2.json"]
    finally:
        sleeper.kill()
        sleeper.wait()
    assert server_guard.sweep() == [] and not list(folder.iterdir())  # its process is gone now
