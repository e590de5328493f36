"""``configs/hj212.yml``: HJ 212 protocol tables (2005 -> 2017 pollutant codes by source kind)."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from pathlib import Path
from typing import Literal

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


class _Monitor(BaseModel):
    model_config = ConfigDict(extra="forbid")
    mn: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=64)
    # CRCs accepted from this monitor: the standard's, and a Modbus variant only where a device
    # is known to send one (decided per MN, never silently)
    accept_crc: list[Literal["hj212", "modbus", "modbus_le"]] = Field(
        default_factory=lambda: ["hj212"]
    )
    time_zone: str = "Asia/Shanghai"  # of DataTime (HJ 212 sends local time)

    def zone(self) -> dt.tzinfo:
        """Return the monitor's time zone."""
        return zoneinfo.ZoneInfo(self.time_zone)


class _Receiver(BaseModel):
    model_config = ConfigDict(extra="forbid")
    host: str = "127.0.0.1"
    port: int = Field(7212, ge=0, le=65535)
    idle_timeout_s: float = Field(300, gt=0)  # close a connection silent this long
    max_packet_bytes: int = Field(9999, ge=100, le=9999)
    max_refusals_in_a_row: int = Field(20, ge=1)  # close a connection that sends only garbage
    max_clock_ahead_s: float = Field(600, ge=0)  # DataTime later than now + this is refused
    monitors: list[_Monitor] = Field(default_factory=list)
    # kind: source networks whose stations' loggers (mn, password / password_env) may connect
    networks: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique(self) -> _Receiver:
        mns = [m.mn for m in self.monitors]
        if len(set(mns)) != len(mns):
            raise ValueError("monitors: an MN is listed twice")
        return self


class _Attribute(BaseModel):
    model_config = ConfigDict(extra="forbid")
    network: str
    station: str
    variable: str


class _Run(BaseModel):
    """What ``qingyuan run`` does with HJ 212: replay a bundled (SYNTHETIC) day, alert, attribute."""

    model_config = ConfigDict(extra="forbid")
    network: str
    traffic: str  # relative to the project root
    attribute: list[_Attribute] = Field(default_factory=list)


class Hj212Spec(BaseModel):
    """``configs/hj212.yml``."""

    model_config = ConfigDict(extra="forbid")
    receiver: _Receiver = Field(default_factory=_Receiver)
    run: _Run | None = None
    codes_2005: _Codes = Field(default_factory=_Codes)
    water_st: list[str] = Field(default_factory=list)
    air_st: list[str] = Field(default_factory=list)

    def all_monitors(self) -> dict[str, _Monitor]:
        """Every logger allowed to connect: ``receiver.monitors`` and the source networks' stations.

        Raises
        ------
        ConfigError
            When a listed network is not a ``kind: source`` network, a station's
            ``password_env`` is unset and it has no ``password``, or an MN appears twice.
        """
        from pipelines.config.networks import load_network
        from pipelines.errors import ConfigError

        out = {m.mn: m for m in self.receiver.monitors}
        for name in self.receiver.networks:
            net = load_network(name)
            if net.kind != "source":
                raise ConfigError(
                    net.path, None, "kind", f"receiver.networks lists {name}, a {net.kind} network"
                )
            for i, st in enumerate(net.stations):
                pw = st.monitor_password()
                if pw is None:
                    raise ConfigError(
                        net.path,
                        None,
                        f"stations.{i}.password_env",
                        f"environment variable {st.password_env} is not set",
                    )
                if st.mn in out:
                    raise ConfigError(
                        net.path, None, f"stations.{i}.mn", f"MN {st.mn} is listed twice"
                    )
                out[st.mn] = _Monitor(
                    mn=st.mn, password=pw, accept_crc=st.accept_crc, time_zone=net.time_zone
                )
        return out

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
