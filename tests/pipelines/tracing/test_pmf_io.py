"""PMF input files: the bundled ESAT examples load; bad files are refused with file, line, field."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from models.pmf.prep import polissar_substitute, prepare, signal_to_noise, sn_categories
from pipelines.errors import SourceError
from pipelines.tracing.pmf_io import read_pmf_input

DATA = Path(__file__).resolve().parents[3] / "data" / "esat_examples"


def test_bundled_examples_load_with_the_documented_shapes():
    br = read_pmf_input(
        DATA / "Dataset-BatonRouge-con.csv.xz", DATA / "Dataset-BatonRouge-unc.csv.xz"
    )
    assert br.x.shape == (307, 41) and br.times is not None
    stl = read_pmf_input(DATA / "Dataset-StLouis-con.csv.xz", DATA / "Dataset-StLouis-unc.csv.xz")
    assert stl.x.shape == (418, 13) and stl.report["zero_concentrations"] == 9
    bal = read_pmf_input(
        DATA / "Dataset-Baltimore_con.txt.xz", DATA / "Dataset-Baltimore_unc.txt.xz"
    )
    assert bal.x.shape == (630, 26)
    assert (
        bal.report["conc_empty_rows_dropped"] == 27 and bal.report["unc_empty_rows_dropped"] == 27
    )


def write(tmp: Path, name: str, text: str) -> Path:
    p = tmp / name
    p.write_text(text, encoding="utf-8")
    return p


CON = "Date,A,B\n1/1/2020,1.0,2.0\n1/2/2020,1.5,\n1/3/2020,2.0,3.0\n"
UNC = "Date,A,B\n1/1/2020,0.1,0.2\n1/2/2020,0.1,0.2\n1/3/2020,0.2,0.3\n"


@pytest.mark.parametrize(
    ("con", "unc", "line", "field", "words"),
    [
        (CON, UNC.replace("1/2/2020", "1/9/2020"), 3, "Date", "sample id"),
        (CON, UNC.replace("Date,A,B", "Date,A,C"), 1, "", "species differ"),
        (CON, UNC + "1/4/2020,0.1,0.1\n", None, "", "4 samples"),
        ("Date,A,B\n", UNC, 2, "", "no sample rows"),
        (CON, UNC.replace("0.2,0.3", "0.0,0.3"), 4, "A", "<= 0"),
        (CON, UNC.replace("0.2,0.3", "-0.1,0.3"), 4, "A", "<= 0"),
        (CON.replace("2.0,3.0", "2.0,n/a"), UNC, 4, "B", "not a number"),
        (CON, UNC.replace("1/3/2020,0.2,0.3", "1/3/2020,0.2,"), 4, "B", "uncertainty missing"),
    ],
)
def test_bad_files_are_refused_with_file_line_and_field(tmp_path, con, unc, line, field, words):
    c, u = write(tmp_path, "c.csv", con), write(tmp_path, "u.csv", unc)
    with pytest.raises(SourceError) as exc:
        read_pmf_input(c, u)
    msg = str(exc.value)
    assert words in msg
    if line:
        assert f":{line}:" in msg
    if field:
        assert f"{field}:" in msg


def test_nonpositive_uncertainty_floor_is_reported(tmp_path):
    c = write(tmp_path, "c.csv", CON)
    u = write(tmp_path, "u.csv", UNC.replace("0.2,0.3", "0.0,0.3"))
    r = read_pmf_input(c, u, nonpositive="floor")
    assert r.report["nonpositive_uncertainties"] == 1 and r.u[2, 0] == pytest.approx(0.1)


def test_trailing_tab_rows_are_dropped_and_missing_values_substituted(tmp_path):
    c = write(tmp_path, "c.txt", CON.replace(",", "\t") + "\t\t\n\t\t\n")
    u = write(tmp_path, "u.txt", UNC.replace(",", "\t") + "\t\t\n\t\t\n")
    r = read_pmf_input(c, u)
    assert r.x.shape == (3, 2) and r.report["conc_empty_rows_dropped"] == 2
    assert r.report["missing_values"] == 1
    p = prepare(r.x, r.u, r.species, r.samples, categories={"A": "strong", "B": "strong"})
    assert p.x[1, 1] == pytest.approx(2.5)  # the species median
    assert p.u[1, 1] == pytest.approx(4 * 2.5)  # 4 x median (Polissar)
    assert p.treatments["missing_substituted"] == 1


def test_below_detection_limit_and_categories():
    x = np.array([[0.01, 5.0], [2.0, 6.0], [3.0, 0.2]])
    u = np.array([[0.1, 0.5], [0.2, 0.5], [0.3, 0.5]])
    xs, us, missing, below = polissar_substitute(x, u, mdl=np.array([0.05, 0.05]))
    assert (
        below[0, 0] and xs[0, 0] == pytest.approx(0.025) and us[0, 0] == pytest.approx(5 / 6 * 0.05)
    )
    sn = signal_to_noise(x, u)
    cats = sn_categories(sn, ["a", "total"], total="total")
    assert cats["total"] == "weak"  # the total variable is set weak
    assert sn_categories(np.array([0.3, 0.7, 2.0]), ["x", "y", "z"]) == {
        "x": "bad",
        "y": "weak",
        "z": "strong",
    }
    p = prepare(x, u, ["a", "b"], ["1", "2", "3"], categories={"a": "weak", "b": "strong"})
    assert np.allclose(p.u[:, 0], 3 * u[:, 0])


def test_all_missing_species_is_reported_and_left_out(tmp_path):
    c = write(tmp_path, "c.csv", "Date,A,B\n1,1.0,\n2,2.0,\n3,1.5,\n")
    u = write(tmp_path, "u.csv", "Date,A,B\n1,0.1,\n2,0.1,\n3,0.1,\n")
    r = read_pmf_input(c, u)
    assert r.report["all_missing_species"] == ["B"]
    p = prepare(r.x, r.u, r.species, r.samples)
    assert p.species == ["A"] and p.dropped_species == ["B"]


def test_cli_attribute_pmf_writes_outputs_and_refuses_bad_files(tmp_path, monkeypatch):
    import json

    from click.testing import CliRunner

    from qingyuan.cli import main

    monkeypatch.chdir(tmp_path)
    rng = np.random.default_rng(0)
    G = rng.gamma(2.0, 1.0, (60, 2))
    F = np.array([[1.0, 0.5, 0.0, 0.2], [0.0, 0.3, 1.0, 0.4]])
    x = G @ F + 0.01
    u = 0.05 * x + 0.01
    head = "Date,a,b,c,d\n"
    c = write(
        tmp_path,
        "c.csv",
        head + "".join(f"{i},{','.join(f'{v:.5f}' for v in r)}\n" for i, r in enumerate(x)),
    )
    uu = write(
        tmp_path,
        "u.csv",
        head + "".join(f"{i},{','.join(f'{v:.5f}' for v in r)}\n" for i, r in enumerate(u)),
    )
    out = tmp_path / "pmf"
    res = CliRunner().invoke(
        main,
        [
            "attribute",
            "pmf",
            "--conc",
            str(c),
            "--unc",
            str(uu),
            "--factors",
            "2",
            "--starts",
            "4",
            "--bootstrap",
            "4",
            "--fpeak",
            "0.1",
            "--out",
            str(out),
        ],
    )
    assert res.exit_code == 0, res.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["runs_converged"] == 4 and summary["mlflow_run_id"]
    for f in (
        "profiles_concentration.csv",
        "contributions_normalised.csv",
        "runs.csv",
        "profiles.png",
        "fingerprints.png",
        "g_space.png",
        "residuals.png",
        "bootstrap_mapping.csv",
        "fpeak.csv",
    ):
        assert (out / f).exists(), f
    lines = uu.read_text().splitlines()
    cells = lines[4].split(",")
    neg_rows = [*lines[:4], ",".join([cells[0], "-1", *cells[2:]]), *lines[5:]]
    neg = write(tmp_path, "u_neg.csv", "\n".join(neg_rows) + "\n")
    cli = ["attribute", "pmf", "--conc", str(c), "--factors", "2", "--unc"]
    res = CliRunner().invoke(main, [*cli, str(neg)])
    assert res.exit_code == 2 and "u_neg.csv:5: a: uncertainty -1 <= 0" in res.output
    extra = write(
        tmp_path, "u_extra.csv", "\n".join([*lines[:4], lines[4] + ",9", *lines[5:]]) + "\n"
    )
    res = CliRunner().invoke(main, [*cli, str(extra)])
    assert res.exit_code == 2 and "u_extra.csv:5: malformed row" in res.output
