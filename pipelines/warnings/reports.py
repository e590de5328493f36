"""What one alert run did: the report shared by the jobs, the publisher and the bulletin.

The report and its parts live here (and in :mod:`features.warnings.outlook` for the pure
:class:`AreaOutlook`), so that :mod:`pipelines.warnings.job`, :mod:`pipelines.warnings.water`,
:mod:`pipelines.warnings.publish` and :mod:`pipelines.warnings.bulletin` import them from one
place and never each other.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from features.warnings.outlook import AreaOutlook
from features.warnings.rules import Decision
from pipelines.warnings.store import AppliedDecision

__all__ = ["AppliedDecision", "AreaOutlook", "WarnReport"]


@dataclass
class WarnReport:
    """What one warning run did."""

    city: str
    issue_time: pd.Timestamp | None
    forecast_file: str | None
    applied: list[AppliedDecision] = field(default_factory=list)
    outlooks: dict[str, AreaOutlook] = field(default_factory=dict)
    decisions: dict[str, Decision] = field(default_factory=dict)
    charts: dict[str, str] = field(default_factory=dict)  # area -> inline PNG (base64)
    ops_alert: str | None = None
    outputs: dict[str, str] = field(default_factory=dict)
    delivery: dict[str, int] = field(default_factory=dict)
