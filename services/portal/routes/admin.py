"""Admin: the users, a page at a time, with the unit or expert each is bound to (by name); new
users, bound only to a unit or an expert the contracts service has; disabling a user (every session
of theirs ends at once, their API tokens are refused and they cannot sign in until enabled again),
enabling them again, and setting a new password (their sessions end too).

Who did what is logged (`portal.admin`, with the admin's name): the portal keeps no audit trail of
its own; the contracts service's trail is for decisions about work, not accounts."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import structlog
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from services.portal import i18n, users
from services.portal.auth import check_csrf, db, lang
from services.portal.bus import Unavailable
from services.portal.deps import AdminUser
from services.portal.users import ROLES, User, UserError
from services.portal.web import render, see_other
from shared import messages as m
from shared import subjects as s

router = APIRouter(include_in_schema=False)
log = structlog.get_logger("portal.admin")
PAGE = 50
ACTS = ("disable", "enable", "reset")


@router.get("/users", response_class=HTMLResponse)
async def users_page(request: Request, user: AdminUser) -> Response:
    given = request.query_params.get("page", "1")[:6]
    return await _page(request, user, page=int(given) if given.isdigit() else 1)


@router.post("/users", response_class=HTMLResponse)
async def add_user(request: Request, user: AdminUser) -> Response:
    form = {k: str(v)[:200] for k, v in (await request.form()).items()}
    check_csrf(request, form)
    role, unit_id, expert_id = form.get("role", ""), form.get("unit_id") or None, form.get("expert_id") or None
    try:
        await _check_binding(request, role, unit_id, expert_id)

        def create() -> None:
            with db(request) as session:
                users.create_user(
                    session,
                    username=form.get("username", ""),
                    password=form.get("password", ""),
                    role=role,
                    display_name=form.get("display_name", ""),
                    unit_id=unit_id,
                    expert_id=expert_id,
                )

        await request.app.state.password_work.run(create)  # argon2: off the event loop
    except UserError as err:
        return await _page(request, user, errors={err.field: _say(request, user, err)}, form=form)
    log.info("user_created", user=form.get("username"), role=role, by=user.username)
    return see_other("/users")


@router.post("/users/{username}/{what}", response_class=HTMLResponse)
async def act(request: Request, user: AdminUser, username: str, what: str) -> Response:
    form = await request.form()
    check_csrf(request, form)
    if what not in ACTS:
        return await _page(request, user, status_code=404)
    if username == user.username:
        return await _page(request, user, errors={"act": _words(request, user)("user_not_yourself")})
    password = str(form.get("password", ""))[:200]

    def change() -> int:
        with db(request) as session:
            if what == "reset":
                return users.reset_password(session, username, password)
            return users.set_disabled(session, username, what == "disable")

    try:
        ended = await request.app.state.password_work.run(change) if what == "reset" else change()
    except UserError as err:
        return await _page(request, user, errors={"act": _say(request, user, err)}, target=username)
    log.info("user_changed", action=what, user=username, sessions_ended=ended, by=user.username)
    return see_other(f"/users?done={what}&who={quote(username[:64])}")


async def _check_binding(request: Request, role: str, unit_id: str | None, expert_id: str | None) -> None:
    """A commune's unit, an expert's id: refused unless the contracts service has it."""
    ids = users.binding_ids(role, unit_id, expert_id)
    if not ids:
        return
    try:
        reference = await request.app.state.bus.data(s.REFERENCE_GET, m.GetReference(ids=ids))
    except Unavailable as err:
        field = "unit" if role == "commune" else "expert"
        raise UserError(field, f"cannot check it: {err}", "user_cannot_check") from None
    users.check_binding(role, unit_id, expert_id, reference)


async def _names(request: Request, rows: list[User]) -> dict[str, str]:
    """The names of the units and experts the page's users are bound to ({} when the contracts
    service does not answer: the ids are shown alone)."""
    ids = sorted({i for u in rows for i in users.binding_ids(u.role, u.unit_id, u.expert_id)})
    if not ids:
        return {}
    try:
        ref = await request.app.state.bus.data(s.REFERENCE_GET, m.GetReference(ids=ids))
    except Unavailable:
        return {}
    return {x["id"]: x.get("name", "") for x in [*ref.get("units", []), *ref.get("experts", [])]}


def _words(request: Request, user: User) -> i18n.Words:
    return i18n.Words(user.language if "lang" not in request.session else lang(request))


def _say(request: Request, user: User, err: UserError) -> str:
    """The error in the page's language (its English message when it has no words of its own)."""
    return _words(request, user)(err.code).format(**err.params) if err.code in i18n.WORDS else err.message


async def _page(
    request: Request,
    user: User,
    *,
    page: int = 1,
    status_code: int = 200,
    errors: dict[str, str] | None = None,
    form: dict[str, str] | None = None,
    target: str = "",
) -> Response:
    page = max(1, min(page, 10_000))
    with db(request) as session:
        everyone = users.all_users(session)
    pages = max(1, -(-len(everyone) // PAGE))
    page = min(page, pages)
    rows = everyone[(page - 1) * PAGE : page * PAGE]
    done: dict[str, Any] = {}
    if request.query_params.get("done") in ACTS:
        who = request.query_params.get("who", "")[:64]
        done = {"what": request.query_params["done"], "who": who} if any(u.username == who for u in everyone) else {}
    return render(
        request,
        "users.html",
        user,
        status_code=422 if errors else status_code,
        users=rows,
        roles=ROLES,
        errors=errors or {},
        form=form or {},
        names=await _names(request, rows),
        page=page,
        pages=pages,
        total=len(everyone),
        done=done,
        target=target,
    )
