"""Markdown summary of a soil job (printed by ``qingyuan run`` and ``qingyuan soil assess``)."""

from __future__ import annotations

from typing import Any

__all__ = ["render_soil"]

_CLASSES = ("negligible", "risk possible", "risk high")


def render_soil(name: str, res: dict[str, Any]) -> str:
    """Render samples, shares per risk class and analyte, hot spots, map CV and assumptions."""
    lines = [f"## Soil `{name}`", ""]
    ing = res.get("ingest")
    if ing:
        lines.append(
            f"- rows in {ing['rows_in']:,} = stored {ing['rows_stored']:,} + merged "
            f"{ing['rows_merged']:,} + quarantined {ing['rows_quarantined']:,} "
            f"(balanced: {ing['balanced']}); quarantine: `{ing['quarantine_file']}`"
        )
    sel = res.get("selection")
    if sel:
        others = [c for c in sel["campaigns"] if c != sel["campaign"]]
        lines.append(
            f"- campaign {sel['campaign']}, layer {sel['layer']}"
            + (f"; other campaigns: {', '.join(others)}" if others else "")
            + (
                f"; layer tops [cm]: {', '.join(f'{t:g}' for t in sel['layers'])}"
                if len(sel["layers"]) > 1
                else ""
            )
            + (
                f" ({sel['rows_left_out']:,} rows of other campaigns or layers not summarised)"
                if sel["rows_left_out"]
                else ""
            )
        )
    lines += [
        f"- samples: {res['samples']}; standards: "
        + ", ".join(f"{k}: {v}" for k, v in res["standards"].items()),
        f"- below detection limit: {res['below_dl_rule']}",
        "",
        "| analyte | samples assessed | " + " | ".join(_CLASSES) + " | not assessed |",
        "|---|---|" + "---|" * len(_CLASSES) + "---|",
    ]
    for v, s in res["shares"].items():
        lines.append(
            f"| {v} | {s['samples']} | "
            + " | ".join(f"{s.get(c, 0):.0%}" for c in _CLASSES)
            + f" | {s.get('not_assessed', 0)} |"
        )
    if res.get("change"):
        kinds = ("worse", "better", "same", "not comparable")
        lines += [
            "",
            f"Change from campaign {sel['previous']} to {sel['campaign']} (plots and analytes "
            "in both; by risk class):",
            "",
            "| analyte | " + " | ".join(kinds) + " |",
            "|---|" + "---|" * len(kinds),
        ]
        for v, c in res["change"].items():
            lines.append(f"| {v} | " + " | ".join(str(c.get(k, 0)) for k in kinds) + " |")
    lines += ["", "Hot spots (largest Nemerow index):", ""]
    lines += ["| plot | Nemerow | grade | worst class | controlling analyte | lon | lat |"]
    lines += ["|---|---|---|---|---|---|---|"]
    for h in res["hot_spots"]:
        lines.append(
            f"| {h['plot']} | {h['nemerow']:.2f} | {h['grade']} | {h['worst_class']} | "
            f"{h['controlling_analyte']} | {h['lon']} | {h['lat']} |"
        )
    maps = res.get("maps")
    if maps:
        lines += [
            "",
            f"Kriged maps ({maps['neighbourhood']}): `{maps['grid']}`; leave-one-out CV "
            "(log content):",
            "",
            "| analyte | OK RMSE | OK MSSE | IDW RMSE | variogram |",
            "|---|---|---|---|---|",
        ]
        for r in maps["cv"]:
            lines.append(
                f"| {r['variable']} | {r['ok_rmse_log']:.3f} | {r['ok_msse']:.2f} | "
                f"{r['idw_rmse_log']:.3f} | {r['variogram']} |"
            )
    lines += ["", "Assumptions:", ""] + [f"- {a}" for a in res.get("assumptions", [])]
    return "\n".join(lines) + "\n"
