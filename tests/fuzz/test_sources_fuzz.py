"""Property tests of the source adapters on generated and damaged inputs (issue #16).

The strategies and properties are those of ``benchmarks/fuzz_parsers.py`` (its docstring), run
here with few, derandomised examples; ``benchmarks/bench_fuzz.py`` runs the long campaign. Every
input that once crashed an adapter or broke a property is pinned with ``@example``.
"""

from __future__ import annotations

import gzip
import io
import json
import re
import zipfile
import zlib

import numpy as np
import pytest
from hypothesis import example, given

from benchmarks.fuzz_parsers import (
    CNEMC_THEAD,
    LAYOUTS,
    _workbook,
    check_cnemc,
    check_csv,
    check_http_json,
    check_xlsx,
    cnemc_cases,
    csv_cases,
    http_json_cases,
    suite_settings,
    xlsx_cases,
)

HEAD = b"time,site,pm25,pm10,co\n"


def csv_case(layout: str, data: bytes, suffix: str = "", zone: str = "Asia/Shanghai") -> dict:
    return {
        "layout": layout,
        "filename": LAYOUTS[layout].filename + suffix,
        "suffix": suffix,
        "data": data,
        "time_zone": zone,
        "expected": None,
    }


def zlib_error_gzip(data: bytes) -> bytes:
    """``data`` gzipped, with one byte of the deflate stream changed so that zlib fails."""
    packed = gzip.compress(data, mtime=0)
    for i in range(10, len(packed) - 8):
        for flip in (0xFF, 0x55, 0x01):
            b = bytearray(packed)
            b[i] ^= flip
            try:
                gzip.decompress(bytes(b))
            except zlib.error:
                return bytes(b)
            except Exception:  # noqa: BLE001 - another kind of damage: try the next byte
                continue
    raise AssertionError("no flip gives a zlib error")


ROWS = b"".join(b"2016-03-26 %02d:00,A,1.5,2,0.3\n" % h for h in range(1, 20))


@suite_settings(80)
@given(case=csv_cases())
# a form feed inside a row: str.splitlines split it and shifted the number of every later line
@example(case=csv_case("iso", HEAD + b"2016-03-26 01:00,A,1\x0c2,3,4\n2016-03-26 02:00,B,1,2,3\n"))
# local times and offsets mixed: pandas gave the naive times +08:00, or object dtype that
# normalise could not convert (ValueError: Tz-aware datetime.datetime cannot be converted)
@example(
    case=csv_case(
        "iso",
        HEAD + b"2016-03-26T01:00:00+08:00,A,1,2,3\n2016-03-26T02:00:00+09:00,B,1,2,3\n"
        b"2016-03-26 03:00,C,1,2,3\n",
    )
)
# 9...9 (400 digits) and inf were stored as infinite concentrations
@example(
    case=csv_case(
        "iso", HEAD + b"2016-03-26 01:00,A," + b"9" * 400 + b",2,3\n2016-03-26 02:00,B,inf,2,3\n"
    )
)
# a lone CR inside the header of a file decoded line by line: csv.Error from the header parse
@example(
    case=csv_case(
        "prsa",
        b"No,year,month,day,hour,PM2.5,PM10,CO,sta\rtion\n1,2016,3,26,1,\xff1,2,3,A\n",
    )
)
# a damaged gzip stream raised zlib.error (not OSError): the ingest crashed
@example(case=csv_case("iso", zlib_error_gzip(HEAD + ROWS), suffix=".gz"))
def test_delimited_text(case, tmp_path_factory):
    check_csv(case, tmp_path_factory.mktemp("csv"))


def broken_workbook(old: bytes, new: bytes, member: str = "xl/worksheets/sheet1.xml") -> bytes:
    """A workbook whose ``member`` has (the regex) ``old`` replaced (valid zip, valid CRCs)."""
    blob = _workbook(
        ["time", "site", "pm25", "pm10", "co"],
        [["2016-03-26 01:00", "A", 1.5, 2, 0.3], ["2016-03-26 02:00", "B", "3", "", 0.4]],
        "data",
        extra_sheet=False,
    )
    src, out = zipfile.ZipFile(io.BytesIO(blob)), io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for info in src.infolist():
            body = src.read(info.filename)
            if info.filename == member:
                body, n = re.subn(old, new, body, count=1)
                assert n == 1
            z.writestr(info, body)
    return out.getvalue()


