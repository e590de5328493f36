"""Server-rendered pages (Chinese and English); :func:`routers` lists them for the app."""

from __future__ import annotations

import importlib

from fastapi import APIRouter

__all__ = ["PAGES", "routers"]

#: Page modules, in navigation order.
PAGES = ("auth", "map", "station", "warnings", "sources", "water", "soil", "operations", "users")


def routers() -> list[APIRouter]:
    """Every page router."""
    return [importlib.import_module(f"qingyuan.web.pages.{name}").router for name in PAGES]
