"""GB 15618-2018 and GB 36600-2018 values as configured, at every pH breakpoint.

The expected tables below were typed from the standards' text (GB 15618-2018 Table 1 and Table 3;
GB 36600-2018 Table 1), independently of ``configs/standards/*.yml``. A second source was
searched for (the project's ``search`` tool, pages and docs corpora, queries "GB 15618-2018
风险筛选值 镉 水田" and "GB 36600-2018 筛选值 第一类用地"): the pages found describe the standards
(scope, the screening / intervention concepts, the eight basic metals, the pH dependence) but
none carries the value tables, so no value is confirmed by a second source here.
"""

from __future__ import annotations

import numpy as np
import pytest

from features.soil.standards import ph_band
from pipelines.config.soil import soil_standard

# analyte -> subtype -> 4 values (pH <= 5.5, 5.5-6.5, 6.5-7.5, > 7.5) [mg kg-1]
GB15618_SCREENING = {
    "soil_cd": {"paddy": [0.3, 0.4, 0.6, 0.8], "other": [0.3, 0.3, 0.3, 0.6]},
    "soil_hg": {"paddy": [0.5, 0.5, 0.6, 1.0], "other": [1.3, 1.8, 2.4, 3.4]},
    "soil_as": {"paddy": [30, 30, 25, 20], "other": [40, 40, 30, 25]},
    "soil_pb": {"paddy": [80, 100, 140, 240], "other": [70, 90, 120, 170]},
    "soil_cr": {"paddy": [250, 250, 300, 350], "other": [150, 150, 200, 250]},
    "soil_cu": {"orchard": [150, 150, 200, 200], "other": [50, 50, 100, 100]},
    "soil_ni": {"other": [60, 70, 100, 190]},
    "soil_zn": {"other": [200, 200, 250, 300]},
}
GB15618_INTERVENTION = {
    "soil_cd": [1.5, 2.0, 3.0, 4.0],
    "soil_hg": [2.0, 2.5, 4.0, 6.0],
    "soil_as": [200, 150, 120, 100],
    "soil_pb": [400, 500, 700, 1000],
    "soil_cr": [800, 850, 1000, 1300],
}
# analyte -> (screening type 1, type 2, intervention type 1, type 2) [mg kg-1]
GB36600 = {
    "soil_as": (20, 60, 120, 140),
    "soil_cd": (20, 65, 47, 172),
    "soil_cr6": (3.0, 5.7, 30, 78),
    "soil_cu": (2000, 18000, 8000, 36000),
    "soil_pb": (400, 800, 800, 2500),
    "soil_hg": (8, 38, 33, 82),
    "soil_ni": (150, 900, 600, 2000),
    "soil_benzene": (1, 4, 10, 40),
    "soil_toluene": (1200, 1200, 1200, 1200),
    "soil_ethylbenzene": (7.2, 28, 72, 280),
    "soil_trichloroethylene": (0.7, 2.8, 7, 20),
    "soil_tetrachloroethylene": (11, 53, 34, 183),
    "soil_vinyl_chloride": (0.12, 0.43, 1.2, 4.3),
    "soil_chloroform": (0.3, 0.9, 5, 10),
    "soil_dichloromethane": (94, 616, 300, 2000),
    "soil_benzo_a_pyrene": (0.55, 1.5, 5.5, 15),
    "soil_naphthalene": (25, 70, 255, 700),
    "soil_benzo_a_anthracene": (5.5, 15, 55, 151),
    "soil_dibenz_a_h_anthracene": (0.55, 1.5, 5.5, 15),
}
# a pH inside each band, and the breakpoints themselves (which fall in the lower band)
PH_CASES = [
    (4.0, 0),
    (5.5, 0),
    (5.500001, 1),
    (6.0, 1),
    (6.5, 1),
    (6.500001, 2),
    (7.0, 2),
    (7.5, 2),
    (7.500001, 3),
    (9.0, 3),
]


