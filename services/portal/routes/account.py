"""Every signed-in user's own account: change the password, see and revoke their API tokens."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from services.portal import vocabulary
from services.portal.auth import begin_session, check_csrf, db
from services.portal.deps import AnyUser
from services.portal.users import User, UserError, change_password, revoke_tokens, tokens_of
from services.portal.web import render

router = APIRouter(include_in_schema=False)


@router.get("/account", response_class=HTMLResponse)
async def account(request: Request, user: AnyUser) -> Response:
    return _page(request, user)


@router.post("/account/password", response_class=HTMLResponse)
async def password(request: Request, user: AnyUser) -> Response:
    form = {k: str(v) for k, v in (await request.form()).items()}
    check_csrf(request, form)
    if form.get("new", "") != form.get("repeat", ""):
        return _page(request, user, errors={"repeat": vocabulary.message("passwords_differ")})

    def change() -> None:
        with db(request) as session:
            change_password(session, user.username, form.get("current", ""), form.get("new", ""))

    try:
        await request.app.state.password_work.run(change)
    except UserError as err:
        return _page(request, user, errors={err.field: err.message})
    begin_session(request, user, keep_csrf=True)  # every session ended; this browser gets a new one
    return _page(request, user, saved=True)


@router.post("/account/tokens/revoke", response_class=HTMLResponse)
async def revoke(request: Request, user: AnyUser) -> Response:
    form = {k: str(v) for k, v in (await request.form()).items()}
    check_csrf(request, form)
    try:
        with db(request) as session:
            revoke_tokens(session, user.username, form.get("token", ""))
    except UserError as err:
        return _page(request, user, errors={err.field: err.message})
    return _page(request, user, saved=True)


def _page(request: Request, user: User, *, errors: dict[str, str] | None = None, saved: bool = False) -> Response:
    with db(request) as session:
        tokens = [
            {"id": t.token_sha256[:12], "label": t.label, "created_at": t.created_at}
            for t in tokens_of(session, user.username)
        ]
    return render(
        request,
        "account.html",
        user,
        status_code=422 if errors else 200,
        tokens=tokens,
        errors=errors or {},
        saved=saved,
    )
