"""Soil input adapters: each returns rows in long form (one row per sample and analyte).

Columns: ``file``, ``line`` (1-based, of the input file), ``sample_id``, ``plot``, ``x``, ``y``,
``depth_top_cm``, ``depth_bottom_cm``, ``land_use``, ``land_subtype``, ``ph``, ``date``,
``campaign``, ``analyte``, ``value`` (text as written: ``0.31``, ``<0.05``, ``ND``), ``unit``,
``method``, ``dl``. Nothing is checked here (:mod:`pipelines.soil.ingest` does).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from pipelines.config.soil import SoilNetworkSpec, SoilSourceSpec
from pipelines.errors import SourceError

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
    return out[COLUMNS]


def read_soil_csv(src: SoilSourceSpec, net: SoilNetworkSpec) -> pd.DataFrame:
    """Long-format soil CSV files of the source (globs beside the network file)."""
    from pipelines.config.networks import resolve_files

    files = resolve_files(src.files, net.path or ".")
    if not files:
        raise SourceError(str(net.path or net.name), f"{src.files} match no file", field="files")
    parts = []
    for f in files:
        try:
            df = pd.read_csv(f, dtype=str, keep_default_na=False, encoding=src.encoding)
        except (OSError, UnicodeDecodeError, pd.errors.ParserError) as exc:
            raise SourceError(str(f), f"cannot read: {exc}") from exc
        missing = {"sample_id", "x", "y", "analyte", "value", "unit"} - set(df.columns)
        if missing:
            raise SourceError(str(f), f"missing column(s) {sorted(missing)}", line=1)
        df["file"] = str(f)
        df["line"] = df.index + 2
        for col in COLUMNS:
            if col not in df.columns:
                df[col] = ""
        df.loc[df["campaign"] == "", "campaign"] = net.campaign
        df.loc[df["plot"] == "", "plot"] = df["sample_id"]
        parts.append(df[COLUMNS])
    return pd.concat(parts, ignore_index=True)


_ADAPTERS = {"soil_csv": read_soil_csv, "skgstat_meuse": read_meuse}


def read_sources(net: SoilNetworkSpec) -> pd.DataFrame:
    """Rows of every source of the network, in long form."""
    return pd.concat([_ADAPTERS[s.adapter](s, net) for s in net.sources], ignore_index=True)
