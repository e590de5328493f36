"""PMF input preparation (pure): S/N categories, missing and below-detection values, weighting.

Conventions of US EPA PMF 5.0 (EPA/600/R-14/108):

* **S/N** of a species: the mean over samples of ``d_ij = (x_ij - u_ij) / u_ij`` where
  ``x_ij > u_ij`` and 0 otherwise. Categories: ``bad`` below ``bad_below`` (0.5), ``weak`` below
  ``weak_below`` (1.0), else ``strong``; a total variable (e.g. PM2.5 mass) is set weak.
* **weak** species: uncertainty tripled; **bad** species: left out of the model.
* **Missing** values (Polissar et al. 1998): the species median, uncertainty 4 x median.
* **Below detection limit** (when MDLs are given): MDL / 2, uncertainty 5/6 MDL.
* **Extra modelling uncertainty** (percent): ``u' = sqrt(u^2 + (e x)^2)``, on every species
  after the category weighting; S/N is computed from the uncertainties as given.
* **Total variable** (PMF5: a species that sums the others, e.g. ``TNMOC``, ``Mass``, ``PM2.5``):
  found by name (:func:`detect_total`), always weak (uncertainty x 3) unless the analyst says
  otherwise, so that it does not drive the fit; contributions are reported in its units.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

__all__ = [
    "TOTAL_NAMES",
    "PreparedData",
    "apply_categories",
    "detect_total",
    "polissar_substitute",
    "prepare",
    "signal_to_noise",
    "sn_categories",
]


#: Names of total variables, in order of preference, compared in lower case without spaces, dots,
#: dashes and underscores (``PM2.5`` -> ``pm25``): the EPA PMF5 examples' ``TNMOC`` (Baton Rouge),
#: ``Mass`` (St. Louis) and ``PM2.5`` (Baltimore), and the usual names of PM and VOC totals.
TOTAL_NAMES = (
    "tnmoc",
    "nmoc",
    "tvoc",
    "totalvoc",
    "pm25",
    "pm25mass",
    "fineparticulatematter",
    "pm10",
    "pm10mass",
    "pm1",
    "mass",
    "totalmass",
    "pmmass",
    "total",
)


def _key(name: str) -> str:
    return "".join(c for c in str(name).lower() if c.isalnum())


def detect_total(species: list[str]) -> str | None:
    """Find the total variable among ``species`` by name (:data:`TOTAL_NAMES`).

    Parameters
    ----------
    species : list of str
        Species names as in the input file.

    Returns
    -------
    str or None
        The species (spelled as in ``species``) whose name is the first of :data:`TOTAL_NAMES`
        present; None when no species is named like a total.
    """
    keys = {_key(s): s for s in reversed(species)}  # the first spelling wins on a tie
    for name in TOTAL_NAMES:
        if _key(name) in keys:
            return keys[_key(name)]
    return None


def signal_to_noise(x: np.ndarray, u: np.ndarray) -> np.ndarray:
    """PMF5 signal-to-noise of every species (column); NaN cells are left out."""
    d = np.where(x > u, (x - u) / u, 0.0)
    d = np.where(np.isfinite(x), d, np.nan)
    import warnings

    with warnings.catch_warnings():  # an all-missing species has no S/N (NaN): it is bad
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmean(d, axis=0)


def sn_categories(
    sn: np.ndarray,
    species: list[str],
    bad_below: float = 0.5,
    weak_below: float = 1.0,
    total: str | None = None,
) -> dict[str, str]:
    """Category (strong / weak / bad) of every species from its S/N; the total variable is weak."""
    out = {}
    for s, v in zip(species, sn, strict=True):
        cat = (
            "bad" if not np.isfinite(v) or v < bad_below else "weak" if v < weak_below else "strong"
        )
        if s == total:  # PMF5: the total variable is always weak (it must not drive the fit)
            cat = "weak"
        out[s] = cat
    return out


def polissar_substitute(
    x: np.ndarray, u: np.ndarray, mdl: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Substitute missing and below-detection values (Polissar scheme).

    Returns
    -------
    x, u : numpy.ndarray
        Completed data and uncertainties.
    missing, below : numpy.ndarray of bool
        Where values were missing / below the detection limit.
    """
    x = np.array(x, float)
    u = np.array(u, float)
    missing = ~np.isfinite(x)
    import warnings

    with warnings.catch_warnings():  # all-missing species: median 0, reported by prepare()
        warnings.simplefilter("ignore", RuntimeWarning)
        med = np.nanmedian(np.where(missing, np.nan, x), axis=0)
    med = np.where(np.isfinite(med), med, 0.0)
    x = np.where(missing, med, x)
    u = np.where(missing, 4.0 * med, u)
    below = np.zeros_like(missing)
    if mdl is not None:
        mdl = np.broadcast_to(np.asarray(mdl, float), x.shape)
        below = (~missing) & (x <= mdl)
        x = np.where(below, 0.5 * mdl, x)
        u = np.where(below, 5.0 / 6.0 * mdl, u)
    return x, u, missing, below


