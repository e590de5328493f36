r"""Simulated HJ 212 data loggers: N monitors sending their packets to a receiver over TCP.

Each monitor behaves as field data loggers do (HJ 212-2017 §6.1, T1; reference §3.7, §7):

- one TCP connection per monitor, dialled by the monitor;
- a packet whose Flag asks for an answer (the A bit) waits for the platform's 9014 (or 9013)
  answer carrying **the same QN**; with no answer within the timeout (S17 T1: 5 s on ADSL,
  10 s otherwise) it is sent again, up to ``retries`` times (T1: 3), then given up;
- a packet without the A bit is sent once and forgotten;
- a lost connection is dialled again after a back-off that doubles up to a bound, and every
  packet sent but not answered is sent again (so a receiver that stored a packet but died before
  answering sees it twice: the store merges on ``(MN, CN, DataTime, code)``);
- by default one packet at a time awaits its answer (``window=1``), as in the standard's
  back-fill flow (App. C.48: the platform answers each hour before the field sends the next).

Counts come back in :class:`ClientStats`. Every frame ends in exactly one of: acknowledged,
given up (sent at least once, never answered), sent without an answer wanted, never sent::

    frames == acknowledged + given_up + cut_off + no_answer_wanted + unsent

Use :func:`run_monitors` inside an event loop, :func:`run_monitors_sync` from plain code.
"""

from __future__ import annotations

import asyncio
import re
import resource
import time
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from features.hj212 import Frame, Framer

__all__ = ["ClientStats", "frame_info", "run_monitors", "run_monitors_sync"]

_FIELD = re.compile(rb"([A-Za-z]+)\s*=\s*([^;,]*)")
_ANSWERS = frozenset({"9013", "9014"})


def frame_info(frame: bytes) -> tuple[str, str, bool]:
    """Return ``(QN, CN, A bit)`` of a framed packet, read from its header only.

    Parameters
    ----------
    frame : bytes
        ``##LLLL`` + data segment + CRC + CRLF (as :func:`features.hj212.build_packet` makes).

    Returns
    -------
    tuple of (str, str, bool)
        QN (empty when absent), CN (empty when absent), and whether the Flag asks for an answer
        (False when the Flag is absent or not a number).

    Examples
    --------
    >>> from features.hj212 import build_packet
    >>> frame_info(build_packet({"QN": "1", "ST": "32", "CN": "2051", "PW": "p", "MN": "M", "Flag": 5}))
    ('1', '2051', True)
    """
    head = frame[6:].split(b"CP=", 1)[0]
    fields = {k: v.strip() for k, v in _FIELD.findall(head)}
    flag = fields.get(b"Flag", b"0")
    needs_ack = flag.isdigit() and bool(int(flag) & 1)
    return (
        fields.get(b"QN", b"").decode("ascii", "replace"),
        fields.get(b"CN", b"").decode("ascii", "replace"),
        needs_ack,
    )


