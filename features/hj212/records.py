"""Measured values of HJ 212 uploads as long records, and split uploads put back together.

An upload's ``DataTime`` is the start of the period for minute, hour and day data (2051 / 2061 /
2031) and the acquisition instant for real-time data (2011) (HJ 212-2017 T4, App. C.16–C.18).
Records carry the period's start and end in UTC, so the station store (which labels by the end
of the interval) can take them without guessing. A re-sent packet gives the same key
``(MN, CN, DataTime, code)``: a store merges on it, keeping one row.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from features.hj212.packet import Packet, PacketError

__all__ = ["INTERVALS", "YEARS", "Record", "SplitAssembler", "records"]

#: Years a DataTime may have (a store's time axis, pandas' nanosecond range, holds them).
YEARS = (1900, 2200)

#: Upload command -> averaging period (None: an instant).
INTERVALS: dict[str, dt.timedelta | None] = {
    "2011": None,
    "2051": dt.timedelta(minutes=1),  # the logger's minute interval (MinInterval) may be longer
    "2061": dt.timedelta(hours=1),
    "2031": dt.timedelta(days=1),
}


@dataclass(frozen=True)
class Record:
    """One measured quantity of one upload.

    Attributes
    ----------
    mn, cn, qn : str
        Monitor, command and request number of the upload.
    start, end : datetime.datetime
        The period [UTC]; equal for an instant (2011).
    code : str
        Pollutant or parameter code (2017 codes; 2005 codes mapped when a table was given).
    value : float or None
        ``Avg`` (period data) or ``Rtd`` (real-time), None when the upload has neither.
    minimum, maximum, cumulative : float or None
        ``Min``, ``Max``, ``Cou`` when sent.
    flag : str
        The HJ 212 data flag (``N`` when none was sent: the standard's default is normal).
    """

    mn: str
    cn: str
    qn: str
    start: dt.datetime
    end: dt.datetime
    code: str
    value: float | None
    minimum: float | None
    maximum: float | None
    cumulative: float | None
    flag: str

    @property
    def key(self) -> tuple[str, str, dt.datetime, str]:
        """The merge key of a re-sent packet."""
        return (self.mn, self.cn, self.start, self.code)


def records(packet: Packet, *, zone: dt.tzinfo, minute_interval: int = 1) -> list[Record]:
    """Return the records of a data upload (2011 / 2031 / 2051 / 2061); none for other commands.

    Parameters
    ----------
    packet : Packet
        A parsed upload.
    zone : datetime.tzinfo
        The monitor's time zone (``DataTime`` is local time).
    minute_interval : int
        The logger's minute-data interval ``MinInterval`` [min] (1, 2, …, 30).

    Raises
    ------
    PacketError
        For an upload without a readable ``DataTime``.
    """
    if packet.cn not in INTERVALS:
        return []
    when = packet.cp.get("DataTime", "")
    try:
        local = dt.datetime.strptime(when[:14], "%Y%m%d%H%M%S")
    except ValueError:
        raise PacketError("DataTime", f"not YYYYMMDDhhmmss: {when[:20]!r}") from None
    if not YEARS[0] <= local.year <= YEARS[1]:
        raise PacketError("DataTime", f"year {local.year} outside {YEARS[0]}..{YEARS[1]}")
    start = local.replace(tzinfo=zone).astimezone(dt.UTC)
    step = INTERVALS[packet.cn]
    if packet.cn == "2051":
        step = dt.timedelta(minutes=minute_interval)
    end = start + step if step is not None else start
    out = []
    for code, v in packet.values.items():
        value = v.get("Avg", v.get("Rtd"))
        if value is None and not any(k in v for k in ("Min", "Max", "Cou")):
            continue  # facility state (SBxxx-RS) and other non-measurements
        out.append(
            Record(
                packet.mn,
                packet.cn,
                packet.qn,
                start,
                end,
                code,
                value,
                v.get("Min"),
                v.get("Max"),
                v.get("Cou"),
                str(v.get("Flag", "N")),
            )
        )
    return out


class SplitAssembler:
    """Put split uploads (Flag D bit, PNUM / PNO) back together, per monitor and command.

    Sub-packets of one upload share MN, CN and ``DataTime``; each has its own QN (App. C.49–C.50).
    :meth:`add` returns the whole upload — a :class:`Packet` whose values are the union of its
    parts — once the last part has arrived, else None. More than ``max_open`` incomplete uploads
    drop the oldest (a monitor that never completes one cannot grow memory without bound).
    """

    def __init__(self, max_open: int = 10000):
        self.max_open = max_open
        self._parts: dict[tuple[str, str, str], dict[int, Packet]] = {}

    @property
    def open(self) -> int:
        """Uploads still waiting for parts."""
        return len(self._parts)

    def add(self, packet: Packet) -> Packet | None:
        """Add one packet; a packet that is not split comes back at once."""
        if not packet.split:
            return packet
        key = (packet.mn, packet.cn, packet.cp.get("DataTime", ""))
        parts = self._parts.setdefault(key, {})
        parts[packet.pno] = packet
        if len(parts) < packet.pnum:
            if len(self._parts) > self.max_open:
                self._parts.pop(next(iter(self._parts)))
            return None
        del self._parts[key]
        values: dict[str, dict] = {}
        cp: dict[str, str] = {}
        for n in sorted(parts):
            p = parts[n]
            cp.update(p.cp)
            for code, v in p.values.items():
                values.setdefault(code, {}).update(v)
        first = parts[min(parts)]
        return Packet(
            qn=first.qn,
            st=first.st,
            cn=first.cn,
            pw=first.pw,
            mn=first.mn,
            flag=first.flag & ~2,
            version=first.version,
            needs_ack=first.needs_ack,
            cp=cp,
            values=values,
            logs={k: v for p in parts.values() for k, v in p.logs.items()},
        )
