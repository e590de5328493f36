"""Property tests of the PMF concentration / uncertainty reader on damaged files (issue #16).

Strategies and properties: ``benchmarks/fuzz_parsers.py``; the long campaign:
``benchmarks/bench_fuzz.py``. Inputs that once crashed the reader or were misread are pinned.
"""

from __future__ import annotations

import lzma

from hypothesis import example, given

from benchmarks.fuzz_parsers import check_pmf, pmf_cases, suite_settings

CON = "Date,SO4,OC\n2016-01-01,1.5,2.0\n2016-01-04,2.5,\n2016-01-07,0.8,1.1\n"
UNC = "Date,SO4,OC\n2016-01-01,0.1,0.2\n2016-01-04,0.2,0.2\n2016-01-07,0.1,0.1\n"


def pmf(
    con: bytes | str = CON, unc: bytes | str = UNC, *, names=("conc.csv", "unc.csv"), expected=None
) -> dict:
    con = con.encode() if isinstance(con, str) else con
    unc = unc.encode() if isinstance(unc, str) else unc
    return {
        "files": {"conc": (names[0], con), "unc": (names[1], unc)},
        "nonpositive": "error",
        "expected": expected,
    }


@suite_settings(80)
@given(case=pmf_cases())
@example(case=pmf(CON.replace("Date", "日期").encode("gbk")))  # UnicodeDecodeError
@example(case=pmf(b"\xef\xef\xbb\xbf" + CON.encode()))  # UnicodeDecodeError (a broken BOM)
@example(
    case=pmf(unc=lzma.compress(UNC.encode())[:-20], names=("conc.csv", "unc.csv.xz"))
)  # LZMAError / EOFError
@example(
    case=pmf(unc=b"BZh91AY&AY&", names=("conc.csv", "unc.csv.bz2"))
)  # OSError: invalid data stream
# a record separator: str.splitlines saw two lines where pandas saw one (ValueError from zip)
@example(case=pmf(CON.replace("2.5,", "2.5\x1e,")))
# every row one field longer than the header: pandas made the first column the index and
# shifted every species one column left, without a word
@example(
    case=pmf(
        "Date,SO4,OC\n2016-01-01,1.5,2.0,9\n2016-01-04,2.5,3.0,9\n",
        "Date,SO4,OC\n2016-01-01,1.5,0.2,0.3\n2016-01-04,2.5,0.2,0.3\n",
    )
)
# a short row: pandas padded it with empty (missing) values
@example(case=pmf(CON.replace("2016-01-07,0.8,1.1", "2016-01-07"), UNC))
# a species named twice: pandas renamed the second 'SO4.1'
@example(
    case=pmf(CON.replace("Date,SO4,OC", "Date,SO4,SO4"), UNC.replace("Date,SO4,OC", "Date,SO4,SO4"))
)
# 1e400 and inf were read as infinite concentrations
@example(case=pmf(CON.replace("1.5,2.0", "1.5,inf")))
# a NUL inside a number: pandas.to_numeric read "1.5" from it, float() refused it (ValueError)
@example(case=pmf(CON.replace("1.5,2.0", "1.5\x0042,2.0")))
# pandas.to_numeric is not correctly rounded: 1.4642156611551475e-07 came back ...478e-07
@example(
    case=pmf(
        CON.replace("1.5,2.0", "1.4642156611551475e-07,2.0"),
        expected=(
            ["SO4", "OC"],
            ["2016-01-01", "2016-01-04", "2016-01-07"],
            [[1.4642156611551475e-07, 2.0], [2.5, None], [0.8, 1.1]],
        ),
    )
)
def test_pmf_files(case, tmp_path_factory):
    check_pmf(case, tmp_path_factory.mktemp("pmf"))