def xlsx_case(data: bytes, sheet: str | None = "data") -> dict:
    return {
        "layout": "iso",
        "data": data,
        "sheet": sheet,
        "lines": None,
        "max_line": 1_048_576,
        "expected": None,
    }


@suite_settings(60)
@given(case=xlsx_cases())
# read-only sheets are parsed while iterating: XML errors escaped read_excel_rows
@example(case=xlsx_case(broken_workbook(b"</row>", b"</rox>")))  # ParseError: mismatched tag
@example(case=xlsx_case(broken_workbook(b"workbookViewId", b"wokbookViewId")))  # TypeError
# a workbook listing no sheet: IndexError from wb.worksheets[0]
@example(case=xlsx_case(broken_workbook(rb"<sheet [^>]*/>", b"", "xl/workbook.xml"), sheet=None))
def test_excel(case, tmp_path_factory):
    check_xlsx(case, tmp_path_factory.mktemp("xlsx"))


def json_case(payload, path: str = "data") -> dict:
    return {
        "body": json.dumps(payload, ensure_ascii=False).encode(),
        "ctype": "application/json",
        "records_path": path,
        "expected": None,
    }


REC = {"stationCode": "1001A", "timePoint": "2016-03-27T17:00:00", "pm2_5": 12.5, "co": 0.4}


@suite_settings(80)
@given(case=http_json_cases())
# a refused value: the quarantine record named 'http:/fuzz.invalid/api/values' (Path(url))
@example(case=json_case({"data": [REC, {**REC, "pm2_5": "2016-01-01 01:00 CST"}]}))
def test_http_json_responses(case, tmp_path_factory):
    check_http_json(case, tmp_path_factory.mktemp("http"))


def row(time: str = "12-31 20:00", nh3n: str = "0.35", section: str = "东四") -> list:
    return ["江苏省", "长江流域", section, time, "Ⅱ", "7.9", "8.1", nh3n, "正常"]


def pages(*tbodies, total: object = "honest", thead=None) -> dict:
    """A CNEMC case: one reply per page (the last one answers every later page too)."""
    replies = []
    n = sum(len(t) for t in tbodies if isinstance(t, list))
    for t in tbodies:
        payload = {"thead": CNEMC_THEAD if thead is None else thead, "tbody": t}
        payload["total"] = n if total == "honest" else total
        replies.append((json.dumps(payload, ensure_ascii=False).encode(), "application/json"))
    return {"replies": replies, "page_size": 2, "clean": False}


@suite_settings(80)
@given(case=cnemc_cases())
@example(case=pages([row(), row("12-31 20:00+08:00")]))  # TypeError: tz-naive vs tz-aware
@example(case=pages([row()], total="abc"))  # ValueError: int('abc')
@example(case=pages([row()], total=None))  # TypeError: int(None)
@example(case=pages([row(nh3n="1.2.3L")]))  # ValueError: float('1.2.3') in clean_cell
@example(case=pages([row(), row("01-01 00:00")], total=10**9))  # PageIndex ignored: a hang
def test_cnemc_pages(case, tmp_path_factory):
    check_cnemc(case, tmp_path_factory.mktemp("cnemc"))


def test_a_cnemc_column_given_twice_is_refused(tmp_path):
    from pipelines.errors import SourceError

    twice = [*CNEMC_THEAD, "氨氮(mg/L)"]
    case = pages([[*row(), "0.5"]], thead=twice)
    with pytest.raises(SourceError, match="columns given twice"):
        from benchmarks.fuzz_parsers import _load_net, served
        from pipelines.ingest import read_source

        net = _load_net(
            tmp_path,
            {
                "adapter": "cnemc",
                "url": "http://fuzz.invalid/api",
                "retries": 0,
                "columns": {"氨氮": {"variable": "nh3n", "units": "mg L-1"}},
            },
        )
        with served(lambda url, form: (200, *case["replies"][0])):
            read_source(0, net)


def test_good_values_beside_a_bad_one_are_read_exactly():
    # pandas.to_numeric (the path of a column with a bad cell) is not correctly rounded
    from pipelines.sources.tabular import _to_float

    text = np.array(["1.4642156611551475e-07", "x", "inf"], dtype=object)
    vals, bad = _to_float(text, np.zeros(3, dtype=bool))
    assert vals[0] == float("1.4642156611551475e-07")
    assert list(bad) == [False, True, True] and np.isnan(vals[1:]).all()
