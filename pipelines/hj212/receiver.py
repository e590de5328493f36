"""The HJ 212 receiver: an asyncio TCP server that field data loggers dial into.

Per connection a :class:`features.hj212.Framer` cuts frames from the byte stream; each frame is
parsed, its monitor (MN) and password checked against ``configs/hj212.yml: receiver.monitors``,
its CRC checked (the standard's, or a Modbus variant only where the monitor's entry allows it),
its ``DataTime`` checked against the clock. An accepted packet is appended to the raw log and
the log is fsync'd **before** the 9014 / 9013 answer goes back, so an acknowledged packet is
never lost; a refused one goes to the quarantine with its reason. Idle connections and
connections that send mostly garbage are closed.

Files under ``<root>/``: ``raw/<YYYYMMDD>.log`` (one line per packet: received-at UTC, peer,
MN, CN, QN, the frame as text) and ``quarantine/<YYYYMMDD>.jsonl`` (reason, peer, bytes).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from features.hj212 import Frame, Framer, PacketError, Refusal, parse_packet, reply_for
from features.hj212.records import YEARS
from pipelines.config.hj212 import Hj212Spec

__all__ = ["Receiver", "ReceiverStats"]


@dataclass
class ReceiverStats:
    """Counts since start (packets in = accepted + quarantined)."""

    connections: int = 0
    accepted: int = 0
    quarantined: int = 0
    acknowledged: int = 0
    reasons: dict[str, int] = field(default_factory=dict)


class Receiver:
    """The server (``await Receiver(...).start()``; ``serve_forever`` in the CLI).

    Parameters
    ----------
    spec : pipelines.config.hj212.Hj212Spec
        Protocol tables and ``receiver`` settings.
    root : pathlib.Path
        Where the raw log and the quarantine are written.
    now : callable, optional
        The clock (UTC, aware) for the future-timestamp check; default the wall clock.
    """

    def __init__(self, spec: Hj212Spec, root: Path, *, now=None):  # noqa: ANN001
        self.spec, self.cfg = spec, spec.receiver
        self.root = Path(root)
        (self.root / "raw").mkdir(parents=True, exist_ok=True)
        (self.root / "quarantine").mkdir(parents=True, exist_ok=True)
        self.now = now or (lambda: dt.datetime.now(dt.UTC))
        self.stats = ReceiverStats()
        self.monitors = spec.all_monitors()
        self._lock = asyncio.Lock()
        self._handlers: set[asyncio.Task] = set()
        self.server: asyncio.base_events.Server | None = None

    # ------------------------------------------------------------------ lifecycle
    async def start(self, host: str | None = None, port: int | None = None) -> tuple[str, int]:
        """Start listening; return the bound (host, port) (port 0 picks a free one)."""
        self.server = await asyncio.start_server(
            self._serve, host or self.cfg.host, self.cfg.port if port is None else port
        )
        return self.server.sockets[0].getsockname()[:2]

    async def stop(self, *, grace_s: float = 1.0) -> None:
        """Stop accepting, let the open connections drain, then end them.

        Parameters
        ----------
        grace_s
            How long [s] connections may go on being read before they are cancelled.
            Bytes a monitor sent just before closing are still in the socket when the
            receiver is told to stop; without this drain a packet that asks for no
            answer (Flag without the A bit) would be lost and never re-sent.
        """
        if self.server is not None:
            self.server.close()
        if self._handlers and grace_s > 0:
            await asyncio.wait(list(self._handlers), timeout=grace_s)
        for task in list(self._handlers):
            task.cancel()
        if self._handlers:
            await asyncio.gather(*self._handlers, return_exceptions=True)
        if self.server is not None:
            await self.server.wait_closed()

    # ------------------------------------------------------------------ one connection
    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._handlers.add(task)
            task.add_done_callback(self._handlers.discard)
        host, port = writer.get_extra_info("peername")[:2]
        peer = f"{host}:{port}"
        self.stats.connections += 1
        framer = Framer(max_length=self.cfg.max_packet_bytes)
        refused = 0
        try:
            while True:
                try:
                    chunk = await asyncio.wait_for(reader.read(65536), self.cfg.idle_timeout_s)
                except (TimeoutError, ConnectionError):
                    break
                if not chunk:
                    break
                for item in framer.feed(chunk):
                    ok = await self._handle(item, peer, writer)
                    refused = 0 if ok else refused + 1
                    if refused >= self.cfg.max_refusals_in_a_row:
                        break  # one read cannot quarantine more than the cap allows
                if refused >= self.cfg.max_refusals_in_a_row:
                    await self._quarantine(
                        "connection closed: too many refusals in a row", peer, b""
                    )
                    break
            for item in framer.close():
                await self._quarantine(item.reason, peer, item.raw)
        finally:
            writer.close()
            try:
                await writer.wait_closed()
            except (ConnectionError, OSError, asyncio.CancelledError):
                pass

    async def _handle(self, item: Frame | Refusal, peer: str, writer: asyncio.StreamWriter) -> bool:
        if isinstance(item, Refusal):
            await self._quarantine(item.reason, peer, item.raw)
            return False
        try:
            st = item.data.split(b"ST=", 1)[1][:3].split(b";")[0].decode("ascii", "replace")
        except IndexError:
            st = ""
        try:
            packet = parse_packet(item.data, code_map=self.spec.code_map(st))
        except PacketError as exc:
            await self._quarantine(f"unparsable: {exc}", peer, item.raw)
            return False
        mon = self.monitors.get(packet.mn)
        if mon is None:
            await self._quarantine(f"unknown MN {packet.mn!r}", peer, item.raw)
            return False
        if item.crc is None or item.crc not in mon.accept_crc:
            what = "bad CRC" if item.crc is None else f"{item.crc} CRC not accepted for this MN"
            await self._quarantine(f"{what} ({item.crc_text})", peer, item.raw)
            return False
        if packet.pw != mon.password:
            await self._quarantine("wrong password", peer, item.raw)
            return False
        when = packet.cp.get("DataTime", "")
        if when:
            try:
                t = dt.datetime.strptime(when[:14], "%Y%m%d%H%M%S").replace(tzinfo=mon.zone())
            except ValueError:
                await self._quarantine(f"unparsable DataTime {when[:20]!r}", peer, item.raw)
                return False
            if not YEARS[0] <= t.year <= YEARS[1]:
                await self._quarantine(
                    f"DataTime {when[:14]} outside the years {YEARS}", peer, item.raw
                )
                return False
            if t - self.now() > dt.timedelta(seconds=self.cfg.max_clock_ahead_s):
                await self._quarantine(f"DataTime {when} is in the future", peer, item.raw)
                return False
        await self._append_raw(peer, packet.mn, packet.cn, packet.qn, item.raw)
        self.stats.accepted += 1
        reply = reply_for(packet)
        if reply is not None:
            try:
                writer.write(reply)
                await writer.drain()
                self.stats.acknowledged += 1
            except ConnectionError:  # stored; the monitor re-sends what it saw no answer to
                pass
        return True

    # ------------------------------------------------------------------ durable files
    def _day(self) -> str:
        return self.now().strftime("%Y%m%d")

    async def _append_raw(self, peer: str, mn: str, cn: str, qn: str, raw: bytes) -> None:
        line = "\t".join(
            [
                self.now().isoformat(),
                peer,
                mn,
                cn,
                qn,
                escape_frame(frame_text(raw.rstrip(b"\r\n"))),
            ]
        )
        async with self._lock:
            await asyncio.to_thread(_append_fsync, self.root / "raw" / f"{self._day()}.log", line)

    async def _quarantine(self, reason: str, peer: str, raw: bytes) -> None:
        rec = {
            "at": self.now().isoformat(),
            "peer": peer,
            "reason": reason,
            "bytes": raw.decode("latin-1"),
        }
        key = reason.split(":")[0].split(" (")[0]
        self.stats.quarantined += 1
        self.stats.reasons[key] = self.stats.reasons.get(key, 0) + 1
        async with self._lock:
            await asyncio.to_thread(
                _append_fsync,
                self.root / "quarantine" / f"{self._day()}.jsonl",
                json.dumps(rec, ensure_ascii=False),
            )


def frame_text(raw: bytes) -> str:
    r"""Decode a frame's bytes to text that gives the same bytes back (:func:`frame_bytes`).

    UTF-8 is decoded; any other byte (a GBK packet, which the standard allows and
    :func:`features.hj212.parse_packet` accepts) becomes a lone surrogate, which
    :func:`escape_frame` writes as ``\udcXX``: the raw log keeps exactly the bytes that were
    acknowledged, so their CRC and length still check when the log is read.
    """
    return raw.decode("utf-8", "surrogateescape")


def frame_bytes(text: str) -> bytes:
    """Encode text from :func:`frame_text` back to the frame's bytes."""
    return text.encode("utf-8", "surrogateescape")


