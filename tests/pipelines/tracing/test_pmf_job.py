"""The PMF job end to end: extra uncertainty, the total variable, every output, lazy imports."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import pipelines.tracing.pmf as job
from models.pmf.prep import prepare
from pipelines.tracing.pmf import run_pmf
from pipelines.tracing.pmf_io import read_pmf_input

ROOT = Path(__file__).resolve().parents[3]
SPECIES = ["a", "b", "c", "d", "PM2.5"]


def write_pair(tmp: Path, n: int = 60, seed: int = 0) -> tuple[Path, Path]:
    """Two factors, four species and a total PM2.5 with a huge uncertainty (S/N < 0.5: bad)."""
    rng = np.random.default_rng(seed)
    G = rng.gamma(2.0, 1.0, (n, 2))
    F = np.array([[1.0, 0.5, 0.0, 0.2], [0.0, 0.3, 1.0, 0.4]])
    x = G @ F + 0.01
    x = x * rng.lognormal(0, 0.05, x.shape)
    x = np.column_stack([x, 1.1 * x.sum(axis=1)])
    u = 0.05 * x + 0.01
    u[:, 4] = 5 * x[:, 4]
    head = "Date," + ",".join(SPECIES) + "\n"
    days = pd.date_range("2020-01-01", periods=n, freq="D").strftime("%m/%d/%Y")
    paths = []
    for name, a in (("c.csv", x), ("u.csv", u)):
        body = "".join(
            f"{d},{','.join(f'{v:.6f}' for v in r)}\n" for d, r in zip(days, a, strict=True)
        )
        (tmp / name).write_text(head + body, encoding="utf-8")
        paths.append(tmp / name)
    return paths[0], paths[1]


def test_extra_uncertainty_changes_q_and_reaches_bootstrap_and_disp(tmp_path, monkeypatch):
    c, u = write_pair(tmp_path)
    seen: dict[str, np.ndarray] = {}

    def spy(name, fn):
        def wrapped(x, u, base, *args, **kwargs):
            seen[name] = u
            return fn(x, u, base, *args, **kwargs)

        return wrapped

    monkeypatch.setattr(job, "bootstrap", spy("bootstrap", job.bootstrap))
    monkeypatch.setattr(job, "displacement", spy("disp", job.displacement))
    common = {"starts": 3, "bootstrap_n": 3, "track": False}
    plain = run_pmf(c, u, 2, tmp_path / "plain", **common)
    extra = run_pmf(c, u, 2, tmp_path / "extra", extra_pct=10.0, disp=True, **common)
    assert extra["q_true"] < 0.9 * plain["q_true"]  # larger uncertainties: smaller Q
    assert (
        extra["extra_uncertainty_percent"] == 10.0 == extra["settings"]["extra_uncertainty_percent"]
    )
    assert plain["extra_uncertainty_percent"] == 0.0
    data = read_pmf_input(c, u)
    ref = prepare(data.x, data.u, data.species, data.samples, total="PM2.5")
    want = np.sqrt(ref.u**2 + (0.1 * ref.x) ** 2)
    np.testing.assert_allclose(seen["bootstrap"], want)
    np.testing.assert_allclose(seen["disp"], want)


def test_the_total_variable_is_found_kept_weak_and_gives_the_mass_units(tmp_path):
    c, u = write_pair(tmp_path)
    s = run_pmf(c, u, 2, tmp_path / "auto", starts=3, bootstrap_n=0, track=False)
    assert s["total_variable"] == "PM2.5" and s["total_variable_detected"]
    assert s["categories"]["PM2.5"] == "weak" and "PM2.5" not in s["dropped_species"]
    out = tmp_path / "auto"
    mass = pd.read_csv(out / "contributions_total_variable.csv", index_col=0)
    series = pd.read_csv(out / "observed_predicted" / "PM2.5.csv", index_col=0)
    np.testing.assert_allclose(mass.sum(axis=1), series["predicted"], rtol=1e-6)
    share = pd.read_csv(out / "factor_share_of_total.csv", index_col=0).iloc[:, 0]
    assert share.sum() == pytest.approx(100.0)
    # no total variable: PM2.5's S/N is below 0.5, so it is left out as bad (the old default)
    none = run_pmf(c, u, 2, tmp_path / "none", starts=3, bootstrap_n=0, total=None, track=False)
    assert none["total_variable"] is None and "PM2.5" in none["dropped_species"]
    assert not (tmp_path / "none" / "contributions_total_variable.csv").exists()
    with pytest.raises(ValueError, match="'NOx' is not a species"):
        run_pmf(c, u, 2, tmp_path / "bad", total="NOx", bootstrap_n=0, track=False)


def test_every_pmf5_output_is_written(tmp_path):
    c, u = write_pair(tmp_path)
    out = tmp_path / "run"
    s = run_pmf(c, u, 2, out, starts=3, bootstrap_n=5, disp=True, track=False)
    for name in (
        "profiles_concentration",
        "profiles_percent_of_species",
        "profiles_percent_of_factor_total",
        "contributions_normalised",
        "contributions_total_variable",
        "residuals",
        "scaled_residuals",
        "observed_predicted_regression",
        "bootstrap_mapping",
        "bootstrap_profiles",
        "disp_intervals",
        "disp_swaps",
        "disp_summary",
    ):
        assert Path(s["files"][name]).is_file() and Path(s["files"][name]).name == f"{name}.csv"
    for fig in (
        "profiles",
        "fingerprints",
        "contributions",
        "g_space",
        "residuals",
        "disp_warning",
    ):
        assert (out / f"{fig}.png").read_bytes()[:4] == b"\x89PNG"
    index = pd.read_csv(s["files"]["observed_predicted"])
    assert Path(s["files"]["observed_predicted"]).name == "observed_predicted_series.csv"
    assert list(index["species"]) == SPECIES
    assert all((out / f).is_file() for f in index["file"])
    mapping = pd.read_csv(out / "bootstrap_mapping.csv")
    assert list(mapping.columns) == [
        "base_factor",
        "boot_factor_1",
        "boot_factor_2",
        "unmapped",
        "mapped_percent",
    ]
    assert list(mapping["base_factor"]) == ["factor_1", "factor_2", "unmapped"]
    b = s["bootstrap"]
    assert b["replicates"] == 5 and b["threshold_r"] == 0.6 and "contributions" in b["match"]
    assert len(b["mapping"]) == 3 and b["mapping"][0]["base_factor"] == "factor_1"
    assert set(b["base_within_p5_p95"]) == {"factor_1", "factor_2"}
    assert s["disp"]["well_defined"] in (True, False) and "contributions" in s["disp"]["match"]
    assert set(s["timings"]) >= {"read_prepare", "fit", "bootstrap", "disp", "tables_figures"}
    json.loads((out / "summary.json").read_text())  # the summary is plain JSON


def test_default_bootstrap_is_pmf5s_100():
    import inspect

    from models.pmf.error_estimates import bootstrap
    from qingyuan.cli.trace import trace_pmf

    assert inspect.signature(run_pmf).parameters["bootstrap_n"].default == 100
    assert inspect.signature(bootstrap).parameters["replicates"].default == 100
    opt = next(p for p in trace_pmf.params if p.name == "bootstrap_n")
    assert opt.default == 100


HEAVY = ("torch", "lightgbm", "prefect")


def test_importing_the_pmf_job_imports_no_forecasting_stack():
    code = (
        "import sys, pipelines.tracing.pmf; "
        "print([m for m in ('torch', 'lightgbm', 'prefect', 'mlflow', 'matplotlib') "
        "if m in sys.modules])"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "[]", done.stdout + done.stderr


def test_the_trace_pmf_command_never_imports_torch_lightgbm_or_prefect(tmp_path):
    c, u = write_pair(tmp_path)
    out = tmp_path / "cli"
    code = (
        "import sys\n"
        "from qingyuan.cli import main\n"
        "try:\n"
        f"    main(['trace', 'pmf', '--conc', {str(c)!r}, '--unc', {str(u)!r}, '--factors', '2',"
        f" '--starts', '2', '--bootstrap', '2', '--extra-uncertainty', '10', '--out', {str(out)!r}])\n"
        "except SystemExit as e:\n"
        "    assert not e.code, e.code\n"
        f"print('HEAVY', [m for m in {HEAVY!r} if m in sys.modules])\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "HEAVY []" in done.stdout, done.stdout
    assert (
        "total variable: PM2.5" in done.stdout
        and "extra modelling uncertainty: 10 %" in done.stdout
    )
    summary = json.loads((out / "summary.json").read_text())
    assert summary["extra_uncertainty_percent"] == 10.0 and summary["mlflow_run_id"]
