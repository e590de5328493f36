"""Reading delimited text files line by line, keeping line numbers and bad lines.

Handles compressed files (``.gz``, ``.xz``, ``.bz2``), byte-order marks, CRLF endings, per-line
decoding errors (a line with bytes that are not valid in the declared encoding is quarantined,
the rest of the file is still read), and rows whose field count does not match the header.
"""

from __future__ import annotations

import bz2
import csv
import dataclasses
import gzip
import lzma
import zlib
from pathlib import Path

from pipelines.errors import QuarantineRecord, SourceError

__all__ = ["read_bytes", "read_delimited", "split_lines"]

_OPENERS = {".gz": gzip.open, ".xz": lzma.open, ".bz2": bz2.open}


def read_bytes(path: Path) -> bytes:
    """Whole file contents, decompressed by suffix.

    Raises
    ------
    SourceError
        If the file is missing, unreadable, or a corrupt/truncated archive.
    """
    path = Path(path)
    if not path.is_file():
        raise SourceError(str(path), "file not found")
    opener = _OPENERS.get(path.suffix.lower())
    try:
        if opener is None:
            return path.read_bytes()
        with opener(path, "rb") as fh:
            return fh.read()
    except (OSError, EOFError, lzma.LZMAError, zlib.error) as exc:
        raise SourceError(str(path), f"cannot read (corrupt or truncated archive?): {exc}") from exc


def split_lines(text: str) -> list[str]:
    """Lines as an editor numbers them: split at CRLF, CR or LF only (a final newline ends one).

    :meth:`str.splitlines` also breaks at VT, FF, FS, GS, RS, NEL, U+2028 and U+2029; a stray one
    of those inside a row would split it and shift the line number of every later row.
    """
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    if lines[-1] == "":
        lines.pop()
    return lines


def _with_column(record: QuarantineRecord, header: list[str], delimiter: str) -> QuarantineRecord:
    """``record`` (a line that would not decode) naming the column of its first bad byte."""
    at = record.raw.find("\ufffd")  # the raw text was decoded with replacement characters
    if at < 0:
        return record
    col = record.raw[:at].count(delimiter)  # ASCII delimiters survive the replacement
    return dataclasses.replace(record, field=header[col]) if col < len(header) else record


def _decode_lines(
    raw: bytes, encoding: str, file: str
) -> tuple[list[tuple[int, str]], list[QuarantineRecord]]:
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    try:
        text = raw.decode(encoding)
        return list(enumerate(split_lines(text), start=1)), []
    except UnicodeDecodeError:
        pass
    out, bad = [], []
    chunks = raw.replace(b"\r\n", b"\n").replace(b"\r", b"\n").split(b"\n")
    for n, chunk in enumerate(chunks, start=1):
        try:
            out.append((n, chunk.decode(encoding)))
        except UnicodeDecodeError as exc:
            bad.append(
                QuarantineRecord(
                    file,
                    n,
                    "",
                    f"bytes not valid {encoding} at column {exc.start + 1} "
                    f"({chunk[exc.start : exc.start + 4]!r}); declare the file's encoding in the network YAML",
                    chunk.decode(encoding, errors="replace")[:300],
                    kind="not_decodable",
                )
            )
    if out and out[-1][1] == "" and raw.endswith((b"\n", b"\r")):
        out.pop()
    return out, bad


def _parse_fast(
    body: list[tuple[int, str]], header: list[str], delimiter: str
) -> list[tuple[int, list[str]]] | None:
    """Parse all lines at once; None if any line is odd (then the caller uses the slow path).

    Files without any quote character are split with ``str.split``; others go through one
    ``csv.reader`` whose line counter must advance exactly one line per row.
    """
    width = len(header)
    if not any('"' in t for _, t in body):
        rows = [(n, t.split(delimiter)) for n, t in body]
        return rows if all(len(f) == width for _, f in rows) else None
    reader = csv.reader((t for _, t in body), delimiter=delimiter, strict=True)
    rows = []
    try:
        for (n, _), fields in zip(body, reader, strict=True):
            if len(fields) != width or reader.line_num != len(rows) + 1:
                return None
            rows.append((n, fields))
    except (csv.Error, ValueError):
        return None
    return rows


def read_delimited(
    path: Path, encoding: str = "utf-8", delimiter: str = ","
) -> tuple[list[str], list[tuple[int, list[str]]], list[QuarantineRecord], int]:
    """Read a delimited text file.

    Parameters
    ----------
    path : pathlib.Path
        The file (optionally compressed).
    encoding : str
        Declared text encoding.
    delimiter : str
        Field separator.

    Returns
    -------
    header : list of str
        Column names from line 1.
    rows : list of (int, list of str)
        Data rows with their 1-based line numbers.
    quarantine : list of QuarantineRecord
        Lines that could not be decoded or have the wrong number of fields.
    rows_in : int
        Non-blank data lines read (= ``len(rows) + len(quarantine)``).

    Raises
    ------
    SourceError
        If the file is empty or has no header line.
    """
    file = str(path)
    raw = read_bytes(path)
    if not raw.strip():
        raise SourceError(file, "file is empty")
    lines, bad = _decode_lines(raw, encoding, file)
    if not lines or bad and bad[0].line == 1:
        raise SourceError(file, "header line cannot be decoded", line=1)
    header_no, header_text = lines[0]
    try:
        header = next(csv.reader([header_text], delimiter=delimiter))
    except csv.Error as exc:
        raise SourceError(file, f"malformed header: {exc}", line=1, field="header") from exc
    rows: list[tuple[int, list[str]]] = []
    quarantine = [_with_column(b, header, delimiter) for b in bad]
    body = [(n, t) for n, t in lines[1:] if t.strip()]
    rows = _parse_fast(body, header, delimiter)
    if rows is None:
        rows = []
        # Slow path, one csv.reader per line: a stray quote can never swallow the next lines.
        for n, text in body:
            try:
                fields = next(csv.reader([text], delimiter=delimiter, strict=True))
            except csv.Error as exc:
                quarantine.append(
                    QuarantineRecord(
                        file, n, "", f"malformed CSV: {exc}", text[:300], kind="malformed_csv"
                    )
                )
                continue
            if len(fields) != len(header):
                short = len(fields) < len(header)
                quarantine.append(
                    QuarantineRecord(
                        file,
                        n,
                        ",".join(header[len(fields) :]) if short else "",  # the columns missing
                        f"expected {len(header)} fields, got {len(fields)} "
                        f"({'truncated row?' if short else 'extra fields'})",
                        text[:300],
                        kind="truncated_row" if short else "extra_fields",
                    )
                )
                continue
            rows.append((n, fields))
    return header, rows, quarantine, len(body) + len(bad)
