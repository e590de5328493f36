"""Run summary as Markdown: moved to :mod:`pipelines.flows.summary` (kept importable here)."""

from __future__ import annotations

from pipelines.flows.summary import render_markdown

__all__ = ["render_markdown"]
