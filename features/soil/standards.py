"""Soil screening and intervention values by land use and pH band (GB 15618-2018, GB 36600-2018).

GB 15618 (agricultural land) gives four pH bands, pH <= 5.5, 5.5 < pH <= 6.5, 6.5 < pH <= 7.5 and
pH > 7.5: a pH exactly on a bound falls in the lower band. GB 36600 (construction land) has no
pH dependence; its values depend on the land-use type (type 1 / type 2).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["SoilStandard", "ph_band"]


def ph_band(ph: np.ndarray, bounds: list[float] | tuple[float, ...]) -> np.ndarray:
    """Index of the pH band of each value (0 = lowest); -1 where pH is missing.

    Parameters
    ----------
    ph : numpy.ndarray
        Soil pH [1].
    bounds : sequence of float
        Inclusive upper bounds of the bands but the last, e.g. ``[5.5, 6.5, 7.5]``.

    Examples
    --------
    >>> ph_band(np.array([5.5, 5.51, 6.5, 7.5, 7.51]), [5.5, 6.5, 7.5]).tolist()
    [0, 1, 1, 2, 3]
    """
    v = np.asarray(ph, dtype=float)
    band = np.searchsorted(np.asarray(bounds, float), np.nan_to_num(v, nan=0.0), side="left")
    return np.where(np.isnan(v), -1, band).astype(int)


@dataclass(frozen=True)
class SoilStandard:
    """Screening and intervention values of one soil standard [mg kg-1].

    ``screening[analyte][subtype]`` is a list of one value per pH band (``ph_bounds`` given) or a
    single value (no pH bands). A subtype not listed for an analyte takes the ``other`` entry.
    An analyte without an intervention value has no "risk high" class.
    """

    name: str
    land: str
    subtypes: tuple[str, ...]
    screening: dict[str, dict[str, Any]]
    intervention: dict[str, dict[str, Any]] = field(default_factory=dict)
    ph_bounds: tuple[float, ...] = ()
    source: str = ""
    title: str = ""

    @classmethod
    def from_config(cls, cfg: dict[str, Any]) -> SoilStandard:
        """Build from the YAML mapping (``configs/standards/gb15618_2018.yml`` ...)."""
        return cls(
            name=cfg["name"],
            land=cfg["land"],
            subtypes=tuple(cfg["subtypes"]),
            screening={k: dict(v) for k, v in cfg["screening"].items()},
            intervention={k: dict(v) for k, v in (cfg.get("intervention") or {}).items()},
            ph_bounds=tuple(cfg.get("ph_bounds") or ()),
            source=cfg.get("source", ""),
            title=cfg.get("title", ""),
        )

    @property
    def analytes(self) -> list[str]:
        """Analytes with a screening value, in the file's order."""
        return list(self.screening)

    @property
    def needs_ph(self) -> bool:
        """Whether the values depend on soil pH."""
        return bool(self.ph_bounds)

    def _lookup(
        self, table: dict[str, dict[str, Any]], analyte: str, subtype: np.ndarray, ph: np.ndarray
    ) -> np.ndarray:
        sub = np.atleast_1d(np.asarray(subtype, dtype=object))
        out = np.full(sub.shape, np.nan)
        entry = table.get(analyte)
        if entry is None:
            return out
        if self.ph_bounds:
            band = ph_band(np.broadcast_to(np.asarray(ph, float), sub.shape), self.ph_bounds)
        for st in set(sub.tolist()):
            values = entry.get(st, entry.get("other"))
            if values is None:
                continue
            hit = sub == st
            if self.ph_bounds:
                arr = np.asarray(values, float)
                b = band[hit]
                out[hit] = np.where(b >= 0, arr[np.clip(b, 0, len(arr) - 1)], np.nan)
            else:
                out[hit] = float(values)
        return out

    def screening_value(
        self, analyte: str, subtype: np.ndarray | str, ph: np.ndarray | float = np.nan
    ) -> np.ndarray:
        """Risk screening value per sample [mg kg-1]; NaN where none applies (or pH is missing).

        Parameters
        ----------
        analyte : str
            Registry name (``soil_cd`` ...).
        subtype : numpy.ndarray or str
            Land-use subtype of each sample (``paddy``, ``orchard``, ``other``; ``type1``,
            ``type2``).
        ph : numpy.ndarray or float
            Soil pH [1] (ignored by a standard without pH bands).
        """
        return self._lookup(self.screening, analyte, subtype, ph)

    def intervention_value(
        self, analyte: str, subtype: np.ndarray | str, ph: np.ndarray | float = np.nan
    ) -> np.ndarray:
        """Risk intervention value per sample [mg kg-1]; NaN where the standard gives none."""
        return self._lookup(self.intervention, analyte, subtype, ph)
