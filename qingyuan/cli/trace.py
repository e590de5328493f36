"""Source tracing: ``qingyuan trace pmf | polar | trajectory | drivers``.

``qingyuan attribute ...`` (the former name) stays as a hidden alias.
"""

from __future__ import annotations

from pathlib import Path

import click

from pipelines.errors import SourceError
from qingyuan.cli.errors import failing_on
from qingyuan.cli.options import network_option, outputs_option, store_option

__all__ = ["attribute", "trace"]

NETWORK_HELP = "Network name (configs/networks/NAME.yml)."


@click.group()
def trace() -> None:
    """Source tracing: PMF receptor model, polar plots / CPF, trajectories, forecast drivers."""


def _categories(category: tuple[str, ...]) -> dict[str, str]:
    cats = {}
    for c in category:
        if "=" not in c or c.split("=", 1)[1] not in ("strong", "weak", "bad"):
            raise click.UsageError(f"--category {c!r}: write SPECIES=strong|weak|bad")
        k, v = c.split("=", 1)
        cats[k] = v
    return cats


def _lead_hours(hours: str) -> tuple[int, int]:
    try:
        lo, hi = (int(x) for x in hours.split("-"))
    except ValueError:
        raise click.UsageError(f"--hours {hours!r}: write FIRST-LAST, e.g. 25-48") from None
    return lo, hi


