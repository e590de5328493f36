"""River network files: shipped ones load; bad links are refused with file, line and field."""

from __future__ import annotations

import shutil

import pytest

from pipelines.config.rivers import load_river_network
from pipelines.errors import ConfigError


def test_shipped_rivers_load():
    ndfa = load_river_network("ndfa")
    assert ndfa.outlets() == ["RVB"] and len(ndfa.upstream_of("RVB")) == 9
    assert ndfa.sections["RMB"].distance_km > 5  # derived from the station coordinates
    cn = load_river_network("example_cn")
    assert set(cn.direct_upstream("QH03")) == {"QH02", "LS01"}


@pytest.mark.parametrize(
    ("old", "new", "field", "words"),
    [
        ("downstream: RD22", "downstream: RD2", "sections.1.downstream", "'RD2' is not a section"),
        ("downstream: null", "downstream: RMB", "sections", "cycle"),
        ("{id: RMB,", "{id: XYZ,", "sections.0.id", "not a station of network ndfa"),
        ("target_class: II}", "target_class: VI}", "sections.9.target_class", ""),
    ],
)
def test_bad_river_files_are_refused(tmp_path, monkeypatch, old, new, field, words):
    from qingyuan.paths import config_dir

    cfg = tmp_path / "configs"
    shutil.copytree(config_dir(), cfg)
    p = cfg / "rivers" / "ndfa.yml"
    text = p.read_text(encoding="utf-8")
    assert old in text
    p.write_text(text.replace(old, new, 1), encoding="utf-8")
    monkeypatch.setenv("QINGYUAN_CONFIG", str(cfg))
    with pytest.raises(ConfigError) as exc:
        load_river_network("ndfa")
    assert "ndfa.yml" in str(exc.value) and field in str(exc.value) and words in str(exc.value)
