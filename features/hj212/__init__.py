r"""HJ 212 (2005 / 2017 / 2025) packets, pure: CRC, stream framing, parsing and replies.

- :mod:`~features.hj212.crc`: the standard's CRC-16 (App. A of HJ 212-2017) and the Modbus
  variants some field devices send.
- :mod:`~features.hj212.framing`: ``##LLLL…CCCC\r\n`` frames cut from a byte stream, with the
  reason for every refused byte run.
- :mod:`~features.hj212.packet`: the data segment parsed (header fields, Flag bits, CP items,
  pollutant values and flags, 2005 codes mapped) and the platform's replies built (9014 data
  answer, 9013 notice answer).
- :mod:`~features.hj212.records`: uploads as long records with their period in UTC, and split
  uploads reassembled.

Facts and their sources: ``shared/reference/hj212_and_discharge_limits.md`` (§1–§4).
"""

from __future__ import annotations

from features.hj212.crc import crc_hj212, crc_kind, crc_modbus
from features.hj212.framing import Frame, Framer, Refusal
from features.hj212.packet import Packet, PacketError, build_packet, parse_packet, reply_for
from features.hj212.records import Record, SplitAssembler, records

__all__ = [
    "Frame",
    "Framer",
    "Packet",
    "PacketError",
    "Record",
    "Refusal",
    "SplitAssembler",
    "build_packet",
    "crc_hj212",
    "crc_kind",
    "crc_modbus",
    "parse_packet",
    "records",
    "reply_for",
]
