"""Property tests of the soil laboratory file ingest on generated and damaged files (#16, #18).

Strategies and properties: ``benchmarks/fuzz_parsers.py`` (``soil_cases`` / ``check_soil``);
the long campaign: ``benchmarks/bench_fuzz.py --only soil_csv``.
"""

from __future__ import annotations

from hypothesis import example, given, settings

import pipelines.soil.jobs  # noqa: F401 - imported here, not inside the first case's deadline
from benchmarks.fuzz_parsers import SOIL_HEADER, check_soil, soil_cases, suite_settings

ROW = "S1,P1,500000,3500000,0,20,agricultural,paddy,6.2,2026-05-10,c1,Cd,{v},mg/kg,x,{dl},{r}"


def soil(*lines: str, damaged: bool = False) -> dict:
    text = ",".join(SOIL_HEADER) + "\n" + "\n".join(lines) + "\n"
    return {"data": text.encode(), "damaged": damaged, "rows": len(lines)}


# each case ingests twice (netCDF writes and reads): the first one, under a loaded machine, took
# longer than the suite's 10 s deadline; check_soil's own hard limit (30 s) still catches a hang
@settings(suite_settings(60), deadline=None)
@given(case=soil_cases())
@example(case=soil(ROW.format(v="0.4", dl="", r=""), ROW.format(v="0.5", dl="", r="1")))
@example(case=soil(ROW.format(v="ND", dl="", r=""), ROW.format(v="<0.05", dl="0.01", r="x")))
@example(case=soil(ROW.format(v="0.4", dl="", r="2"), ROW.format(v="0.5", dl="", r="2")))
@example(case=soil("S1,P1", damaged=True))  # a short row
# a row with more fields than the header: pandas made the extra leading fields a MultiIndex
# (TypeError adding the line numbers), and a header naming a column twice was renamed silently
@example(case=soil(ROW.format(v="0.4", dl="", r="") + ",extra,more", damaged=True))
@example(
    case={
        "data": (
            ",".join(SOIL_HEADER).replace("date", "x") + "\n" + ROW.format(v="1", dl="", r="")
        ).encode(),
        "damaged": True,
        "rows": 1,
    }
)
def test_soil_files_are_stored_or_quarantined_and_a_reingest_changes_nothing(
    case, tmp_path_factory
):
    check_soil(case, tmp_path_factory.mktemp("soil"))
