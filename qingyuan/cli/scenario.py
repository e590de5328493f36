"""``qingyuan scenario``: PM2.5, daily AQI and warning level if a source class is cut."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from pipelines.errors import ConfigError
from qingyuan.cli.errors import failing_on
from qingyuan.cli.options import network_option, outputs_option, store_option

if TYPE_CHECKING:
    from pipelines.scenario import ScenarioResult

__all__ = ["scenario"]


@click.command()
@network_option(
    default="beijing", help="City of the scenario file configs/scenarios/NAME.yml (or a path)."
)
@click.option(
    "--class", "class_name", required=True, help="Source class of that file (e.g. coal_heating)."
)
@click.option("--cut", type=float, required=True, help="Emission cut of the class [%], 0-100.")
@click.option(
    "--from",
    "start",
    required=True,
    help="When the cut starts, local time of the network (e.g. 2016-12-16T00:00).",
)
@click.option(
    "--forecast",
    "forecast_path",
    type=click.Path(path_type=Path),
    default=None,
    help="Forecast file (default: the newest under outputs/forecasts/<network>/).",
)
@click.option(
    "--pmf",
    "pmf_path",
    type=click.Path(path_type=Path),
    default=None,
    help="PMF output folder (default: pmf.solution of the scenario file).",
)
@click.option("--lag", type=float, default=None, help="Hours before the cut acts [h].")
@click.option("--ramp", type=float, default=None, help="Hours to reach the full cut [h].")
@click.option("--hourly", is_flag=True, help="Print the hourly table as well as the daily one.")
@outputs_option()
@store_option(help="Station store root (default ./store): the wind of share.method by_wind.")
def scenario(
    network: str,
    class_name: str,
    cut: float,
    start: str,
    forecast_path: Path | None,
    pmf_path: Path | None,
    lag: float | None,
    ramp: float | None,
    hourly: bool,
    outputs: Path | None,
    store: Path | None,
) -> None:
    """PM2.5, daily AQI and warning level with a source class cut by CUT % from FROM."""
    from pipelines.forecast.files import ForecastFileError
    from pipelines.scenario import ScenarioError, run_scenario

    with failing_on(ConfigError, ScenarioError, ForecastFileError):
        res = run_scenario(
            network,
            class_name,
            cut,
            start=start,
            forecast_file=forecast_path,
            outputs=outputs,
            pmf_solution=pmf_path,
            lag_hours=lag,
            ramp_hours=ramp,
            store=store,
        )
    click.echo(present(res, hourly=hourly))


def present(res: ScenarioResult, *, hourly: bool = False) -> str:
    """Format a scenario as text: daily (and hourly) baseline vs cut, levels, assumptions."""
    from pipelines.scenario import deviation_note, period_note, wind_note

    m = res.meta
    u, band = m["units"], m["band"]
    names = m["class_names"]
    sh = m["share"]
    lines = [
        f"Scenario {m['city']}, area {m['area']}: {m['class']} "
        f"({names.get('zh', '')} {names.get('en', '')}) cut {m['cut_percent']:g} % from "
        f"{m['start_local']} local (lag {m['lag_hours']:g} h, ramp {m['ramp_hours']:g} h)",
        f"PMF factors {', '.join(m['factors'])}: share of {m['variable']} {sh['mean_percent']:.1f} % "
        f"({sh['method']}), relative 5-95 % {sh['relative_interval_5_95'][0]:.2f}-"
        f"{sh['relative_interval_5_95'][1]:.2f}{deviation_note(sh)}; ranges are {band} "
        "(forecast x share spread)",
        f"mean reduction after the cut starts: {period_note(m)}",
        *([wind_note(sh["wind"])] if "wind" in sh else []),
        "",
        f"{'24-h window from':<17} {'PM2.5 baseline':>17} {'PM2.5 with cut':>17} "
        f"{'AQI baseline':>15} {'AQI with cut':>15}",
        f"{'(local)':<17} {'[' + u + ']':>17} {'[' + u + ']':>17}",
    ]

    def rng(a: float, lo: float, hi: float) -> str:
        return f"{a:.0f} ({lo:.0f}-{hi:.0f})"

    for r in res.daily.itertuples():
        lines.append(
            f"{r.window_start_local:%Y-%m-%d %H:%M} "
            f"{rng(r.baseline_pm25_24h_median, r.baseline_pm25_24h_low, r.baseline_pm25_24h_high):>17} "
            f"{rng(r.cut_pm25_24h_median, r.cut_pm25_24h_low, r.cut_pm25_24h_high):>17} "
            f"{rng(r.baseline_aqi_median, r.baseline_aqi_low, r.baseline_aqi_high):>15} "
            f"{rng(r.cut_aqi_median, r.cut_aqi_low, r.cut_aqi_high):>15}"
        )
    if hourly:
        lines += [
            "",
            f"{'hour (local)':<17} {'share %':>7} {'cut %':>6} {'baseline':>15} {'with cut':>15} "
            f"{'reduction':>15}  [{u}]",
        ]
        for r in res.hourly.itertuples():
            lines.append(
                f"{r.time_local:%Y-%m-%d %H:%M} {r.share_percent:7.1f} {r.cut_effective_percent:6.1f} "
                f"{rng(r.baseline_median, r.baseline_low, r.baseline_high):>15} "
                f"{rng(r.cut_median, r.cut_low, r.cut_high):>15} "
                f"{rng(r.reduction_mean, r.reduction_low, r.reduction_high):>15}"
            )
    b, c = m["baseline"], m["with_cut"]
    verdict = "the level drops" if m["level_drops"] else "the level does not change"
    lines += [
        "",
        f"Warning level ({m['warning_scheme']}): baseline {b['level_names'].get('en')} "
        f"({b['level_names'].get('zh')}), with the cut {c['level_names'].get('en')} "
        f"({c['level_names'].get('zh')}): {verdict}.",
        "",
        "Assumptions:",
        *[f"  - {a}" for a in m["assumptions"]],
        "",
        f"Forecast: {m['provenance']['forecast_file']} (model {m['provenance'].get('model_uri') or '-'}, "
        f"run {m['provenance'].get('mlflow_run_id') or '-'}, data cut-off "
        f"{m['provenance'].get('data_cutoff') or '-'}); PMF: {m['provenance']['pmf_solution']}",
        "Files: " + ", ".join(res.files.values()),
    ]
    return "\n".join(lines)
