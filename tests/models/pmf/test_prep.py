"""PMF input preparation: the total variable found by name and kept weak, extra uncertainty."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from models.pmf.prep import detect_total, prepare
from pipelines.tracing.pmf_io import read_pmf_input

DATA = Path(__file__).resolve().parents[3] / "data" / "esat_examples"
EXAMPLES = [
    ("Dataset-BatonRouge-con.csv.xz", "Dataset-BatonRouge-unc.csv.xz", "TNMOC"),
    ("Dataset-StLouis-con.csv.xz", "Dataset-StLouis-unc.csv.xz", "Mass"),
    ("Dataset-Baltimore_con.txt.xz", "Dataset-Baltimore_unc.txt.xz", "PM2.5"),
]


@pytest.mark.parametrize(("con", "unc", "total"), EXAMPLES)
def test_the_total_variable_of_every_epa_example_is_found_and_kept_weak(con, unc, total):
    data = read_pmf_input(DATA / con, DATA / unc)
    assert detect_total(data.species) == total
    prep = prepare(data.x, data.u, data.species, data.samples, total=total)
    assert prep.total == total and prep.categories[total] == "weak"
    assert total in prep.species and total not in prep.dropped_species
    j, k = data.species.index(total), prep.species.index(total)
    np.testing.assert_allclose(prep.u[:, k], 3 * data.u[:, j])  # weak: U x 3


def test_baton_rouge_total_would_be_dropped_as_bad_without_it():
    data = read_pmf_input(
        DATA / "Dataset-BatonRouge-con.csv.xz", DATA / "Dataset-BatonRouge-unc.csv.xz"
    )
    plain = prepare(data.x, data.u, data.species, data.samples)
    assert plain.categories["TNMOC"] == "bad" and "TNMOC" in plain.dropped_species


def test_detect_total_by_name_only():
    assert detect_total(["OC", "EC", "pm2_5", "SO4"]) == "pm2_5"
    assert detect_total(["Fe", "PM 10", "Total Mass"]) == "PM 10"  # PM10 comes first
    assert detect_total(["Fe", "Zn", "OC"]) is None
    assert detect_total([]) is None


def test_extra_modelling_uncertainty_enters_every_cell():
    rng = np.random.default_rng(0)
    x = rng.gamma(2.0, 1.0, (20, 3)) + 0.5
    u = 0.05 * x + 0.01
    cats = {"a": "strong", "b": "weak", "c": "strong"}
    plain = prepare(x, u, ["a", "b", "c"], list("0123456789" * 2), categories=cats)
    extra = prepare(x, u, ["a", "b", "c"], list("0123456789" * 2), categories=cats, extra_pct=10)
    weak = u * [1, 3, 1]
    np.testing.assert_allclose(plain.u, weak)
    np.testing.assert_allclose(extra.u, np.sqrt(weak**2 + (0.1 * x) ** 2))  # PMF5's formula
    assert extra.extra_pct == 10 and plain.extra_pct == 0
    assert extra.sn == plain.sn  # S/N from the uncertainties as given
