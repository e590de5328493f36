"""The HJ 212 receiver under hostile connections (127.0.0.1, port 0, a temporary root): garbage,
oversize, bad CRC, unknown MN, half packets, random damaged streams. A valid monitor on another
connection keeps being answered; every refused byte run is in the quarantine with a reason;
nothing crashes. Receiver defects found this way were fixed (line breaks in a frame, the refusal cap within one read); one is pinned as a strict xfail (a GBK frame is stored with replacement characters)."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import random
import re
import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings

from benchmarks.fuzz_hj212 import frame_of, streams
from features.hj212 import Framer, build_packet, crc_modbus, parse_packet
from pipelines.config.hj212 import Hj212Spec, hj212_config
from pipelines.hj212 import Receiver
from pipelines.hj212.client import run_monitors
from pipelines.hj212.receiver import frame_bytes, unescape_frame

NOW = dt.datetime(2024, 1, 1, 4, 0, tzinfo=dt.UTC)  # 12:00 in Beijing
_WS = re.compile(rb"[\r\n\x00 ]")


def spec(**receiver) -> Hj212Spec:
    base = hj212_config().model_dump()
    base["receiver"].update(
        {
            "monitors": [
                {"mn": "MN0001", "password": "123456"},
                {"mn": "MN0002", "password": "abcdef"},
            ],
            **receiver,
        }
    )
    return Hj212Spec.model_validate(base)


def upload(k: int, *, mn="MN0001", pw="123456", when=None, cp=None, st="32", cn="2051") -> bytes:
    t = dt.datetime(2024, 1, 1, 6, 0) + dt.timedelta(minutes=k)  # Beijing time, before NOW
    when = when or f"{t:%Y%m%d%H%M%S}"
    cp = cp or f"DataTime={when};w01018-Avg={k}.5,w01018-Flag=N"
    header = {"QN": f"{t:%Y%m%d%H%M%S}{k % 1000:03d}", "ST": st, "CN": cn, "PW": pw, "MN": mn}
    return build_packet({**header, "Flag": 5}, cp)


class Recording(Receiver):
    """The receiver, recording in order what each peer's bytes became (accepted or refused)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.trail: list[tuple[str, str, bytes]] = []  # (peer, "raw" | reason, bytes)

    async def _append_raw(self, peer, mn, cn, qn, raw):
        await super()._append_raw(peer, mn, cn, qn, raw)
        self.trail.append((peer, "raw", raw))

    async def _quarantine(self, reason, peer, raw):
        await super()._quarantine(reason, peer, raw)
        self.trail.append((peer, reason, raw))


def quarantined(root: Path) -> list[dict]:
    return [
        json.loads(line)
        for p in sorted((root / "quarantine").glob("*.jsonl"))
        for line in p.read_text(encoding="utf-8").split("\n")
        if line
    ]


def raw_lines(root: Path) -> list[str]:
    return [
        line for p in sorted((root / "raw").glob("*.log")) for line in p.read_text().splitlines()
    ]


async def hostile(host, port, chunks, *, pause=0.0, half_close=True) -> str:
    """Send ``chunks`` on a connection of its own; return its peer name as the server sees it."""
    r, w = await asyncio.open_connection(host, port)
    h, p = w.get_extra_info("sockname")[:2]
    try:
        for c in chunks:
            w.write(c)
            await w.drain()
            if pause:
                await asyncio.sleep(pause)
        if half_close:
            w.write_eof()
        while await asyncio.wait_for(r.read(65536), 10):  # until the server is done with us
            pass
    except (ConnectionError, TimeoutError):
        pass
    finally:
        w.close()
    return f"{h}:{p}"


