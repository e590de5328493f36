"""The model registry: registered forecasters, champion and challenger aliases, scores."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request

from pipelines import results as R
from qingyuan.web.accounts import Principal
from qingyuan.web.deps import Page, page_of, reader, respond

__all__ = ["router"]

router = APIRouter(tags=["models"])


@router.get("/models", summary="Registered models, aliases and scores")
def models(request: Request, page: Page = Depends(), who: Principal = Depends(reader("models"))):
    """Every registered model with its versions, the run's metrics and the champion alias."""
    r = R.registered_models()
    return respond(request, page_of(r.data, page), modified=r.modified, dataset="models")
