"""Issue 18: the portal's routes take their user from FastAPI dependencies (`services.portal.deps`),
and none forgets to. The app is built without starting it: no service is asked, and every route
below answers before it would ask one."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, RouteContext, iter_route_contexts
from fastapi.testclient import TestClient
from sqlmodel import Session

from services.portal import deps, users
from services.portal.app import create_app
from services.portal.settings import PortalSettings
from tests.e2e.portal import csrf_of

PASSWORD = "mật khẩu dài 123"
#: The routes anyone may open: signing in and out, and the language switch (each checks its form's
#: CSRF token). A new public route is added here on purpose, never by forgetting its user.
PUBLIC = {("GET", "/login"), ("POST", "/login"), ("POST", "/logout"), ("POST", "/language")}


def _app(tmp_path: Path) -> FastAPI:
    app = create_app(
        PortalSettings(
            nats_url="nats://127.0.0.1:1", database_url=f"sqlite:///{tmp_path / 'p.db'}", secret_key="k" * 32
        )
    )
    users.create_schema(app.state.engine)
    return app


def _calls(dependant: Dependant) -> Iterator[Callable[..., Any]]:
    for sub in dependant.dependencies:
        if sub.call is not None:
            yield sub.call
        yield from _calls(sub)


def _authenticators(route: RouteContext) -> set[Callable[..., Any]]:
    return {call for call in _calls(route.dependant) if call in deps.AUTHENTICATORS}


def _routes(app: FastAPI) -> list[tuple[str, str, RouteContext]]:
    """Each (method, path, route) of the app, its included routers' routes with their prefix; the
    only other thing mounted is the static files."""
    found = []
    for route in iter_route_contexts(app.routes):
        if not isinstance(route.original_route, APIRoute):
            assert route.path == "/static", f"{route.path}: a route outside FastAPI's dependencies"
            continue
        found += [(method, str(route.path), route) for method in sorted(route.methods or ())]
    return found


def test_every_route_that_is_not_public_declares_its_user(tmp_path: Path) -> None:
    routes = _routes(_app(tmp_path))
    assert len(routes) > 40, "the walk sees the portal's routes"
    for method, path, route in routes:
        found = _authenticators(route)
        if (method, path) in PUBLIC:
            assert not found, f"{method} {path} is public"
        elif path.startswith("/api/"):
            assert found == {deps.api_user}, f"{method} {path}: an API route takes its user from the token"
        elif path == "/openapi.json":
            assert found == {deps.docs_reader}, path
        else:
            assert found == {deps.page_user}, f"{method} {path}: a page takes its user from the session"
    assert {(method, path) for method, path, _ in routes} >= PUBLIC, "the public routes exist"


def test_no_route_looks_its_user_up_itself() -> None:
    routes = Path(__file__).resolve().parents[2] / "services" / "portal" / "routes"
    for module in routes.glob("*.py"):
        text = module.read_text()
        for name in ("page_user(", "api_user(", "signed_in(", "user_for_token("):
            assert name not in text, f"{module.name} calls {name}"


@pytest.fixture
def http(tmp_path: Path) -> TestClient:
    app = _app(tmp_path)
    with Session(app.state.engine) as session:
        users.create_user(session, username="xa1", password=PASSWORD, role="commune", unit_id="w2269")
        users.create_user(session, username="sonoivu", password=PASSWORD, role="staff")
    return TestClient(app, raise_server_exceptions=False)


def _sign_in(http: TestClient, username: str) -> None:
    csrf = csrf_of(http.get("/login").text)
    answer = http.post(
        "/login", data={"csrf": csrf, "username": username, "password": PASSWORD}, follow_redirects=False
    )
    assert answer.status_code == 303


def _token(http: TestClient, username: str) -> dict[str, str]:
    app: Any = http.app
    with Session(app.state.engine) as session:
        return {"Authorization": f"Bearer {users.issue_token(session, username, 'tests')}"}


def test_a_page_sends_a_stranger_to_sign_in_and_refuses_another_role(http: TestClient) -> None:
    for path in ("/", "/account", "/proposals", "/users", "/docs"):
        answer = http.get(path, follow_redirects=False)
        assert (answer.status_code, answer.headers.get("location")) == (303, "/login"), path
    _sign_in(http, "xa1")
    assert http.get("/", follow_redirects=False).headers["location"] == "/requests", "the commune's home"
    assert http.get("/account").status_code == 200, "any role"
    for path in ("/proposals", "/users", "/shortage", "/tasks", "/contracts/c1"):
        refused = http.get(path)
        assert refused.status_code == 403 and refused.headers["content-type"].startswith("text/html"), path
        assert "Bạn không có quyền xem trang này" in refused.text, path


def test_the_api_answers_401_without_a_good_token_and_403_to_another_role(http: TestClient) -> None:
    bare = http.get("/api/v1/me")
    assert bare.status_code == 401 and bare.headers["www-authenticate"] == "Bearer"
    assert bare.json() == {"detail": "an API token is needed: Authorization: Bearer <token>"}
    assert http.get("/api/v1/me", headers={"Authorization": "Basic eDp5"}).status_code == 401
    wrong = http.get("/api/v1/me", headers={"Authorization": "Bearer wrong"})
    assert wrong.json() == {"detail": "unknown API token, or its user is disabled"}
    commune = _token(http, "xa1")
    assert http.get("/api/v1/me", headers=commune).json()["role"] == "commune"
    for method, path in (("GET", "/api/v1/proposals"), ("GET", "/api/v1/tasks"), ("POST", "/api/v1/assignments")):
        refused = http.request(method, path, headers=commune, json={})
        assert (refused.status_code, refused.json()) == (403, {"detail": "the commune role may not do this"}), path
    assert http.post("/api/v1/requests", json={}).status_code == 401, "who asks is known before what is asked"
    _sign_in(http, "xa1")
    assert http.get("/api/v1/me").status_code == 401, "the API takes no session cookie"


def test_the_schema_takes_a_token_or_a_session(http: TestClient) -> None:
    assert http.get("/openapi.json").status_code == 401
    assert http.get("/openapi.json", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert http.get("/openapi.json", headers=_token(http, "sonoivu")).status_code == 200
    _sign_in(http, "sonoivu")
    assert http.get("/openapi.json").status_code == 200


def test_a_disabled_user_is_refused_by_every_dependency(http: TestClient) -> None:
    token = _token(http, "xa1")
    _sign_in(http, "xa1")
    assert http.get("/account").status_code == 200
    app: Any = http.app
    with Session(app.state.engine) as session:
        users.set_disabled(session, "xa1", True)
    assert http.get("/account", follow_redirects=False).headers["location"] == "/login"
    assert http.get("/api/v1/me", headers=token).status_code == 401