def test_hostile_connections_leave_a_valid_monitor_served(tmp_path):
    rng = random.Random(212)
    garbage = bytes(rng.randrange(256) for _ in range(20000))
    good = upload(0)
    modbus = frame_of(good[6:-6], crc=b"%04X" % crc_modbus(good[6:-6]))
    bad_items = [
        good[:-6] + b"0000\r\n",  # bad CRC
        modbus,  # a Modbus CRC, not allowed for MN0001
        upload(1, mn="NOBODY"),
        upload(2, mn="MN0002"),  # MN0002's packet with MN0001's password
        upload(3, pw="wrong!"),
        upload(4, when="20240101130000"),  # an hour ahead of the receiver's clock
        upload(5, when="2024010110"),  # unreadable DataTime
        frame_of(good[6:-6].replace(b"MN0001", b"MN\xff\xfe\xfa")),  # neither UTF-8 nor GBK
        frame_of(good[6:-6].replace(b"CP=&&", b"CP=")),  # missing &&
        frame_of(good[6:-6].replace(b"40.5", b"4O.5").replace(b"0.5,", b"x,")),  # not a number
        frame_of(good[6:-6], length=7),  # wrong length
        b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
        b"##9999" + b"x" * 10100,  # oversize: no frame end within 9999 bytes
        good[:40],  # and half a packet at the end
    ]
    errors: list[dict] = []

    async def main():
        asyncio.get_running_loop().set_exception_handler(lambda loop, ctx: errors.append(ctx))
        rx = Recording(spec(), tmp_path, now=lambda: NOW)
        host, port = await rx.start(port=0)
        valid = asyncio.create_task(
            run_monitors(
                host,
                port,
                {"MN0001": [upload(k) for k in range(100, 140)]},
                interval_s=0.01,
                ack_timeout_s=2,
                retries=0,
            )
        )
        peers = await asyncio.gather(
            hostile(host, port, [garbage[i : i + 997] for i in range(0, len(garbage), 997)]),
            hostile(host, port, bad_items, pause=0.01),
            hostile(host, port, [good[:30]], pause=0.3),  # slow, then gone
            hostile(host, port, [], half_close=False),  # connects and leaves
            hostile(host, port, [b"##xx" * 50]),  # only refusals: closed
        )
        stats = await valid
        await asyncio.sleep(0.1)
        await rx.stop()
        return rx, stats, peers

    rx, stats, peers = asyncio.run(main())
    assert errors == []  # nothing crashed in the server
    assert (stats.acknowledged, stats.given_up, stats.resent) == (40, 0, 0)
    assert stats.percentile(99) < 1.0
    assert rx.stats.accepted == 40 and len(raw_lines(tmp_path)) == 40
    assert all("\tMN0001\t" in line for line in raw_lines(tmp_path))
    q = quarantined(tmp_path)
    assert all(x["reason"].strip() for x in q) and len(q) == rx.stats.quarantined
    reasons = " | ".join(x["reason"] for x in q)
    for expect in (
        "bad CRC",
        "modbus CRC not accepted",
        "unknown MN 'NOBODY'",
        "wrong password",
        "in the future",
        "unparsable DataTime",
        "neither UTF-8 nor GBK",
        "not enclosed in '&&'",
        "not a number",
        "declared data length 7",
        "outside a frame",
        "no frame end",
        "incomplete frame at the end of the connection",
        "too many refusals in a row",
    ):
        assert expect in reasons, expect
    # every byte of the hostile connections is in the quarantine, in order, with a reason
    for peer, sent in (
        (peers[0], garbage),
        (peers[1], b"".join(bad_items)),
        (peers[2], good[:30]),
    ):
        back = b"".join(x["bytes"].encode("latin-1") for x in q if x["peer"] == peer)
        assert _WS.sub(b"", back) == _WS.sub(b"", sent), peer


