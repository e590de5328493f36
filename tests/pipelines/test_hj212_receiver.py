"""The HJ 212 receiver over real TCP on 127.0.0.1: acks after the durable write, quarantine with
reasons, split and joined packets, idle and abusive connections, other connections unaffected."""

from __future__ import annotations

import asyncio
import datetime as dt
import json

import pytest

from features.hj212 import Framer, build_packet, crc_modbus, parse_packet
from pipelines.config.hj212 import Hj212Spec, hj212_config
from pipelines.hj212 import Receiver

NOW = dt.datetime(2024, 1, 1, 4, 0, tzinfo=dt.UTC)  # 12:00 in Beijing


def spec(**receiver) -> Hj212Spec:
    base = hj212_config().model_dump()
    base["receiver"].update(
        {
            "monitors": [
                {"mn": "MN0001", "password": "123456"},
                {"mn": "MN0002", "password": "abcdef", "accept_crc": ["hj212", "modbus"]},
            ],
            **receiver,
        }
    )
    return Hj212Spec.model_validate(base)


def upload(
    mn="MN0001", pw="123456", qn="20240101115900001", flag=5, when="20240101115900", cp=None
):
    cp = cp or f"DataTime={when};w01018-Avg=40.1,w01018-Flag=N;w21003-Avg=1.2,w21003-Flag=N"
    return build_packet({"QN": qn, "ST": "32", "CN": "2051", "PW": pw, "MN": mn, "Flag": flag}, cp)


async def session(rx: Receiver, host, port, chunks, *, read_for=0.3):
    r, w = await asyncio.open_connection(host, port)
    for c in chunks:
        try:
            w.write(c)
            await w.drain()
        except ConnectionError:  # the server hung up (as it should on abuse)
            break
        await asyncio.sleep(0.01)
    got = b""
    try:
        while True:
            got += await asyncio.wait_for(r.read(65536), read_for)
            if r.at_eof():
                break
    except (TimeoutError, ConnectionError):
        pass
    w.close()
    return got


def run(coro):
    return asyncio.run(coro)


def test_acks_follow_the_durable_write_and_refusals_are_quarantined(tmp_path):
    async def main():
        rx = Receiver(spec(), tmp_path, now=lambda: NOW)
        host, port = await rx.start(port=0)
        good = upload()
        modbus_data = good[6:-6]
        m = crc_modbus(modbus_data)
        stream = [
            good[:17],
            good[17:] + upload(qn="20240101115900002"),  # split, then two in one read
            upload(mn="NOBODY"),
            upload(pw="wrong!"),
            upload(when="20240101130000"),  # an hour ahead of the clock
            good[:-6] + b"0000\r\n",  # bad CRC
            b"##%04d" % len(modbus_data)
            + modbus_data
            + b"%04X\r\n" % m,  # Modbus CRC, MN0001: refused
            upload(flag=4, qn="20240101115900003"),  # no answer wanted
            b"\x00\xffgarbage",
        ]
        acks = await session(rx, host, port, stream)
        # MN0002 may send the Modbus CRC (configured), and is answered
        d2 = upload(mn="MN0002", pw="abcdef")[6:-6]
        acks2 = await session(
            rx, host, port, [b"##%04d" % len(d2) + d2 + b"%04X\r\n" % crc_modbus(d2)]
        )
        await rx.stop()
        return rx, acks, acks2

    rx, acks, acks2 = run(main())
    frames = Framer().feed(acks)
    answered = [parse_packet(f.data) for f in frames]
    assert [(a.cn, a.qn, a.st, a.flag) for a in answered] == [
        ("9014", "20240101115900001", "91", 4),
        ("9014", "20240101115900002", "91", 4),
    ]
    assert parse_packet(Framer().feed(acks2)[0].data).mn == "MN0002"
    raw = (tmp_path / "raw" / "20240101.log").read_text().splitlines()
    assert len(raw) == 4 and [line.split("\t")[2] for line in raw] == [
        "MN0001",
        "MN0001",
        "MN0001",
        "MN0002",
    ]
    q = [
        json.loads(x) for x in (tmp_path / "quarantine" / "20240101.jsonl").read_text().splitlines()
    ]
    reasons = [x["reason"] for x in q]
    assert any("unknown MN 'NOBODY'" in r for r in reasons)
    assert "wrong password" in reasons
    assert any("in the future" in r for r in reasons)
    assert any(r.startswith("bad CRC") for r in reasons)
    assert any("modbus CRC not accepted" in r for r in reasons)
    assert any("outside a frame" in r for r in reasons)
    assert rx.stats.accepted + rx.stats.quarantined == 4 + len(q)
    assert rx.stats.acknowledged == 3 and rx.stats.accepted == 4
    # quarantined bytes are kept exactly
    assert any(x["bytes"].encode("latin-1") == b"\x00\xffgarbage" for x in q)


def test_idle_and_abusive_connections_are_closed_and_others_keep_being_served(tmp_path):
    async def main():
        rx = Receiver(spec(idle_timeout_s=0.3, max_refusals_in_a_row=3), tmp_path, now=lambda: NOW)
        host, port = await rx.start(port=0)
        r, w = await asyncio.open_connection(host, port)
        closed = await asyncio.wait_for(r.read(10), 3)  # idle: the server hangs up
        abusive = [upload(pw="x" * 6) for _ in range(5)]
        a_task = asyncio.create_task(session(rx, host, port, abusive, read_for=1.0))
        g_task = asyncio.create_task(session(rx, host, port, [upload()]))
        got_a, got_g = await asyncio.gather(a_task, g_task)
        w.close()
        await rx.stop()
        return rx, closed, got_a, got_g

    rx, closed, got_a, got_g = run(main())
    assert closed == b""
    assert got_a == b"" and parse_packet(Framer().feed(got_g)[0].data).cn == "9014"
    q = (tmp_path / "quarantine" / "20240101.jsonl").read_text()
    assert "too many refusals in a row" in q


def test_monitor_list_is_validated():
    base = hj212_config().model_dump()
    base["receiver"]["monitors"] = [{"mn": "A", "password": "1"}, {"mn": "A", "password": "2"}]
    with pytest.raises(ValueError, match="listed twice"):
        Hj212Spec.model_validate(base)
    base["receiver"]["monitors"] = [{"mn": "A", "password": "1", "accept_crc": ["crc32"]}]
    with pytest.raises(ValueError):
        Hj212Spec.model_validate(base)


def test_cli_serves_until_stopped(tmp_path):
    import socket
    import subprocess
    import sys
    import time

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "qingyuan",
            "hj212",
            "serve",
            "--store",
            str(tmp_path),
            "--port",
            str(port),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        for _ in range(100):
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1) as c:
                    c.sendall(upload(mn="NOT-CONFIGURED"))
                    c.settimeout(0.5)
                    try:
                        assert c.recv(100) == b""  # no answer for an unknown monitor
                    except TimeoutError:
                        pass
                break
            except ConnectionRefusedError:
                time.sleep(0.1)
        q = tmp_path / "hj212" / "quarantine"
        for _ in range(50):
            if any(q.glob("*.jsonl")):
                break
            time.sleep(0.1)
        text = "".join(p.read_text() for p in q.glob("*.jsonl"))
        assert "unknown MN 'NOT-CONFIGURED'" in text
    finally:
        proc.terminate()
        out = proc.communicate(timeout=10)[0]
    assert f"HJ 212 receiver on 127.0.0.1:{port}" in out
