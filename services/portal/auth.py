"""Who is asking: the signed session cookie (pages) or an API token (JSON API), and their role.

Pages: the session (a cookie signed with the portal's secret) holds a session id, the language
and a CSRF token that every form posts back; the id names a user only while its row is on the
server (`services.portal.sessions`). API: `Authorization: Bearer <token>`. A disabled user is
refused either way. The routes take their user from `services.portal.deps`, which asks this
module.
"""

from __future__ import annotations

import hmac
import secrets
from typing import Any

from fastapi import HTTPException, Request
from sqlmodel import Session

from services.portal import sessions
from services.portal.users import User


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


def lifetime(request: Request) -> sessions.Lifetime:
    return request.app.state.session_lifetime  # type: ignore[no-any-return]


def signed_in(request: Request) -> User | None:
    """The user of this browser's session, if it is still on the server and they are not disabled."""
    sid = request.session.get("sid")
    if not sid:
        return None
    with db(request) as session:
        username = sessions.username_of(session, str(sid), lifetime(request))
        user = session.get(User, username) if username else None
    if user is None or user.disabled:
        request.session.clear()
        return None
    return user


def begin_session(request: Request, user: User, *, keep_csrf: bool = False) -> None:
    """A new session for `user` in this browser (a new id: no fixation of an earlier one; a new
    CSRF token too, unless the same person stays signed in, as after changing their password)."""
    kept = {k: request.session[k] for k in ("csrf",) if keep_csrf and k in request.session}
    language = request.session.get("lang", user.language)
    with db(request) as session:
        sid = sessions.start(session, user.username, lifetime(request))
    request.session.clear()
    request.session.update(sid=sid, lang=language, **kept)


def end_session(request: Request) -> None:
    sid = request.session.get("sid")
    if sid:
        with db(request) as session:
            sessions.end(session, str(sid))
    request.session.clear()


def client_address(request: Request) -> str:
    """The address sign-ins are counted against: the peer's, or, when the peer is a proxy the
    settings name, the address that proxy appended last to X-Forwarded-For."""
    peer = request.client.host if request.client else ""
    if peer in request.app.state.settings.proxies():
        forwarded = [a.strip() for a in request.headers.get("x-forwarded-for", "").split(",") if a.strip()]
        if forwarded:
            return forwarded[-1][:64]
    return peer[:64]