def _fresh_root() -> Path:
    return Path(tempfile.mkdtemp(prefix="hj212-fuzz-rx-"))


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck), database=None)
@given(streams())
def test_random_damaged_streams_are_stored_or_quarantined_byte_for_byte(case):
    chunks, max_length = case
    root = _fresh_root()
    errors: list[dict] = []

    async def main():
        asyncio.get_running_loop().set_exception_handler(lambda loop, ctx: errors.append(ctx))
        rx = Recording(
            spec(max_packet_bytes=max(200, max_length), max_refusals_in_a_row=10**6),
            root,
            now=lambda: NOW,
        )
        host, port = await rx.start(port=0)
        valid = asyncio.create_task(
            run_monitors(
                host, port, {"MN0001": [upload(300), upload(301)]}, ack_timeout_s=3, retries=1
            )
        )
        peer = await hostile(host, port, [c for c in chunks if c])
        stats = await valid
        await rx.stop()
        return rx, stats, peer

    try:
        rx, stats, peer = asyncio.run(main())
        assert errors == []
        assert stats.acknowledged == 2
        mine = [(kind, raw) for p, kind, raw in rx.trail if p == peer]
        fed = b"".join(chunks)
        assert _WS.sub(b"", b"".join(raw for _, raw in mine)) == _WS.sub(b"", fed)
        assert all(kind.strip() for kind, _ in mine)
        q = [x for x in quarantined(root) if x["peer"] == peer]
        assert [x["bytes"].encode("latin-1") for x in q] == [r for k, r in mine if k != "raw"]
        assert [x["reason"] for x in q] == [k for k, _ in mine if k != "raw"]
        stored = [line for line in raw_lines(root) if f"\t{peer}\t" in line]
        assert len(stored) == sum(k == "raw" for k, _ in mine)  # one line per stored frame
    finally:
        shutil.rmtree(root, ignore_errors=True)


# ------------------------------------------------------------------ defects found (reported)


@pytest.mark.parametrize(
    "brk",
    [
        "\n",
        "\r\n",
        "\u2028",
        "\x1c",
        "\x85",
        "\x0b",
        "\u2029",
    ],
)
def test_an_accepted_frame_is_one_raw_log_line(tmp_path, brk):
    forged = build_packet(
        {"QN": "20240101100000001", "ST": "31", "CN": "2061", "PW": "x", "MN": "MN0002", "Flag": 4},
        "DataTime=20240101100000;a21026-Avg=999.0,a21026-Flag=N",
    ).rstrip(b"\r\n")
    line = "2024-01-01T04:00:00+00:00\t1.2.3.4:5\tMN0002\t2061\t20240101100000001\t"
    carrier = upload(
        7,
        cn="3020",
        cp=f"DataTime=20240101100700;i11001-Info=//x{brk}{line}{forged.decode()}{brk}//",
    )

    async def main():
        rx = Receiver(spec(), tmp_path, now=lambda: NOW)
        host, port = await rx.start(port=0)
        stats = await run_monitors(host, port, {"MN0001": [carrier]}, ack_timeout_s=2)
        await rx.stop()
        return stats

    assert asyncio.run(main()).acknowledged == 1
    lines = raw_lines(tmp_path)
    assert all(x.split("\t")[2] == "MN0001" for x in lines if len(x.split("\t")) >= 6)
    assert len(lines) == 1


def test_an_acknowledged_gbk_packet_is_stored_intact(tmp_path):
    seg = upload(8, cn="3020", cp="DataTime=20240101100800;i11001-Info=//设备维护//")[6:-6]
    gbk = frame_of(seg.decode().encode("gbk"))

    async def main():
        rx = Receiver(spec(), tmp_path, now=lambda: NOW)
        host, port = await rx.start(port=0)
        stats = await run_monitors(host, port, {"MN0001": [gbk]}, ack_timeout_s=2)
        await rx.stop()
        return stats

    assert asyncio.run(main()).acknowledged == 1
    (line,) = raw_lines(tmp_path)
    stored = frame_bytes(unescape_frame("\t".join(line.split("\t")[5:])))
    assert stored == gbk.rstrip(b"\r\n")  # byte for byte what was acknowledged
    (frame,) = Framer().feed(stored + b"\r\n")
    assert parse_packet(frame.data).logs == {"i11001-Info": "设备维护"}


def test_the_refusal_cap_bounds_what_one_read_can_quarantine(tmp_path):
    async def main():
        rx = Receiver(spec(max_refusals_in_a_row=20), tmp_path, now=lambda: NOW)
        host, port = await rx.start(port=0)
        await hostile(host, port, [b"##xx" * 500])
        await rx.stop()
        return rx

    rx = asyncio.run(main())
    assert rx.stats.quarantined <= 21 + 1