@dataclass
class ClientStats:
    """What the simulated monitors did.

    Attributes
    ----------
    monitors : int
        Monitors simulated.
    frames : int
        Frames in their queues.
    sent : int
        Transmissions, first sends and re-sends.
    acknowledged : int
        Frames answered (9014 / 9013 with their QN).
    resent : int
        Re-sends (after an answer timed out, or of frames unanswered when a connection was lost).
    given_up : int
        Frames wanting an answer, sent at least once, given up by the monitor: retries
        exhausted, or connection attempts exhausted (``max_reconnects``) while unanswered.
    cut_off : int
        Frames sent and still awaiting their answer when ``stop_after_s`` ended the run (not
        given up: the run stopped waiting).
    no_answer_wanted : int
        Frames without the A bit, sent (fire and forget).
    unsent : int
        Frames never sent (the monitor stopped first).
    connections : int
        Connections established.
    reconnects : int
        Connections established after the monitor's first one.
    connection_errors : int
        Failed connection attempts plus connections lost before the monitor's queue was done.
    late_answers : int
        Answers to frames already given up or cut off.
    unexpected : int
        Frames from the platform that answer nothing outstanding (other commands, unknown QNs).
    latencies_s : list of float
        Per acknowledged frame, seconds from its first transmission to its answer (re-sends and
        reconnections included: the time the monitor waited).
    acked : list of tuple
        ``(MN, QN)`` of every acknowledged frame.
    abandoned : list of tuple
        ``(MN, QN)`` of every frame sent and never answered (given up or cut off).
    elapsed_s : float
        Wall-clock duration of the run.
    """

    monitors: int = 0
    frames: int = 0
    sent: int = 0
    acknowledged: int = 0
    resent: int = 0
    given_up: int = 0
    cut_off: int = 0
    no_answer_wanted: int = 0
    unsent: int = 0
    connections: int = 0
    reconnects: int = 0
    connection_errors: int = 0
    late_answers: int = 0
    unexpected: int = 0
    latencies_s: list[float] = field(default_factory=list)
    acked: list[tuple[str, str]] = field(default_factory=list)
    abandoned: list[tuple[str, str]] = field(default_factory=list)
    elapsed_s: float = 0.0

    def percentile(self, p: float) -> float | None:
        """Return the ``p``-th percentile (0–100, nearest rank) of the answer latency [s].

        Returns None when nothing was acknowledged.
        """
        if not self.latencies_s:
            return None
        xs = sorted(self.latencies_s)
        k = min(len(xs) - 1, max(0, round(p / 100 * (len(xs) - 1))))
        return xs[k]

    def merge(self, other: ClientStats) -> ClientStats:
        """Return the sum of two runs (e.g. of two client processes); elapsed is the longer."""
        out = ClientStats()
        for name, value in asdict(self).items():
            theirs = getattr(other, name)
            if name == "elapsed_s":
                setattr(out, name, max(value, theirs))
            elif isinstance(value, list):
                setattr(out, name, list(getattr(self, name)) + list(theirs))
            else:
                setattr(out, name, value + theirs)
        return out

    def to_dict(self) -> dict[str, Any]:
        """Return the counts as JSON-ready data (:meth:`from_dict` reads it back)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ClientStats:
        """Rebuild stats written by :meth:`to_dict`."""
        d = dict(data)
        d["acked"] = [tuple(x) for x in d.get("acked", [])]
        d["abandoned"] = [tuple(x) for x in d.get("abandoned", [])]
        return cls(**d)


class _Item:
    __slots__ = ("first", "last", "needs_ack", "qn", "raw", "sends", "state", "timeouts")

    def __init__(self, raw: bytes):
        self.raw = raw
        self.qn, _, self.needs_ack = frame_info(raw)
        self.sends = 0
        self.timeouts = 0
        self.first = self.last = 0.0
        self.state = "pending"  # -> outstanding -> acked | given_up | cut_off | fired


@dataclass(frozen=True)
class _Options:
    host: str
    port: int
    ack_timeout_s: float
    retries: int
    interval_s: float
    window: int
    reconnect: bool
    max_reconnects: int
    backoff_s: float
    backoff_max_s: float
    connect_timeout_s: float
    deadline: float | None  # loop time


class _Monitor:
    """One data logger: its queue, its connection, its outstanding frames."""

    def __init__(self, mn: str, frames: Sequence[bytes], opts: _Options, stats: ClientStats):
        self.mn, self.opts, self.stats = mn, opts, stats
        self.new: deque[_Item] = deque(_Item(f) for f in frames)  # never sent yet
        self.again: deque[_Item] = deque()  # to send again (timed out, or connection lost)
        self.outstanding: dict[str, _Item] = {}  # sent, answer awaited, by QN (in send order)
        self.wake = asyncio.Event()
        self.lost = False
        self.progressed = False
        self.started = 0.0
        self.first_sends = 0
        self.ever_connected = False
        self.given_up_qns: set[str] = set()

    # ------------------------------------------------------------------ bookkeeping
    def _busy(self) -> bool:
        return bool(self.new or self.again or self.outstanding)

    def _late(self) -> bool:
        d = self.opts.deadline
        return d is not None and asyncio.get_running_loop().time() >= d

    def _done(self, it: _Item, state: str) -> None:
        it.state = state
        if state == "acked":
            self.stats.acknowledged += 1
            self.stats.latencies_s.append(asyncio.get_running_loop().time() - it.first)
            self.stats.acked.append((self.mn, it.qn))
        elif state in ("given_up", "cut_off"):
            if state == "given_up":
                self.stats.given_up += 1
            else:
                self.stats.cut_off += 1
            self.stats.abandoned.append((self.mn, it.qn))
            self.given_up_qns.add(it.qn)
        elif state == "fired":
            self.stats.no_answer_wanted += 1
        self.progressed = True

    def _finish(self) -> None:
        """Stop the monitor: settle what is left as given up / cut off (sent) or unsent."""
        why = "cut_off" if self._late() else "given_up"
        for it in list(self.outstanding.values()) + list(self.again) + list(self.new):
            if it.state in ("acked", "given_up", "cut_off", "fired"):
                continue
            if it.sends:
                self._done(it, why)
            else:
                it.state = "unsent"
                self.stats.unsent += 1
        self.outstanding.clear()
        self.again.clear()
        self.new.clear()

    # ------------------------------------------------------------------ the monitor's life
    async def run(self, start_at: float) -> None:
        loop = asyncio.get_running_loop()
        if start_at > loop.time():
            await asyncio.sleep(start_at - loop.time())
        self.started = loop.time()
        failures = 0
        try:
            while self._busy() and not self._late():
                try:
                    reader, writer = await asyncio.wait_for(
                        asyncio.open_connection(self.opts.host, self.opts.port),
                        self.opts.connect_timeout_s,
                    )
                except (OSError, TimeoutError):
                    self.stats.connection_errors += 1
                    failures += 1
                else:
                    self.stats.connections += 1
                    if self.ever_connected:
                        self.stats.reconnects += 1
                    self.ever_connected = True
                    self.progressed = False
                    await self._session(reader, writer)
                    if not self._busy() or self._late():
                        break
                    self.stats.connection_errors += 1  # lost before the queue was done
                    failures = 0 if self.progressed else failures + 1
                if not self.opts.reconnect or failures > self.opts.max_reconnects:
                    break
                delay = min(
                    self.opts.backoff_max_s, self.opts.backoff_s * 2 ** max(0, failures - 1)
                )
                if self.opts.deadline is not None:
                    delay = min(delay, max(0.0, self.opts.deadline - loop.time()))
                await asyncio.sleep(delay)
        finally:
            self._finish()

    async def _session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Send over one connection until everything is settled or the connection is lost."""
        loop = asyncio.get_running_loop()
        self.lost = False
        self.wake.clear()
        rtask = asyncio.create_task(self._read(reader))
        o = self.opts
        try:
            while self._busy() and not self.lost and not self._late():
                now = loop.time()
                for qn, it in list(self.outstanding.items()):  # answers overdue
                    if now - it.last >= o.ack_timeout_s:
                        del self.outstanding[qn]
                        it.timeouts += 1
                        if it.timeouts > o.retries:
                            self._done(it, "given_up")
                        else:
                            self.again.append(it)
                if not self._busy():  # the last frames were just given up
                    break
                it = self._next_to_send(now)
                if it is not None:
                    if not await self._send(it, writer):
                        break
                    continue
                if not self._busy():  # what waited to go again was answered meanwhile
                    break
                # nothing to send now: sleep until an answer, a loss, a timeout or the schedule
                wake = [it.last + o.ack_timeout_s for it in self.outstanding.values()]
                if self.new and len(self.outstanding) < o.window:
                    wake.append(self._due())
                if o.deadline is not None:
                    wake.append(o.deadline)
                self.wake.clear()
                timeout = max(0.0, min(wake) - loop.time()) if wake else None
                try:
                    await asyncio.wait_for(self.wake.wait(), timeout)
                except TimeoutError:
                    pass
        finally:
            rtask.cancel()
            writer.close()
            try:
                await writer.wait_closed()
            except (OSError, asyncio.CancelledError):
                pass
            # a lost connection: what was sent and not answered goes out again first
            if self.outstanding:
                self.again.extendleft(reversed(list(self.outstanding.values())))
                self.outstanding.clear()

    def _due(self) -> float:
        """When the next new frame is due (a fixed schedule: start + k * interval)."""
        return self.started + self.first_sends * self.opts.interval_s

    def _next_to_send(self, now: float) -> _Item | None:
        while self.again:
            it = self.again[0]
            if it.state != "outstanding":  # answered while waiting to be sent again
                self.again.popleft()
                continue
            if it.qn in self.outstanding:  # same QN already out: wait for it
                return None
            return self.again.popleft()
        if (
            self.new
            and len(self.outstanding) < self.opts.window
            and now >= self._due()
            and self.new[0].qn not in self.outstanding
        ):
            self.first_sends += 1
            return self.new.popleft()
        return None

    async def _send(self, it: _Item, writer: asyncio.StreamWriter) -> bool:
        now = asyncio.get_running_loop().time()
        if it.sends:
            self.stats.resent += 1
        else:
            it.first = now
        it.sends += 1
        it.last = now
        self.stats.sent += 1
        if it.needs_ack:
            it.state = "outstanding"
            self.outstanding[it.qn] = it  # before writing: the answer may come at once
        try:
            writer.write(it.raw)
            await writer.drain()
        except (ConnectionError, OSError):
            if not it.needs_ack:
                self._done(it, "fired")  # it may or may not have left: nobody will know
            self.lost = True
            return False
        if not it.needs_ack:
            self._done(it, "fired")
        return True

    async def _read(self, reader: asyncio.StreamReader) -> None:
        framer = Framer()
        try:
            while True:
                chunk = await reader.read(65536)
                if not chunk:
                    break
                for item in framer.feed(chunk):
                    if isinstance(item, Frame):
                        self._answer(item.raw)
        except (ConnectionError, OSError):
            pass
        finally:
            self.lost = True
            self.wake.set()

    def _answer(self, raw: bytes) -> None:
        qn, cn, _ = frame_info(raw)
        if cn not in _ANSWERS:
            self.stats.unexpected += 1
            return
        it = self.outstanding.pop(qn, None)
        if it is None:  # timed out and waiting to go again: the answer still counts
            it = next((x for x in self.again if x.qn == qn and x.state == "outstanding"), None)
        if it is None:
            if qn in self.given_up_qns:
                self.stats.late_answers += 1
            else:
                self.stats.unexpected += 1
            return
        self._done(it, "acked")
        self.wake.set()


