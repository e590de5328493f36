"""Malformed configuration is refused with file, line and field."""

from __future__ import annotations

import pytest
from qy_helpers import GENERIC_NETWORK, write_network

from pipelines.config import load_network, load_qc
from pipelines.errors import ConfigError


def _net(tmp_path, **replace):
    body = GENERIC_NETWORK.format(name="t1", files="x.csv")
    for old, new in replace.items():
        body = body.replace(old, new)
    return write_network(tmp_path, body)


def test_bundled_networks_load():
    assert load_network("beijing").kind == "air"
    assert len(load_network("ndfa").stations) == 10


def test_unknown_variable_names_line_and_field(tmp_path):
    path = _net(tmp_path, **{"{variable: co,": "{variable: carbon_stuff,"})
    with pytest.raises(ConfigError) as err:
        load_network(str(path))
    e = err.value
    assert e.file == str(path) and e.field == "sources.0.columns.co.variable"
    assert (
        e.line
        == path.read_text().splitlines().index("      co: {variable: carbon_stuff, units: mg m-3}")
        + 1
    )


def test_unconvertible_unit(tmp_path):
    path = _net(tmp_path, **{"units: mg m-3": "units: degC"})
    with pytest.raises(ConfigError, match=r"columns.co.units.*cannot convert"):
        load_network(str(path))


def test_bad_time_zone_and_frequency(tmp_path):
    with pytest.raises(ConfigError, match=r"time_zone.*unknown time zone"):
        load_network(str(_net(tmp_path, **{"Asia/Shanghai": "Mars/Olympus"})))
    with pytest.raises(ConfigError, match=r"frequency"):
        load_network(str(_net(tmp_path, **{"frequency: 1h": "frequency: often"})))


def test_unknown_adapter_and_missing_option(tmp_path):
    with pytest.raises(ConfigError, match=r"unknown adapter"):
        load_network(str(_net(tmp_path, **{"adapter: column_table": "adapter: fax_machine"})))
    with pytest.raises(ConfigError, match=r"time_column"):
        load_network(str(_net(tmp_path, **{"    time_column: time\n": ""})))


def test_duplicate_station_and_bad_latitude(tmp_path):
    with pytest.raises(ConfigError, match="appears twice"):
        load_network(str(_net(tmp_path, **{"{id: B,": "{id: A,"})))
    with pytest.raises(ConfigError, match=r"stations.0.lat"):
        load_network(str(_net(tmp_path, **{"lat: 39.90": "lat: 139.90"})))


def test_invalid_yaml_names_line(tmp_path):
    path = write_network(tmp_path, "name: x\nkind: [air\n")
    with pytest.raises(ConfigError) as err:
        load_network(str(path))
    assert err.value.line is not None and "invalid YAML" in str(err.value)


def test_unknown_network_name():
    with pytest.raises(ConfigError, match="no such network"):
        load_network("atlantis")


def test_qc_overrides_merge():
    qc = load_qc(load_network("beijing"))
    assert qc["checks"]["sentinel"]["per_variable"]["pm25"][0]["flag"] == "T"
    assert qc["checks"]["sentinel"]["values"]  # defaults kept
