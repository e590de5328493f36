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
    lines += [
        f"- samples: {res['samples']}; standards: "
        + ", ".join(f"{k}: {v}" for k, v in res["standards"].items()),
        f"- below detection limit: {res['below_dl_rule']}",
        "",
        "| analyte | samples | " + " | ".join(_CLASSES) + " |",
        "|---|---|" + "---|" * len(_CLASSES),
    ]
    for v, s in res["shares"].items():
        lines.append(
            f"| {v} | {s['samples']} | " + " | ".join(f"{s.get(c, 0):.0%}" for c in _CLASSES) + " |"
        )
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
