"""Constraint files of ``qingyuan trace pmf --constraints FILE`` (EPA PMF 5.0's constrained run).

One YAML file lists the constraints an analyst imposes on the base solution; the schema is that of
:class:`models.pmf.constrained.Constraint` (kinds as PMF 5.0 / ESAT name them)::

    constraints:
      - kind: pull down          # pull a profile element down within a dQ limit
        factor: 2                # 1-based, as in the profile table (factor_2)
        species: Styrene
        dq_percent: 0.5          # [% of the base Q(robust)]; or dq: [Q units]
      - kind: set to zero
        factor: 4
        species: Benzene
      - kind: pull to value
        factor: 1
        samples: ["2012-07-04"]  # contributions: sample labels (the Date column) or row numbers
        value: 0.2               # [normalised contribution, mean 1]
      - kind: pull ratio to value  # a ratio of two species in one factor (PMF 5.0 expression)
        factor: 3
        species: EC              # numerator
        over: OC                 # denominator
        value: 0.5               # [ratio of the profile elements]
        dq_percent: 0.5

Values of profile constraints are on the profile table's scale (``profiles_concentration.csv``,
[data units]); contribution values are normalised (mean 1). Errors name the file, line and field;
a species, sample or factor the data do not have is an error naming the constraint's line.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, model_validator

from models.pmf.kinds import ConstraintKind
from pipelines.config.yaml_io import line_of, load_validated
from pipelines.errors import ConfigError

__all__ = ["ConstraintFile", "load_constraints"]


class _ConstraintSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: ConstraintKind
    factor: int = Field(ge=1)
    species: str | None = None
    over: str | None = None  # pull ratio to value: the denominator species
    samples: list[str | int] | None = Field(None, min_length=1)
    value: float | None = None
    dq: float | None = Field(None, gt=0)  # [Q(robust) units]
    dq_percent: float | None = Field(None, gt=0)  # [% of the base Q(robust)]

    @model_validator(mode="after")
    def _one_target(self) -> _ConstraintSpec:
        if (self.species is None) == (self.samples is None):
            raise ValueError("name either a species (a profile element) or samples (contributions)")
        if self.kind in ("pull to value", "set to value", "pull ratio to value") and (
            self.value is None
        ):
            raise ValueError(f"{self.kind!r} needs a value")
        if self.kind == "pull ratio to value":
            if self.species is None or self.over is None:
                raise ValueError("'pull ratio to value' names species (numerator) and over")
            if self.value is not None and self.value <= 0:
                raise ValueError("a ratio's value must be positive")
            if self.over == self.species:
                raise ValueError("a ratio of a species to itself")
        elif self.over is not None:
            raise ValueError("'over' (a ratio's denominator) belongs to 'pull ratio to value'")
        if self.kind.startswith("set") and (self.dq is not None or self.dq_percent is not None):
            raise ValueError(f"{self.kind!r} holds the element exactly: it takes no dQ limit")
        return self


class ConstraintFile(BaseModel):
    """A constraints file: ``constraints:`` a non-empty list."""

    model_config = ConfigDict(extra="forbid")

    constraints: list[_ConstraintSpec] = Field(min_length=1)


def load_constraints(
    path: str | Path,
    *,
    species: list[str],
    samples: list[str],
    factors: int,
) -> list:
    """Read and check a constraints file against the data and the factor count.

    Parameters
    ----------
    path : str or pathlib.Path
        The YAML file.
    species, samples : list of str
        Species kept in the fit and sample labels of the data (what constraints may name).
    factors : int
        Number of factors of the base run.

    Returns
    -------
    list of models.pmf.constrained.Constraint

    Raises
    ------
    ConfigError
        Naming file, line and field: a schema error, a factor above ``factors``, a species or a
        sample the data do not have.
    """
    from models.pmf.constrained import Constraint

    path = Path(path)
    spec, data = load_validated(ConstraintFile, path)
    out = []
    for i, c in enumerate(spec.constraints):
        where = ("constraints", i)

        def bad(field: str, why: str, where: tuple = where) -> ConfigError:
            return ConfigError(
                str(path), line_of(data, (*where, field)), f"constraints.{where[1]}.{field}", why
            )

        if c.factor > factors:
            raise bad("factor", f"factor {c.factor}: the run has {factors} factors")
        if c.species is not None and c.species not in species:
            raise bad("species", f"{c.species!r} is not a species of the fit")
        if c.over is not None and c.over not in species:
            raise bad("over", f"{c.over!r} is not a species of the fit")
        for s in c.samples or []:
            if isinstance(s, int) and not 0 <= s < len(samples):
                raise bad("samples", f"row {s} out of range (0..{len(samples) - 1})")
            if isinstance(s, str) and s not in samples:
                raise bad("samples", f"sample {s!r} is not in the data")
        out.append(
            Constraint(
                kind=c.kind,
                factor=c.factor,
                species=c.species,
                samples=c.samples,
                value=c.value,
                dq=c.dq,
                dq_percent=c.dq_percent,
                over=c.over,
            )
        )
    return out
