"""The API's documents (/openapi.json, /docs, /redoc) for signed-in users only: they map every
route and field of the API, which is nobody else's business.

The schema is given to a browser session or an API token (clients such as schemathesis load it
with their token); the two pages to a browser session. The pages are FastAPI's Swagger UI and
ReDoc, which load their scripts from a CDN and start with an inline script: their own
Content-Security-Policy allows that CDN and exactly those inline scripts (by hash), nothing else.
"""

from __future__ import annotations

import base64
import hashlib
import re

from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse, Response

from services.portal.deps import AnyUser, DocsReader

router = APIRouter(include_in_schema=False)
CDN = "https://cdn.jsdelivr.net"


@router.get("/openapi.json")
async def openapi(request: Request, _reader: DocsReader) -> Response:
    return JSONResponse(request.app.openapi())


@router.get("/docs")
async def swagger(request: Request, _user: AnyUser) -> Response:
    return _with_csp(get_swagger_ui_html(openapi_url="/openapi.json", title=f"{request.app.title} · API"))


@router.get("/redoc")
async def redoc(request: Request, _user: AnyUser) -> Response:
    return _with_csp(get_redoc_html(openapi_url="/openapi.json", title=f"{request.app.title} · API"))


def _with_csp(page: HTMLResponse) -> HTMLResponse:
    inline = re.findall(rb"<script>(.*?)</script>", page.body, flags=re.S)
    hashes = " ".join(f"'sha256-{base64.b64encode(hashlib.sha256(s).digest()).decode()}'" for s in inline)
    page.headers["Content-Security-Policy"] = (
        f"default-src 'self'; script-src 'self' {CDN} {hashes}; style-src 'self' 'unsafe-inline' {CDN} "
        "https://fonts.googleapis.com; font-src 'self' https://fonts.gstatic.com; img-src 'self' data: https:; "
        "worker-src 'self' blob:; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    )
    return page
