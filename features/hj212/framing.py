"""Frames of an HJ 212 byte stream: ``##`` + ``LLLL`` + data segment + ``CCCC`` + CRLF.

``LLLL`` counts the data segment (``QN=`` … closing ``&&``). The 2017 text caps it at 1024, real
devices send up to 9999 (the most 4 digits hold); devices disagree on whether Chinese text counts
bytes or characters, so a frame whose declared length is the *character* count of its UTF-8
data segment is accepted too (``length_ok`` says which), confirmed by the ``&&`` + 4 hex + CRLF
end. Packets split across reads and several packets in one read are both handled; every byte run
that is not a frame comes back as a :class:`Refusal` with its reason, so a receiver can
quarantine it. Nothing here decides on the CRC: :attr:`Frame.crc` says which CRC matched.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from features.hj212.crc import crc_kind

__all__ = ["Frame", "Framer", "Refusal"]

_END = re.compile(rb"&&([0-9A-Fa-f]{4})\r\n")
_HEADER = b"##"


@dataclass(frozen=True)
class Frame:
    """One framed packet.

    Attributes
    ----------
    raw : bytes
        The whole frame as received.
    data : bytes
        The data segment (what the CRC and ``LLLL`` cover).
    crc_text : str
        The 4 hex digits as sent.
    crc : str or None
        ``"hj212"``, ``"modbus"``, ``"modbus_le"`` (:func:`features.hj212.crc.crc_kind`), or
        None when the CRC matches none.
    length_ok : str
        ``"bytes"`` when ``LLLL`` is the byte count, ``"chars"`` when it is the UTF-8 character
        count (multi-byte text).
    """

    raw: bytes
    data: bytes
    crc_text: str
    crc: str | None
    length_ok: str


@dataclass(frozen=True)
class Refusal:
    """Bytes that are not a frame, and why (for the quarantine)."""

    reason: str
    raw: bytes


class Framer:
    """Cut frames from a byte stream fed in arbitrary pieces.

    Parameters
    ----------
    max_length : int
        Largest data segment accepted [bytes] (at most 9999, the 4-digit field's limit).

    Examples
    --------
    >>> f = Framer()
    >>> out = f.feed(b"##0010QN=1;ST=9&&")  # a fragment: nothing yet
    >>> out
    []
    """

    def __init__(self, max_length: int = 9999):
        if not 1 <= max_length <= 9999:
            raise ValueError("max_length must lie in 1..9999 (the 4-digit length field)")
        self.max_length = max_length
        self._buf = bytearray()

    @property
    def pending(self) -> int:
        """Bytes held back waiting for the rest of a frame."""
        return len(self._buf)

    def feed(self, data: bytes) -> list[Frame | Refusal]:
        """Add received bytes; return the frames and refusals now complete, in stream order."""
        self._buf += data
        out: list[Frame | Refusal] = []
        while True:
            item = self._next()
            if item is None:
                return out
            out.append(item)

    def close(self) -> list[Refusal]:
        """End of stream: whatever is held back is an incomplete frame."""
        rest, self._buf = bytes(self._buf), bytearray()
        stripped = rest.strip(b"\r\n\x00 ")
        return [Refusal("incomplete frame at the end of the connection", rest)] if stripped else []

    def _take(self, n: int) -> bytes:
        out = bytes(self._buf[:n])
        del self._buf[:n]
        return out

    def _next(self) -> Frame | Refusal | None:
        buf = self._buf
        start = buf.find(_HEADER)
        if start == -1:
            keep = 1 if buf.endswith(b"#") else 0
            junk = self._take(len(buf) - keep)
            return (
                Refusal("bytes outside a frame (no '##' header)", junk)
                if junk.strip(b"\r\n\x00 ")
                else None
            )
        if start > 0:
            junk = self._take(start)
            if junk.strip(b"\r\n\x00 "):
                return Refusal("bytes outside a frame (before '##')", junk)
            return self._next()
        if len(buf) < 6:
            return None
        digits = bytes(buf[2:6])
        if not digits.isdigit():
            return Refusal("length field is not 4 decimal digits", self._take(2))
        n = int(digits)
        if n > self.max_length:
            return Refusal(f"declared data length {n} exceeds {self.max_length}", self._take(6))
        total = 6 + n + 6
        if (
            len(buf) >= total
            and buf[6 + n + 4 : total] == b"\r\n"
            and _is_hex(buf[6 + n : 6 + n + 4])
        ):
            raw = self._take(total)
            return _frame(raw, raw[6 : 6 + n], "bytes")
        # the declared length does not land on a frame end: find the end the data give
        m = _END.search(buf, 6)
        if m is None:
            if len(buf) > 6 + self.max_length + 6:
                nxt = buf.find(_HEADER, 2)
                return Refusal(
                    "no frame end ('&&' + CRC + CRLF) within the longest allowed packet",
                    self._take(nxt if nxt != -1 else len(buf)),
                )
            return None  # wait for more bytes
        nxt = buf.find(_HEADER, 2, m.start())
        if nxt != -1:  # a new header comes first: the frame before it is broken
            return Refusal("frame cut short by the next '##' header", self._take(nxt))
        end = m.end()
        raw = self._take(end)
        data = raw[6 : end - 6]
        try:
            chars = len(data.decode("utf-8"))
        except UnicodeDecodeError:
            chars = -1
        if chars == n:
            return _frame(raw, data, "chars")
        return Refusal(f"declared data length {n} but the data segment has {len(data)} bytes", raw)


def _is_hex(b: bytes | bytearray) -> bool:
    return len(b) == 4 and all(c in b"0123456789abcdefABCDEF" for c in b)


def _frame(raw: bytes, data: bytes, length_ok: str) -> Frame:
    crc_text = raw[-6:-2].decode("ascii")
    return Frame(raw, data, crc_text, crc_kind(data, crc_text), length_ok)
