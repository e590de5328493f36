"""Accounts, sessions, CSRF, rate limiting, tokens, state-changing routes and the audit table."""

from __future__ import annotations

import itertools
import re

import pytest
import sqlalchemy
from click.testing import CliRunner
from fastapi.testclient import TestClient
from qy_web import PASSWORD

_ADDRESSES = itertools.count(1)


def browser_client(app, **kw):
    """A TestClient from its own client address (the login rate limit counts per address)."""
    n = next(_ADDRESSES)
    return TestClient(
        app, raise_server_exceptions=False, client=(f"10.0.{n // 250}.{n % 250}", 5000), **kw
    )


def login(app, username, password=PASSWORD, *, client=None):
    """Log in through the form; return the client holding the session cookie."""
    c = client or browser_client(app)
    form = c.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text).group(1)
    r = c.post(
        "/login",
        data={"username": username, "password": password, "csrf_token": token, "next": "/warnings"},
        follow_redirects=False,
    )
    return c, r


def test_login_sets_a_hardened_session_cookie(web_app):
    c, r = login(web_app, "decision1")
    assert r.status_code == 303 and r.headers["location"] == "/warnings"
    cookie = r.headers["set-cookie"]
    assert (
        "qy_session=" in cookie
        and "HttpOnly" in cookie
        and "SameSite=strict" in cookie.replace("Strict", "strict")
    )
    assert "Secure" not in cookie  # plain http; Secure behind TLS (X-Forwarded-Proto: https)
    me = c.get("/api/v1/auth/me").json()
    assert me["username"] == "decision1" and me["role"] == "decision" and me["csrf_token"]
    assert "warnings_pending" in me["datasets"] and "forecasts" not in me["datasets"]


def test_login_over_tls_marks_the_cookie_secure(web_app):
    c = browser_client(web_app, base_url="https://testserver")
    _, r = login(web_app, "analyst1", client=c)
    assert "Secure" in r.headers["set-cookie"]


def test_wrong_password_and_unknown_user_look_the_same(web_app):
    _, a = login(web_app, "analyst1", "wrong password!")
    _, b = login(web_app, "nobody-here", "wrong password!")
    assert a.status_code == b.status_code == 401
    assert "wrong user name or password" in a.text and "wrong user name or password" in b.text


def test_login_form_without_its_csrf_token_is_refused(web_app):
    c = browser_client(web_app)
    r = c.post("/login", data={"username": "admin1", "password": PASSWORD, "csrf_token": "forged"})
    assert r.status_code == 403


def test_login_rate_limit(web_app):
    from qingyuan.web.accounts import add_user

    add_user(web_app.state.sessions, "victim", "analyst", password=PASSWORD, roles=["analyst"])
    attempts = web_app.state.settings.web.login_limit.attempts
    for _ in range(attempts):  # each from another address: the limit is per user name too
        _, r = login(web_app, "victim", "not the password")
        assert r.status_code == 401
    _, r = login(web_app, "victim")  # even the right password waits now
    assert r.status_code == 429 and int(r.headers["retry-after"]) > 0
    # and per address: one address guessing several user names
    c = browser_client(web_app)
    for i in range(attempts):
        _, r = login(web_app, f"guess{i}", "not the password", client=c)
        assert r.status_code == 401
    _, r = login(web_app, "analyst1", client=c)
    assert r.status_code == 429
    _, ok = login(web_app, "analyst1")  # another address is not blocked
    assert ok.status_code == 303


def test_api_token_exchange_and_bad_tokens(client):
    r = client.post("/api/v1/auth/token", json={"username": "analyst1", "password": PASSWORD})
    assert r.status_code == 201
    tok = r.json()["token"]
    ok = client.get("/api/v1/models", headers={"Authorization": f"Bearer {tok}"})
    assert ok.status_code == 200
    bad = client.get("/api/v1/networks", headers={"Authorization": "Bearer qy_forged"})
    assert bad.status_code == 401  # an invalid token is an error, not the public
    assert client.get("/api/v1/networks", headers={"Authorization": "Basic abc"}).status_code == 401
    extra = client.post(
        "/api/v1/auth/token", json={"username": "a", "password": "b", "admin": True}
    )
    assert extra.status_code == 422


