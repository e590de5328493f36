"""The simulated HJ 212 monitors against a real receiver on 127.0.0.1: every frame answered,
a receiver that dies between storing and answering (frames re-sent, none lost), a server that
never answers (retries, then given up), a receiver that is not there (bounded re-dialling)."""

from __future__ import annotations

import asyncio
import datetime as dt
import time

import pytest

from features.hj212 import build_packet
from pipelines.config.hj212 import Hj212Spec, hj212_config
from pipelines.hj212 import Receiver
from pipelines.hj212.client import ClientStats, frame_info, run_monitors, run_monitors_sync

NOW = dt.datetime(2024, 1, 1, 4, 0, tzinfo=dt.UTC)  # 12:00 in Beijing
MNS = ["MN0001", "MN0002", "MN0003"]


def spec() -> Hj212Spec:
    base = hj212_config().model_dump()
    base["receiver"]["monitors"] = [{"mn": mn, "password": "123456"} for mn in MNS]
    return Hj212Spec.model_validate(base)


def minute(mn: str, k: int, *, flag: int = 5) -> bytes:
    t = dt.datetime(2024, 1, 1, 10, 0) + dt.timedelta(minutes=k)  # Beijing time, before NOW
    return build_packet(
        {
            "QN": t.strftime("%Y%m%d%H%M%S") + f"{k % 1000:03d}",
            "ST": "32",
            "CN": "2051",
            "PW": "123456",
            "MN": mn,
            "Flag": flag,
        },
        f"DataTime={t:%Y%m%d%H%M%S};w01018-Avg={40 + k / 10:.1f},w01018-Flag=N",
    )


def raw_lines(root) -> list[list[str]]:
    return [
        line.split("\t")
        for p in sorted((root / "raw").glob("*.log"))
        for line in p.read_text().splitlines()
    ]


def test_frame_info_reads_the_header():
    assert frame_info(minute("M", 1)) == ("20240101100100001", "2051", True)
    assert frame_info(minute("M", 1, flag=4))[2] is False
    assert frame_info(build_packet({"ST": "32", "CN": "2011", "PW": "1", "MN": "M"})) == (
        "",
        "2011",
        False,
    )


def test_every_frame_is_answered_and_stored(tmp_path):
    queues = {mn: [minute(mn, k) for k in range(6)] + [minute(mn, 99, flag=4)] for mn in MNS}

    async def main():
        rx = Receiver(spec(), tmp_path, now=lambda: NOW)
        host, port = await rx.start(port=0)
        one = await run_monitors(host, port, queues, ack_timeout_s=2)
        pipelined = await run_monitors(host, port, queues, window=4, stagger_s=0.1)
        await rx.stop()
        return one, pipelined

    one, pipelined = asyncio.run(main())
    for s in (one, pipelined):
        assert (s.monitors, s.frames, s.acknowledged, s.no_answer_wanted) == (3, 21, 18, 3)
        assert s.given_up == s.unsent == s.resent == s.connection_errors == 0
        assert s.connections == 3 and s.reconnects == 0 and s.unexpected == 0
        assert len(s.latencies_s) == 18 and 0 < s.percentile(50) <= s.percentile(99) < 2
        assert sorted(s.acked) == sorted(
            (mn, frame_info(f)[0]) for mn in MNS for f in queues[mn][:6]
        )
    lines = raw_lines(tmp_path)
    assert len(lines) == 2 * 21  # the second run sent the same frames again: stored twice
    assert {(x[2], x[4]) for x in lines} == {
        (mn, frame_info(f)[0]) for mn in MNS for f in queues[mn]
    }


def test_a_frame_sent_just_before_stop_is_stored(tmp_path):
    """A monitor writes a packet that wants no answer and hangs up; the receiver is told to
    stop at once. The bytes are already in the socket: they must be stored, not cancelled."""
    frames = [minute(mn, 7, flag=4) for mn in MNS]

    async def main():
        rx = Receiver(spec(), tmp_path, now=lambda: NOW)
        host, port = await rx.start(port=0)
        for frame in frames:
            _, writer = await asyncio.open_connection(host, port)
            writer.write(frame)
            await writer.drain()
            writer.close()
            await writer.wait_closed()
        await rx.stop()
        return rx.stats

    stats = asyncio.run(main())
    assert stats.accepted == 3
    assert sorted(x[2] for x in raw_lines(tmp_path)) == MNS


class _DiesAfter(Receiver):
    """A receiver that dies right after storing its n-th packet, before answering it."""

    def __init__(self, *args, after: int, **kwargs):
        super().__init__(*args, **kwargs)
        self.after, self.writers, self.dead = after, set(), asyncio.Event()

    async def _serve(self, reader, writer):
        self.writers.add(writer)
        await super()._serve(reader, writer)

    async def _append_raw(self, *args):
        await super()._append_raw(*args)
        if self.stats.accepted + 1 >= self.after and not self.dead.is_set():
            self.dead.set()
            self.server.close()
            for w in self.writers:
                w.transport.abort()  # as kill -9: connections reset, no answer goes out


