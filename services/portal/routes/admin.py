"""Admin: the users and their roles, new users, and disabling a user (every session of theirs
ends at once, their API tokens are refused and they cannot sign in until enabled again)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from services.portal.auth import check_csrf, db, page_user
from services.portal.users import ROLES, User, UserError, all_users, create_user, set_disabled
from services.portal.web import render, see_other

router = APIRouter(include_in_schema=False)


@router.get("/users", response_class=HTMLResponse)
async def users(request: Request) -> Response:
    return _page(request, page_user(request, "admin"))


@router.post("/users", response_class=HTMLResponse)
async def add_user(request: Request) -> Response:
    user = page_user(request, "admin")
    form = {k: str(v) for k, v in (await request.form()).items()}
    check_csrf(request, form)

    def create() -> None:
        with db(request) as session:
            create_user(session, username=form.get("username", ""), password=form.get("password", ""),
                        role=form.get("role", ""), display_name=form.get("display_name", ""),
                        unit_id=form.get("unit_id") or None, expert_id=form.get("expert_id") or None)

    try:
        await request.app.state.password_work.run(create)  # argon2: off the event loop
    except UserError as err:
        return _page(request, user, errors={err.field: err.message}, form=form)
    return see_other("/users")


@router.post("/users/{username}/{what}", response_class=HTMLResponse)
async def disable(request: Request, username: str, what: str) -> Response:
    user = page_user(request, "admin")
    check_csrf(request, await request.form())
    if what not in ("disable", "enable"):
        return _page(request, user, status_code=404)
    if username == user.username:
        return _page(request, user, errors={"disable": "you cannot disable yourself"})
    try:
        with db(request) as session:
            set_disabled(session, username, what == "disable")
    except UserError as err:
        return _page(request, user, errors={"disable": err.message})
    return see_other("/users")


def _page(request: Request, user: User, *, status_code: int = 200, errors: dict[str, str] | None = None,
          form: dict[str, str] | None = None) -> Response:
    with db(request) as session:
        rows = all_users(session)
    return render(request, "users.html", user, status_code=422 if errors else status_code, users=rows,
                  roles=ROLES, errors=errors or {}, form=form or {})
