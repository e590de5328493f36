"""Every page x every role through the application (server-rendered HTML), both languages."""

from __future__ import annotations

import pytest

ROLES = ("public", "decision", "analyst", "admin")
OPEN = dict.fromkeys(ROLES, 200)
# 303: to the login form
ANALYST = {"public": 303, "decision": 403, "analyst": 200, "admin": 200}
ADMIN = {"public": 303, "decision": 403, "analyst": 403, "admin": 200}

PAGES = [
    ("/", OPEN),
    ("/?network=ndfa", OPEN),
    ("/station/beijing/Dongsi", OPEN),
    ("/station/beijing/Dongsi?variable=wind_speed", OPEN),
    ("/station/ndfa/RMB", OPEN),
    ("/warnings", OPEN),
    ("/water", OPEN),
    ("/soil", {"public": 303, "decision": 200, "analyst": 200, "admin": 200}),
    ("/login", OPEN),
    ("/sources", ANALYST),
    ("/pmf/Dataset-BatonRouge-con_f4", ANALYST),
    ("/operations", ANALYST),
    ("/users", ADMIN),
]


@pytest.fixture(scope="module")
def browser_headers(headers):
    """Bearer headers plus an HTML Accept header (errors render as pages, 401 as a redirect)."""
    return {r: {**h, "Accept": "text/html"} for r, h in headers.items()}


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("role", ROLES)
def test_page_by_role(client, browser_headers, role, lang):
    bad = []
    for path, expected in PAGES:
        sep = "&" if "?" in path else "?"
        r = client.get(
            f"{path}{sep}lang={lang}", headers=browser_headers[role], follow_redirects=False
        )
        if r.status_code != expected[role]:
            bad.append((path, r.status_code, expected[role]))
            continue
        if r.status_code == 303:
            assert r.headers["location"].startswith("/login?next=")
        else:
            assert r.headers["content-type"].startswith("text/html")
            assert ("一张图" if lang == "zh" else "Map") in r.text
            assert "<script" not in r.text  # no script at all: the CSP forbids inline script
    assert not bad, bad


def test_warning_page_by_role(client, browser_headers):
    wid = client.get("/api/v1/warnings?city=beijing").json()["items"][0]["id"]
    # the published basis of a warning (data cut-off, model, drivers) is shown to everyone,
    # annotations only to cleared roles
    public = client.get(f"/warnings/{wid}", headers=browser_headers["public"])
    assert public.status_code == 200 and "models:/beijing-pm25@champion" in public.text
    assert 'id="annotations"' not in public.text
    staff = client.get(f"/warnings/{wid}", headers=browser_headers["decision"])
    assert staff.status_code == 200 and 'id="annotations"' in staff.text
    assert client.get("/warnings/999999", headers=browser_headers["public"]).status_code == 404


def test_pages_escape_what_they_show(client, browser_headers):
    r = client.get("/station/beijing/%3Cscript%3E", headers=browser_headers["public"])
    assert r.status_code == 422 and "<script>" not in r.text
    r = client.get("/?network=%3Cb%3Ex", headers=browser_headers["public"])
    assert r.status_code == 422 and "<b>x" not in r.text


def test_login_next_is_never_an_open_redirect(client):
    import re

    for nxt in ("//evil.example/x", "https://evil.example/", "/\\evil.example"):
        form = client.get(f"/login?next={nxt}")
        assert "evil.example" not in re.search(r'name="next" value="([^"]*)"', form.text).group(1)


def test_pmf_page_shows_the_error_estimates_and_every_file_with_its_units(client, browser_headers):
    r = client.get("/pmf/Dataset-BatonRouge-con_f4", headers=browser_headers["analyst"])
    assert r.status_code == 200
    assert "Error estimates" not in r.text  # the fixture's run has none (bootstrap 0)
    assert "Tables and figures" in r.text
    # a row per output: the link, what it is and its units
    assert "/files/profiles_concentration.csv" in r.text and "data units" in r.text
    assert "/files/scaled_residuals.csv" in r.text


def test_pmf_error_estimate_lines_come_from_the_summary():
    from qingyuan.web.pages.sources import _error_estimates

    s = {
        "bootstrap": {"replicates": 100, "threshold_r": 0.6, "mapped_percent": [100.0, 97.0]},
        "disp": {"well_defined": False, "largest_dq_decrease": 2.5},
        "bsdisp": {"replicates": 20, "accepted_percent": {"0.5": 90.0, "4.0": 100.0}},
        "fpeak": {"runs": [{"strength": 0.5, "dq_robust_percent": 1.234}]},
        "constrained": {"guidance": "dQ(robust) = 3.0 (0.50 % of the base)"},
    }
    lines = _error_estimates(s)
    assert (
        lines[0]
        == "Bootstrap (100 replicates, contribution r >= 0.6): mapped % per factor [100.0, 97.0]"
    )
    assert "swaps at dQmax 4: not well defined" in lines[1] and "2.5" in lines[1]
    assert lines[2] == "BS-DISP (20 replicates): accepted per dQmax 0.5: 90 %, 4.0: 100 %"
    assert lines[3] == "Fpeak dQ(robust) per strength: +0.5: 1.23 %"
    assert lines[4].startswith("Constrained run: dQ(robust) = 3.0")
    assert _error_estimates({}) == []
