"""Synthetic HJ 212 traffic of a ``kind: source`` network: a day of uploads with known events.

What :func:`synthetic_day` makes is **synthetic** (the demonstration and the tests): every value is
drawn from a simple model, not measured. Per station of the network, the day's hourly uploads
(CN 2061: ``Avg``/``Min``/``Max``/``Cou`` of each pollutant, the device's ``ZsAvg`` at the
standard's reference O2 for flue gas, and the flags), minute uploads (CN 2051) for the first
``minute_monitors`` stations, and the events of ``events`` (exceedances, a monitor going silent,
maintenance flags, a stuck analyser, zero flow with emissions). Then the packets a platform must
refuse or merge: a bad CRC, an unknown MN, a wrong password, a future ``DataTime``, a split
upload and a re-sent one. Levels are set from the station's discharge limit (a fraction of it),
so an event's size is relative to the limit that will judge it.

Frames are grouped per data logger (MN) in sending order: what :mod:`pipelines.hj212.client`
sends, one TCP connection per logger. :func:`write_traffic` / :func:`read_traffic` keep a day in
a text file (``<key> TAB <frame>`` per line) for replay.
"""

from __future__ import annotations

import datetime as dt
import lzma
import math
import zoneinfo
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from features.hj212 import build_packet

__all__ = ["DEMO_EVENTS", "Event", "read_traffic", "synthetic_day", "write_traffic"]

# HJ 212 code -> (variable, fraction of the limit (or a typical value), Cou per hour?)
_AIR = {
    "a34013": ("stack_dust", 0.45),
    "a21026": ("stack_so2", 0.5),
    "a21002": ("stack_nox", 0.5),
}
_WATER = {
    "w01018": ("effluent_cod", 0.5),
    "w21003": ("effluent_nh3n", 0.35),
    "w21011": ("effluent_tp", 0.4),
    "w21001": ("effluent_tn", 0.55),
    "w01012": ("effluent_ss", 0.4),
}
_FALLBACK = {  # typical levels when a standard sets no limit for the variable [registry units]
    "stack_dust": 8.0,
    "stack_so2": 40.0,
    "stack_nox": 60.0,
    "effluent_cod": 30.0,
    "effluent_nh3n": 2.0,
    "effluent_tp": 0.3,
    "effluent_tn": 10.0,
    "effluent_ss": 8.0,
}


@dataclass(frozen=True)
class Event:
    """Something that happens to one station on the synthetic day (local hours ``start``–``end``).

    ``kind``: ``exceed`` (``variable`` at ``factor`` × its limit), ``offline`` (no packet from
    ``start`` on), ``flag`` (every value flagged ``flag``, e.g. ``M`` maintenance), ``flat``
    (``variable`` stuck at one value), ``zero_flow`` (flow 0 while emitting).
    """

    kind: str
    station: str
    start: int
    end: int = 24
    variable: str = ""
    factor: float = 1.0
    flag: str = "N"


#: The bundled demonstration day's events (beijing_sources).
DEMO_EVENTS: tuple[Event, ...] = (
    Event("exceed", "E02-G1", 7, 11, variable="stack_so2", factor=1.8),
    Event("exceed", "E09-G1", 18, 22, variable="stack_dust", factor=2.5),
    Event("offline", "E05-G1", 13),
    Event("flag", "E07-G1", 9, 16, flag="M"),
    Event("flat", "E11-G1", 0, 12, variable="stack_nox"),
    Event("zero_flow", "E08-G1", 16, 20),
    Event("exceed", "E17-W1", 0, 24, variable="effluent_nh3n", factor=1.6),
    Event("flag", "E19-W1", 2, 8, flag="D"),
)


def _limit(station: Any, variable: str) -> float:
    if variable in station.limits:
        return float(station.limits[variable])
    from pipelines.config.registry import discharge_standard

    lim = discharge_standard(station.standard).limit_for(station.standard_class, variable)
    return float(lim) if isinstance(lim, int | float) else _FALLBACK[variable]


def _qn(t: dt.datetime, n: int) -> str:
    return t.strftime("%Y%m%d%H%M%S") + f"{n % 1000:03d}"


def _fmt(x: float) -> str:
    return f"{x:.3f}".rstrip("0").rstrip(".") if math.isfinite(x) else "0"


def _reference_o2(station: Any) -> float | None:
    from pipelines.config.registry import discharge_standard

    return discharge_standard(station.standard).get_class(station.standard_class).reference_o2


