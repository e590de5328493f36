"""Surface-water class by the GB 3838-2002 single-factor method.

A section's class is the worst class among its evaluated indicators (环办〔2011〕22号); DO is a
lower bound (higher is better); pH outside 6-9 makes the section worse than class V (劣V).
Values below a detection limit enter as half the limit (环办监测函〔2020〕82号).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["WaterStandard", "below_detection_to_half", "parameter_class", "section_class"]

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
