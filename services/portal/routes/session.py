"""Sign in, sign out, the language switch, and the home page each role lands on."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from services.portal.auth import check_csrf, db, page_user
from services.portal.i18n import LANGUAGES
from services.portal.users import sign_in
from services.portal.web import render, see_other

router = APIRouter(include_in_schema=False)
HOME = {"commune": "/requests", "staff": "/proposals", "expert": "/tasks", "admin": "/users"}


@router.get("/")
async def home(request: Request) -> Response:
    return see_other(HOME[page_user(request).role])


@router.get("/login", response_class=HTMLResponse)
async def login_form(request: Request) -> Response:
    return render(request, "login.html", None)


@router.post("/login")
async def login(request: Request) -> Response:
    form = await request.form()
    check_csrf(request, form)
    with db(request) as session:
        user, until = sign_in(session, str(form.get("username", "")), str(form.get("password", "")))
    if user is None:
        return render(request, "login.html", None, status_code=429 if until else 401, error=True,
                      until=until, username=str(form.get("username", ""))[:64])
    language = request.session.get("lang", user.language)
    request.session.clear()  # a new session on sign-in: no fixation of an earlier one
    request.session.update(user=user.username, lang=language)
    return see_other(HOME[user.role])


@router.post("/logout")
async def logout(request: Request) -> Response:
    check_csrf(request, await request.form())
    request.session.clear()
    return see_other("/login")


@router.post("/language")
async def language(request: Request) -> Response:
    form = await request.form()
    check_csrf(request, form)
    chosen = str(form.get("lang", "vi"))
    request.session["lang"] = chosen if chosen in LANGUAGES else "vi"
    back = str(form.get("next", "/"))
    return see_other(back if back.startswith("/") and not back.startswith("//") else "/")