@trace.command("pmf")
@click.option(
    "--conc",
    "concentration",
    type=click.Path(path_type=Path),
    required=True,
    help="Concentration file (PMF5/ESAT layout: Date column + species; CSV or TAB; .xz ok).",
)
@click.option(
    "--unc",
    "uncertainty",
    type=click.Path(path_type=Path),
    required=True,
    help="Uncertainty file, same samples and species.",
)
@click.option("--factors", type=int, required=True)
@click.option("--starts", type=int, default=20, show_default=True, help="Random starts.")
@click.option("--seed", type=int, default=42, show_default=True)
@click.option(
    "--robust/--no-robust",
    default=True,
    show_default=True,
    help="Robust fitting (PMF5's default): cells beyond 4 scaled residuals down-weighted.",
)
@click.option(
    "--total",
    default="auto",
    show_default=True,
    help="Total variable (set weak; contributions in its units, factor shares): a species, "
    "'auto' (found by name: TNMOC, Mass, PM2.5, ...) or 'none'.",
)
@click.option(
    "--category",
    "category",
    multiple=True,
    help="SPECIES=strong|weak|bad (repeatable); others follow their S/N.",
)
@click.option("--no-auto-categories", is_flag=True, help="Species not named stay strong.")
@click.option(
    "--extra-uncertainty",
    type=click.FloatRange(min=0.0),
    default=0.0,
    show_default=True,
    help="Extra modelling uncertainty [%]: u' = sqrt(u^2 + (extra/100 x)^2), as PMF5.",
)
@click.option(
    "--bootstrap",
    "bootstrap_n",
    type=click.IntRange(min=0),
    default=100,
    show_default=True,
    help="Bootstrap replicates (PMF5's default 100; 0: none).",
)
@click.option("--disp", is_flag=True, help="Displacement error estimate (minutes for 40 species).")
@click.option(
    "--bsdisp",
    "bsdisp_n",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="BS-DISP replicates (PMF5 suggests 100; minutes per replicate for 40 species; 0: none).",
)
@click.option(
    "--fpeak",
    "fpeak_strengths",
    type=float,
    multiple=True,
    help="PMF5's penalised Fpeak strength (repeatable), e.g. --fpeak -0.5 --fpeak 0.5.",
)
@click.option(
    "--constraints",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="YAML file of constraints (pull up/down/to value, set to zero/value) for a "
    "constrained run from the base, with its dQ (see pipelines/config/pmf_constraints.py).",
)
@click.option(
    "--nonpositive-uncertainty",
    type=click.Choice(["error", "floor"]),
    default="error",
    show_default=True,
)
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    default=None,
    help="Output folder (default: outputs/pmf/<conc file stem>_f<factors>).",
)
def trace_pmf(
    concentration: Path,
    uncertainty: Path,
    factors: int,
    starts: int,
    seed: int,
    robust: bool,
    total: str,
    category: tuple[str, ...],
    no_auto_categories: bool,
    extra_uncertainty: float,
    bootstrap_n: int,
    disp: bool,
    bsdisp_n: int,
    fpeak_strengths: tuple[float, ...],
    constraints: Path | None,
    nonpositive_uncertainty: str,
    out: Path | None,
) -> None:
    """Positive matrix factorisation with uncertainties, error estimates and PMF5-style outputs."""
    # the PMF job only: pipelines.flows would bring Prefect (seconds of imports)
    from pipelines.tracing.pmf import pmf_out_dir, run_pmf
    from qingyuan.paths import outputs_dir

    cats = _categories(category)
    out = out or pmf_out_dir(outputs_dir(), concentration, factors)
    with failing_on(SourceError, ValueError, FileNotFoundError):
        s = run_pmf(
            concentration,
            uncertainty,
            factors,
            out,
            starts=starts,
            seed=seed,
            robust=robust,
            categories=cats,
            auto_categories=not no_auto_categories,
            total=None if total.lower() == "none" else total,
            extra_pct=extra_uncertainty,
            bootstrap_n=bootstrap_n,
            disp=disp,
            bsdisp_n=bsdisp_n,
            fpeak_strengths=fpeak_strengths,
            constraints=constraints,
            nonpositive=nonpositive_uncertainty,
        )
    click.echo(
        f"PMF {factors} factors, {starts} starts ({s['runs_converged']} converged): "
        f"Q(true) {s['q_true']:,.1f}, Q(robust) {s['q_robust']:,.1f}, Q_exp {s['q_exp']:,.0f} "
        f"(Q/Q_exp {s['q_true_over_q_exp']:.2f}); {s['seconds']} s"
    )
    tv = s.get("total_variable")
    click.echo(
        f"total variable: {tv} (weak{', found by name' if s.get('total_variable_detected') else ''})"
        if tv
        else "total variable: none"
    )
    if s.get("extra_uncertainty_percent"):
        click.echo(f"extra modelling uncertainty: {s['extra_uncertainty_percent']:g} %")
    if s["dropped_species"]:
        click.echo(f"bad species left out: {', '.join(s['dropped_species'])}")
    if "bootstrap" in s:
        b = s["bootstrap"]
        click.echo(
            f"bootstrap ({b['replicates']} replicates, mapped by contribution r >= "
            f"{b['threshold_r']:g}): mapped [%] per factor {b['mapped_percent']}; table in "
            "bootstrap_mapping.csv"
        )
    if "disp" in s:
        d = s["disp"]
        click.echo(
            "DISP: no swap at dQmax 4"
            if d["well_defined"]
            else "DISP WARNING: swaps at dQmax 4 - the solution is not well defined"
        )
    if "bsdisp" in s:
        b = s["bsdisp"]
        acc = ", ".join(f"{k:g}: {v:.0f} %" for k, v in b["accepted_percent"].items())
        click.echo(
            f"BS-DISP ({b['replicates']} replicates): accepted per dQmax {acc}; "
            f"{b['best_fit_swaps']} best-fit swaps; bsdisp_intervals.csv"
        )
    if "fpeak" in s:
        for r in s["fpeak"]["runs"]:
            click.echo(
                f"Fpeak {r['strength']:+g}: dQ(robust) {r['dq_robust']:,.1f} "
                f"({r['dq_robust_percent']:.2f} %)"
            )
    if "constrained" in s:
        click.echo(f"constrained run: {s['constrained']['guidance']}")
    click.echo(f"outputs: {out}  (MLflow run {s.get('mlflow_run_id')})")


