"""Real-browser tests: the OS chromium driven by Playwright against a real uvicorn server.

Each role logs in through the login form and opens the map, a station and the warnings; what
each must and must not see is checked on the rendered page. Screenshots go to
``$QY_SCREENSHOTS`` (default: a pytest temporary directory); the README's come from
``QY_SCREENSHOTS=docs/screenshots pytest tests/qingyuan/web/test_browser.py``.

The browser is not optional: without chromium these tests fail (``make test`` installs it).
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from pathlib import Path

import pytest
from qy_web import PASSWORD

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def server(web_app):
    """The application served by uvicorn on a free 127.0.0.1 port, in a thread."""
    import uvicorn

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    srv = uvicorn.Server(uvicorn.Config(web_app, host="127.0.0.1", port=port, log_level="warning"))
    th = threading.Thread(target=srv.run, daemon=True)
    th.start()
    for _ in range(200):
        if srv.started:
            break
        time.sleep(0.05)
    assert srv.started, "uvicorn did not start"
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    th.join(10)


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    assert CHROMIUM, "chromium is not installed (make test installs it: apt-get install chromium)"
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        yield b
        b.close()


@pytest.fixture(scope="module")
def shots(tmp_path_factory) -> Path:
    d = Path(os.environ.get("QY_SCREENSHOTS") or tmp_path_factory.mktemp("screenshots"))
    d.mkdir(parents=True, exist_ok=True)
    return d


def page_as(browser, server, role: str | None, *, lang: str = "zh"):
    """A fresh browser context, logged in as ``<role>1`` through the form (None: the public)."""
    ctx = browser.new_context(
        viewport={"width": 1280, "height": 900}, locale="zh-CN" if lang == "zh" else "en-US"
    )
    page = ctx.new_page()
    errors: list[str] = []
    # CSP violations and script errors (a 403 page's "failed to load resource" is expected)
    page.on(
        "console",
        lambda m: (
            errors.append(m.text)
            if m.type == "error" and "Failed to load resource" not in m.text
            else None
        ),
    )
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.qy_errors = errors
    if role:
        page.goto(f"{server}/login")
        page.fill("input[name=username]", f"{role}1")
        page.fill("input[name=password]", PASSWORD)
        page.click("form.qy-form button[type=submit]")
        page.wait_for_load_state("networkidle")
        assert page.locator(f".qy-role[data-role={role}]").count() == 1, page.content()[:500]
    return page


def test_public_sees_published_data_only(browser, server, shots):
    page = page_as(browser, server, None)
    page.goto(f"{server}/?network=beijing")
    markers = page.locator("#map svg [data-station]")
    assert markers.count() == 12
    # the Beijing city's three areas are orange (the drill city's released ones add to them)
    assert page.locator("#map svg [data-area].qy-area-warned").count() >= 3
    assert page.locator("#in-force .qy-warning[data-level=orange]").count() >= 3
    nav = page.locator(".qy-nav").inner_text()
    assert "一张图" in nav and "预警" in nav and "运行监控" not in nav and "来源解析" not in nav
    page.screenshot(path=str(shots / "map_public.png"), full_page=True)
    # click through to a station
    page.locator(
        "#map svg a:has([data-station=Dongsi]), #map svg [data-station=Dongsi]"
    ).first.click()
    page.wait_for_load_state("networkidle")
    assert page.locator("#station-name").get_attribute("data-station") == "Dongsi"
    assert page.locator("#series svg").count() == 1 and page.locator("#calendar svg").count() == 1
    assert page.locator("#downloads").count() == 0 and page.locator("#forecast").count() == 0
    page.screenshot(path=str(shots / "station_public.png"), full_page=True)
    page.goto(f"{server}/warnings")
    cards = page.locator("#in-force .qy-warning")
    assert cards.count() >= 3
    text = page.inner_text("main")
    assert "健康提示" in text and "应急措施" in text and "预计AQI范围" in text
    assert page.locator(".qy-why").count() >= 3  # the published basis: cut-off, model, drivers
    assert page.locator("#pending").count() == 0  # decisions awaiting confirmation are internal
    # restricted pages send the public to the login form
    page.goto(f"{server}/operations")
    assert page.url.startswith(f"{server}/login")
    assert not page.qy_errors, page.qy_errors  # no CSP violation, no script error


def test_decision_staff_see_pending_and_why_and_can_confirm(browser, server, shots):
    page = page_as(browser, server, "decision")
    page.goto(f"{server}/warnings")
    assert page.locator(".qy-why").count() >= 3
    why = page.locator(".qy-why").first.inner_text()
    assert "数据截止" in why and "模型版本" in why and "models:/beijing-pm25@champion" in why
    rows = page.locator("#pending tr[data-pending]")
    n = rows.count()
    assert n >= 1
    page.screenshot(path=str(shots / "warnings_decision.png"), full_page=True)
    rows.first.locator("button.qy-primary").click()
    page.wait_for_load_state("networkidle")
    assert page.locator("#pending tr[data-pending]").count() == n - 1
    assert page.locator("#in-force .qy-warning").count() >= 4  # the released one is in force
    # a warning page: lifecycle and annotations
    page.locator("#in-force .qy-warning h3 a").first.click()
    page.wait_for_load_state("networkidle")
    assert page.locator("#lifecycle tbody tr").count() >= 1
    page.fill("#annotations textarea", "会商确认:区域传输为主")
    page.click("#annotations button[type=submit]")
    page.wait_for_load_state("networkidle")
    assert "会商确认:区域传输为主" in page.inner_text("#annotations")
    page.goto(f"{server}/station/beijing/Dongsi")
    assert page.locator("#forecast").count() == 0  # forecasts and raw data are for analysts
    assert page.locator("#downloads").count() == 0
    page.goto(f"{server}/operations")
    assert "403" in page.inner_text("main")
    assert not page.qy_errors, page.qy_errors


def test_analyst_sees_raw_data_sources_operations(browser, server, shots):
    page = page_as(browser, server, "analyst")
    page.goto(f"{server}/station/beijing/Dongsi")
    assert page.locator("#series svg").count() == 1 and page.locator("#downloads a").count() == 3
    assert page.locator("#forecast svg").count() == 1
    page.screenshot(path=str(shots / "station_analyst.png"), full_page=True)
    with page.expect_download() as dl:
        page.click("#downloads a:text('CSV')")
    assert dl.value.suggested_filename.endswith(".csv")
    page.goto(f"{server}/sources")
    assert page.locator("img[src*='polar']").count() >= 2
    page.wait_for_load_state("load")  # (wait_for_function would need 'unsafe-eval' under our CSP)
    assert page.evaluate("Array.from(document.images).every(i => i.complete && i.naturalWidth > 0)")
    page.screenshot(path=str(shots / "sources_analyst.png"), full_page=True)
    page.goto(f"{server}/operations")
    assert page.locator("#ingest tbody tr").count() >= 2
    page.goto(f"{server}/users")
    assert "403" in page.inner_text("main")
    assert not page.qy_errors, page.qy_errors


def test_soil_page_in_the_browser(browser, server, shots):
    """Decision staff read the risk classes and see the maps; the analyst also the hot spots."""
    page = page_as(browser, server, "decision")
    page.click(".qy-nav a[href='/soil']")
    page.wait_for_load_state("load")
    sec = page.locator("section[data-network=meuse_soil]")
    assert sec.locator("table[data-table=shares] tbody tr").count() == 4
    assert sec.locator("table[data-table=hot_spots]").count() == 0
    assert sec.locator("img").count() == 4
    assert page.evaluate("Array.from(document.images).every(i => i.complete && i.naturalWidth > 0)")
    assert "风险高" in sec.inner_text() and "lime" in sec.inner_text()
    page.screenshot(path=str(shots / "soil_decision.png"), full_page=True)
    assert not page.qy_errors, page.qy_errors
    page = page_as(browser, server, "analyst", lang="en")
    page.goto(f"{server}/soil?lang=en")
    rows = page.locator("table[data-table=hot_spots] tbody tr")
    assert rows.count() == 5 and "meuse-" in rows.first.inner_text()
    with page.expect_download() as dl:
        page.click("a[href$='meuse_soil_soil_assessment.csv']")
    assert dl.value.suggested_filename == "meuse_soil_soil_assessment.csv"
    page.screenshot(path=str(shots / "soil_analyst_en.png"), full_page=True)
    assert not page.qy_errors, page.qy_errors


def test_admin_manages_users_in_english(browser, server, shots):
    page = page_as(browser, server, "admin", lang="en")
    page.goto(f"{server}/users?lang=en")
    assert "Users" in page.inner_text("h1")
    page.fill("form.qy-form input[name=username]", "browser-made")
    page.select_option("form.qy-form select[name=role]", "decision")
    page.fill("form.qy-form input[name=password]", "a long password 2")
    page.click("form.qy-form button[type=submit]")
    page.wait_for_load_state("networkidle")
    assert "browser-made" in page.inner_text("#user-list")
    page.goto(f"{server}/?network=ndfa")
    assert page.locator("#map svg [data-station]").count() == 10
    assert "Map" in page.inner_text(".qy-nav")  # the language stuck (cookie)
    page.screenshot(path=str(shots / "map_water_en.png"), full_page=True)
    # the API documentation renders from the bundled Swagger UI (no CDN): one block per route
    page.goto(f"{server}/api/docs")
    page.wait_for_selector(".opblock", timeout=15000)
    assert page.locator(".opblock").count() >= 40
    assert not page.qy_errors, page.qy_errors
