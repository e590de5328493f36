"""Read PMF input files (concentrations + uncertainties, PMF5 / ESAT layout) with strict checks.

Both files (plain, or compressed ``.xz`` / ``.gz`` / ``.bz2``): first column the sample id or date, a header row of species, one row per sample,
comma- or TAB-separated (detected). Checked, each with a message naming file, line and field:

* the two files must have the same sample ids (in order) and the same species;
* every value must be numeric or empty (missing);
* uncertainties must be > 0 where a concentration is present (``nonpositive="error"``, default),
  or are replaced by the smallest positive uncertainty of the species (``nonpositive="floor"``,
  counted in the report);
* all-empty rows (the Baltimore files end with 27) are dropped and counted; all-missing species
  are reported (and categorised ``bad`` by :func:`models.pmf.prep.prepare`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from pipelines.errors import SourceError

__all__ = ["PMFInput", "read_pmf_input"]


@dataclass
class PMFInput:
    """Concentrations and uncertainties as read, with the report of what was done."""

    x: np.ndarray
    u: np.ndarray
    species: list[str]
    samples: list[str]
    times: pd.DatetimeIndex | None
    report: dict[str, object] = field(default_factory=dict)


def _read(path: Path) -> tuple[pd.DataFrame, list[int], int]:
    """Return the header and rows of one file (text), each row's line, and the blank lines.

    Lines of blanks only (tabs, spaces) are empty rows: dropped, and counted in the report.

    Read line by line (:func:`pipelines.sources.text.read_delimited`): a row with more or fewer
    fields than the header, a line that is not UTF-8 or a header naming a column twice is
    refused with its line (pandas would shift the columns, pad the row with missing values, or
    rename the column, without a word).
    """
    from pipelines.sources.text import read_bytes, read_delimited, split_lines

    path = Path(path)
    lines = split_lines(read_bytes(path).removeprefix(b"\xef\xbb\xbf").decode("utf-8", "replace"))
    line1 = lines[0] if lines else ""
    blanks = sum(1 for ln in lines[1:] if ln and not ln.strip())
    sep = "\t" if line1.count("\t") > line1.count(",") else ","
    header, rows, bad, _ = read_delimited(path, "utf-8", sep)
    if bad:
        b = min(bad, key=lambda r: r.line)
        raise SourceError(str(path), f"malformed row: {b.reason}", b.line, b.field)
    if len(header) < 2:
        raise SourceError(str(path), "needs a sample column and at least one species", 1)
    twice = sorted({h for h in header if header.count(h) > 1})
    if twice:
        raise SourceError(str(path), f"columns named twice: {twice}", 1, "header")
    frame = pd.DataFrame([r for _, r in rows], columns=header, dtype=str)
    return frame, [n for n, _ in rows], blanks


def _numeric(frame: pd.DataFrame, path: Path, lines: list[int]) -> np.ndarray:
    out = np.full(frame.shape, np.nan)
    for j, col in enumerate(frame.columns):
        raw = frame[col].str.strip()
        text = raw.where(raw != "")
        vals = pd.to_numeric(text, errors="coerce")
        bad = (vals.isna() | np.isinf(vals)) & (raw != "")  # inf, 1e400: not a number either
        if bad.any():
            i = int(np.flatnonzero(bad.to_numpy())[0])
            raise SourceError(str(path), f"not a number: {raw.iloc[i]!r}", lines[i], str(col))
        try:
            out[:, j] = text.astype(float).to_numpy()  # float() rounds right; to_numeric may not
        except ValueError:  # to_numeric read past what float() refuses (a NUL inside a number)
            for i, cell in enumerate(raw):
                try:
                    float(cell) if cell != "" else None
                except ValueError:
                    raise SourceError(
                        str(path), f"not a number: {cell!r}", lines[i], str(col)
                    ) from None
            raise
    return out


def read_pmf_input(concentration: Path, uncertainty: Path, nonpositive: str = "error") -> PMFInput:
    """Read and check a concentration file and its uncertainty file.

    Raises
    ------
    SourceError
        Naming the file, line and field of the first problem.
    """
    cpath, upath = Path(concentration), Path(uncertainty)
    cf, clines, cblank = _read(cpath)
    uf, ulines, ublank = _read(upath)
    report: dict[str, object] = {}
    for name, frame, lines, blank in (("conc", cf, clines, cblank), ("unc", uf, ulines, ublank)):
        empty = frame.iloc[:, 1:].apply(lambda c: c.str.strip() == "").all(axis=1) & (
            frame.iloc[:, 0].str.strip() == ""
        )
        report[f"{name}_empty_rows_dropped"] = int(empty.sum()) + blank
        keep = ~empty.to_numpy()
        if name == "conc":
            cf, clines = (
                frame[keep].reset_index(drop=True),
                [ln for ln, k in zip(lines, keep, strict=True) if k],
            )
        else:
            uf, ulines = (
                frame[keep].reset_index(drop=True),
                [ln for ln, k in zip(lines, keep, strict=True) if k],
            )
    for frame, path in ((cf, cpath), (uf, upath)):
        if len(frame) == 0:
            raise SourceError(str(path), "no sample rows (only a header, or only empty rows)", 2)
    cs, us_ = list(cf.columns[1:]), list(uf.columns[1:])
    if cs != us_:
        extra = sorted(set(cs) ^ set(us_))
        raise SourceError(
            str(upath),
            f"species differ from {cpath.name}: {extra}"
            if extra
            else f"species order differs from {cpath.name}",
            1,
        )
    if len(cf) != len(uf):
        raise SourceError(
            str(upath),
            f"{len(uf)} samples, but {cpath.name} has {len(cf)}",
            ulines[-1] if ulines else None,
        )
    cid, uid = cf.iloc[:, 0].str.strip(), uf.iloc[:, 0].str.strip()
    diff = np.flatnonzero(cid.to_numpy() != uid.to_numpy())
    if len(diff):
        i = int(diff[0])
        raise SourceError(
            str(upath),
            f"sample id {uid.iloc[i]!r} where {cpath.name} has {cid.iloc[i]!r}",
            ulines[i],
            str(uf.columns[0]),
        )
    x = _numeric(cf.iloc[:, 1:], cpath, clines)
    u = _numeric(uf.iloc[:, 1:], upath, ulines)
    present = np.isfinite(x)
    no_u = present & ~np.isfinite(u)
    if no_u.any():
        i, j = (int(a[0]) for a in np.nonzero(no_u))
        raise SourceError(str(upath), "uncertainty missing for a present value", ulines[i], cs[j])
    nonpos = present & (u <= 0)
    report["nonpositive_uncertainties"] = int(nonpos.sum())
    if nonpos.any():
        if nonpositive == "error":
            i, j = (int(a[0]) for a in np.nonzero(nonpos))
            raise SourceError(
                str(upath),
                f"uncertainty {u[i, j]:g} <= 0 ({int(nonpos.sum())} such cells; "
                "use nonpositive='floor' to replace them by the species' smallest positive value)",
                ulines[i],
                cs[j],
            )
        for j in range(u.shape[1]):
            pos = u[:, j][present[:, j] & (u[:, j] > 0)]
            if not len(pos):
                raise SourceError(str(upath), "no positive uncertainty in the species", None, cs[j])
            u[nonpos[:, j], j] = pos.min()
    report["missing_values"] = int((~present).sum())
    report["all_missing_species"] = [s for j, s in enumerate(cs) if not present[:, j].any()]
    report["zero_concentrations"] = int((x == 0).sum())
    samples = list(cid)
    times = pd.to_datetime(pd.Series(samples), errors="coerce", format="mixed")
    return PMFInput(
        x=x,
        u=u,
        species=cs,
        samples=samples,
        times=pd.DatetimeIndex(times) if times.notna().all() else None,
        report=report,
    )
