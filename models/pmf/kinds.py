"""Constraint kinds of a constrained PMF run (PMF 5.0 / ESAT names), importable without numba.

One list for :mod:`models.pmf.constrained` (the run) and the constraints-file schema
(:mod:`pipelines.config.pmf_constraints`), which must not import the compiled kernels to read a
YAML file.
"""

from __future__ import annotations

from typing import Literal, get_args

__all__ = ["KINDS", "PULLS", "ConstraintKind"]

ConstraintKind = Literal[
    "pull down",
    "pull up",
    "pull to value",
    "pull ratio to value",
    "set to zero",
    "set to value",
    "set to base value",
]
#: Every kind, in PMF 5.0's order.
KINDS: tuple[str, ...] = get_args(ConstraintKind)
#: The kinds that pull within a dQ limit (the others hold an element exactly).
PULLS: tuple[str, ...] = ("pull down", "pull up", "pull to value", "pull ratio to value")