def _raise_fd_limit(needed: int) -> None:
    """Raise the soft limit of open files towards ``needed`` (up to the hard limit)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or soft >= needed:
        return
    target = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
    resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))


async def run_monitors(
    host: str,
    port: int,
    queues: Mapping[str, Sequence[bytes]],
    *,
    ack_timeout_s: float = 5.0,
    retries: int = 3,
    interval_s: float = 0.0,
    window: int = 1,
    reconnect: bool = True,
    max_reconnects: int = 10,
    backoff_s: float = 0.5,
    backoff_max_s: float = 10.0,
    connect_timeout_s: float = 10.0,
    stagger_s: float = 0.0,
    stop_after_s: float | None = None,
) -> ClientStats:
    """Play one data logger per queue against a receiver; return what happened.

    Parameters
    ----------
    host, port : str, int
        The receiver.
    queues : mapping
        MN -> the frames that monitor sends, in order (bytes as
        :func:`features.hj212.build_packet` makes them). A frame's QN, CN and A bit are read
        from its header (:func:`frame_info`); QNs of frames wanting an answer should be unique
        per monitor (a repeated QN is held back until the earlier one is settled).
    ack_timeout_s : float
        Seconds to wait for the answer to a frame with the A bit before sending it again
        (HJ 212-2017 T1: 5 on ADSL, 10 otherwise).
    retries : int
        Re-sends after timeouts before a frame is given up (T1: 3).
    interval_s : float
        Pacing per monitor: new frames are due at ``start + k * interval_s`` (0: as fast as the
        answers come; ``1 / rate`` for a rate in packets per second). Re-sends are not paced.
    window : int
        Frames awaiting their answer at once per monitor (1: each waits for its answer).
    reconnect : bool
        Dial again after a failed connection attempt or a lost connection.
    max_reconnects : int
        Consecutive attempts without progress (a failed dial, or a connection that settled no
        frame) after which the monitor stops; any frame settled resets the count.
    backoff_s, backoff_max_s : float
        Delay before the n-th consecutive attempt: ``backoff_s * 2**(n - 1)``, at most
        ``backoff_max_s``.
    connect_timeout_s : float
        Seconds a connection attempt may take.
    stagger_s : float
        Monitor ``i`` of ``N`` starts at ``i / N * stagger_s`` (spreads the first dial and the
        schedule, as real loggers are not synchronised).
    stop_after_s : float, optional
        Stop every monitor this many seconds after the start; frames not settled by then are
        cut off (sent, answer still awaited) or unsent.

    Returns
    -------
    ClientStats
        Counts, the latency of every answer, and the ``(MN, QN)`` acknowledged and given up.

    Raises
    ------
    ValueError
        For a negative timeout, interval or retry count, or a window below 1.

    Notes
    -----
    Raises the process's soft limit of open files (``RLIMIT_NOFILE``) to the number of monitors
    plus 256 when it is lower, up to the hard limit: one socket per monitor.
    """
    if ack_timeout_s <= 0 or connect_timeout_s <= 0:
        raise ValueError("ack_timeout_s and connect_timeout_s must be positive")
    if retries < 0 or max_reconnects < 0 or interval_s < 0 or stagger_s < 0 or backoff_s < 0:
        raise ValueError("retries, max_reconnects, interval_s, stagger_s, backoff_s must be >= 0")
    if window < 1:
        raise ValueError("window must be at least 1")
    _raise_fd_limit(len(queues) + 256)
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    wall0 = time.perf_counter()
    opts = _Options(
        host,
        port,
        ack_timeout_s,
        retries,
        interval_s,
        window,
        reconnect,
        max_reconnects,
        backoff_s,
        backoff_max_s,
        connect_timeout_s,
        None if stop_after_s is None else t0 + stop_after_s,
    )
    stats = ClientStats(monitors=len(queues), frames=sum(len(q) for q in queues.values()))
    monitors = [_Monitor(mn, frames, opts, stats) for mn, frames in queues.items()]
    n = len(monitors)
    await asyncio.gather(*(m.run(t0 + i / n * stagger_s) for i, m in enumerate(monitors)))
    stats.elapsed_s = time.perf_counter() - wall0
    return stats


def run_monitors_sync(
    host: str, port: int, queues: Mapping[str, Sequence[bytes]], **options: Any
) -> ClientStats:
    """Run :func:`run_monitors` in a new event loop (for plain code and the CLI).

    Parameters
    ----------
    host, port : str, int
        The receiver.
    queues : mapping
        MN -> frames (see :func:`run_monitors`).
    **options
        Keyword options of :func:`run_monitors`.

    Returns
    -------
    ClientStats
        As :func:`run_monitors`.
    """
    return asyncio.run(run_monitors(host, port, queues, **options))
