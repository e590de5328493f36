"""Flow ``run``: the embedded main job on the bundled networks, written to ``outputs/``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prefect import flow

from pipelines.config import bundled_networks, load_network
from pipelines.flows.assess import assess_task
from pipelines.flows.forecast import forecast_task
from pipelines.flows.ingest import ingest_flow
from pipelines.flows.paths import default_outputs, default_store
from pipelines.flows.soil import soil_task
from pipelines.flows.summary import write_summary
from pipelines.flows.supervision import supervision_task
from pipelines.flows.tracing import pmf_demo, source_task
from pipelines.flows.warn import cities_of, drill_and_warn, water_alerts_task
from pipelines.progress import Steps

__all__ = ["bundled_networks", "run_flow"]

INGEST_KEYS = (
    "rows_in",
    "rows_stored",
    "rows_merged",
    "rows_quarantined",
    "balanced",
    "report_file",
    "quarantine_file",
    "weather_forecasts",
)
PMF_KEYS = (
    "inputs",
    "q_true",
    "q_robust",
    "q_exp",
    "runs_converged",
    "dropped_species",
    "bootstrap",
    "seconds",
    "mlflow_run_id",
)


def scenario_task(networks: list[str], store_root: str, out_dir: str) -> dict[str, Any]:
    """Run the ``run`` scenario of every network with a scenario file (:mod:`pipelines.scenario`)."""
    from pipelines.config.scenario import list_scenario_configs
    from pipelines.scenario import ScenarioError, run_bundled_scenario

    out: dict[str, Any] = {}
    for name in networks:
        if name in list_scenario_configs():
            try:
                res = run_bundled_scenario(name, Path(store_root), Path(out_dir))
            except ScenarioError as exc:  # e.g. too few complete hours: say so in the summary
                res = {"skipped": str(exc)}
            if res:
                out[name] = res
    return out


@flow(name="run", log_prints=True)
def run_flow(
    networks: list[str] | None = None, store_root: str | None = None, out_dir: str | None = None
) -> dict[str, Any]:
    """Run the main job on the bundled data.

    Ingest -> QC -> store -> assess -> forecast -> warn (air) / water alerts (water) -> source
    tracing (polar plots, CPF, trajectories) -> the PMF worked example -> the control-measure
    scenario of ``configs/scenarios/<network>.yml: run`` -> the soil networks (ingest, assess,
    kriged maps; issue #18: every ``kind: soil`` network when none is named) -> ``outputs/``
    (``summary.json``, ``summary.md``). Each step is announced to the progress reporter of
    the caller (:mod:`pipelines.progress`; the command line prints headings).
    """
    from pipelines.config.soil import soil_network_names

    # the soil networks (kind: soil) run after the station networks: all of them when no
    # network is named, else those named
    soil_names = soil_network_names()
    soil = [n for n in networks if n in soil_names] if networks else soil_names
    networks = [n for n in networks if n not in soil_names] if networks else bundled_networks()
    root = default_store(store_root)
    out = default_outputs(out_dir)
    result: dict[str, Any] = {"networks": {}}
    plan = Steps(4 * len(networks) + 4 + (1 if soil else 0))
    for name in networks:
        cities = cities_of(name)
        kind = load_network(name).kind
        with plan.step(f"Ingest {name}"):
            report = ingest_flow(name, root)
        with plan.step(f"Assess {name}" + (", water alerts" if kind == "water" and cities else "")):
            summary = assess_task(name, root, out)
            summary["ingest"] = {k: report[k] for k in INGEST_KEYS if k in report}
            if summary.get("kind", kind) == "water" and cities:
                summary["water_alerts"] = water_alerts_task(name, root, out, cities)
        with plan.step(f"Forecast {name}" + (", warnings" if kind == "air" and cities else "")):
            fc = forecast_task(name, root, out)
            if fc:
                summary["forecast"] = fc
                if cities and kind == "air":
                    summary["warnings"], summary["warning_history"] = drill_and_warn(
                        name, root, out, fc, cities
                    )
        with plan.step(f"Source tracing {name}"):
            src = source_task(name, root, out)
            if src:
                summary["source_tracing"] = src
        result["networks"][name] = summary
    with plan.step("Source supervision alerts"):
        sup = supervision_task(root, out)
        if sup:
            result["supervision"] = sup
    with plan.step("PMF worked example"):
        pmf = pmf_demo(out)
        if pmf:
            result["pmf_demo"] = {k: pmf[k] for k in PMF_KEYS if k in pmf} | {
                "outputs": str(Path(pmf["files"]["profiles_concentration"]).parent)
            }
    with plan.step("Control-measure scenario"):
        scen = scenario_task(networks, root, out)
        if scen:
            result["scenarios"] = scen
            for name, sc in scen.items():
                if "assumptions" in sc:  # stated on every output, here too
                    print(f"scenario {name} assumptions: " + "; ".join(sc["assumptions"]))
    if soil:
        with plan.step("Soil " + ", ".join(soil)):
            result["soil"] = {}
            for name in soil:
                res = soil_task(name, root, str(Path(out)))
                print(f"soil {name} assumptions: " + "; ".join(res["assumptions"]))
                result["soil"][name] = res
    with plan.step("Summary"):
        write_summary(result, out)
    return result
