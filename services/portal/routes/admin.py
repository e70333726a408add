"""Admin: the users and their roles, and new users."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from services.portal.auth import check_csrf, db, page_user
from services.portal.users import ROLES, UserError, all_users, create_user
from services.portal.web import render, see_other

router = APIRouter(include_in_schema=False)


@router.get("/users", response_class=HTMLResponse)
async def users(request: Request) -> Response:
    user = page_user(request, "admin")
    with db(request) as session:
        rows = all_users(session)
    return render(request, "users.html", user, users=rows, roles=ROLES, errors={}, form={})


@router.post("/users", response_class=HTMLResponse)
async def add_user(request: Request) -> Response:
    user = page_user(request, "admin")
    form = {k: str(v) for k, v in (await request.form()).items()}
    check_csrf(request, form)
    with db(request) as session:
        try:
            create_user(session, username=form.get("username", ""), password=form.get("password", ""),
                        role=form.get("role", ""), display_name=form.get("display_name", ""),
                        unit_id=form.get("unit_id") or None, expert_id=form.get("expert_id") or None)
        except UserError as err:
            return render(request, "users.html", user, status_code=422, users=all_users(session), roles=ROLES,
                          errors={err.field: err.message}, form=form)
    return see_other("/users")
