"""Unit conversion for station variables, driven by the variable registry.

Units are written in UDUNITS form (``ug m-3``, ``m s-1``, ``ft3 s-1``) in the configuration, as they
appear in CF netCDF ``units`` attributes; :func:`to_pint` turns them into pint expressions. Gas
mixing ratios (ppb, ppm) convert to mass concentrations with the molar mass from the registry and
the registry's reference temperature and pressure.
"""

from __future__ import annotations

import re
from functools import lru_cache

import numpy as np
import pint

__all__ = [
    "UnitError",
    "cf_unit_attrs",
    "convert",
    "measured_units",
    "pollutants",
    "running_means",
    "to_pint",
    "ureg",
    "variables_of_kind",
]

_R = 8.314462618  # molar gas constant [J mol-1 K-1]

ureg = pint.UnitRegistry(autoconvert_offset_to_baseunit=True)
ureg.define("FNU = [turbidity]")
ureg.define("NTU = FNU")
ureg.define("FTU = FNU")
if "ppb" not in ureg:
    ureg.define("ppb = 1e-9 = parts_per_billion")

_TOKEN = re.compile(r"^([A-Za-z_%]+?)(-?\d+)?$")


class UnitError(ValueError):
    """A unit string cannot be parsed or the conversion is not possible."""


def to_pint(units: str) -> str:
    """Translate a UDUNITS-style unit string into a pint expression.

    Parameters
    ----------
    units : str
        For example ``"ug m-3"``, ``"mg L-1"``, ``"m s-1"``, ``"1"``, ``"%"``, ``"degC"``.

    Returns
    -------
    str
        An expression pint parses, e.g. ``"ug * m**-3"``.
    """
    text = units.strip()
    if text in ("1", "", "-"):
        return "dimensionless"
    if text == "%":
        return "percent"
    if any(op in text for op in ("/", "*", "^")):
        return text.replace("^", "**")
    parts = []
    for token in text.split():
        match = _TOKEN.match(token)
        if not match:
            raise UnitError(f"cannot parse unit token {token!r} in {units!r}")
        name, power = match.groups()
        name = "percent" if name == "%" else name
        parts.append(f"{name}**{power}" if power else name)
    return " * ".join(parts)


@lru_cache(maxsize=256)
def _unit(units: str) -> pint.Unit:
    try:
        return ureg.parse_units(to_pint(units))
    except (
        pint.errors.UndefinedUnitError,
        pint.errors.DefinitionSyntaxError,
        AssertionError,
    ) as exc:
        raise UnitError(f"unknown unit {units!r}: {exc}") from exc


def _molar_volume(temperature_K: float, pressure_Pa: float) -> float:
    """Molar volume of an ideal gas [m3 mol-1]."""
    return _R * temperature_K / pressure_Pa


