"""CLI end to end in a tmp dir: ``qingyuan soil ingest | assess | map`` on Meuse, and listings."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import xarray as xr
from click.testing import CliRunner

from qingyuan.cli import main


def invoke(*args: str):
    return CliRunner().invoke(main, list(args))


@pytest.fixture(scope="module")
def meuse(tmp_path_factory):
    root = tmp_path_factory.mktemp("soilcli")
    store, out = str(root / "store"), str(root / "out")
    ing = invoke("soil", "ingest", "--network", "meuse_soil", "--store", store)
    ass = invoke("soil", "assess", "--store", store, "--outputs", out)
    mp = invoke("soil", "map", "--store", store, "--outputs", out, "--resolution", "100")
    return root, ing, ass, mp


def test_ingest(meuse):
    root, ing, _, _ = meuse
    assert ing.exit_code == 0, ing.output
    assert "rows in 620 = stored 620 + merged 0 + quarantined 0 (balanced: True)" in ing.output
    assert "assumption: No pH column: lime class 1" in ing.output
    assert (root / "store" / "soil" / "meuse_soil" / "meuse_soil_meuse-survey.nc").is_file()


def test_assess(meuse):
    root, _, ass, _ = meuse
    assert ass.exit_code == 0, ass.output
    assert "samples: 155" in ass.output and "Hot spots" in ass.output
    assert "| soil_cd | 155 |" in ass.output and "soil_cd" in ass.output.split("Hot spots")[1]
    assert "the sampling date is unknown" in ass.output
    summary = json.loads((root / "out" / "soil" / "meuse_soil_soil_summary.json").read_text())
    assert summary["samples"] == 155 and summary["assumptions"]
    shares = summary["shares"]["soil_cd"]
    assert abs(sum(shares[k] for k in ("negligible", "risk possible", "risk high")) - 1) < 1e-9


def test_map(meuse):
    root, _, _, mp = meuse
    assert mp.exit_code == 0, mp.output
    assert "soil_zn" in mp.output and "MSSE" in mp.output and "assumption:" in mp.output
    grid = root / "out" / "soil" / "meuse_soil_soil_maps.nc"
    with xr.open_dataset(grid) as ds:
        for v in ("soil_cd", "soil_cu", "soil_pb", "soil_zn"):
            assert ds[v].attrs["units"] == "mg kg-1"
            p = ds[f"{v}_p_exceed_screening"].values
            assert ((p >= 0) & (p <= 1)).all()
        assert "lime class" in ds.attrs["assumptions"]
        assert ds["lat"].shape == ds["soil_zn"].shape
    for v in ("soil_cd", "soil_zn"):
        assert (root / "out" / "soil" / f"meuse_soil_{v}_map.png").stat().st_size > 10_000


def test_validate_and_the_station_listing():
    from pipelines.config import list_networks
    from pipelines.config.soil import soil_network_names

    assert "meuse_soil" not in list_networks()  # station networks only (web app, data check)
    assert soil_network_names() == ["meuse_soil"]
    res = invoke("networks")
    assert res.exit_code == 0 and "meuse_soil" not in res.output
    res = invoke("validate", "meuse_soil")
    assert res.exit_code == 0 and "ok: meuse_soil" in res.output


def test_not_a_soil_network_is_an_error(tmp_path: Path):
    res = invoke("soil", "ingest", "--network", "ndfa", "--store", str(tmp_path))
    assert res.exit_code == 2 and "not a kind: soil network" in res.output
    res = invoke("soil", "ingest", "--network", "nowhere", "--store", str(tmp_path))
    assert res.exit_code == 2 and "no such soil network (known: meuse_soil)" in res.output