def test_session_post_needs_the_csrf_token(web_app, ids_warning):
    c, _ = login(web_app, "analyst1")
    url = f"/api/v1/warnings/{ids_warning}/annotations"
    assert c.post(url, json={"text": "no token"}).status_code == 403
    me = c.get("/api/v1/auth/me").json()
    r = c.post(
        url,
        json={"text": "checked with the station log"},
        headers={"X-CSRF-Token": me["csrf_token"]},
    )
    assert r.status_code == 201
    wrong = c.post(url, json={"text": "x"}, headers={"X-CSRF-Token": "forged"})
    assert wrong.status_code == 403
    # claiming to be a form does not skip the check on API routes
    for ctype in ("application/x-www-form-urlencoded", "multipart/form-data; boundary=x"):
        assert c.post(url, content=b"", headers={"Content-Type": ctype}).status_code == 403, ctype


@pytest.fixture(scope="module")
def ids_warning(client):
    return client.get("/api/v1/warnings?city=beijing").json()["items"][0]["id"]


def test_state_changing_routes_by_role(client, headers, ids_warning):
    url = f"/api/v1/warnings/{ids_warning}/annotations"
    expected = {"public": 401, "decision": 201, "analyst": 201, "admin": 201}
    for role, status in expected.items():
        r = client.post(url, json={"text": f"note by {role}"}, headers=headers[role])
        assert r.status_code == status, (role, r.text)
    users = {"public": 401, "decision": 403, "analyst": 403, "admin": 201}
    for role, status in users.items():
        body = {"username": f"new-{role}", "role": "decision", "password": "a long password 1"}
        assert client.post("/api/v1/users", json=body, headers=headers[role]).status_code == status
    weak = {"username": "weak", "role": "decision", "password": "short"}
    assert client.post("/api/v1/users", json=weak, headers=headers["admin"]).status_code == 422
    role = {"username": "x1", "role": "root", "password": "a long password 1"}
    assert client.post("/api/v1/users", json=role, headers=headers["admin"]).status_code == 422


def test_confirm_and_reject_pending(client, headers, web_ws):
    pend = client.get("/api/v1/warnings/pending", headers=headers["decision"]).json()["items"]
    by_area = {p["area"]: p for p in pend}
    first, second = by_area["beijing-urban"], by_area["beijing-north"]
    # an analyst may read but not release
    r = client.post(
        f"/api/v1/warnings/pending/{first['id']}/confirm",
        json={"text": "x"},
        headers=headers["analyst"],
    )
    assert r.status_code == 403
    assert (
        client.post(
            f"/api/v1/warnings/pending/{first['id']}/confirm", json={"text": "x"}
        ).status_code
        == 401
    )
    ok = client.post(
        f"/api/v1/warnings/pending/{first['id']}/confirm",
        json={"text": "consistent with the regional forecast"},
        headers=headers["decision"],
    )
    assert ok.status_code == 200, ok.text
    out = ok.json()
    assert out["status"] == "confirmed" and out["level"] == "orange" and out["identifier"]
    w = client.get(f"/api/v1/warnings/{out['warning_id']}", headers=headers["decision"]).json()
    assert w["messages"][-1]["message"]["provenance"]["confirmed_by"] == "decision1"
    assert (
        web_ws.outputs / "warnings" / "beijing-2016" / "cap" / f"{out['identifier']}.xml"
    ).is_file()
    again = client.post(
        f"/api/v1/warnings/pending/{first['id']}/confirm",
        json={"text": "x"},
        headers=headers["decision"],
    )
    assert again.status_code == 409
    rej = client.post(
        f"/api/v1/warnings/pending/{second['id']}/reject",
        json={"text": "local fireworks ban makes the episode unlikely"},
        headers=headers["decision"],
    )
    assert rej.status_code == 200 and rej.json()["status"] == "rejected"
    assert (
        client.post(
            "/api/v1/warnings/pending/999999/confirm",
            json={"text": "x"},
            headers=headers["decision"],
        ).status_code
        == 404
    )


