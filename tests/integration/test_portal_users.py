"""The portal's own tables on SQLite and PostgreSQL: the first user from the CLI, then the admin's
Users page (errors beside the field, CSRF on the form), and sign-in with the argon2 hash; failed
sign-ins throttled per name; a user's own password and API tokens."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import re
import sys

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select
from typer.testing import CliRunner

from cli.main import app as cli
from services.portal import users
from services.portal.app import create_app
from services.portal.settings import PortalSettings
from services.portal.users import User
from shared.clock import local_today
from shared.db import make_engine
from shared.nats import free_port
from tests.integration.services_harness import Stack, contract, expert

pytestmark = pytest.mark.pg


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found
    return found.group(1)


def test_first_admin_from_the_cli_then_users_on_the_page(
    nats_url: str, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
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
        assert (
            http.post(
                "/login", data={"csrf": "forged", "username": "quantri", "password": "mật khẩu quản trị"}
            ).status_code
            == 403
        )
        signed = http.post(
            "/login", data={"csrf": _csrf(page.text), "username": "quantri", "password": "mật khẩu quản trị"}
        )
        assert signed.status_code == 200 and str(signed.url).endswith("/users")
        form = {"csrf": _csrf(signed.text), "username": "xa2", "password": "short", "role": "staff"}
        bad = http.post("/users", data=form)
        assert bad.status_code == 422 and "Mật khẩu cần ít nhất 8 ký tự" in bad.text and 'value="xa2"' in bad.text
        assert http.post("/users", data={**form, "csrf": "x", "password": "long enough"}).status_code == 403
        good = http.post("/users", data={**form, "password": "long enough", "display_name": "Xã Thượng Lâm"})
        assert good.status_code == 200 and "Xã Thượng Lâm" in good.text
        unchecked = http.post(
            "/users", data={**form, "username": "xa3", "password": "long enough", "role": "commune", "unit_id": "w2269"}
        )
        assert unchecked.status_code == 422 and "dịch vụ hợp đồng không trả lời" in unchecked.text, (
            "no contracts service here: the unit cannot be checked, the user is not made"
        )
    engine = make_engine(db_url)
    with Session(engine) as session:
        user = session.get(User, "xa2")
        assert user is not None and user.role == "staff" and user.password_hash.startswith("$argon2id$")
        assert session.get(User, "xa3") is None
    engine.dispose()


def _sign_in(http: TestClient, username: str, password: str):  # type: ignore[no-untyped-def]
    return http.post(
        "/login",
        data={"csrf": _csrf(http.get("/login").text), "username": username, "password": password},
        follow_redirects=False,
    )


def test_failed_sign_ins_are_throttled_per_name_and_users_manage_their_account(
    nats_url: str, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PORTAL_DATABASE_URL", db_url)
    monkeypatch.setenv("EXPERTSHARE_PORTAL_PASSWORD", "mật khẩu cũ 123")
    assert CliRunner().invoke(cli, ["portal", "user-add", "sonoivu", "--role", "staff"]).exit_code == 0
    engine = make_engine(db_url)
    with Session(engine) as session:  # an expert's user is checked with the running system: made here directly
        users.create_user(session, username="chuyengia", password="mật khẩu cũ 123", role="expert", expert_id="e1")
    engine.dispose()
    tokens = [
        CliRunner().invoke(cli, ["portal", "token", "sonoivu", "--label", label]).output.strip()
        for label in ("script", "sheet")
    ]
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
        assert wrong.status_code == 422 and 'id="err-current">Mật khẩu hiện tại không đúng' in wrong.text
        short = http.post("/account/password", data={**form, "new": "short", "repeat": "short"})
        assert short.status_code == 422 and 'id="err-new">Mật khẩu cần ít nhất 8 ký tự' in short.text
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


async def _cli(nats: str, *args: str, env: dict[str, str]) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "cli.main",
        *args,
        env={**os.environ, **env, "NATS_URL": nats},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(proc.communicate(), 60)
    return proc.returncode or 0, out.decode()


async def test_accounts_only_for_units_and_experts_that_exist(stack: Stack, db_url: str) -> None:
    """Issue 15: `user-add --unit w9999` and `--expert e999` were accepted, and that commune's
    submissions came back as the form, silently."""
    await stack.register([expert(1)], [contract(1)])
    env = {"PORTAL_DATABASE_URL": db_url, "EXPERTSHARE_PORTAL_PASSWORD": "mật khẩu dài 123"}
    code, out = await _cli(stack.url, "portal", "user-add", "xa9", "--role", "commune", "--unit", "w9999", env=env)
    assert code == 1 and "no unit 'w9999' is registered" in out, out
    code, out = await _cli(stack.url, "portal", "user-add", "cg9", "--role", "expert", "--expert", "e999", env=env)
    assert code == 1 and "no expert 'e999' is registered" in out, out
    dead = f"nats://127.0.0.1:{free_port()}"
    code, out = await _cli(dead, "portal", "user-add", "xa1", "--role", "commune", "--unit", "u1", env=env)
    assert code == 1 and "cannot check 'u1'" in out and "no user was made" in out, out
    for args in (
        ["xa1", "--role", "commune", "--unit", "u1"],
        ["cg1", "--role", "expert", "--expert", "e1"],
        ["quantri", "--role", "admin"],
    ):
        code, out = await _cli(stack.url, "portal", "user-add", *args, env=env)
        assert code == 0 and "created" in out, out
    code, out = await _cli(stack.url, "portal", "user-list", env=env)
    assert code == 0 and "3 user(s)" in out and "xa9" not in out and "cg9" not in out, out

    engine = make_engine(db_url)
    with Session(engine) as session:  # an account made before the check (or its unit since removed)
        users.create_user(session, username="xa-cu", password="mật khẩu dài 123", role="commune", unit_id="w9999")
    engine.dispose()
    settings = PortalSettings(nats_url=stack.url, database_url=db_url, secret_key="k" * 32)

    def on_the_portal() -> None:
        with TestClient(create_app(settings)) as http:
            admin = _sign_in(http, "quantri", "mật khẩu dài 123")
            page = http.get(admin.headers["location"])
            form = {
                "csrf": _csrf(page.text),
                "username": "xa2",
                "password": "long enough",
                "role": "commune",
                "unit_id": "w9999",
            }
            bad = http.post("/users", data=form)
            assert bad.status_code == 422 and 'id="err-unit"' in bad.text
            assert "Không có đơn vị mã w9999 trong hệ thống" in bad.text and 'value="xa2"' in bad.text
            bad = http.post("/users", data={**form, "role": "expert", "unit_id": "", "expert_id": "e999"})
            assert bad.status_code == 422 and "Không có chuyên gia mã e999" in bad.text
            good = http.post("/users", data={**form, "unit_id": "u2", "display_name": "Cán bộ xã Lâm Bình"})
            assert good.status_code == 200 and "Cán bộ xã Lâm Bình" in good.text
            assert "Xã Lâm Bình" in good.text, "the unit's name beside its id"
            http.post("/logout", data={"csrf": _csrf(good.text)})

            assert _sign_in(http, "xa-cu", "mật khẩu dài 123").status_code == 303
            new = http.get("/requests/new")
            sent = http.post(
                "/requests",
                data={
                    "csrf": _csrf(new.text),
                    "title": "Cài chữ ký số",
                    "skill": "digital_signature",
                    "level": "2",
                    "mode": "remote",
                    "hours": "2",
                    "priority": "3",
                    "deadline": str(local_today() + dt.timedelta(days=9)),
                },
            )
            assert sent.status_code == 422 and "đơn vị w9999, nhưng đơn vị này không có trong hệ thống" in sent.text

    await asyncio.to_thread(on_the_portal)  # the services answer on this loop meanwhile


async def test_the_admin_lists_disables_enables_and_resets_users(stack: Stack, db_url: str) -> None:
    await stack.register([expert(1)], [contract(1)])
    env = {"PORTAL_DATABASE_URL": db_url, "EXPERTSHARE_PORTAL_PASSWORD": "mật khẩu dài 123"}
    for args in (
        ["xa1", "--role", "commune", "--unit", "u1", "--name", "Cán bộ Thượng Lâm"],
        ["quantri", "--role", "admin"],
    ):
        assert (await _cli(stack.url, "portal", "user-add", *args, env=env))[0] == 0
    settings = PortalSettings(nats_url=stack.url, database_url=db_url, secret_key="k" * 32)

    def on_the_portal() -> None:
        with TestClient(create_app(settings)) as admin, TestClient(create_app(settings)) as xa:
            assert _sign_in(xa, "xa1", "mật khẩu dài 123").status_code == 303
            assert xa.get("/requests", follow_redirects=False).status_code == 200
            _sign_in(admin, "quantri", "mật khẩu dài 123")
            page = admin.get("/users")
            assert page.status_code == 200 and "<table" not in page.text, "cards, not a wide table"
            assert "Cán bộ Thượng Lâm" in page.text and "Xã Thượng Lâm" in page.text and "Cán bộ xã" in page.text
            assert 'action="/users/quantri/disable"' not in page.text, "not yourself"
            csrf = _csrf(page.text)
            assert admin.post("/users/xa1/disable", data={"csrf": "forged"}).status_code == 403
            off = admin.post("/users/xa1/disable", data={"csrf": csrf})
            assert off.status_code == 200 and "Đã khoá xa1" in off.text and 'action="/users/xa1/enable"' in off.text
            assert xa.get("/requests", follow_redirects=False).headers["location"] == "/login", "the session ended"
            assert _sign_in(xa, "xa1", "mật khẩu dài 123").status_code == 401, "cannot sign in"
            on = admin.post("/users/xa1/enable", data={"csrf": csrf})
            assert "Đã mở khoá xa1" in on.text and _sign_in(xa, "xa1", "mật khẩu dài 123").status_code == 303
            short = admin.post("/users/xa1/reset", data={"csrf": csrf, "password": "short"})
            assert short.status_code == 422 and "Mật khẩu cần ít nhất 8 ký tự" in short.text
            reset = admin.post("/users/xa1/reset", data={"csrf": csrf, "password": "mật khẩu mới 456"})
            assert "Đã đặt lại mật khẩu của xa1" in reset.text
            assert xa.get("/requests", follow_redirects=False).status_code == 303, "the session ended"
            assert _sign_in(xa, "xa1", "mật khẩu dài 123").status_code == 401
            assert _sign_in(xa, "xa1", "mật khẩu mới 456").status_code == 303
            assert admin.post("/users/nobody/disable", data={"csrf": csrf}).status_code == 422

    await asyncio.to_thread(on_the_portal)
    code, out = await _cli(stack.url, "portal", "user-disable", "xa1", env=env)
    assert code == 0 and "disabled xa1" in out
    code, out = await _cli(stack.url, "portal", "user-list", env=env)
    assert re.search(r"xa1 +commune +unit u1 +DISABLED", out), out
    code, out = await _cli(stack.url, "portal", "user-enable", "xa1", env=env)
    assert code == 0 and "enabled xa1" in out
    code, out = await _cli(stack.url, "portal", "user-reset", "xa1", env={**env, "EXPERTSHARE_PORTAL_PASSWORD": "x"})
    assert code == 2 and "at least 8 characters" in out
    code, out = await _cli(stack.url, "portal", "user-reset", "xa1", env=env)
    assert code == 0 and "password of xa1 reset" in out
    code, out = await _cli(stack.url, "portal", "user-reset", "nobody", env=env)
    assert code == 2 and "no user 'nobody'" in out
