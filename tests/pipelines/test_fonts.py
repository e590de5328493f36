"""The bundled CJK font: figures draw hanzi without a system CJK font; pages declare and serve it."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

from pipelines.fonts import CSS_FONT_STACK, FONT_FAMILY, FONT_FILE, FONT_URL

ROOT = Path(__file__).resolve().parents[2]

# run in a fresh interpreter with a fresh matplotlib cache, where the font manager knows only
# matplotlib's own fonts (DejaVu): what a server without fonts-noto-cjk has
_NO_SYSTEM_CJK = """
import json, sys, warnings
import matplotlib
matplotlib.use("Agg")
from matplotlib import font_manager as fm
mpl_data = matplotlib.get_data_path()
fm.fontManager.ttflist = [f for f in fm.fontManager.ttflist if f.fname.startswith(mpl_data)]
fm.fontManager._findfont_cached.cache_clear()
import matplotlib.pyplot as plt

def draw():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fig, ax = plt.subplots()
        ax.set_title("北京 清源 日 AQI 预报 (重污染天气预警)")
        ax.set_xlabel("溶解氧 / dissolved oxygen [mg L-1]")
        fig.savefig(sys.argv[1], format="png")
        plt.close(fig)
    return [str(w.message) for w in caught if "missing from font" in str(w.message)]

before = draw()
{register}
after = draw()
title = fm.FontProperties(family=matplotlib.rcParams["font.family"])
files = [str(f) for f in fm.fontManager._find_fonts_by_props(title)]
print(json.dumps({{
    "before": before,
    "after": after,
    "family": list(matplotlib.rcParams["font.family"]),
    "files": files,
    "found": str(fm.findfont(fm.FontProperties(family="{family}"), fallback_to_default=False)),
}}))
"""


def _run(tmp_path: Path, register: str) -> dict:
    code = textwrap.dedent(_NO_SYSTEM_CJK).format(register=register, family=FONT_FAMILY)
    env = {"MPLCONFIGDIR": str(tmp_path / "mpl"), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    res = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "fig.png")],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=300,
    )
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout.strip().splitlines()[-1])


def test_figures_draw_hanzi_from_the_bundled_font_without_a_system_cjk_font(tmp_path):
    out = _run(tmp_path, "from pipelines.fonts import use_cjk_font; use_cjk_font()")
    assert out["before"], "the check is blind: hanzi did not go missing without the font"
    assert out["after"] == []  # no "Glyph ... missing from font(s) DejaVu Sans"
    assert out["family"][-1] == FONT_FAMILY  # the fallback after the usual families
    assert out["found"] == str(FONT_FILE)
    assert out["files"][-1] == str(FONT_FILE) and "DejaVuSans" in out["files"][0]
    assert (tmp_path / "fig.png").stat().st_size > 0


def test_a_figure_module_registers_the_font_at_import(tmp_path):
    # the bulletin's chart module, as the other figure modules, calls use_cjk_font() at import
    out = _run(tmp_path, "import pipelines.warnings.bulletin")
    assert out["after"] == [] and out["family"][-1] == FONT_FAMILY


def test_the_font_is_small_licensed_and_covers_the_project_characters():
    from fontTools.ttLib import TTFont

    from pipelines.fonts.make_subset import gb2312_level1, project_characters

    assert FONT_FILE.stat().st_size < 1_500_000
    assert "SIL OPEN FONT LICENSE Version 1.1" in (FONT_FILE.parent / "OFL.txt").read_text()
    font = TTFont(str(FONT_FILE), lazy=True)
    assert font["name"].getDebugName(1) == FONT_FAMILY
    cmap = font.getBestCmap()
    cjk = {
        c for c in project_characters() if 0x3000 <= ord(c) <= 0x9FFF or 0xFF01 <= ord(c) <= 0xFF5E
    }
    lacking = "".join(sorted(c for c in cjk if ord(c) not in cmap))
    assert not lacking, f"run `.venv/bin/python -m pipelines.fonts.make_subset` for: {lacking}"
    assert all(ord(c) in cmap for c in gb2312_level1())


def test_pages_and_the_bulletin_declare_the_font_stack_and_the_app_serves_the_font(tmp_path):
    from fastapi.testclient import TestClient

    from pipelines.warnings import bulletin
    from qingyuan.web import create_app
    from qingyuan.web.settings import load_settings

    assert f"font-family:{CSS_FONT_STACK}" in bulletin._CSS and FONT_URL in bulletin._CSS
    assert CSS_FONT_STACK.startswith('"Noto Sans CJK SC","Noto Sans SC","Source Han Sans SC"')
    settings = load_settings(
        tmp_path / "store", tmp_path / "outputs", database_url=f"sqlite:///{tmp_path / 'app.db'}"
    )
    with TestClient(create_app(settings)) as client:
        font = client.get(FONT_URL)
        assert font.status_code == 200 and font.headers["content-type"] == "font/otf"
        assert font.content == FONT_FILE.read_bytes()
        css = client.get("/static/qingyuan.css").text
    assert "@font-face" in css and FONT_URL in css and f'"{FONT_FAMILY}"' in css
