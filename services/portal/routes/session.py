"""Sign in, sign out, the language switch, and the home page each role lands on."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from services.portal.auth import begin_session, check_csrf, client_address, db, end_session
from services.portal.deps import AnyUser
from services.portal.i18n import LANGUAGES
from services.portal.users import User, sign_in
from services.portal.web import render, see_other

router = APIRouter(include_in_schema=False)
HOME = {"commune": "/requests", "staff": "/proposals", "expert": "/tasks", "admin": "/users"}


@router.get("/")
async def home(user: AnyUser) -> Response:
    return see_other(HOME[user.role])


@router.get("/login", response_class=HTMLResponse)
async def login_form(request: Request) -> Response:
    return render(request, "login.html", None)


@router.post("/login")
async def login(request: Request) -> Response:
    form = await request.form()
    check_csrf(request, form)
    username, password = str(form.get("username", "")), str(form.get("password", ""))
    address, per_address = client_address(request), request.app.state.settings.sign_in_failures_per_address

    def attempt() -> tuple[User | None, object]:
        with db(request) as session:
            return sign_in(session, username, password, address, per_address)

    user, until = await request.app.state.password_work.run(attempt)
    if user is None:
        return render(
            request,
            "login.html",
            None,
            status_code=429 if until else 401,
            error=True,
            until=until,
            username=username[:64],
        )
    begin_session(request, user)
    return see_other(HOME[user.role])


@router.post("/logout")
async def logout(request: Request) -> Response:
    check_csrf(request, await request.form())
    end_session(request)
    return see_other("/login")


@router.post("/language")
async def language(request: Request) -> Response:
    form = await request.form()
    check_csrf(request, form)
    chosen = str(form.get("lang", "vi"))
    request.session["lang"] = chosen if chosen in LANGUAGES else "vi"
    back = str(form.get("next", "/"))
    return see_other(back if back.startswith("/") and not back.startswith("//") else "/")