def escape_frame(text: str) -> str:
    r"""Escape a frame into one field of one raw-log line.

    A backslash is doubled; every character that is not printable (tab, CR, LF, and the other
    line boundaries of :meth:`str.splitlines`: VT, FF, FS, GS, RS, NEL, U+2028, U+2029, ...)
    becomes ``\\uXXXX`` (``\\UXXXXXXXX`` above U+FFFF), so that no reader of the log, however
    it splits lines, sees a line break or a field separator inside a frame.
    """
    out = []
    for c in text:
        if c == "\\":
            out.append("\\\\")
        elif not c.isprintable():
            o = ord(c)
            out.append(f"\\u{o:04x}" if o <= 0xFFFF else f"\\U{o:08x}")
        else:
            out.append(c)
    return "".join(out)


def unescape_frame(text: str) -> str:
    r"""Undo :func:`escape_frame` (and read the ``\\t \\r \\n`` of earlier logs)."""
    out, i, n = [], 0, len(text)
    simple = {"\\": "\\", "t": "\t", "r": "\r", "n": "\n"}
    while i < n:
        c = text[i]
        if c == "\\" and i + 1 < n:
            nxt = text[i + 1]
            width = {"u": 4, "U": 8}.get(nxt)
            if width and i + 2 + width <= n:
                try:
                    out.append(chr(int(text[i + 2 : i + 2 + width], 16)))
                    i += 2 + width
                    continue
                except ValueError:
                    pass
            if nxt in simple:
                out.append(simple[nxt])
                i += 2
                continue
        out.append(c)
        i += 1
    return "".join(out)


def _append_fsync(path: Path, line: str) -> None:
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(line + "\n")
        fh.flush()
        os.fsync(fh.fileno())
