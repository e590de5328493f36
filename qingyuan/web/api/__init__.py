"""The ``/api/v1`` routes, one module per domain; :func:`routers` lists them for the app."""

from __future__ import annotations

from fastapi import APIRouter

__all__ = ["routers"]


def routers() -> list[APIRouter]:
    """Every API router, in the order of the OpenAPI document."""
    from qingyuan.web.api import (
        auth,
        catalogue,
        forecasts,
        jobs,
        models,
        observations,
        operations,
        soil,
        sources,
        warnings,
    )

    return [
        m.router
        for m in (
            auth,
            catalogue,
            observations,
            forecasts,
            warnings,
            sources,
            soil,
            models,
            operations,
            jobs,
        )
    ]
