from __future__ import annotations

import numpy as np
import pytest

from features.units import UnitError, convert, to_pint


def test_mass_and_temperature():
    assert convert(np.array([1500.0]), "ug m-3", "mg m-3")[0] == pytest.approx(1.5)
    assert convert(np.array([212.0, 32.0]), "degF", "degC").tolist() == pytest.approx([100.0, 0.0])
    assert convert(np.array([1.0]), "ft3 s-1", "m3 s-1")[0] == pytest.approx(0.0283168, rel=1e-5)


def test_ppb_to_ug_m3_at_reference_conditions():
    # 1 ppb O3 at 298.15 K, 101.325 kPa = 47.997 / 24.465 = 1.962 ug m-3
    assert convert(np.array([1.0]), "ppb", "ug m-3", molar_mass=47.997)[0] == pytest.approx(
        1.9619, rel=1e-4
    )
    back = convert(np.array([1.9619]), "ug m-3", "ppb", molar_mass=47.997)[0]
    assert back == pytest.approx(1.0, rel=1e-4)
    # CO 1.145 mg m-3 ~ 1 ppm
    assert convert(np.array([1.0]), "ppm", "mg m-3", molar_mass=28.01)[0] == pytest.approx(
        1.1449, rel=1e-3
    )


def test_errors():
    with pytest.raises(UnitError):
        convert(np.array([1.0]), "ppb", "ug m-3")  # no molar mass
    with pytest.raises(UnitError):
        convert(np.array([1.0]), "degC", "mg L-1")
    with pytest.raises(UnitError):
        convert(np.array([1.0]), "furlongs-per-fortnight", "m s-1")
    assert to_pint("ug m-3") == "ug * m**-3"


def test_pollutants_come_from_the_registry(registry):
    from features.units import pollutants, variables_of_kind

    assert pollutants(registry) == ("pm25", "pm10", "so2", "no2", "co", "o3")
    assert pollutants(registry["variables"]) == pollutants(registry)
    assert "wind_speed" in variables_of_kind(registry, "met")
    assert "pm25" not in variables_of_kind(registry, "water")