def synthetic_day(
    network: Any,
    day: dt.date,
    *,
    seed: int = 20170211,
    events: tuple[Event, ...] = DEMO_EVENTS,
    minute_monitors: int = 2,
    faults: bool = True,
) -> dict[str, list[bytes]]:
    """Return the day's frames per data logger (key: MN, or ``fault:<what>`` for refused ones).

    Parameters
    ----------
    network : NetworkSpec
        A ``kind: source`` network (its stations' MN, password, medium, standard).
    day : datetime.date
        The local day (the network's time zone).
    seed : int
        Random seed: the same seed gives the same frames.
    events : tuple of Event
        What happens on the day (stations not in the network are ignored).
    minute_monitors : int
        How many stations also send minute data (CN 2051, one frame a minute).
    faults : bool
        Add the frames a receiver must refuse or merge.
    """
    rng = np.random.default_rng(seed)
    zone = zoneinfo.ZoneInfo(network.time_zone)
    by_station: dict[str, list[Event]] = {}
    for e in events:
        by_station.setdefault(e.station, []).append(e)
    queues: dict[str, list[bytes]] = {}
    n = 0
    for si, st in enumerate(network.stations):
        evs = by_station.get(st.id, [])
        air = st.medium == "air"
        table = _AIR if air else _WATER
        levels = {code: _limit(st, var) * frac for code, (var, frac) in table.items()}
        o2_ref = _reference_o2(st) if air else None
        flow = float(rng.uniform(60, 350) if air else rng.uniform(30, 400))  # m3 s-1 / L s-1
        phase = rng.uniform(0, 2 * math.pi)
        frames: list[bytes] = []
        flat_value: dict[str, float] = {}
        offline_from = min((e.start for e in evs if e.kind == "offline"), default=24)
        for hour in range(24):
            if hour >= offline_from:
                break
            start = dt.datetime.combine(day, dt.time(hour), tzinfo=zone)
            load = 0.85 + 0.2 * math.sin(2 * math.pi * hour / 24 + phase)
            active = [e for e in evs if e.start <= hour < e.end]
            flag = next((e.flag for e in active if e.kind == "flag"), "N")
            q = 0.0 if any(e.kind == "zero_flow" for e in active) else flow * load
            items: list[str] = []
            if air:
                o2 = float(np.clip(rng.normal(o2_ref + 1.0 if o2_ref else 8.0, 0.6), 2, 19))
                items.append(f"a19001-Avg={_fmt(o2)},a19001-Flag={flag}")
                vol = q * 3600.0
                items.append(f"a00000-Avg={_fmt(q)},a00000-Cou={_fmt(vol)},a00000-Flag={flag}")
                items.append(f"a01012-Avg={_fmt(rng.normal(95, 5))},a01012-Flag={flag}")
            else:
                vol = q * 3600.0 / 1000.0  # L s-1 over an hour -> m3
                items.append(f"w00000-Avg={_fmt(q)},w00000-Cou={_fmt(vol)},w00000-Flag={flag}")
                items.append(f"w01001-Avg={_fmt(rng.normal(7.3, 0.15))},w01001-Flag={flag}")
                items.append(f"w01010-Avg={_fmt(rng.normal(14.0, 0.5))},w01010-Flag={flag}")
            for code, (var, _) in table.items():
                c = levels[code] * load * float(rng.lognormal(0, 0.12))
                for e in active:
                    if e.kind == "exceed" and e.variable == var:
                        c = _limit(st, var) * e.factor * float(rng.lognormal(0, 0.05))
                    if e.kind == "flat" and e.variable == var:
                        c = flat_value.setdefault(var, round(c, 1))
                spread = (
                    0.0 if var in flat_value and any(e.kind == "flat" for e in active) else 0.15
                )
                lo, hi = c * (1 - spread), c * (1 + spread)
                if air:
                    cou = c * q * 3600.0 * 1e-6  # mg m-3 x m3 s-1 x s -> kg
                    zs = c * (21 - o2_ref) / (21 - o2) if o2_ref is not None else None
                else:
                    cou = c * q * 3600.0 * 1e-6  # mg L-1 x L s-1 x s -> kg
                    zs = None
                text = (
                    f"{code}-Cou={_fmt(cou)},{code}-Min={_fmt(lo)},{code}-Avg={_fmt(c)},"
                    f"{code}-Max={_fmt(hi)}"
                )
                if zs is not None:
                    text += f",{code}-ZsAvg={_fmt(zs)}"
                items.append(text + f",{code}-Flag={flag}")
            sent = start + dt.timedelta(hours=1, minutes=1)
            n += 1
            header = {
                "QN": _qn(sent, n),
                "ST": "31" if air else "32",
                "CN": "2061",
                "PW": st.monitor_password(),
                "MN": st.mn,
                "Flag": 5,  # 2017 edition, answer wanted
            }
            cp = f"DataTime={start:%Y%m%d%H%M%S};" + ";".join(items)
            frames.append(build_packet(header, cp))
            if si < minute_monitors:
                for minute in range(60):
                    t = start + dt.timedelta(minutes=minute)
                    n += 1
                    code, (var, _) = next(iter(table.items()))
                    c = levels[code] * load * float(rng.lognormal(0, 0.1))
                    header = header | {"QN": _qn(t + dt.timedelta(minutes=1), n), "CN": "2051"}
                    frames.append(
                        build_packet(
                            header,
                            f"DataTime={t:%Y%m%d%H%M%S};{code}-Avg={_fmt(c)},{code}-Flag={flag}",
                        )
                    )
        queues[st.mn] = frames
    if faults:
        _add_faults(queues, network, day, zone)
    return queues


