"""The PMF job's writer: every table and figure of a solution, in the documented files."""

from __future__ import annotations

import numpy as np
import pandas as pd

from models.pmf.core import fit_pmf
from models.pmf.report import pmf_tables
from pipelines.tracing.pmf import write_pmf_outputs
from pipelines.tracing.pmf_figures import FIGURE_FILES, pmf_figures


def _solution():
    rng = np.random.default_rng(0)
    G = rng.gamma(2.0, 1.0, (40, 2))
    F = np.array([[1.0, 0.5, 0.0, 0.2, 0.6], [0.0, 0.3, 1.0, 0.4, 0.4]])
    x = G @ F + 0.01
    u = 0.05 * x + 0.01
    return x, u, fit_pmf(x, u, 2, starts=2, seed=1, species=["a", "b", "c", "d", "PM2.5"])


def test_write_pmf_outputs_writes_what_the_tables_hold(tmp_path):
    x, u, res = _solution()
    times = pd.date_range("2020-01-01", periods=40, freq="D")
    files = write_pmf_outputs(x, u, res, tmp_path / "out", times, "PM2.5")
    tables = pmf_tables(x, u, res, "PM2.5")
    drawn = [f for f in FIGURE_FILES if f != "fig_disp_warning"]  # no DISP given
    assert list(files) == [*tables, "observed_predicted", *drawn]
    back = pd.read_csv(files["profiles_concentration"], index_col=0)
    assert np.allclose(back.to_numpy(), tables["profiles_concentration"].to_numpy())
    runs = pd.read_csv(files["runs"])
    assert len(runs) == 2 and runs.columns[0] == "seed"  # written without the index
    share = pd.read_csv(files["factor_share_of_total"], index_col=0).iloc[:, 0]
    assert abs(share.sum() - 100.0) < 1e-9
    for name in drawn:
        fname = FIGURE_FILES[name]
        assert files[name] == str(tmp_path / "out" / fname)
        assert (tmp_path / "out" / fname).read_bytes()[:4] == b"\x89PNG"
    pred = pd.read_csv(tmp_path / "out" / "observed_predicted" / "PM2.5.csv", index_col=0)
    assert np.allclose(pred["predicted"], (res.G @ res.F)[:, 4])


def test_pmf_figures_are_drawn_not_saved(tmp_path, monkeypatch):
    import matplotlib.pyplot as plt

    monkeypatch.chdir(tmp_path)
    x, u, res = _solution()
    names = []
    for name, fig in pmf_figures(x, u, res):
        names.append(name)
        assert fig.axes  # something was drawn
        plt.close(fig)
    assert names == [f for f in FIGURE_FILES if f != "fig_disp_warning"]
    assert not list(tmp_path.iterdir())


def test_the_disp_warning_figure_says_whether_the_solution_is_well_defined():
    import matplotlib.pyplot as plt

    from models.pmf.error_estimates import DisplacementResult

    x, u, res = _solution()
    swaps = pd.DataFrame({"dq_max": [4, 8], "factor_1": [2, 3], "factor_2": [0, 1]})
    for d, words in (
        (DisplacementResult(pd.DataFrame(), swaps, 0.0), "not well defined"),
        (DisplacementResult(pd.DataFrame(), swaps.assign(factor_1=0), 0.0), "no swap"),
    ):
        figs = dict(pmf_figures(x, u, res, disp=d))
        title = figs["fig_disp_warning"].axes[0].get_title()
        assert words in title, title
        for f in figs.values():
            plt.close(f)