@trace.command("polar")
@network_option("beijing", help=NETWORK_HELP)
@click.option("--variable", default="pm25", show_default=True)
@click.option("--station", "stations", multiple=True, help="Station id (repeatable; default: all).")
@click.option("--start", default=None, help="UTC start (default: all data).")
@click.option("--end", default=None)
@click.option(
    "--percentile", type=float, default=75.0, show_default=True, help="CPF threshold [%]."
)
@click.option(
    "--contributions",
    type=click.Path(path_type=Path),
    default=None,
    help="PMF contributions CSV (time index, one column per factor) instead of --variable.",
)
@store_option()
@outputs_option()
def trace_polar(
    network: str,
    variable: str,
    stations: tuple[str, ...],
    start: str | None,
    end: str | None,
    percentile: float,
    contributions: Path | None,
    store: Path | None,
    outputs: Path | None,
) -> None:
    """Bivariate polar plots (NWR mean, CPF), percentile rose and clusters per station."""
    from pipelines.flows.tracing import read_contributions
    from pipelines.tracing.air import polar_job
    from qingyuan.paths import outputs_dir, store_dir

    with failing_on(ValueError, KeyError, FileNotFoundError):
        series = read_contributions(contributions) if contributions is not None else None
        res = polar_job(
            network,
            store or store_dir(),
            outputs or outputs_dir(),
            variable,
            list(stations) or None,
            start,
            end,
            percentile,
            series,
        )
    for sid, d in res["stations"].items():
        for name, r in d.items():
            click.echo(
                f"{sid} {name}: CPF (> {r['cpf_threshold']:.1f}) peaks from {r['cpf_peak_direction_deg']:.0f} deg "
                f"at {r['cpf_peak_speed_m_s']:.1f} m/s (P = {r['cpf_peak']:.2f}); {r['figure']}"
            )


@trace.command("trajectory")
@network_option("beijing", help=NETWORK_HELP)
@click.option("--variable", default="pm25", show_default=True)
@click.option("--start", default=None)
@click.option("--end", default=None)
@click.option(
    "--hours", type=float, default=48.0, show_default=True, help="Back-trajectory length [h]."
)
@click.option(
    "--every", "every_hours", type=int, default=3, show_default=True, help="Arrival every N h."
)
@click.option(
    "--cell", "cell_deg", type=float, default=0.25, show_default=True, help="Grid cell [degree]."
)
@click.option(
    "--wind",
    "wind_netcdf",
    type=click.Path(path_type=Path),
    default=None,
    help="CF netCDF with eastward_wind / northward_wind (default: station winds).",
)
@store_option()
@outputs_option()
def trace_trajectory(
    network: str,
    variable: str,
    start: str | None,
    end: str | None,
    hours: float,
    every_hours: int,
    cell_deg: float,
    wind_netcdf: Path | None,
    store: Path | None,
    outputs: Path | None,
) -> None:
    """Back-trajectories and PSCF / CWT maps of the network-mean concentration."""
    from pipelines.tracing.air import trajectory_job
    from qingyuan.paths import outputs_dir, store_dir

    with failing_on(ValueError, KeyError, FileNotFoundError, OSError):
        res = trajectory_job(
            network,
            store or store_dir(),
            outputs or outputs_dir(),
            variable,
            start,
            end,
            hours,
            every_hours,
            cell_deg,
            75.0,
            wind_netcdf,
        )
    click.echo(
        f"{res['trajectories']} trajectories ({res['wind_field']}); PSCF peak {res['pscf_peak_lat_lon']}, "
        f"CWT peak {res['cwt_peak_lat_lon']}; {res['figure']}"
    )


@trace.command("drivers")
@click.option(
    "--forecast",
    "forecast_path",
    type=click.Path(path_type=Path, exists=True),
    required=True,
    help="A forecast file (outputs/forecasts/<network>/...nc).",
)
@click.option("--target", default="pm25", show_default=True)
@click.option("--station", "stations", multiple=True, help="Station ids (default: all).")
@click.option("--hours", default="1-72", show_default=True, help="Lead hours, e.g. 25-48.")
def trace_drivers(forecast_path: Path, target: str, stations: tuple[str, ...], hours: str) -> None:
    """Driver shares (local, meteorology, regional, calendar) of a forecast, from its file."""
    from pipelines.flows import forecast_drivers

    lo, hi = _lead_hours(hours)
    with failing_on(ValueError):
        res = forecast_drivers(forecast_path, target, stations, first=lo, last=hi)
    click.echo(
        f"{target}, leads {lo}-{hi} h, {res['n_stations']} station(s), vs climatology "
        f"({res['model_uri']}):"
    )
    for g in res["groups"]:
        click.echo(f"  {g['names']['en']:<40} {g['contribution']:+8.1f}  {g['share']:.0%}")


attribute = click.Group(
    "attribute", commands=trace.commands, help=trace.help, hidden=True, callback=trace.callback
)