def _add_faults(
    queues: dict[str, list[bytes]], network: Any, day: dt.date, zone: dt.tzinfo
) -> None:
    """Frames to refuse or merge: bad CRC, unknown MN, wrong password, future time, split, re-send."""
    st = next(s for s in network.stations if s.medium == "air" and s.mn in queues)
    first = queues[st.mn][0]
    noon = dt.datetime.combine(day, dt.time(12), tzinfo=zone)
    base = {"ST": "31", "CN": "2061", "PW": st.monitor_password(), "MN": st.mn, "Flag": 4}
    cp = f"DataTime={noon:%Y%m%d%H%M%S};a21026-Avg=12.5,a21026-Flag=N"
    bad_crc = bytearray(build_packet(base | {"QN": _qn(noon, 901)}, cp))
    bad_crc[-3] = ord("0") if bad_crc[-3] != ord("0") else ord("1")
    queues["fault:bad-crc"] = [bytes(bad_crc)]
    queues["fault:unknown-mn"] = [
        build_packet(base | {"QN": _qn(noon, 902), "MN": "UNREGISTERED0001"}, cp)
    ]
    queues["fault:wrong-password"] = [build_packet(base | {"QN": _qn(noon, 903), "PW": "x"}, cp)]
    future = dt.datetime(2099, 1, 1, tzinfo=zone)  # fixed: a bundled day must stay refusable
    queues["fault:future-time"] = [
        build_packet(
            base | {"QN": _qn(noon, 904)},
            f"DataTime={future:%Y%m%d%H%M%S};a21026-Avg=12.5,a21026-Flag=N",
        )
    ]
    queues["fault:garbage"] = [b"##00zzGARBAGE\r\n", b"hello\r\n"]
    # a split upload (PNUM 2): the second air station's 12:00 hour sent in two parts instead
    other = next(s for s in network.stations if s.medium == "air" and s.mn != st.mn)
    frames = queues[other.mn]
    dtime = f"DataTime={noon:%Y%m%d%H%M%S}"
    k = next((i for i, f in enumerate(frames) if b"CN=2061" in f and dtime.encode() in f), None)
    if k is not None:
        whole = frames[k].split(b"CP=&&", 1)[1].rsplit(b"&&", 1)[0].decode()
        items = whole.split(";")[1:]
        head = {"ST": "31", "CN": "2061", "PW": other.monitor_password(), "MN": other.mn}
        half = len(items) // 2
        parts = [
            build_packet(
                head | {"QN": _qn(noon, 905 + j), "Flag": 7, "PNUM": 2, "PNO": j + 1},
                ";".join([dtime, *chunk]),
            )
            for j, chunk in enumerate((items[:half], items[half:]))
        ]
        queues[other.mn] = [*frames[:k], *parts, *frames[k + 1 :]]
    queues[st.mn] = [*queues[st.mn], first]  # a re-sent hour: merged by (MN, CN, DataTime)


def write_traffic(queues: dict[str, list[bytes]], path: Path) -> Path:
    """Write frames as ``<key> TAB <frame>`` lines (xz-compressed when the name ends in ``.xz``)."""
    crlf = b"\r\n"
    lines = [
        key + "\t" + frame.rstrip(crlf).decode("latin-1")
        for key, frames in queues.items()
        for frame in frames
    ]
    text = ("\n".join(lines) + "\n").encode("latin-1")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(lzma.compress(text) if path.suffix == ".xz" else text)
    return path


def read_traffic(path: Path) -> dict[str, list[bytes]]:
    """Read a file of :func:`write_traffic` back into frames per logger."""
    path = Path(path)
    raw = path.read_bytes()
    text = (lzma.decompress(raw) if path.suffix == ".xz" else raw).decode("latin-1")
    queues: dict[str, list[bytes]] = {}
    for lineno, line in enumerate(text.split("\n"), start=1):  # only LF ends a line
        if not line:
            continue
        key, sep, frame = line.partition("\t")
        if not sep:
            raise ValueError(f"{path}:{lineno}: expected '<logger>\\t<frame>'")
        queues.setdefault(key, []).append(frame.encode("latin-1") + b"\r\n")
    return queues
