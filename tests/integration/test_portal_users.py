"""The portal's own tables on SQLite and PostgreSQL: the first user from the CLI, then the admin's
Users page (errors beside the field, CSRF on the form), and sign-in with the argon2 hash."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session
from typer.testing import CliRunner

from cli.main import app as cli
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
