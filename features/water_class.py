"""Surface-water class by the GB 3838-2002 single-factor method.

A section's class is the worst class among its evaluated indicators (环办〔2011〕22号); DO is a
lower bound (higher is better); pH outside 6-9 makes the section worse than class V (劣V).
Values below a detection limit enter as half the limit (环办监测函〔2020〕82号).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = [
    "RATINGS",
    "WaterStandard",
    "below_detection_to_half",
    "parameter_class",
    "river_rating",
    "section_class",
]

CLASS_NAMES = ["I", "II", "III", "IV", "V", "劣V"]


@dataclass(frozen=True)
class WaterStandard:
    """GB 3838 class limits, built from ``configs/standards/gb3838_2002.yml``."""

    name: str
    parameters: dict[str, dict[str, Any]]
    labels: dict[str, str]

    @classmethod
    def from_config(cls, cfg: dict[str, Any]) -> WaterStandard:
        """Build from the YAML mapping."""
        return cls(name=cfg["name"], parameters=dict(cfg["parameters"]), labels=dict(cfg["labels"]))

    def evaluated(self, waterbody: str) -> list[str]:
        """Parameters evaluated for a water body type (``river`` or ``lake``)."""
        return [
            p
            for p, spec in self.parameters.items()
            if waterbody in spec.get("waterbody", [waterbody])
        ]


def parameter_class(
    values: np.ndarray, parameter: str, standard: WaterStandard, waterbody: str = "river"
) -> np.ndarray:
    """Class (1..6 = I..劣V) of one parameter's values; 0 where the value is missing.

    Parameters
    ----------
    values : numpy.ndarray
        Concentrations [mg L-1] (pH dimensionless).
    parameter : str
        Canonical variable name (``dissolved_oxygen``, ``nh3n``, ``tp`` ...).
    standard : WaterStandard
        The class limits.
    waterbody : str
        ``river`` or ``lake`` (lakes use the stricter TP limits and evaluate TN).
    """
    spec = standard.parameters[parameter]
    v = np.asarray(values, dtype=float)
    missing = np.isnan(v)
    if spec["direction"] == "range":
        lo, hi = spec["range"]
        cls = np.where((v >= lo) & (v <= hi), 1, 6)
    else:
        limits = np.asarray(
            spec.get("lake_limits", spec["limits"]) if waterbody == "lake" else spec["limits"],
            float,
        )
        if spec["direction"] == "min":
            # class k if v >= limit_k; first class whose lower bound the value meets
            cls = np.searchsorted(-limits, -np.nan_to_num(v, nan=0.0), side="left") + 1
        else:
            cls = np.searchsorted(limits, np.nan_to_num(v, nan=0.0), side="left") + 1
        cls = np.minimum(cls, 6)
    return np.where(missing, 0, cls).astype(int)


def section_class(
    values: dict[str, np.ndarray], standard: WaterStandard, waterbody: str = "river"
) -> tuple[np.ndarray, np.ndarray]:
    """Single-factor class of a section and the parameters that determine it.

    Parameters
    ----------
    values : dict of numpy.ndarray
        Parameter -> values (same shape); parameters GB 3838 does not classify are ignored.

    Returns
    -------
    cls : numpy.ndarray of int
        1..6 (I..劣V); 0 where no evaluated parameter has a value.
    determining : numpy.ndarray of object
        Comma-separated parameters at the worst class (empty where ``cls`` is 0).
    """
    params = [p for p in standard.evaluated(waterbody) if p in values]
    if not params:
        shape = np.shape(next(iter(values.values()))) if values else ()
        return np.zeros(shape, dtype=int), np.full(shape, "", dtype=object)
    stack = np.stack([parameter_class(values[p], p, standard, waterbody) for p in params])
    cls = stack.max(axis=0)
    det = np.full(cls.shape, "", dtype=object)
    for k, p in enumerate(params):
        hit = (stack[k] == cls) & (cls > 0)
        det[hit] = np.where(det[hit] == "", p, det[hit] + "," + p)
    return cls, det


def below_detection_to_half(values: np.ndarray, below_dl: np.ndarray, dl: np.ndarray) -> np.ndarray:
    """Replace values reported below the detection limit by half the limit."""
    return np.where(np.asarray(below_dl, bool), 0.5 * np.asarray(dl, float), values)


RATINGS = ("优", "良好", "轻度污染", "中度污染", "重度污染")


def river_rating(classes: np.ndarray, min_sections: int = 5) -> dict[str, object]:
    """Whole-river rating from its sections' classes (1..6; 0 = no class, left out).

    优 when >= 90 % of the sections are class I-III, 良好 for 75-90 %; below 75 % the share of
    劣V sections decides: 轻度污染 < 20 %, 中度污染 20-40 %, 重度污染 >= 40 %. With fewer than
    ``min_sections`` classified sections the rule does not apply (rating None).
    """
    c = np.asarray(classes, int)
    c = c[c > 0]
    n = len(c)
    if n == 0:
        return {"sections": 0, "share_I_III": None, "share_worse_than_V": None, "rating": None}
    good = float(np.mean(c <= 3))
    worst = float(np.mean(c == 6))
    if n < min_sections:
        rating = None
    elif good >= 0.9:
        rating = RATINGS[0]
    elif good >= 0.75:
        rating = RATINGS[1]
    elif worst < 0.2:
        rating = RATINGS[2]
    elif worst < 0.4:
        rating = RATINGS[3]
    else:
        rating = RATINGS[4]
    return {"sections": n, "share_I_III": good, "share_worse_than_V": worst, "rating": rating}