def test_audit_records_reads_and_changes_and_is_append_only(client, headers, web_app):
    client.get("/api/v1/networks/beijing/stations/Dongsi/observations", headers=headers["analyst"])
    client.get("/api/v1/models", headers=headers["decision"])  # denied, audited
    log = client.get("/api/v1/audit?page_size=1000", headers=headers["admin"]).json()["items"]
    acts = {(e["username"], e["action"], e["dataset"], e["outcome"]) for e in log}
    assert ("analyst1", "read", "observations", "ok") in acts
    assert ("decision1", "read", "models", "denied") in acts
    assert any(e["action"] == "warning.confirm" and e["username"] == "decision1" for e in log)
    assert any(e["action"] == "login" for e in log) and all(e["client"] for e in log)
    assert not any(e["dataset"] == "stations" for e in log)  # public reads are not audited
    with web_app.state.engine.begin() as con, pytest.raises(sqlalchemy.exc.DatabaseError):
        con.execute(sqlalchemy.text("UPDATE audit SET action = 'x'"))
    with web_app.state.engine.begin() as con, pytest.raises(sqlalchemy.exc.DatabaseError):
        con.execute(sqlalchemy.text("DELETE FROM audit"))


def test_password_change_revokes_tokens(web_app):
    from qingyuan.web.accounts import (
        add_user,
        create_token,
        resolve_token,
        revoke_tokens,
        set_password,
    )

    add_user(web_app.state.sessions, "rotator", "analyst", password=PASSWORD, roles=["analyst"])
    tok = create_token(web_app.state.sessions, "rotator", name="t", ttl_days=1)
    assert resolve_token(web_app.state.sessions, tok) is not None
    set_password(web_app.state.sessions, "rotator", "a brand new password")
    assert resolve_token(web_app.state.sessions, tok) is None
    tok2 = create_token(web_app.state.sessions, "rotator", name="t2", ttl_days=1)
    assert revoke_tokens(web_app.state.sessions, "rotator") == 1
    assert resolve_token(web_app.state.sessions, tok2) is None


def test_disabled_user_loses_session_and_token(web_app):
    from qingyuan.web.accounts import add_user, create_token, disable_user

    add_user(web_app.state.sessions, "leaver", "analyst", password=PASSWORD, roles=["analyst"])
    c, _ = login(web_app, "leaver")
    tok = create_token(web_app.state.sessions, "leaver", name="t", ttl_days=1)
    assert c.get("/api/v1/models").status_code == 200
    disable_user(web_app.state.sessions, "leaver")
    assert c.get("/api/v1/models").status_code == 401
    assert c.get("/api/v1/models", headers={"Authorization": f"Bearer {tok}"}).status_code == 401


def test_passwords_are_argon2_hashes(web_app):
    with web_app.state.engine.connect() as con:
        hashes = [h for (h,) in con.execute(sqlalchemy.text("SELECT password_hash FROM users"))]
    assert hashes and all(h.startswith("$argon2id$") for h in hashes)
    assert PASSWORD not in " ".join(hashes)