def apply_categories(
    x: np.ndarray,
    u: np.ndarray,
    species: list[str],
    categories: dict[str, str],
    extra_pct: float = 0.0,
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Drop bad species, triple weak uncertainties, add extra modelling uncertainty.

    Parameters
    ----------
    x, u : numpy.ndarray
        ``n x m`` completed concentrations and uncertainties [input units].
    species : list of str
        The ``m`` species.
    categories : dict
        Species -> strong / weak / bad (not named: strong).
    extra_pct : float, optional
        Extra modelling uncertainty [%]: ``u' = sqrt(u^2 + (extra_pct / 100 x)^2)`` (PMF5).

    Returns
    -------
    x, u : numpy.ndarray
        Concentrations and uncertainties of the kept species.
    names : list of str
        The kept species.
    """
    keep = [j for j, s in enumerate(species) if categories.get(s, "strong") != "bad"]
    xs, us = x[:, keep], u[:, keep].copy()
    names = [species[j] for j in keep]
    for k, s in enumerate(names):
        if categories.get(s) == "weak":
            us[:, k] *= 3.0
    if extra_pct:
        us = np.sqrt(us**2 + (extra_pct / 100.0 * xs) ** 2)
    return xs, us, names


@dataclass
class PreparedData:
    """Model-ready data and the record of every treatment applied."""

    x: np.ndarray
    u: np.ndarray
    species: list[str]
    samples: list[str]
    categories: dict[str, str]
    sn: dict[str, float]
    treatments: dict[str, int] = field(default_factory=dict)
    dropped_species: list[str] = field(default_factory=list)
    total: str | None = None
    extra_pct: float = 0.0

    def species_table(self) -> pd.DataFrame:
        """S/N and category per input species (PMF5's "concentration / uncertainty" summary)."""
        return pd.DataFrame({"species": list(self.sn), "sn": list(self.sn.values())}).assign(
            category=lambda d: d["species"].map(self.categories)
        )


def prepare(
    x: np.ndarray,
    u: np.ndarray,
    species: list[str],
    samples: list[str],
    mdl: np.ndarray | None = None,
    categories: dict[str, str] | None = None,
    total: str | None = None,
    extra_pct: float = 0.0,
    bad_below: float = 0.5,
    weak_below: float = 1.0,
) -> PreparedData:
    """Complete, categorise and weight the data for :func:`models.pmf.core.fit_pmf`.

    Parameters
    ----------
    categories : dict, optional
        Species -> category chosen by the analyst; species not named are categorised by S/N.
    total : str, optional
        The total variable (set weak, as PMF5 does, whatever its S/N).
    extra_pct : float, optional
        Extra modelling uncertainty [%] added to every uncertainty (:func:`apply_categories`).
    """
    x = np.asarray(x, float)
    u = np.asarray(u, float)
    all_missing = [s for j, s in enumerate(species) if not np.isfinite(x[:, j]).any()]
    xs, us, missing, below = polissar_substitute(x, u, mdl)
    sn = signal_to_noise(np.where(missing, np.nan, xs), us)
    auto = sn_categories(sn, species, bad_below, weak_below, total)
    cats = {**auto, **(categories or {})}
    for s in all_missing:
        cats[s] = "bad"  # nothing to model
    xm, um, names = apply_categories(xs, us, species, cats, extra_pct)
    return PreparedData(
        x=xm,
        u=um,
        species=names,
        samples=list(samples),
        categories=cats,
        sn={s: float(v) for s, v in zip(species, sn, strict=True)},
        treatments={
            "missing_substituted": int(missing.sum()),
            "below_dl_substituted": int(below.sum()),
            "weak_species": sum(1 for s in names if cats.get(s) == "weak"),
            "bad_species": sum(1 for c in cats.values() if c == "bad"),
            "all_missing_species": len(all_missing),
        },
        dropped_species=[s for s in species if s not in names],
        total=total if total in names else None,
        extra_pct=float(extra_pct),
    )
