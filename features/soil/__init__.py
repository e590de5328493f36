"""Soil environment (issue #18): screening standards, risk classes and indices, kriged maps.

Pure functions (no I/O, no Prefect):

- :mod:`~features.soil.standards`: GB 15618-2018 / GB 36600-2018 screening and intervention
  values by land use and pH band (built from ``configs/standards/gb15618_2018.yml``,
  ``gb36600_2018.yml``).
- :mod:`~features.soil.indices`: risk class, single-factor index, Nemerow index, exceedance
  multiple, worst class per plot, change between campaigns.
- :mod:`~features.soil.kriging`: variogram fit, ordinary and indicator kriging (global or local
  neighbourhood), leave-one-out cross-validation, inverse-distance weighting.
"""

from __future__ import annotations

from features.soil.indices import (
    RISK_CLASSES,
    campaign_change,
    exceedance_multiple,
    nemerow_index,
    plot_summary,
    risk_class,
    single_factor_index,
)
from features.soil.standards import SoilStandard, ph_band

__all__ = [
    "RISK_CLASSES",
    "SoilStandard",
    "campaign_change",
    "exceedance_multiple",
    "nemerow_index",
    "ph_band",
    "plot_summary",
    "risk_class",
    "single_factor_index",
]
