"""The portal's own tables: users with their role and binding, and API tokens.

Roles: `commune` (bound to a unit id), `staff` (home affairs), `expert` (bound to an expert id),
`admin`. Passwords are hashed with argon2; an API token is stored as its SHA-256 only.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from typing import Literal

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Column, DateTime
from sqlmodel import Field, Session, SQLModel, select

Role = Literal["commune", "staff", "expert", "admin"]
ROLES: tuple[str, ...] = ("commune", "staff", "expert", "admin")
_hasher = PasswordHasher()


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


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


class UserError(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


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


def create_schema(engine: object) -> None:
    SQLModel.metadata.create_all(engine, tables=[User.__table__, ApiToken.__table__])  # type: ignore[arg-type,attr-defined]
