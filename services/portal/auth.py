"""Who is asking: the signed session cookie (pages) or an API token (JSON API), and their role.

Pages: the session (a cookie signed with the portal's secret) holds the username, the language
and a CSRF token that every form posts back. API: `Authorization: Bearer <token>`.
"""

from __future__ import annotations

import hmac
import secrets
from typing import Any

from fastapi import HTTPException, Request
from sqlmodel import Session

from services.portal.users import User, user_for_token


class LoginRequired(Exception):
    """A page was opened without a session: the handler sends the browser to the sign-in page."""


class Forbidden(Exception):
    """Signed in, but this role may not open this page or do this."""


def db(request: Request) -> Session:
    return Session(request.app.state.engine)


def lang(request: Request) -> str:
    return request.session.get("lang", "vi")


def csrf_token(request: Request) -> str:
    token = request.session.get("csrf")
    if not token:
        token = request.session["csrf"] = secrets.token_urlsafe(24)
    return token


def check_csrf(request: Request, form: Any) -> None:
    sent = str(form.get("csrf", ""))
    if not sent or not hmac.compare_digest(sent, request.session.get("csrf", "")):
        raise HTTPException(status_code=403, detail="expired_form")


def page_user(request: Request, *roles: str) -> User:
    username = request.session.get("user")
    if not username:
        raise LoginRequired()
    with db(request) as session:
        user = session.get(User, username)
    if user is None:
        request.session.clear()
        raise LoginRequired()
    if roles and user.role not in roles:
        raise Forbidden()
    return user


def api_user(request: Request, *roles: str) -> User:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise HTTPException(status_code=401, detail="an API token is needed: Authorization: Bearer <token>",
                            headers={"WWW-Authenticate": "Bearer"})
    with db(request) as session:
        user = user_for_token(session, token.strip())
    if user is None:
        raise HTTPException(status_code=401, detail="unknown API token", headers={"WWW-Authenticate": "Bearer"})
    if roles and user.role not in roles:
        raise HTTPException(status_code=403, detail=f"the {user.role} role may not do this")
    return user
