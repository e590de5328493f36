"""CRC-16 of HJ 212 packets.

HJ 212-2017 App. A ("ANSI CRC16"): init 0xFFFF; for each byte the register is shifted right by
8 *before* the byte is XORed in (``reg = (reg >> 8) ^ b``), then 8 LSB-first shifts with the
reflected polynomial 0xA001; no final XOR; printed as 4 hex digits, high byte first. It differs
from CRC-16/MODBUS only in that first step (Modbus: ``reg ^= b``). Some field devices send the
Modbus CRC, some of them low byte first; :func:`crc_kind` tells which one a packet carries, so
that a receiver can accept it per device by configuration, never silently.
"""

from __future__ import annotations

__all__ = ["crc_hj212", "crc_kind", "crc_modbus"]


def _table() -> list[int]:
    out = []
    for n in range(256):
        reg = n
        for _ in range(8):
            reg = (reg >> 1) ^ 0xA001 if reg & 1 else reg >> 1
        out.append(reg)
    return out


_TABLE = _table()


def crc_hj212(data: bytes) -> int:
    """Return the HJ 212 CRC-16 of a data segment (its bytes, ``QN=`` … ``&&``).

    Examples
    --------
    >>> f"{crc_hj212(b'QN=20160801085857223;ST=32;CN=1062;PW=100000;MN=010000A8900016F000169DC0;Flag=5;CP=&&RtdInterval=30&&'):04X}"
    '1C80'
    """
    reg = 0xFFFF
    for b in data:
        reg = _TABLE[((reg >> 8) ^ b) & 0xFF]  # the register is < 256 before the 8 shifts
    return reg


def crc_modbus(data: bytes) -> int:
    """Return CRC-16/MODBUS of ``data`` (init 0xFFFF, reflected 0xA001, no final XOR)."""
    reg = 0xFFFF
    for b in data:
        reg = (reg >> 8) ^ _TABLE[(reg ^ b) & 0xFF]
    return reg


def crc_kind(data: bytes, crc_text: str) -> str | None:
    """Which CRC ``crc_text`` (4 hex digits, any case) is of ``data``.

    Returns
    -------
    str or None
        ``"hj212"`` (the standard's), ``"modbus"`` (CRC-16/MODBUS high byte first),
        ``"modbus_le"`` (low byte first), or None when it matches none.
    """
    try:
        got = int(crc_text, 16)
    except ValueError:
        return None
    if len(crc_text) != 4:
        return None
    if got == crc_hj212(data):
        return "hj212"
    m = crc_modbus(data)
    if got == m:
        return "modbus"
    if got == ((m & 0xFF) << 8 | m >> 8):
        return "modbus_le"
    return None
