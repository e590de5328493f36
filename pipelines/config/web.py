"""``configs/web.yml`` (the web application) and ``configs/access.yml`` (classification and roles).

Both are validated at load: an error names the file, the line and the field
(:class:`pipelines.errors.ConfigError`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from pipelines.config.locations import config_dir
from pipelines.config.yaml_io import load_validated

__all__ = ["KINDS", "KIND_READS", "AccessSpec", "WebSpec", "access_config", "web_config"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Server(_Strict):
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    workers: int = Field(1, ge=1, le=64)
    # reverse proxies whose X-Forwarded-For / -Proto are believed (client address, https)
    forwarded_allow_ips: list[str] = Field(default_factory=list)


class _Session(_Strict):
    ttl_hours: float = Field(12, gt=0, le=24 * 30)
    cookie_secure: Literal["auto", "always", "never"] | bool = "auto"


class _LoginLimit(_Strict):
    attempts: int = Field(5, ge=1)
    window_s: float = Field(300, gt=0)


class _Tokens(_Strict):
    ttl_days: float = Field(90, gt=0)


class _Limits(_Strict):
    page_size: int = Field(100, ge=1)
    max_page_size: int = Field(1000, ge=1)
    max_range_days: float = Field(400, gt=0)
    max_body_bytes: int = Field(65536, ge=1024)
    max_query_chars: int = Field(2048, ge=256)

    @model_validator(mode="after")
    def _page(self) -> _Limits:
        if self.page_size > self.max_page_size:
            raise ValueError("page_size is larger than max_page_size")
        return self


class WebSpec(_Strict):
    """``configs/web.yml``."""

    server: _Server = Field(default_factory=_Server)
    database: str | None = None
    secret_file: str | None = None
    session: _Session = Field(default_factory=_Session)
    login_limit: _LoginLimit = Field(default_factory=_LoginLimit)
    tokens: _Tokens = Field(default_factory=_Tokens)
    limits: _Limits = Field(default_factory=_Limits)
    languages: list[Literal["zh", "en"]] = Field(default_factory=lambda: ["zh", "en"], min_length=1)


class _Names(_Strict):
    zh: str
    en: str


class _Level(_Strict):
    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    names: _Names


class _Role(_Strict):
    clearance: str
    login: bool = True
    names: _Names


class _Dataset(_Strict):
    level: str
    roles: list[str] | None = None  # need to know: None = every role cleared for the level
    names: _Names
    fields: dict[str, str] = Field(
        default_factory=dict
    )  # field -> level (higher than the dataset's)


#: Kinds of network (and of warning file) that ``by_kind`` may name.
KINDS = ("air", "water", "source")

#: Reads that ``by_kind`` maps; a read without a mapping requires the dataset of its own name.
KIND_READS = ("networks", "stations", "status", "observations", "warnings", "warnings_pending")


class AccessSpec(_Strict):
    """``configs/access.yml``: levels, roles, datasets (with field levels), reads by kind, actions.

    ``by_kind`` maps, per kind of network or warning file (``air``, ``water``, ``source``), a
    read (:data:`KIND_READS`) to the dataset it requires; an unmapped read requires the dataset
    of the same name, so a read that is no dataset (``status``) must be mapped for every kind.
    """

    levels: list[_Level] = Field(min_length=1)
    audit_from: str
    roles: dict[str, _Role]
    datasets: dict[str, _Dataset]
    by_kind: dict[Literal["air", "water", "source"], dict[str, str]] = Field(default_factory=dict)
    actions: dict[str, list[str]] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _consistent(self) -> AccessSpec:
        ids = [lv.id for lv in self.levels]
        if len(set(ids)) != len(ids):
            raise ValueError(f"levels repeat: {ids}")
        if self.audit_from not in ids:
            raise ValueError(f"audit_from {self.audit_from!r} is not a level ({', '.join(ids)})")
        for name, role in self.roles.items():
            if role.clearance not in ids:
                raise ValueError(f"role {name!r}: unknown clearance {role.clearance!r}")
        if "public" not in self.roles or self.roles["public"].login:
            raise ValueError("a role 'public' with login: false (no login) is required")
        for name, ds in self.datasets.items():
            if ds.level not in ids:
                raise ValueError(f"dataset {name!r}: unknown level {ds.level!r}")
            for r in ds.roles or []:
                if r not in self.roles:
                    raise ValueError(f"dataset {name!r}: unknown role {r!r}")
            for f, lv in ds.fields.items():
                if lv not in ids or ids.index(lv) < ids.index(ds.level):
                    raise ValueError(
                        f"dataset {name!r} field {f!r}: level {lv!r} must be a level at or "
                        f"above the dataset's ({ds.level!r})"
                    )
        for kind, reads in self.by_kind.items():
            for read, ds in reads.items():
                if read not in KIND_READS:
                    raise ValueError(
                        f"by_kind {kind!r}: unknown read {read!r} ({', '.join(KIND_READS)})"
                    )
                if ds not in self.datasets:
                    raise ValueError(f"by_kind {kind!r} {read!r}: unknown dataset {ds!r}")
        for read in KIND_READS:
            if read in self.datasets:
                continue
            missing = [k for k in KINDS if read not in self.by_kind.get(k, {})]
            if missing and any(read in self.by_kind.get(k, {}) for k in KINDS):
                raise ValueError(
                    f"by_kind: read {read!r} is no dataset, so every kind maps it; "
                    f"missing for {', '.join(missing)}"
                )
        for action, roles in self.actions.items():
            for r in roles:
                if r not in self.roles:
                    raise ValueError(f"action {action!r}: unknown role {r!r}")
        return self


def web_config(path: str | Path | None = None) -> WebSpec:
    """Load and validate ``configs/web.yml`` (defaults when the file is absent)."""
    p = Path(path) if path else config_dir() / "web.yml"
    if path is None and not p.is_file():
        return WebSpec()
    return load_validated(WebSpec, p)[0]


def access_config(path: str | Path | None = None) -> AccessSpec:
    """Load and validate ``configs/access.yml`` (required: there is no safe default policy)."""
    p = Path(path) if path else config_dir() / "access.yml"
    return load_validated(AccessSpec, p)[0]
