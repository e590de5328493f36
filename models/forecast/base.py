"""One estimator interface for every forecaster, and the registry that picks them by name."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from features.forecast_features import Panel
from features.quantiles import exceedance_from_quantiles

__all__ = ["FORECASTERS", "Forecast", "Forecaster", "create_forecaster", "register_forecaster"]


@dataclass
class Forecast:
    """Forecasts for ``S`` stations, ``N`` issue times and ``L`` leads.

    Attributes
    ----------
    mean : numpy.ndarray
        ``S x N x L`` point forecast (expected value).
    quantiles : numpy.ndarray
        ``S x N x L x Q`` quantile forecasts.
    levels : tuple of float
        The ``Q`` quantile levels.
    """

    mean: np.ndarray
    quantiles: np.ndarray
    levels: tuple[float, ...]

    def quantile(self, level: float) -> np.ndarray:
        """Return the forecast at one quantile level."""
        return self.quantiles[..., self.levels.index(level)]

    def exceedance_probability(self, threshold: float) -> np.ndarray:
        """P(value > threshold) from the quantiles, interpolating the CDF linearly.

        Outside the outermost quantiles the CDF is extended with the slope of the nearest
        segment and clipped to [0, 1].
        """
        return exceedance_from_quantiles(self.quantiles, self.levels, threshold)


class Forecaster:
    """Base class: ``fit(panel, train_end)`` returns self; ``predict(panel, issue_idx, leads)``.

    Subclasses set ``name`` and implement :meth:`fit` and :meth:`predict`; fitted attributes end in
    ``_`` (scikit-learn convention). Parameters come from ``configs/models/<name>.yml``.
    """

    name: str = "base"

    def __init__(self, target: str, quantiles: tuple[float, ...] = (0.1, 0.5, 0.9), **params: Any):
        self.target = target
        self.quantiles = tuple(quantiles)
        self.params = params

    def fit(self, panel: Panel, train_end: pd.Timestamp) -> Forecaster:  # pragma: no cover
        """Fit on data up to ``train_end`` (UTC, inclusive)."""
        raise NotImplementedError

    def predict(
        self, panel: Panel, issue_idx: np.ndarray, leads: np.ndarray
    ) -> Forecast:  # pragma: no cover
        """Forecast every station for each issue time and lead [h]."""
        raise NotImplementedError


FORECASTERS: dict[str, Callable[..., Forecaster]] = {}


def register_forecaster(name: str) -> Callable[[type[Forecaster]], type[Forecaster]]:
    """Class decorator: make a forecaster available by name."""

    def deco(cls: type[Forecaster]) -> type[Forecaster]:
        cls.name = name
        FORECASTERS[name] = cls
        return cls

    return deco


def create_forecaster(name: str, target: str, **params: Any) -> Forecaster:
    """Instantiate a registered forecaster.

    Raises
    ------
    KeyError
        If ``name`` is not registered.
    """
    if name not in FORECASTERS:
        raise KeyError(f"unknown forecaster {name!r}; registered: {sorted(FORECASTERS)}")
    return FORECASTERS[name](target=target, **params)