def test_frames_unanswered_when_the_receiver_dies_are_sent_again(tmp_path):
    queues = {mn: [minute(mn, k) for k in range(8)] for mn in MNS}

    async def main():
        rx = _DiesAfter(spec(), tmp_path, now=lambda: NOW, after=7)
        host, port = await rx.start(port=0)
        client = asyncio.create_task(
            run_monitors(host, port, queues, ack_timeout_s=2, backoff_s=0.05, backoff_max_s=0.2)
        )
        await asyncio.wait_for(rx.dead.wait(), 10)
        await asyncio.sleep(0.3)  # down for a while: dials are refused
        again = Receiver(spec(), tmp_path, now=lambda: NOW)
        await again.start(host, port)  # same port, same root
        stats = await asyncio.wait_for(client, 30)
        await again.stop()
        return stats, rx, again

    s, rx, again = asyncio.run(main())
    assert s.acknowledged == 24 and s.given_up == s.unsent == 0
    assert s.reconnects >= 1 and s.connection_errors >= 3 and s.resent >= 1
    lines = raw_lines(tmp_path)
    stored = [(x[2], x[4]) for x in lines]
    assert set(stored) == {(mn, frame_info(f)[0]) for mn in MNS for f in queues[mn]}  # none lost
    # the packet stored but never answered came again: a duplicate the store merges by key
    assert len(stored) == rx.stats.accepted + again.stats.accepted >= 24
    assert len(stored) - len(set(stored)) >= 1


def test_a_server_that_never_answers_makes_the_monitor_retry_then_give_up():
    received: list[bytes] = []

    async def silent(reader, writer):
        while chunk := await reader.read(65536):
            received.append(chunk)
        writer.close()

    async def main():
        server = await asyncio.start_server(silent, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        frames = [minute("MN0001", 0), minute("MN0001", 1), minute("MN0001", 2, flag=4)]
        t0 = time.perf_counter()
        stats = await run_monitors(
            "127.0.0.1", port, {"MN0001": frames}, ack_timeout_s=0.2, retries=2
        )
        server.close()
        return stats, time.perf_counter() - t0, frames

    s, took, frames = asyncio.run(main())
    assert (s.acknowledged, s.given_up, s.no_answer_wanted, s.unsent) == (0, 2, 1, 0)
    assert s.sent == 2 * 3 + 1 and s.resent == 4  # each: 1 send + 2 retries
    assert sorted(s.abandoned) == [("MN0001", frame_info(f)[0]) for f in frames[:2]]
    assert 2 * 3 * 0.2 <= took < 5
    assert b"".join(received) == frames[0] * 3 + frames[1] * 3 + frames[2]
    assert s.frames == s.acknowledged + s.given_up + s.cut_off + s.no_answer_wanted + s.unsent


def test_a_server_that_hangs_up_on_every_frame_makes_the_monitor_give_up():
    async def rude(reader, writer):
        await reader.read(65536)
        writer.close()

    async def main():
        server = await asyncio.start_server(rude, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        frames = [minute("MN0001", 0), minute("MN0001", 1)]
        stats = await run_monitors(
            "127.0.0.1", port, {"MN0001": frames}, max_reconnects=2, backoff_s=0.01
        )
        server.close()
        return stats

    s = asyncio.run(main())
    # the first frame goes out on every connection (1 + 2 re-dials), is never answered
    assert (s.given_up, s.cut_off, s.unsent, s.acknowledged) == (1, 0, 1, 0)
    assert s.connections == 3 and s.reconnects == 2 and s.resent == 2


def test_no_receiver_bounded_redialling_and_nothing_sent():
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # nothing listens here once closed
    s = run_monitors_sync(
        "127.0.0.1",
        port,
        {"A": [minute("A", 0)], "B": [minute("B", 0), minute("B", 1)]},
        max_reconnects=2,
        backoff_s=0.01,
    )
    assert s.connection_errors == 2 * 3 and s.connections == 0
    assert (s.unsent, s.sent, s.given_up) == (3, 0, 0)
    once = run_monitors_sync("127.0.0.1", port, {"A": [minute("A", 0)]}, reconnect=False)
    assert once.connection_errors == 1 and once.unsent == 1


def test_pacing_deadline_and_stats_round_trip(tmp_path):
    queues = {"MN0001": [minute("MN0001", k) for k in range(20)]}

    async def main():
        rx = Receiver(spec(), tmp_path, now=lambda: NOW)
        host, port = await rx.start(port=0)
        t0 = time.perf_counter()
        paced = await run_monitors(host, port, {"MN0001": queues["MN0001"][:4]}, interval_s=0.15)
        took = time.perf_counter() - t0
        cut = await run_monitors(host, port, queues, interval_s=0.1, stop_after_s=0.45)
        await rx.stop()
        return paced, took, cut

    paced, took, cut = asyncio.run(main())
    assert paced.acknowledged == 4 and 0.45 <= took < 2
    assert 3 <= cut.acknowledged <= 6 and cut.given_up == 0
    assert cut.unsent == 20 - cut.acknowledged - cut.cut_off
    both = paced.merge(cut)
    assert both.acknowledged == paced.acknowledged + cut.acknowledged
    assert both.monitors == 2 and len(both.latencies_s) == both.acknowledged
    assert ClientStats.from_dict(both.to_dict()) == both
    with pytest.raises(ValueError):
        run_monitors_sync("127.0.0.1", 1, {}, window=0)
