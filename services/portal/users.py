"""The portal's own tables: users with their role and binding, and API tokens.

Roles: `commune` (bound to a unit id), `staff` (home affairs), `expert` (bound to an expert id),
`admin`. Passwords are hashed with argon2; an API token is stored as its SHA-256 only.

Repeated failed sign-ins are throttled per user name: after `MAX_FAILURES` within `WINDOW`, that
name is refused without checking the password until the window has passed. The failures are rows
in the portal's database, so every portal instance sees them. (Someone can lock a name out for
the window by guessing wrong on purpose; they cannot guess its password.)
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from typing import Literal

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Column, DateTime, Engine, MetaData
from sqlmodel import Field, Session, SQLModel, select

from services.portal.migrate import upgrade
from shared.clock import utcnow

Role = Literal["commune", "staff", "expert", "admin"]
ROLES: tuple[str, ...] = ("commune", "staff", "expert", "admin")
_hasher = PasswordHasher()


class User(SQLModel, table=True):
    __tablename__ = "portal_user"
    username: str = Field(primary_key=True, max_length=64)
    display_name: str = Field(max_length=120)
    role: str = Field(max_length=10)
    unit_id: str | None = Field(default=None, max_length=64, description="for a commune officer")
    expert_id: str | None = Field(default=None, max_length=64, description="for an expert")
    password_hash: str = Field(max_length=200)
    language: str = Field(default="vi", max_length=2)
    created_at: dt.datetime = Field(default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False))


class ApiToken(SQLModel, table=True):
    __tablename__ = "portal_api_token"
    token_sha256: str = Field(primary_key=True, max_length=64)
    username: str = Field(index=True, max_length=64, foreign_key="portal_user.username")
    label: str = Field(default="", max_length=120)
    created_at: dt.datetime = Field(default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False))


class SignInFailure(SQLModel, table=True):
    __tablename__ = "portal_sign_in_failure"
    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(index=True, max_length=64)
    at: dt.datetime = Field(default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False,
                                                                      index=True))


MAX_FAILURES = 5
WINDOW = dt.timedelta(minutes=15)


class UserError(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field, self.message = field, message


def create_user(session: Session, *, username: str, password: str, role: str, display_name: str = "",
                unit_id: str | None = None, expert_id: str | None = None) -> User:
    if role not in ROLES:
        raise UserError("role", f"must be one of {', '.join(ROLES)}")
    if not username or len(username) > 64 or not username.replace("-", "").replace("_", "").replace(".", "").isalnum():
        raise UserError("username", "letters, digits, '.', '-' and '_' only, at most 64")
    if len(password) < 8:
        raise UserError("password", "at least 8 characters")
    if role == "commune" and not unit_id:
        raise UserError("unit", "a commune officer is bound to a unit")
    if role == "expert" and not expert_id:
        raise UserError("expert", "an expert user is bound to an expert id")
    if session.get(User, username) is not None:
        raise UserError("username", f"{username!r} already exists")
    user = User(username=username, display_name=display_name or username, role=role,
                unit_id=unit_id if role == "commune" else None,
                expert_id=expert_id if role == "expert" else None, password_hash=_hasher.hash(password))
    session.add(user)
    session.commit()
    session.refresh(user)
    return user


def locked_until(session: Session, username: str, now: dt.datetime | None = None) -> dt.datetime | None:
    """When a name throttled by failed sign-ins may try again (None: it may now)."""
    now = now or utcnow()
    recent = sorted(_aware(f.at) for f in session.exec(
        select(SignInFailure).where(SignInFailure.username == username, SignInFailure.at > now - WINDOW)))
    return recent[-MAX_FAILURES] + WINDOW if len(recent) >= MAX_FAILURES else None


def _aware(at: dt.datetime) -> dt.datetime:
    return at if at.tzinfo else at.replace(tzinfo=dt.UTC)  # SQLite gives the time back without its zone


def sign_in(session: Session, username: str, password: str) -> tuple[User | None, dt.datetime | None]:
    """(the user, None) on success; (None, None) on a wrong name or password; (None, until) while
    the name is throttled (the password is not even checked)."""
    username = username[:64]
    until = locked_until(session, username)
    if until is not None:
        return None, until
    user = authenticate(session, username, password)
    if user is None:
        session.add(SignInFailure(username=username))
    else:
        for f in session.exec(select(SignInFailure).where(SignInFailure.username == username)):
            session.delete(f)
    session.commit()
    if user is not None:
        session.refresh(user)  # loaded again after the commit: the caller reads it once the session is closed
    return user, None


def change_password(session: Session, username: str, current: str, new: str) -> None:
    user = authenticate(session, username, current)
    if user is None:
        raise UserError("current", "the current password is wrong")
    if len(new) < 8:
        raise UserError("new", "at least 8 characters")
    user.password_hash = _hasher.hash(new)
    session.add(user)
    session.commit()


def tokens_of(session: Session, username: str) -> list[ApiToken]:
    return list(session.exec(select(ApiToken).where(ApiToken.username == username).order_by(ApiToken.created_at)))


def revoke_tokens(session: Session, username: str, prefix: str = "") -> int:
    """Delete a user's API tokens: all, or the one whose SHA-256 starts with `prefix`."""
    gone = [t for t in tokens_of(session, username) if t.token_sha256.startswith(prefix)]
    if prefix and len(gone) != 1:
        raise UserError("token", f"{len(gone)} tokens of {username} start with {prefix!r}: name exactly one")
    for t in gone:
        session.delete(t)
    session.commit()
    return len(gone)


def authenticate(session: Session, username: str, password: str) -> User | None:
    user = session.get(User, username)
    if user is None:
        _hasher.hash(password)  # the same work either way: timing does not tell which names exist
        return None
    try:
        _hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        return None
    return user


def issue_token(session: Session, username: str, label: str = "") -> str:
    token = secrets.token_urlsafe(32)
    session.add(ApiToken(token_sha256=hashlib.sha256(token.encode()).hexdigest(), username=username, label=label))
    session.commit()
    return token


def user_for_token(session: Session, token: str) -> User | None:
    row = session.get(ApiToken, hashlib.sha256(token.encode()).hexdigest())
    return session.get(User, row.username) if row else None


def all_users(session: Session) -> list[User]:
    return list(session.exec(select(User).order_by(User.role, User.username)))


TABLES = [User.__table__, ApiToken.__table__, SignInFailure.__table__]  # type: ignore[attr-defined]


def metadata() -> MetaData:
    """The portal's tables alone (it has no outbox: it sends commands and reads replies)."""
    md = MetaData()
    for table in TABLES:
        table.to_metadata(md)
    return md


def create_schema(engine: Engine) -> None:
    """Made and upgraded by the portal's migrations, under a lock (`services.portal.migrate`)."""
    upgrade(engine)
