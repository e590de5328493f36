"""``qingyuan trace pmf`` with BS-DISP, penalised Fpeak and a constraints file (issue #17)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from qingyuan.cli import main

SPECIES = ["a", "b", "c", "d", "e", "f", "g", "h"]


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> tuple[Path, Path]:
    """Three known sources over eight species, 80 samples, 5 % + 0.02 uncertainty."""
    tmp = tmp_path_factory.mktemp("pmf_rot")
    rng = np.random.default_rng(3)
    F = np.array(
        [
            [4.0, 2.0, 0.0, 0.5, 0.0, 1.0, 0.2, 0.0],
            [0.0, 1.0, 3.0, 0.0, 2.0, 0.0, 0.5, 0.3],
            [0.5, 0.0, 0.2, 2.5, 0.0, 0.4, 0.0, 3.0],
        ]
    )
    G = rng.gamma(2.0, 1.0, (80, 3))
    clean = G @ F
    u = 0.05 * clean + 0.02
    x = np.clip(clean + rng.normal(0, 1, clean.shape) * u, 0.001, None)
    head = "Date," + ",".join(SPECIES) + "\n"
    days = pd.date_range("2020-01-01", periods=80, freq="D").strftime("%Y-%m-%d")

    def table(a: np.ndarray) -> str:
        return head + "".join(
            f"{d},{','.join(f'{v:.5f}' for v in r)}\n" for d, r in zip(days, a, strict=True)
        )

    c, uu = tmp / "c.csv", tmp / "u.csv"
    c.write_text(table(x), encoding="utf-8")
    uu.write_text(table(u), encoding="utf-8")
    return c, uu


def _run(files: tuple[Path, Path], out: Path, *extra: str):
    c, u = files
    args = ["trace", "pmf", "--conc", str(c), "--unc", str(u), "--factors", "3", "--starts", "4"]
    return CliRunner().invoke(main, [*args, "--bootstrap", "0", "--out", str(out), *extra])


def test_constraints_fpeak_and_bsdisp_reach_their_tables(files, tmp_path):
    base = _run(files, tmp_path / "base")
    assert base.exit_code == 0, base.output
    prof = pd.read_csv(tmp_path / "base" / "profiles_concentration.csv", index_col=0)
    # the factor carrying most of species "a": its "a" is set to zero, another one pulled down
    k = int(prof.loc["a"].to_numpy().argmax()) + 1
    cons = tmp_path / "cons.yml"
    cons.write_text(
        "constraints:\n"
        f"  - kind: set to zero\n    factor: {k}\n    species: a\n"
        f"  - kind: pull down\n    factor: {k}\n    species: b\n    dq_percent: 0.5\n"
        f"  - kind: pull ratio to value\n    factor: {k}\n    species: c\n    over: d\n"
        "    value: 2.0\n    dq_percent: 0.5\n",
        encoding="utf-8",
    )
    out = tmp_path / "rot"
    res = _run(
        files, out, "--constraints", str(cons), "--fpeak", "-0.5", "--fpeak", "0.5", "--bsdisp", "2"
    )
    assert res.exit_code == 0, res.output
    s = json.loads((out / "summary.json").read_text())
    # setting the main species of a factor to zero must cost Q (the data disagree): not acceptable
    c = s["constrained"]
    assert c["dq_robust"] > 0 and not c["acceptable"], c
    assert "constrained run: dQ(robust)" in res.output
    cp = pd.read_csv(out / "constrained_profiles.csv", index_col="species")
    assert cp.loc["a", f"factor_{k}"] == 0.0
    table = pd.read_csv(out / "constrained_constraints.csv")
    assert len(table) == 3
    ratio = table[table["kind"] == "pull ratio to value"].iloc[0]
    assert ratio["element"] == "c/d" and ratio["goal"] == 2.0
    assert ratio["achieved"] == pytest.approx(
        cp.loc["c", f"factor_{k}"] / cp.loc["d", f"factor_{k}"]
    )
    fp = pd.read_csv(out / "fpeak.csv")
    assert sorted(fp["strength"]) == [-0.5, 0.5]
    assert (fp["dq_robust"] > -1e-6 * s["q_robust"]).all()  # a pull cannot beat the minimum
    fprof = pd.read_csv(out / "fpeak_profiles.csv")
    assert len(fprof) == 2 * 3 * len(SPECIES)
    sw = pd.read_csv(out / "bsdisp_swaps.csv")
    assert list(sw["dq_max"]) == [0.5, 1.0, 2.0, 4.0]
    iv = pd.read_csv(out / "bsdisp_intervals.csv")
    assert len(iv) == 4 * 3 * len(SPECIES)
    assert (iv["low"] <= iv["high"]).all()
    # a larger dQmax displaces further: the intervals nest, and at dQmax 4 hold the base value
    wide = iv.pivot_table(index=["factor", "species"], columns="dq_max", values=["low", "high"])
    assert (wide["low"][4.0] <= wide["low"][0.5] + 1e-9).all()
    assert (wide["high"][4.0] >= wide["high"][0.5] - 1e-9).all()
    at4 = iv[iv["dq_max"] == 4.0]
    inside = (at4["low"] <= at4["base"] + 1e-9) & (at4["high"] >= at4["base"] - 1e-9)
    assert inside.mean() >= 0.9, at4[~inside]
    # every output is listed in files.csv with what it is and its units
    guide = pd.read_csv(out / "files.csv")
    assert set(guide["output"]) == set(s["files"]) and guide["units"].notna().all(), guide
    assert all((out / f).exists() for f in guide["file"])
    assert s["bsdisp"]["replicates"] == 2 and "BS-DISP (2 replicates)" in res.output


@pytest.mark.parametrize(
    ("text", "where"),
    [
        (
            "constraints:\n  - kind: set to zero\n    factor: 1\n    species: zz\n",
            ":4: field 'constraints.0.species'",
        ),
        (
            "constraints:\n  - kind: set to zero\n    factor: 9\n    species: a\n",
            ":3: field 'constraints.0.factor'",
        ),
        (
            "constraints:\n  - kind: pull sideways\n    factor: 1\n    species: a\n",
            ":2: field 'constraints.0.kind'",
        ),
        (
            "constraints:\n  - kind: pull down\n    factor: 1\n    specie: a\n",
            "constraints.0.specie",
        ),
        (
            "constraints:\n  - kind: set to zero\n    factor: 1\n    species: a\n    dq: 3\n",
            "no dQ limit",
        ),
        ("constraints: []\n", "constraints"),
        (
            "constraints:\n  - kind: pull ratio to value\n    factor: 1\n    species: a\n"
            "    over: zz\n    value: 1\n",
            ":5: field 'constraints.0.over'",
        ),
        (
            "constraints:\n  - kind: pull ratio to value\n    factor: 1\n    species: a\n"
            "    value: 1\n",
            "over",
        ),
    ],
)
def test_a_bad_constraints_file_is_refused_before_the_fit(files, tmp_path, text, where):
    bad = tmp_path / "bad.yml"
    bad.write_text(text, encoding="utf-8")
    res = _run(files, tmp_path / "out", "--constraints", str(bad))
    assert res.exit_code == 2, res.output
    assert "bad.yml" in res.output and where in res.output, res.output
    assert not (tmp_path / "out" / "summary.json").exists()
