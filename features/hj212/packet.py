"""The HJ 212 data segment: parsed into a :class:`Packet`, and the platform's replies built.

Parsing follows HJ 212-2017 §6.3 with the leniency real devices and the standard's own App. C
examples need (reference §3.5): header fields in any order, ``,`` where ``;`` is meant, spaces
around names, ``Flag=5CP=``, no QN or Flag on 2005 uploads, a repeated item with the same value.
It refuses, with the field named: text that is neither UTF-8 nor GBK, a missing ``CP=&&…&&``, a
missing ST / CN / PW / MN, a Flag outside 0–255, a split packet without PNUM / PNO, a repeated
field with different values, and a non-numeric measured value.

The version comes from the Flag bits ``V5..V0``: 0 is HJ/T 212-2005, 1 HJ 212-2017; 2 is what
one implementation uses for HJ 212-2025 (unconfirmed by a second source: reported as
``"2025?"``). 2005 pollutant codes are mapped to 2017 codes through the table the caller passes
(``configs/hj212.yml``), never guessed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from features.hj212.crc import crc_hj212

__all__ = [
    "DATA_UPLOADS",
    "NUMERIC_SUFFIXES",
    "Packet",
    "PacketError",
    "build_packet",
    "parse_packet",
    "reply_for",
]

#: Uploads a platform answers with 9014 when the Flag's A bit asks for it (reference §3.7).
DATA_UPLOADS = frozenset(
    {"2011", "2021", "2031", "2041", "2051", "2061", "2081", "3015", "3019", "3020"}
)
#: CP suffixes that carry a number.
NUMERIC_SUFFIXES = frozenset(
    {
        "Rtd",
        "Min",
        "Avg",
        "Max",
        "Cou",
        "ZsRtd",
        "ZsMin",
        "ZsAvg",
        "ZsMax",
        "RT",
        "Data",
        "DayData",
        "NightData",
    }
)
_VERSIONS = {0: "2005", 1: "2017", 2: "2025?"}
_LOG = re.compile(r"([A-Za-z0-9]+-Info)\s*=\s*//(.*?)//", re.S)
_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")


class PacketError(ValueError):
    """A data segment that cannot be used; ``field`` names what is wrong."""

    def __init__(self, field: str, reason: str):
        self.field, self.reason = field, reason
        super().__init__(f"field '{field}': {reason}")


@dataclass(frozen=True)
class Packet:
    """One parsed data segment.

    Attributes
    ----------
    qn, st, cn, pw, mn : str
        Header fields (``qn`` empty when absent, as on many 2005 uploads).
    flag : int
        0–255 (0 when absent).
    version : str
        ``"2005"``, ``"2017"``, ``"2025?"`` (unconfirmed) or ``"v<n>"`` for other version bits.
    needs_ack : bool
        The A bit.
    pnum, pno : int or None
        Sub-packet count and number (the D bit).
    cp : dict
        Plain CP fields (``DataTime``, ``QnRtn``, ``BeginTime`` …) as text.
    values : dict
        ``{code: {suffix: value}}``; numeric suffixes as float, ``Flag`` / ``EFlag`` and other
        suffixes as text; codes mapped to 2017 codes for 2005 packets when a table was given.
    logs : dict
        ``{code-Info: text}`` of ``//…//`` log texts.
    """

    qn: str
    st: str
    cn: str
    pw: str
    mn: str
    flag: int
    version: str
    needs_ack: bool
    pnum: int | None = None
    pno: int | None = None
    cp: dict[str, str] = field(default_factory=dict)
    values: dict[str, dict[str, Any]] = field(default_factory=dict)
    logs: dict[str, str] = field(default_factory=dict)

    @property
    def split(self) -> bool:
        """The D bit: one of several sub-packets."""
        return bool(self.flag & 2)


def _decode(data: bytes) -> str:
    for enc in ("utf-8", "gbk"):
        try:
            return data.decode(enc)
        except UnicodeDecodeError:
            continue
    raise PacketError("(data segment)", "neither UTF-8 nor GBK text")


def _pairs(text: str, seps: str) -> list[tuple[str, str]]:
    out = []
    for part in re.split(f"[{re.escape(seps)}]", text):
        part = part.strip()
        if not part:
            continue
        key, eq, value = part.partition("=")
        if not eq:
            raise PacketError(part[:40], "an item without '='")
        out.append((key.strip(), value.strip()))
    return out


def _put(d: dict, key: str, value: Any, where: str) -> None:
    if key in d and d[key] != value:
        raise PacketError(where, f"given twice with different values ({d[key]!r}, {value!r})")
    d[key] = value


def parse_packet(data: bytes, *, code_map: Mapping[str, str] | None = None) -> Packet:
    """Parse a data segment (the bytes a :class:`~features.hj212.framing.Frame` carries).

    Parameters
    ----------
    data : bytes
        ``QN=…;ST=…;CN=…;PW=…;MN=…;Flag=…;CP=&&…&&``.
    code_map : mapping, optional
        2005 pollutant code -> 2017 code, applied to 2005 packets (version bits 0).

    Raises
    ------
    PacketError
        Naming the field that is wrong.
    """
    text = _decode(data)
    at = text.find("CP=")
    if at == -1:
        raise PacketError("CP", "missing (a data segment ends with CP=&&…&&)")
    head, cp_text = text[:at], text[at + 3 :]
    cp_text = cp_text.strip()
    if not (cp_text.startswith("&&") and cp_text.endswith("&&") and len(cp_text) >= 4):
        raise PacketError("CP", "not enclosed in '&&' … '&&'")
    header: dict[str, str] = {}
    for key, value in _pairs(head, ";,"):
        _put(header, key, value, key)
    for required in ("ST", "CN", "PW", "MN"):
        if not header.get(required):
            raise PacketError(required, "missing")
    try:
        flag = int(header.get("Flag", "0"))
    except ValueError:
        raise PacketError("Flag", f"not an integer: {header['Flag'][:20]!r}") from None
    if not 0 <= flag <= 255:
        raise PacketError("Flag", f"{flag} outside 0..255")
    vbits = flag >> 2
    pnum = pno = None
    if flag & 2:
        try:
            pnum, pno = int(header["PNUM"]), int(header["PNO"])
        except KeyError as exc:
            raise PacketError(exc.args[0], "missing on a split packet (Flag D bit set)") from None
        except ValueError:
            raise PacketError("PNUM/PNO", "not integers") from None
        if not 1 <= pno <= pnum:
            raise PacketError("PNO", f"{pno} outside 1..PNUM ({pnum})")
    body = cp_text[2:-2]
    logs = {}
    for m in _LOG.finditer(body):
        logs[m.group(1)] = m.group(2)
    body = _LOG.sub("", body)
    cp: dict[str, str] = {}
    values: dict[str, dict[str, Any]] = {}
    mapping = code_map if (vbits == 0 and code_map) else None
    for key, value in _pairs(body, ";,"):
        code, dash, suffix = key.rpartition("-")
        if not dash or not code:
            _put(cp, key, value, key)
            continue
        if mapping:
            code = mapping.get(code, code)
        v: Any = value
        if suffix in NUMERIC_SUFFIXES:
            if not _NUMBER.match(value):
                raise PacketError(key, f"not a number: {value[:20]!r}")
            v = float(value)
        _put(values.setdefault(code, {}), suffix, v, key)
    return Packet(
        qn=header.get("QN", ""),
        st=header["ST"],
        cn=header["CN"],
        pw=header["PW"],
        mn=header["MN"],
        flag=flag,
        version=_VERSIONS.get(vbits, f"v{vbits}"),
        needs_ack=bool(flag & 1),
        pnum=pnum,
        pno=pno,
        cp=cp,
        values=values,
        logs=logs,
    )


def build_packet(header: Mapping[str, Any], cp: str = "") -> bytes:
    """Frame a packet: ``##`` + length + data segment + CRC (HJ 212, upper case) + CRLF.

    Parameters
    ----------
    header : mapping
        Header fields in the order to write (QN, ST, CN, PW, MN, Flag, PNUM, PNO); None skipped.
    cp : str
        The CP content without the enclosing ``&&``.
    """
    fields = ";".join(f"{k}={v}" for k, v in header.items() if v is not None)
    data = f"{fields};CP=&&{cp}&&".encode()
    if len(data) > 9999:
        raise ValueError(f"data segment of {len(data)} bytes exceeds the 4-digit length field")
    return b"##%04d" % len(data) + data + b"%04X\r\n" % crc_hj212(data)


def reply_for(packet: Packet) -> bytes | None:
    """Return the platform's answer to a packet from the field, or None when none is due.

    - A data upload (:data:`DATA_UPLOADS`) with the A bit: 9014 data answer with the upload's
      own QN, ``ST=91``, its PW and MN, ``Flag=4`` (2017 text; the version bits follow the
      packet's), ``CP=&&&&`` — one per sub-packet of a split upload (App. C.14–C.19, C.50).
    - 1013 (the field asks for a time calibration): 9013 notice answer (App. C.4).
    - 9015 heartbeat (a 2025 extension in one implementation, unconfirmed): 9013.
    """
    if (packet.cn in DATA_UPLOADS and packet.needs_ack) or packet.cn in ("1013", "9015"):
        cn = "9014" if packet.cn in DATA_UPLOADS else "9013"
        flag = packet.flag & ~0b11  # same version, no split, no answer wanted
        header = {
            "QN": packet.qn or None,
            "ST": "91",
            "CN": cn,
            "PW": packet.pw,
            "MN": packet.mn,
            "Flag": flag,
        }
        return build_packet(header)
    return None