def convert(
    values: np.ndarray,
    from_units: str,
    to_units: str,
    *,
    molar_mass: float | None = None,
    temperature_K: float = 298.15,
    pressure_Pa: float = 101325.0,
) -> np.ndarray:
    """Convert values between units, including gas mixing ratio <-> mass concentration.

    Parameters
    ----------
    values : numpy.ndarray
        Values in ``from_units``; NaN passes through.
    from_units, to_units : str
        UDUNITS-style unit strings.
    molar_mass : float, optional
        Molar mass of the gas [g mol-1]; needed only between a mixing ratio (ppb, ppm, 1) and a
        mass concentration (ug m-3, mg m-3).
    temperature_K : float
        Reference temperature for that conversion [K].
    pressure_Pa : float
        Reference pressure for that conversion [Pa].

    Returns
    -------
    numpy.ndarray
        Values in ``to_units`` (float64).

    Raises
    ------
    UnitError
        If a unit is unknown or the dimensions do not match.

    Examples
    --------
    >>> convert(np.array([1000.0]), "ug m-3", "mg m-3")
    array([1.])
    >>> round(float(convert(np.array([1.0]), "ppb", "ug m-3", molar_mass=47.997)[0]), 3)
    1.962
    """
    arr = np.asarray(values, dtype="float64")
    src, dst = _unit(from_units), _unit(to_units)
    if src == dst:
        return arr.copy()
    q = ureg.Quantity(arr, src)
    try:
        return np.asarray(q.to(dst).magnitude, dtype="float64")
    except pint.errors.DimensionalityError:
        pass
    except pint.errors.PintError as exc:
        raise UnitError(f"cannot convert {from_units!r} to {to_units!r}: {exc}") from exc
    mass_conc = ureg.parse_units("kg m**-3").dimensionality
    src_dim, dst_dim = src.dimensionality, dst.dimensionality
    if molar_mass is None or {src_dim == mass_conc, dst_dim == mass_conc} != {True, False}:
        raise UnitError(f"cannot convert {from_units!r} to {to_units!r}")
    vm = _molar_volume(temperature_K, pressure_Pa)
    factor = ureg.Quantity(molar_mass / vm, "g m**-3")  # mass concentration of a pure gas
    if src_dim == mass_conc:
        ratio = (q / factor).to("dimensionless")
        return np.asarray(ratio.to(dst).magnitude, dtype="float64")
    try:
        ratio = q.to("dimensionless")
    except pint.errors.PintError as exc:
        raise UnitError(f"cannot convert {from_units!r} to {to_units!r}") from exc
    return np.asarray((ratio * factor).to(dst).magnitude, dtype="float64")


def variables_of_kind(registry: dict, kind: str) -> tuple[str, ...]:
    """Return the names of the registry's variables of one ``kind`` (``air``, ``met``, ``water``), in order.

    Parameters
    ----------
    registry : dict
        The variable registry (``configs/variables.yml``), whole or its ``variables`` mapping.
    kind : str
        The ``kind`` field to select.

    Returns
    -------
    tuple of str
        Canonical variable names.
    """
    variables = registry.get("variables", registry)
    return tuple(name for name, spec in variables.items() if spec.get("kind") == kind)


def pollutants(registry: dict) -> tuple[str, ...]:
    """Return the air pollutants of the registry (``kind: air``), e.g. the six of HJ 633.

    Published running means of a pollutant (``o3_8h``, :func:`running_means`) are not separate
    pollutants and are left out.
    """
    variables = registry.get("variables", registry)
    return tuple(
        v for v in variables_of_kind(registry, "air") if not variables[v].get("running_mean")
    )


def running_means(registry: dict) -> dict[str, tuple[str, str]]:
    """Return the published running-mean variables: name -> (variable averaged, averaging).

    E.g. ``{"o3_8h": ("o3", "8h")}`` from the registry's ``running_mean`` entries.
    """
    return {
        name: (meta["running_mean"]["of"], meta["running_mean"]["averaging"])
        for name, meta in registry.get("variables", registry).items()
        if meta.get("running_mean")
    }


def cf_unit_attrs(meta: dict) -> dict[str, str]:
    """CF ``units`` of a variable-registry entry, and what it is measured in when UDUNITS lacks it.

    An entry with ``cf_units`` (e.g. turbidity in FNU, which UDUNITS does not know, stored as
    ``"1"``) gives ``{"units": cf_units, "units_metadata": "measured in <units>"}``; any other
    entry ``{"units": units}``.
    """
    if meta.get("cf_units"):
        return {"units": meta["cf_units"], "units_metadata": f"measured in {meta['units']}"}
    return {"units": meta["units"]}


def measured_units(attrs: dict) -> str | None:
    """Return the unit a stored variable was measured in (inverse of :func:`cf_unit_attrs`)."""
    meta = str(attrs.get("units_metadata", ""))
    if meta.startswith("measured in "):
        return meta.removeprefix("measured in ")
    return attrs.get("units")
