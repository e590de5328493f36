"""``configs/hj212.yml``: HJ 212 protocol tables (2005 -> 2017 pollutant codes by source kind)."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, model_validator

from pipelines.config.locations import config_dir
from pipelines.config.yaml_io import load_validated

__all__ = ["Hj212Spec", "hj212_config"]

_CODE = r"^[A-Za-z0-9]{2,3}$"
_NEW = r"^[a-z][0-9]{5}$"


class _Codes(BaseModel):
    model_config = ConfigDict(extra="forbid")
    water: dict[str, str] = Field(default_factory=dict)
    air: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _shapes(self) -> _Codes:
        import re

        for kind, table in (("water", self.water), ("air", self.air)):
            for old, new in table.items():
                if not re.match(_CODE, old):
                    raise ValueError(f"{kind}: {old!r} is not a 2005 code (2-3 letters or digits)")
                if not re.match(_NEW, new):
                    raise ValueError(f"{kind}: {new!r} is not a 2017 code (a letter and 5 digits)")
        return self


class Hj212Spec(BaseModel):
    """``configs/hj212.yml``."""

    model_config = ConfigDict(extra="forbid")
    codes_2005: _Codes = Field(default_factory=_Codes)
    water_st: list[str] = Field(default_factory=list)
    air_st: list[str] = Field(default_factory=list)

    def code_map(self, st: str) -> dict[str, str]:
        """Return the 2005 code table for a packet's system code (empty when ST is neither kind)."""
        if st in self.water_st:
            return self.codes_2005.water
        if st in self.air_st:
            return self.codes_2005.air
        return {}


def hj212_config(path: str | Path | None = None) -> Hj212Spec:
    """Load and validate ``configs/hj212.yml``."""
    return load_validated(Hj212Spec, Path(path) if path else config_dir() / "hj212.yml")[0]
