"""The portal's own tables on SQLite and PostgreSQL: the first user from the CLI, then the admin's
Users page (errors beside the field, CSRF on the form), and sign-in with the argon2 hash; failed
sign-ins throttled per name; a user's own password and API tokens."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select
from typer.testing import CliRunner

from cli.main import app as cli
from services.portal import users
from services.portal.app import create_app
from services.portal.settings import PortalSettings
from services.portal.users import User
from shared.db import make_engine

pytestmark = pytest.mark.pg


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found
    return found.group(1)


def test_first_admin_from_the_cli_then_users_on_the_page(nats_url: str, db_url: str,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PORTAL_DATABASE_URL", db_url)
    monkeypatch.setenv("EXPERTSHARE_PORTAL_PASSWORD", "mật khẩu quản trị")
    made = CliRunner().invoke(cli, ["portal", "user-add", "quantri", "--role", "admin", "--name", "Quản trị"])
    assert made.exit_code == 0 and "created admin quantri" in made.output, made.output
    refused = CliRunner().invoke(cli, ["portal", "user-add", "xa1", "--role", "commune"])
    assert refused.exit_code == 2 and "unit: a commune officer is bound to a unit" in refused.output

    settings = PortalSettings(nats_url=nats_url, database_url=db_url, secret_key="k" * 32)
    with TestClient(create_app(settings)) as http:
        assert http.get("/users", follow_redirects=False).headers["location"] == "/login"
        page = http.get("/login")
        assert http.post("/login", data={"csrf": "forged", "username": "quantri",
                                         "password": "mật khẩu quản trị"}).status_code == 403
        signed = http.post("/login", data={"csrf": _csrf(page.text), "username": "quantri",
                                           "password": "mật khẩu quản trị"})
        assert signed.status_code == 200 and str(signed.url).endswith("/users")
        form = {"csrf": _csrf(signed.text), "username": "xa2", "password": "short", "role": "commune",
                "unit_id": "w2269"}
        bad = http.post("/users", data=form)
        assert bad.status_code == 422 and "at least 8 characters" in bad.text and 'value="xa2"' in bad.text
        assert http.post("/users", data={**form, "csrf": "x", "password": "long enough"}).status_code == 403
        good = http.post("/users", data={**form, "password": "long enough", "display_name": "Xã Thượng Lâm"})
        assert good.status_code == 200 and "Xã Thượng Lâm" in good.text
    engine = make_engine(db_url)
    with Session(engine) as session:
        user = session.get(User, "xa2")
        assert user is not None and user.unit_id == "w2269" and user.password_hash.startswith("$argon2id$")
    engine.dispose()


def _sign_in(http: TestClient, username: str, password: str):  # type: ignore[no-untyped-def]
    return http.post("/login", data={"csrf": _csrf(http.get("/login").text), "username": username,
                                     "password": password}, follow_redirects=False)


def test_failed_sign_ins_are_throttled_per_name_and_users_manage_their_account(
        nats_url: str, db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PORTAL_DATABASE_URL", db_url)
    monkeypatch.setenv("EXPERTSHARE_PORTAL_PASSWORD", "mật khẩu cũ 123")
    for name in ("sonoivu", "chuyengia"):
        role = ["--role", "staff"] if name == "sonoivu" else ["--role", "expert", "--expert", "e1"]
        assert CliRunner().invoke(cli, ["portal", "user-add", name, *role]).exit_code == 0
    tokens = [CliRunner().invoke(cli, ["portal", "token", "sonoivu", "--label", label]).output.strip()
              for label in ("script", "sheet")]
    settings = PortalSettings(nats_url=nats_url, database_url=db_url, secret_key="k" * 32)
    with TestClient(create_app(settings)) as http:
        for _ in range(users.MAX_FAILURES):
            assert _sign_in(http, "sonoivu", "wrong password").status_code == 401
        locked = _sign_in(http, "sonoivu", "mật khẩu cũ 123")
        assert locked.status_code == 429 and "Đăng nhập sai quá nhiều lần" in locked.text, "even the right password"
        assert _sign_in(http, "chuyengia", "mật khẩu cũ 123").status_code == 303, "another name is not locked"
        engine = make_engine(db_url)
        with Session(engine) as session:
            until = users.locked_until(session, "sonoivu")
            assert until is not None
            assert users.locked_until(session, "sonoivu", now=until + dt.timedelta(seconds=1)) is None
            # The window has passed: the failures are old, the name may try again.
            for f in session.exec(select(users.SignInFailure)):
                f.at = f.at - users.WINDOW
                session.add(f)
            session.commit()
        assert _sign_in(http, "sonoivu", "mật khẩu cũ 123").status_code == 303

        page = http.get("/account")
        assert page.status_code == 200 and page.text.count('class="token"') == 2
        form = {"csrf": _csrf(page.text), "current": "mật khẩu cũ 123", "new": "mật khẩu mới 456"}
        differ = http.post("/account/password", data={**form, "repeat": "something else"})
        assert differ.status_code == 422 and 'id="err-repeat"' in differ.text
        wrong = http.post("/account/password", data={**form, "current": "nope", "repeat": form["new"]})
        assert wrong.status_code == 422 and 'id="err-current">the current password is wrong' in wrong.text
        short = http.post("/account/password", data={**form, "new": "short", "repeat": "short"})
        assert short.status_code == 422 and 'id="err-new">at least 8 characters' in short.text
        assert http.post("/account/password", data={**form, "repeat": form["new"], "csrf": "x"}).status_code == 403
        assert http.post("/account/password", data={**form, "repeat": form["new"]}).status_code == 200

        first = re.search(r'name="token" value="([0-9a-f]{12})"', http.get("/account").text)
        assert first is not None
        assert http.get("/api/v1/me", headers={"Authorization": f"Bearer {tokens[0]}"}).status_code == 200
        done = http.post("/account/tokens/revoke", data={"csrf": _csrf(page.text), "token": first.group(1)})
        assert done.status_code == 200 and done.text.count('class="token"') == 1
        still = [http.get("/api/v1/me", headers={"Authorization": f"Bearer {t}"}).status_code for t in tokens]
        assert sorted(still) == [200, 401], "exactly the revoked token stopped working"
        with Session(engine) as session:
            assert users.authenticate(session, "sonoivu", "mật khẩu mới 456") is not None
            assert users.authenticate(session, "sonoivu", "mật khẩu cũ 123") is None
        engine.dispose()
    revoked = CliRunner().invoke(cli, ["portal", "token-revoke", "sonoivu"])
    assert revoked.exit_code == 0 and "revoked 1 token(s) of sonoivu" in revoked.output
    unknown = CliRunner().invoke(cli, ["portal", "token-revoke", "nobody"])
    assert unknown.exit_code == 2 and "no user 'nobody'" in unknown.output
