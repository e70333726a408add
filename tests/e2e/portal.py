"""The portal as its own process beside the other services, its users, and a signed-in browser
stand-in (httpx with the session cookie, posting each form's CSRF token as a browser would)."""

from __future__ import annotations

import re
from typing import Any

import httpx
from sqlmodel import Session

from services.portal.users import create_schema, create_user, issue_token
from shared.db import make_engine
from tests.e2e.system import System

PASSWORD = "mật-khẩu-dài-123"
USERS = {
    "xa-thuonglam": dict(role="commune", unit_id="w2269", display_name="Cán bộ xã Thượng Lâm"),
    "xa-lambinh": dict(role="commune", unit_id="w2266", display_name="Cán bộ xã Lâm Bình"),
    "sonoivu": dict(role="staff", display_name="Sở Nội vụ"),
    "chuyengia0": dict(role="expert", expert_id="e0", display_name="Expert 0"),
    "chuyengia1": dict(role="expert", expert_id="e1", display_name="Expert 1"),
    "quantri": dict(role="admin", display_name="Quản trị"),
}


async def start_portal(system: System) -> str:
    """Start the portal on a free port; returns its address (what it wrote to var/portal.url)."""
    system.extra_env["PORTAL_PORT"] = "0"
    (system.var / "portal.url").unlink(missing_ok=True)
    system.start("portal")
    await system.healthy("portal")
    return (system.var / "portal.url").read_text().strip()


def add_users(system: System) -> dict[str, str]:
    """Every user of USERS, and an API token for each: {username: token}."""
    engine = make_engine(f"sqlite:///{system.var / 'portal.db'}")
    create_schema(engine)
    tokens = {}
    with Session(engine) as session:
        for name, fields in USERS.items():
            create_user(session, username=name, password=PASSWORD, **fields)
            tokens[name] = issue_token(session, name, "tests")
    engine.dispose()
    return tokens


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "no CSRF token in the page"
    return found.group(1)


class Browser:
    """One user's session on the portal."""

    def __init__(self, base: str) -> None:
        self.http = httpx.AsyncClient(base_url=base, follow_redirects=True, timeout=20)

    async def sign_in(self, username: str, password: str = PASSWORD) -> httpx.Response:
        page = await self.http.get("/login")
        return await self.http.post(
            "/login", data={"csrf": csrf_of(page.text), "username": username, "password": password}
        )

    async def submit(self, page_path: str, action: str, data: dict[str, Any]) -> httpx.Response:
        """Open a page, then post one of its forms with the page's CSRF token."""
        page = await self.http.get(page_path)
        assert page.status_code == 200, page.text[:500]
        return await self.http.post(action, data={"csrf": csrf_of(page.text), **data})

    async def close(self) -> None:
        await self.http.aclose()
