"""Soil input adapters: each returns rows in long form (one row per sample and analyte).

Columns: ``file``, ``line`` (1-based, of the input file), ``sample_id``, ``plot``, ``x``, ``y``,
``depth_top_cm``, ``depth_bottom_cm``, ``land_use``, ``land_subtype``, ``ph``, ``date``,
``campaign``, ``analyte``, ``value`` (text as written: ``0.31``, ``<0.05``, ``ND``), ``unit``,
``method``, ``dl``, ``revision`` (the laboratory's correction number of a result: blank or 0
for the first report, 1, 2 ... for re-analyses that replace it); a ``soil_csv`` row that could
not be read as a row (wrong field count, undecodable) is kept with ``problem`` and
``problem_field`` set, so that the ingest quarantines it with its line. Nothing else is checked
here (:mod:`pipelines.soil.ingest` does).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from pipelines.config.soil import SoilNetworkSpec, SoilSourceSpec
from pipelines.errors import SourceError
from pipelines.sources.text import read_delimited

__all__ = ["COLUMNS", "meuse_file", "read_meuse", "read_soil_csv", "read_sources"]

COLUMNS = [
    "file",
    "line",
    "sample_id",
    "plot",
    "x",
    "y",
    "depth_top_cm",
    "depth_bottom_cm",
    "land_use",
    "land_subtype",
    "ph",
    "date",
    "campaign",
    "analyte",
    "value",
    "unit",
    "method",
    "dl",
    "revision",
]


def meuse_file() -> Path:
    """Path of ``meuse.txt`` inside the installed scikit-gstat package (GPL-3.0 data)."""
    import skgstat

    path = Path(skgstat.__file__).parent / "data" / "samples" / "meuse.txt"
    if not path.is_file():
        raise SourceError(str(path), "not found (is scikit-gstat >= 1.0 installed?)")
    return path


def read_meuse(src: SoilSourceSpec, net: SoilNetworkSpec) -> pd.DataFrame:
    """Read the Meuse survey in long form; pH from the lime class (``src.ph_from_lime``).

    Sample ids are ``meuse-<row>`` (row 1 = the first data line); each sample is its own plot.
    The land subtype is ``src.subtype_from_landuse`` of the survey's ``landuse`` code (e.g.
    ``Fw``, ``Fh``: fruit trees -> ``orchard``), else ``src.land_subtype``.
    """
    path = meuse_file()
    wide = pd.read_csv(path, dtype={"lime": str, "ffreq": str, "soil": str, "landuse": str})
    subtype = wide["landuse"].map(src.subtype_from_landuse).fillna(src.land_subtype)
    wide["line"] = wide.index + 2  # line 1 is the header
    rows = []
    for metal in ("cadmium", "copper", "lead", "zinc"):
        part = pd.DataFrame(
            {
                "file": str(path),
                "line": wide["line"],
                "sample_id": [f"meuse-{i + 1}" for i in wide.index],
                "x": wide["x"].astype(float),
                "y": wide["y"].astype(float),
                "ph": wide["lime"].map(src.ph_from_lime),
                "land_subtype": subtype,
                "analyte": metal,
                "value": wide[metal].astype(str),
            }
        )
        rows.append(part)
    out = pd.concat(rows, ignore_index=True)
    out["plot"] = out["sample_id"]
    out["depth_top_cm"] = src.depth_top_cm
    out["depth_bottom_cm"] = src.depth_bottom_cm
    out["land_use"] = src.land_use
    out["date"] = ""
    out["campaign"] = src.campaign or net.campaign
    out["unit"] = "mg kg-1"  # ppm
    out["method"] = src.method
    out["dl"] = float("nan")
    out["revision"] = ""
    return out[COLUMNS]


def read_soil_csv(src: SoilSourceSpec, net: SoilNetworkSpec) -> pd.DataFrame:
    """Long-format soil CSV files of the source (globs beside the network file)."""
    from pipelines.config.networks import resolve_files

    files = resolve_files(src.files, net.path or ".")
    if not files:
        raise SourceError(str(net.path or net.name), f"{src.files} match no file", field="files")
    parts = []
    for f in files:
        # the project's delimited reader (as the station adapters): a row with too few or too
        # many fields, or that cannot be decoded, is one quarantined row with its line, not a
        # shifted table (pandas made extra leading fields an index) or a crash
        header, rows, bad, _ = read_delimited(Path(f), src.encoding, ",")
        header = [h.strip() for h in header]
        twice = sorted({h for h in header if header.count(h) > 1})
        if twice:
            raise SourceError(str(f), f"columns named twice: {twice}", line=1, field="header")
        missing = {"sample_id", "x", "y", "analyte", "value", "unit"} - set(header)
        if missing:
            raise SourceError(str(f), f"missing column(s) {sorted(missing)}", line=1)
        df = pd.DataFrame([r for _, r in rows], columns=header, dtype=str)
        df["line"] = [n for n, _ in rows]
        df["problem"] = ""
        df["problem_field"] = ""
        refused = pd.DataFrame(
            {
                "line": [b.line for b in bad],
                "problem": [b.reason for b in bad],
                "problem_field": [b.field or "line" for b in bad],
                "value": [b.raw for b in bad],
            }
        )
        df = pd.concat([df, refused], ignore_index=True).sort_values("line", kind="stable")
        df = df.reset_index(drop=True).fillna("")
        df["file"] = str(f)
        for col in COLUMNS:
            if col not in df.columns:
                df[col] = ""
        df.loc[df["campaign"] == "", "campaign"] = net.campaign
        df.loc[df["plot"] == "", "plot"] = df["sample_id"]
        parts.append(df[[*COLUMNS, "problem", "problem_field"]])
    return pd.concat(parts, ignore_index=True)


_ADAPTERS = {"soil_csv": read_soil_csv, "skgstat_meuse": read_meuse}


def read_sources(net: SoilNetworkSpec) -> pd.DataFrame:
    """Rows of every source of the network, in long form."""
    return pd.concat([_ADAPTERS[s.adapter](s, net) for s in net.sources], ignore_index=True)
