"""Composition root of the portal: FastAPI pages and the /api/v1 JSON API over NATS.

The portal owns only its users, their sessions and API tokens (its own tables); everything else
it asks the owning service for over NATS request-reply, and every action is a command to the
owner. It answers `portal.health.get` like the other services, so `expertshare up` knows it is up.

What protects it from hostile input and people is wired here: the body cap (FastAPI's
`max_body_size`, larger on the sheets upload only), strict JSON and the security headers
(`services.portal.security`), validation errors without the input, server-side sessions
(`services.portal.sessions`), password hashing off the event loop (`services.portal.hashing`),
and the API's documents for signed-in users only (`routes.docs`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from nats.aio.msg import Msg
from prometheus_client import CollectorRegistry
from prometheus_fastapi_instrumentator import Instrumentator
from starlette.exceptions import HTTPException
from starlette.middleware.gzip import GZipMiddleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.types import ASGIApp

from services.portal import sessions, users
from services.portal.auth import Forbidden, LoginRequired
from services.portal.bus import Bus, Unavailable
from services.portal.hashing import Busy, PasswordWork
from services.portal.routes import (
    account,
    admin,
    api,
    commune,
    docs,
    expert,
    inbox,
    session,
    sheets,
    shortage,
    staff,
)
from services.portal.security import SecurityHeaders, StrictJson, validation_failed
from services.portal.settings import PortalSettings
from services.portal.web import render, render_crash, see_other
from shared import endpoints, subjects
from shared.messages import Reply
from shared.metrics import MetricsServer
from shared.tracing import configure_tracing

log = structlog.get_logger("portal")


class Portal(FastAPI):
    """FastAPI with the security headers outside everything, even the server-error middleware
    and the body cap: every response carries them, a 500 and a 413 too."""

    def build_middleware_stack(self) -> ASGIApp:
        return SecurityHeaders(super().build_middleware_stack())


def create_app(settings: PortalSettings | None = None) -> FastAPI:
    st = settings or PortalSettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        users.create_schema(app.state.engine)
        await app.state.bus.connect()
        await app.state.bus.serve_logins(app.state.engine)  # `expertshare login` (services.portal.bus)
        health = Reply.of(endpoints.Health(service=st.service)).model_dump_json().encode()

        async def answer(msg: Msg) -> None:
            await msg.respond(health)

        await app.state.bus.nc.subscribe(subjects.health(st.service), queue=st.service, cb=answer)
        app.state.started = True
        log.info("service_started", nats=st.nats_url)
        yield
        app.state.started = False
        await app.state.bus.close()

    app = Portal(
        title="expertshare portal",
        version="1",
        lifespan=lifespan,
        max_body_size=st.max_body_bytes,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        description="Requests, proposals, contracts and tasks; authenticate with `Bearer <API token>`.",
    )
    app.state.settings = st
    app.state.started = False
    observe(app, st)
    app.state.engine = users.engine(st.db_url())
    app.state.bus = Bus(st.nats_url, st.request_timeout_s)
    app.state.password_work = PasswordWork(st.hash_concurrency, st.hash_queue)
    app.state.session_lifetime = sessions.Lifetime(
        idle=dt.timedelta(minutes=st.session_idle_minutes), absolute=dt.timedelta(hours=st.session_hours)
    )
    app.add_middleware(StrictJson)
    app.add_middleware(GZipMiddleware, minimum_size=1000)  # pages, style and API answers: gzip when accepted
    app.add_middleware(
        SessionMiddleware,
        secret_key=st.secret(),
        session_cookie="expertshare_session",
        same_site="lax",
        https_only=st.secure_cookies,
        max_age=st.session_hours * 3600,
    )
    app.mount("/static", StaticFiles(directory=str(Path(__file__).parent / "static")), name="static")
    for module in (session, account, commune, staff, shortage, expert, admin, inbox, api, docs):
        app.include_router(module.router)
    app.include_router(sheets.router, max_body_size=st.max_upload_bytes)  # three CSV files: more than a form
    _errors(app)
    return app


def observe(app: FastAPI, st: PortalSettings) -> None:
    """Request metrics by route (prometheus-fastapi-instrumentator) in the portal's own registry,
    served with `/healthz` on a port of their own (`shared.metrics`, started by `main`), and the
    FastAPI instrumentation's spans when tracing is on: a page's trace goes on over NATS."""
    app.state.registry = CollectorRegistry()
    Instrumentator(registry=app.state.registry, excluded_handlers=["/static/.*"]).instrument(app)

    def ready() -> bool:
        nc = app.state.bus.nc
        return bool(app.state.started and nc is not None and nc.is_connected)

    app.state.metrics = MetricsServer(st.service, app.state.registry, ready)
    provider = configure_tracing(st.service)
    if provider is not None:
        from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

        FastAPIInstrumentor.instrument_app(app, tracer_provider=provider, excluded_urls="static/.*")


def _errors(app: FastAPI) -> None:
    @app.exception_handler(LoginRequired)
    async def _login(request: Request, _exc: LoginRequired) -> Response:
        return see_other("/login")

    @app.exception_handler(Forbidden)
    async def _forbidden(request: Request, _exc: Forbidden) -> Response:
        return render(request, "error.html", None, status_code=403, message_key="no_access")

    @app.exception_handler(Unavailable)
    async def _unavailable(request: Request, exc: Unavailable) -> Response:
        if request.url.path.startswith("/api/"):
            return JSONResponse({"detail": str(exc)}, status_code=503)
        return render(request, "error.html", None, status_code=503, message_key="unavailable", detail=str(exc))

    @app.exception_handler(Busy)
    async def _busy(request: Request, exc: Busy) -> Response:
        headers = {"Retry-After": str(exc.retry_after)}
        if request.url.path.startswith("/api/"):
            return JSONResponse({"detail": str(exc)}, status_code=503, headers=headers)
        page = render(request, "error.html", None, status_code=503, message_key="busy")
        page.headers.update(headers)
        return page

    app.add_exception_handler(RequestValidationError, validation_failed)

    @app.exception_handler(HTTPException)  # Starlette's: an unknown URL's 404 and 405 too
    async def _http(request: Request, exc: HTTPException) -> Response:
        if request.url.path.startswith("/api/"):
            return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)
        key = exc.detail if exc.detail in ("expired_form",) else PAGE_ERRORS.get(exc.status_code, "error")
        return render(request, "error.html", None, status_code=exc.status_code, message_key=key)

    @app.exception_handler(Exception)
    async def _crash(request: Request, exc: Exception) -> Response:
        """What was not foreseen: logged in full, the person told in their language (JSON on the API)."""
        log.error("page_failed", path=request.url.path, error=f"{type(exc).__name__}: {exc}"[:500])
        if request.url.path.startswith("/api/"):
            return JSONResponse({"detail": "internal error"}, status_code=500)
        return render_crash(request)


#: The heading of an error page by status (anything else: "Lỗi").
PAGE_ERRORS = {404: "not_found", 405: "not_found", 403: "no_access"}


def main() -> None:
    import uvicorn

    from shared.logging import configure
    from shared.nats import free_port, port_is_free
    from shared.settings import var_dir

    configure("portal")
    st = PortalSettings()
    port = st.port if st.port and port_is_free(st.port) else free_port()
    address = f"http://{st.host}:{port}"
    var_dir().mkdir(parents=True, exist_ok=True)
    (var_dir() / "portal.url").write_text(address)  # where `expertshare up` and people find it
    log.info("portal_listening", address=address, requested_port=st.port)
    app = create_app(st)
    app.state.metrics.start(st.metrics_host, st.metrics_port)
    # proxy_headers off: uvicorn would otherwise believe X-Forwarded-For from any local peer, and the
    # sign-in throttle per address with it; the portal's `trusted_proxies` setting decides instead.
    uvicorn.run(app, host=st.host, port=port, log_config=None, access_log=False, proxy_headers=False)
