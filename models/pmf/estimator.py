"""A scikit-learn-style PMF estimator: ``PMF(n_factors, ...).fit(X, U)``.

A thin wrapper over :func:`models.pmf.core.fit_pmf` (same engine, same numbers): parameters are
set in ``__init__`` and only stored there, ``fit`` learns the attributes with a trailing
underscore and returns the estimator, ``get_params`` / ``set_params`` follow scikit-learn's
estimator contract (so ``sklearn.base.clone`` works) without depending on scikit-learn.
"""

from __future__ import annotations

import inspect
from typing import Any

import numpy as np
import pandas as pd

from models.pmf.core import PMFResult, fit_pmf, optimise

__all__ = ["PMF"]


class PMF:
    """Positive matrix factorisation ``X ~ G F`` weighted by uncertainties ``U``.

    Parameters
    ----------
    n_factors : int
        Number of factors ``p``.
    starts : int, optional
        Random starts; the best by Q(robust) is kept.
    seed : int, optional
        Seed of the batch of starts (reproducible).
    method : {"hals", "ls-nmf"}, optional
        Engine (see :mod:`models.pmf.core`).
    robust : bool, optional
        Robust mode (PMF5's default).
    alpha : float, optional
        Robust threshold on scaled residuals.
    max_iter : int, optional
        Sweeps per start at most.
    tol : float, optional
        Convergence: Q falls by less than ``tol`` over ``window`` sweeps.
    window : int, optional
        Convergence window [sweeps].

    Attributes
    ----------
    profiles_ : numpy.ndarray
        ``p x m`` factor profiles ``F`` (in the units of ``X`` per unit contribution).
    contributions_ : numpy.ndarray
        ``n x p`` factor contributions ``G``.
    q_true_, q_robust_, q_exp_ : float
        Q(true), Q(robust) of the best start and PMF5's expected Q.
    runs_ : pandas.DataFrame
        One row per start (:meth:`models.pmf.core.PMFResult.runs_table`).
    best_run_ : int
        Index of the best start.
    result_ : models.pmf.core.PMFResult
        The full result of :func:`models.pmf.core.fit_pmf`.
    n_features_in_ : int
        Number of species ``m``.
    feature_names_in_ : numpy.ndarray
        Species names, when ``X`` was a DataFrame.
    """

    def __init__(
        self,
        n_factors: int = 3,
        *,
        starts: int = 20,
        seed: int = 42,
        method: str = "hals",
        robust: bool = True,
        alpha: float = 4.0,
        max_iter: int = 20000,
        tol: float = 0.01,
        window: int = 50,
    ) -> None:
        self.n_factors = n_factors
        self.starts = starts
        self.seed = seed
        self.method = method
        self.robust = robust
        self.alpha = alpha
        self.max_iter = max_iter
        self.tol = tol
        self.window = window

    @classmethod
    def _param_names(cls) -> list[str]:
        sig = inspect.signature(cls.__init__)
        return [p for p in sig.parameters if p != "self"]

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """Parameters of the estimator, by name (scikit-learn's contract)."""
        return {name: getattr(self, name) for name in self._param_names()}

    def set_params(self, **params: Any) -> PMF:
        """Set parameters by name; return the estimator."""
        valid = set(self._param_names())
        for name, value in params.items():
            if name not in valid:
                raise ValueError(f"invalid parameter {name!r} for PMF (valid: {sorted(valid)})")
            setattr(self, name, value)
        return self

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"PMF({args})"

    def fit(self, X, U) -> PMF:
        """Fit the factors to concentrations ``X`` weighted by uncertainties ``U``.

        Parameters
        ----------
        X : array_like or pandas.DataFrame
            ``n x m`` concentrations (pre-processed, :mod:`models.pmf.prep`); NaN cells get zero
            weight. A DataFrame's columns name the species and its index the samples.
        U : array_like or pandas.DataFrame
            ``n x m`` uncertainties, all finite and > 0.

        Returns
        -------
        PMF
            The fitted estimator.
        """
        species = samples = None
        if isinstance(X, pd.DataFrame):
            species = [str(c) for c in X.columns]
            samples = [str(i) for i in X.index]
        x = np.asarray(X, float)
        u = np.asarray(U, float)
        res = fit_pmf(
            x,
            u,
            self.n_factors,
            starts=self.starts,
            seed=self.seed,
            method=self.method,
            robust=self.robust,
            alpha=self.alpha,
            max_iter=self.max_iter,
            tol=self.tol,
            window=self.window,
            species=species,
            samples=samples,
        )
        self._set_fitted(res)
        if species is not None:
            self.feature_names_in_ = np.asarray(species, dtype=object)
        elif hasattr(self, "feature_names_in_"):
            del self.feature_names_in_
        return self

    def _set_fitted(self, res: PMFResult) -> None:
        self.result_ = res
        self.profiles_ = res.F
        self.contributions_ = res.G
        self.q_true_ = res.q_true
        self.q_robust_ = res.q_robust
        self.q_exp_ = res.q_exp
        self.best_run_ = res.best
        self.runs_ = res.runs_table()
        self.n_features_in_ = res.F.shape[1]

    def transform(self, X, U) -> np.ndarray:
        """Contributions of (new) samples to the fitted factors, the profiles held.

        Each sample's contributions are the non-negative, uncertainty-weighted least-squares
        fit ``x_i ~ g_i F`` with ``F = profiles_`` fixed (robust down-weighting as in the fit
        when ``robust``), solved by the same HALS kernel.

        Parameters
        ----------
        X, U : array_like or pandas.DataFrame
            ``n' x m`` concentrations and uncertainties of the samples, species in the order of
            the fit (a DataFrame's columns are checked against ``feature_names_in_``).

        Returns
        -------
        numpy.ndarray
            ``n' x p`` contributions, in the units of ``contributions_``.
        """
        if not hasattr(self, "result_"):
            raise RuntimeError("this PMF instance is not fitted yet; call fit(X, U) first")
        if isinstance(X, pd.DataFrame) and hasattr(self, "feature_names_in_"):
            names = [str(c) for c in X.columns]
            if names != list(self.feature_names_in_):
                raise ValueError("X's columns differ from the species the PMF was fitted to")
        x = np.atleast_2d(np.asarray(X, float))
        u = np.atleast_2d(np.asarray(U, float))
        if x.shape != u.shape or x.shape[1] != self.n_features_in_:
            raise ValueError(
                f"X and U must be n x {self.n_features_in_} (got {x.shape} and {u.shape})"
            )
        # start every sample at the fitted mean contribution of each factor
        G0 = np.repeat(self.contributions_.mean(axis=0, keepdims=True), len(x), axis=0)
        G, _, _, _, _ = optimise(
            x,
            u,
            G0[None],
            self.profiles_[None].copy(),
            "hals",
            self.robust,
            self.alpha,
            robust_after=0,
            max_iter=self.max_iter,
            tol=self.tol,
            window=self.window,
            update_F=False,
        )
        return G[0]

    def reconstruct(self) -> np.ndarray:
        """Modelled concentrations ``G F`` of the fitted samples (``n x m``)."""
        if not hasattr(self, "result_"):
            raise RuntimeError("this PMF instance is not fitted yet; call fit(X, U) first")
        return self.contributions_ @ self.profiles_
