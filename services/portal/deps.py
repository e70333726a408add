"""Who is asking, as FastAPI dependencies (after fastapi/full-stack-fastapi-template's `deps.py`):
a route names the user it needs in its signature and never looks them up itself.

Pages and the JSON API answer differently when nobody is signed in:

- pages (`AnyUser`, `StaffUser`, ...) take the browser's session (`auth.signed_in`); without one
  the browser is sent to the sign-in page (`LoginRequired`: 303 to /login), and a role that may
  not open the page gets the error page (`Forbidden`: 403), both answered by the handlers in
  `app.py`;
- /api routes (`ApiUser`, `ApiStaffUser`, ...) take `Authorization: Bearer <token>`; without one,
  or with an unknown token or a disabled user's, 401 with `WWW-Authenticate: Bearer`; a role that
  may not do this, 403, each as JSON.

The API's schema (`DocsReader`) is for either: an API token when one is sent, else the session.
CSRF is not checked here: a form's token is in its body, which each posting route reads itself.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request

from services.portal.auth import Forbidden, LoginRequired, db, signed_in
from services.portal.users import User, user_for_token

BEARER = {"WWW-Authenticate": "Bearer"}


async def page_user(request: Request) -> User:
    """The signed-in user of this browser, any role (else to the sign-in page)."""
    user = signed_in(request)
    if user is None:
        raise LoginRequired()
    return user


async def api_user(request: Request) -> User:
    """The user of the request's API token, any role (else 401)."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise HTTPException(
            status_code=401, detail="an API token is needed: Authorization: Bearer <token>", headers=BEARER
        )
    with db(request) as session:
        user = user_for_token(session, token.strip())
    if user is None:
        raise HTTPException(status_code=401, detail="unknown API token, or its user is disabled", headers=BEARER)
    return user


async def docs_reader(request: Request) -> User:
    """The reader of the API's schema: the API token's user when a token is sent (and must be
    good), else the session's; neither is 401, not the sign-in page (a client loading the schema
    may be no browser)."""
    if request.headers.get("authorization"):
        return await api_user(request)
    user = signed_in(request)
    if user is None:
        raise HTTPException(
            status_code=401, detail="sign in, or send an API token: Authorization: Bearer <token>", headers=BEARER
        )
    return user


class PageRole:
    """A page for these roles only: anyone else signed in gets the 403 page."""

    def __init__(self, *roles: str) -> None:
        self.roles = roles

    async def __call__(self, user: Annotated[User, Depends(page_user)]) -> User:
        if user.role not in self.roles:
            raise Forbidden()
        return user


class ApiRole:
    """An API route for these roles only: any other token gets 403 naming the role."""

    def __init__(self, *roles: str) -> None:
        self.roles = roles

    async def __call__(self, user: Annotated[User, Depends(api_user)]) -> User:
        if user.role not in self.roles:
            raise HTTPException(status_code=403, detail=f"the {user.role} role may not do this")
        return user


#: The parties with an inbox: every role but the admin's.
PARTIES = ("commune", "expert", "staff")

# Pages: a browser's session.
AnyUser = Annotated[User, Depends(page_user)]
StaffUser = Annotated[User, Depends(PageRole("staff"))]
CommuneUser = Annotated[User, Depends(PageRole("commune"))]
ExpertUser = Annotated[User, Depends(PageRole("expert"))]
AdminUser = Annotated[User, Depends(PageRole("admin"))]
PartyUser = Annotated[User, Depends(PageRole(*PARTIES))]

# /api/v1: an API token.
ApiUser = Annotated[User, Depends(api_user)]
ApiStaffUser = Annotated[User, Depends(ApiRole("staff"))]
ApiCommuneUser = Annotated[User, Depends(ApiRole("commune"))]
ApiExpertUser = Annotated[User, Depends(ApiRole("expert"))]
ApiRequestsUser = Annotated[User, Depends(ApiRole("commune", "staff"))]
ApiPartyUser = Annotated[User, Depends(ApiRole(*PARTIES))]

# The API's schema: either.
DocsReader = Annotated[User, Depends(docs_reader)]

#: What finds the user: a route that depends on none of these is public.
AUTHENTICATORS = (page_user, api_user, docs_reader)
