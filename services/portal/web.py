"""Rendering pages: the Jinja2 environment with the Vietnamese formats and the user's language."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates

from services.portal import i18n
from services.portal.auth import csrf_token, lang
from services.portal.users import User

templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
templates.env.filters.update(money=i18n.money, number=i18n.number, date=i18n.date)
templates.env.globals["SKILLS"] = i18n.SKILLS


def render(request: Request, name: str, user: User | None, status_code: int = 200, **context: Any) -> HTMLResponse:
    language = page_language(request, user)
    return templates.TemplateResponse(
        request,
        name,
        {
            "user": user,
            "t": i18n.Words(language),
            "lang": language,
            "csrf": csrf_token(request),
            **context,
        },
        status_code=status_code,
    )


def page_language(request: Request, user: User | None) -> str:
    """The user's language, unless this browser chose another (the header's switch)."""
    return i18n.Words(user.language if user and "lang" not in request.session else lang(request)).lang


def render_crash(request: Request) -> HTMLResponse:
    """The error page outside the session (a crash is answered after the session middleware):
    in Vietnamese, or English when the browser asks for it first."""
    language = "en" if request.headers.get("accept-language", "").lower().startswith("en") else "vi"
    return templates.TemplateResponse(
        request,
        "error.html",
        {
            "user": None,
            "t": i18n.Words(language),
            "lang": language,
            "csrf": "",
            "message_key": "server_error",
        },
        status_code=500,
    )


def see_other(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)