def test_users_cli(tmp_path, monkeypatch):
    from qingyuan.cli import main

    db = f"sqlite:///{tmp_path / 'app.db'}"
    run = CliRunner().invoke
    monkeypatch.setenv("QINGYUAN_OUTPUTS", str(tmp_path))
    r = run(
        main,
        [
            "users",
            "add",
            "ops",
            "--role",
            "analyst",
            "--password",
            "a long password 1",
            "--database",
            db,
        ],
    )
    assert r.exit_code == 0, r.output
    r = run(
        main,
        [
            "users",
            "add",
            "ops",
            "--role",
            "analyst",
            "--password",
            "a long password 1",
            "--database",
            db,
        ],
    )
    assert r.exit_code == 2 and "exists" in r.output
    r = run(
        main,
        [
            "users",
            "add",
            "x",
            "--role",
            "superuser",
            "--password",
            "a long password 1",
            "--database",
            db,
        ],
    )
    assert r.exit_code == 2 and "unknown role" in r.output
    assert "ops\tanalyst\tactive" in run(main, ["users", "list", "--database", db]).output
    tok = run(main, ["users", "token", "ops", "--database", db]).output.strip()
    assert tok.startswith("qy_") and len(tok) > 30
    assert (
        run(
            main, ["users", "passwd", "ops", "--password", "another long one", "--database", db]
        ).exit_code
        == 0
    )
    assert run(main, ["users", "disable", "ops", "--database", db]).exit_code == 0
    out = run(main, ["users", "revoke", "ops", "--database", db]).output
    assert "0 token(s) of ops revoked" in out  # disabling revoked the token already
    import sqlalchemy as sa

    with sa.create_engine(db).connect() as con:
        acts = [a for (a,) in con.execute(sa.text("SELECT action FROM audit ORDER BY seq"))]
    assert acts == ["users.add", "users.token", "users.passwd", "users.disable", "users.revoke"]
    assert "ops\tanalyst\tdisabled" in run(main, ["users", "list", "--database", db]).output
    assert (
        not (tmp_path / "secret.key").exists()
        or oct((tmp_path / "secret.key").stat().st_mode)[-3:] == "600"
    )


def test_run_warning_job_by_role(client, headers, web_ws):
    url = "/api/v1/jobs/warnings/beijing"
    body = {"as_of": f"{web_ws.issue:%Y-%m-%dT%H:%M:%SZ}", "deliver": False}
    expected = {"public": 401, "decision": 403}
    for role, status in expected.items():
        assert client.post(url, json=body, headers=headers[role]).status_code == status
    r = client.post(url, json=body, headers=headers["analyst"])
    assert r.status_code == 200, r.text
    out = r.json()
    # the same issue time again: every area's decision is the stored one (idempotent), nothing new
    assert out["ops_alert"] is None and {a["area"] for a in out["applied"]} == {
        "beijing",
        "beijing-urban",
        "beijing-north",
    }
    stale = client.post(url, json={"deliver": False}, headers=headers["admin"]).json()
    assert "no warning changed" in stale["ops_alert"]  # today the 2017 forecast is stale
    assert (
        client.post("/api/v1/jobs/warnings/ndfa", json=body, headers=headers["analyst"]).status_code
        == 422
    )
    assert (
        client.post(
            "/api/v1/jobs/warnings/atlantis", json=body, headers=headers["analyst"]
        ).status_code
        == 404
    )
    log = client.get(
        "/api/v1/audit?username=analyst1&page_size=1000", headers=headers["admin"]
    ).json()["items"]
    assert any(e["action"] == "job.run" and e["detail"]["city"] == "beijing" for e in log)


def test_server_commands_refuse_bad_arguments_clearly(tmp_path):
    from qingyuan.cli import main

    run = CliRunner().invoke
    r = run(main, ["web", "--store", str(tmp_path / "nowhere")])
    assert r.exit_code == 2 and "no such directory" in r.output
    r = run(main, ["web", "--port", "70000"])
    assert r.exit_code == 2 and "70000" in r.output
    r = run(main, ["hj212", "serve", "--port", "99999"])
    assert r.exit_code == 2 and "99999" in r.output


def test_access_file_errors_name_file_line_and_field(tmp_path):
    from pipelines.config.web import access_config
    from pipelines.errors import ConfigError

    bad = tmp_path / "access.yml"
    bad.write_text(
        "levels: [{id: public, names: {zh: 公开, en: Public}}]\naudit_from: public\n"
        "roles:\n  public: {clearance: secret, login: false, names: {zh: a, en: b}}\ndatasets: {}\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as exc:
        access_config(bad)
    assert "access.yml" in str(exc.value) and "unknown clearance 'secret'" in str(exc.value)
