"""Property tests of the network, warning and river YAML loaders on damaged files (issue #16).

Strategies and properties: ``benchmarks/fuzz_parsers.py``; the long campaign:
``benchmarks/bench_fuzz.py``. Inputs that once crashed a loader or broke a property are pinned.
"""

from __future__ import annotations

import pytest
from hypothesis import example, given

from benchmarks.fuzz_parsers import (
    _source_block,
    check_network_yaml,
    check_river_yaml,
    check_warning_yaml,
    dump_yaml,
    network_cases,
    network_dict,
    river_cases,
    suite_settings,
    warning_cases,
)

NETWORK = dump_yaml(network_dict(_source_block("iso", ["data/*.csv"]))).encode()


def network_case(yaml: bytes) -> dict:
    return {"yaml": yaml, "stations_csv": None}


@suite_settings(80)
@given(case=network_cases())
# a control character: yaml.reader.ReaderError (no mark) escaped load_yaml
@example(case=network_case(NETWORK.replace(b"time_zone:", b"time_zone:\x0b", 1)))
@example(case=network_case(NETWORK.replace(b"fuzz network", b"fuzz\x1b network", 1)))
# a time zone name too long for a file name: OSError from zoneinfo, not a ConfigError
@example(case=network_case(NETWORK.replace(b"Asia/Shanghai", "清源".encode() * 100, 1)))
def test_network_files(case, tmp_path_factory):
    check_network_yaml(case, tmp_path_factory.mktemp("net"))


def test_a_file_not_in_utf8_is_refused_at_its_line(tmp_path):
    from pipelines.config import load_network
    from pipelines.errors import ConfigError

    text = NETWORK.decode().replace("fuzz network", "测试网络")
    path = tmp_path / "gbk.yml"
    path.write_bytes(text.encode("gbk"))
    line = next(i for i, ln in enumerate(text.splitlines(), 1) if "测试网络" in ln)
    with pytest.raises(ConfigError, match="not UTF-8") as err:
        load_network(str(path))
    assert err.value.line == line


CITY = """name: fuzz-city
inherits: national-2018
network: '{network}'
areas:
- id: all
- id: ab
  stations: [A, B]
"""


def city(extra: str = "", areas: str = "") -> dict:
    text = CITY + extra + "\n"
    if areas:
        text = text.replace("- id: ab\n  stations: [A, B]\n", areas, 1)
    return {"yaml": text.encode(), "kind": "city"}


@suite_settings(80)
@given(case=warning_cases())
# an empty block (null) replaced the inherited mapping: TypeError / AttributeError
@example(case=city("decision: null"))  # _DecisionSpec(**None)
@example(case=city("verification:"))  # _VerificationSpec(**None)
@example(case=city("measures: null"))  # None.items()
# two areas of one id were both kept (the second unreachable by id)
@example(case=city(areas="- id: all\n  stations: [A]\n"))
def test_warning_files(case, tmp_path_factory):
    check_warning_yaml(case, tmp_path_factory.mktemp("warn"))


def test_an_empty_block_keeps_the_inherited_settings(tmp_path):
    from pipelines.config.warnings import load_warning_config

    net = tmp_path / "fuzznet.yml"
    net.write_bytes(NETWORK)
    path = tmp_path / "city.yml"
    path.write_text(CITY.format(network=net) + "decision:\nmeasures:\n", encoding="utf-8")
    scheme, _ = load_warning_config(str(path))
    parent, _ = load_warning_config("national-2018")
    assert scheme.decision == parent.decision and scheme.measures == parent.measures


RIVER = """name: fuzzriver
sections:
- {id: S00, downstream: S01, distance_km: 10}
- {id: S01, downstream: S02, distance_km: 5}
- {id: S01, downstream: S02, distance_km: 7}
- {id: S02, downstream: null}
"""


@suite_settings(80)
@given(case=river_cases())
@example(case={"yaml": RIVER.encode(), "ids": []})  # a section given twice: one vanished
# .nan / .inf were taken as coordinates and lengths (NaN distances and travel times)
@example(
    case={
        "yaml": RIVER.replace("distance_km: 7}", "distance_km: .inf}")
        .replace(
            "S01, downstream: S02, distance_km: .inf", "S09, downstream: S02, distance_km: .inf"
        )
        .encode(),
        "ids": [],
    }
)
@example(
    case={
        "yaml": RIVER.replace(
            "{id: S00, downstream: S01, distance_km: 10}",
            "{id: S00, downstream: S01, lat: 32.0, lon: .nan}",
        )
        .replace(
            "{id: S01, downstream: S02, distance_km: 5}",
            "{id: S01, downstream: S02, distance_km: 5, lat: 32.1, lon: 118.6}",
        )
        .replace("- {id: S01, downstream: S02, distance_km: 7}\n", "")
        .encode(),
        "ids": [],
    }
)
def test_river_files(case, tmp_path_factory):
    check_river_yaml(case, tmp_path_factory.mktemp("river"))