@pytest.fixture(scope="module")
def gb15618():
    return soil_standard("gb15618-2018")


@pytest.fixture(scope="module")
def gb36600():
    return soil_standard("gb36600-2018")


def test_ph_band_breakpoints():
    ph = np.array([p for p, _ in PH_CASES] + [np.nan])
    assert ph_band(ph, [5.5, 6.5, 7.5]).tolist() == [b for _, b in PH_CASES] + [-1]


def test_gb15618_has_exactly_the_eight_metals(gb15618):
    assert set(gb15618.analytes) == set(GB15618_SCREENING)
    assert set(gb15618.intervention) == set(GB15618_INTERVENTION)
    assert "Table 1" in gb15618.source and "Table 3" in gb15618.source


@pytest.mark.parametrize("analyte", sorted(GB15618_SCREENING))
@pytest.mark.parametrize("subtype", ["paddy", "orchard", "other"])
def test_gb15618_screening_every_band_and_breakpoint(gb15618, analyte, subtype):
    table = GB15618_SCREENING[analyte]
    want_row = table.get(subtype, table["other"])  # Cu: orchard row; Cd..Cr: paddy row
    ph = np.array([p for p, _ in PH_CASES])
    got = gb15618.screening_value(analyte, np.full(len(ph), subtype, dtype=object), ph)
    want = [want_row[b] for _, b in PH_CASES]
    np.testing.assert_allclose(got, want, rtol=0, atol=0)


@pytest.mark.parametrize("analyte", sorted(GB15618_SCREENING))
def test_gb15618_intervention_every_band_and_breakpoint(gb15618, analyte):
    ph = np.array([p for p, _ in PH_CASES])
    for subtype in ("paddy", "orchard", "other"):
        got = gb15618.intervention_value(analyte, np.full(len(ph), subtype, dtype=object), ph)
        if analyte in GB15618_INTERVENTION:
            want = [GB15618_INTERVENTION[analyte][b] for _, b in PH_CASES]
            np.testing.assert_allclose(got, want, rtol=0, atol=0)
        else:  # Cu, Ni, Zn have no intervention value
            assert np.isnan(got).all()


def test_gb15618_missing_ph_gives_no_value(gb15618):
    got = gb15618.screening_value("soil_cd", np.array(["paddy"], dtype=object), np.array([np.nan]))
    assert np.isnan(got).all()


@pytest.mark.parametrize("analyte", sorted(GB36600))
def test_gb36600_every_value(gb36600, analyte):
    s1, s2, i1, i2 = GB36600[analyte]
    sub = np.array(["type1", "type2"], dtype=object)
    np.testing.assert_allclose(gb36600.screening_value(analyte, sub), [s1, s2], rtol=0, atol=0)
    np.testing.assert_allclose(gb36600.intervention_value(analyte, sub), [i1, i2], rtol=0, atol=0)


def test_gb36600_entries_are_all_tested(gb36600):
    assert set(gb36600.analytes) == set(GB36600) == set(gb36600.intervention)
    assert not gb36600.needs_ph


def test_a_bad_standard_file_names_file_line_field(tmp_path, monkeypatch):
    import shutil

    from pipelines.config.locations import config_dir
    from pipelines.config.registry import load_standard_file
    from pipelines.errors import ConfigError

    dst = tmp_path / "configs"
    shutil.copytree(config_dir(), dst)
    p = dst / "standards" / "gb15618_2018.yml"
    p.write_text(
        p.read_text(encoding="utf-8").replace(
            "soil_ni: {other: [60, 70, 100, 190]}", "soil_ni: {other: [60, 70, 100]}"
        ),
        encoding="utf-8",
    )
    monkeypatch.setenv("QINGYUAN_CONFIG", str(dst))
    with pytest.raises(ConfigError) as err:
        load_standard_file(p)
    assert "gb15618_2018.yml" in str(err.value) and "soil_ni" in str(err.value)
