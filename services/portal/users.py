"""The portal's own tables: users with their role and binding, and API tokens.

Roles: `commune` (bound to a unit id), `staff` (home affairs), `expert` (bound to an expert id),
`admin`. Passwords are hashed with argon2; an API token is stored as its SHA-256 only.

Repeated failed sign-ins are throttled per user name and per client address: after
`MAX_FAILURES` within `WINDOW`, that name is refused without checking the password until the
window has passed; after the portal's `sign_in_failures_per_address`, every name is refused from
that address (one address guessing many names). The failures are rows in the portal's database,
so every portal instance sees them. (Someone can lock a name out for the window by guessing wrong
on purpose; they cannot guess its password.)

A disabled user cannot sign in, their API tokens are refused and their sessions were ended when
they were disabled (`set_disabled`); a password change ends every session of the user too.

The portal's SQLite file (the embedded default) holds password hashes and token hashes: `engine`
makes it readable by its owner only, before SQLite first opens it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import secrets
from typing import Literal

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Column, ColumnElement, DateTime, Engine, MetaData, false
from sqlalchemy.engine import make_url
from sqlmodel import Field, Session, SQLModel, col, select

from services.portal import sessions
from services.portal.migrate import upgrade
from shared import messages as m
from shared.clock import utcnow
from shared.db import make_engine, table_of

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
    disabled: bool = Field(default=False, sa_column_kwargs={"server_default": false()})
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
    address: str | None = Field(default=None, index=True, max_length=64, description="the client's address")
    at: dt.datetime = Field(
        default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False, index=True)
    )


MAX_FAILURES = 5
MAX_FAILURES_PER_ADDRESS = 20
WINDOW = dt.timedelta(minutes=15)


class UserError(ValueError):
    """What is wrong with a user's fields: `message` in English (the CLI), `code` a key of the
    portal's words (`i18n.WORDS`) with `params` for its placeholders (the admin's page)."""

    def __init__(self, field: str, message: str, code: str = "", **params: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field, self.message, self.code, self.params = field, message, code, params


def binding_ids(role: str, unit_id: str | None, expert_id: str | None) -> list[str]:
    """The registered things a new user would be bound to (a commune's unit, an expert's id)."""
    bound = unit_id if role == "commune" else expert_id if role == "expert" else None
    return [bound[:64]] if bound else []


def check_binding(role: str, unit_id: str | None, expert_id: str | None, reference: m.ReferenceData) -> None:
    """Refuse a user bound to a unit or an expert the contracts service does not have (`reference`:
    its `GetReference` reply for `binding_ids`): such an account could do nothing, and a commune
    officer's requests would all be refused."""
    if role == "commune" and unit_id and unit_id not in {u.id for u in reference.units}:
        raise UserError(
            "unit",
            f"no unit {unit_id!r} is registered (the unit ids are in the reference data: expertshare sheet export)",
            "user_unknown_unit",
            unit=unit_id,
        )
    if role == "expert" and expert_id and expert_id not in {e.id for e in reference.experts}:
        raise UserError(
            "expert",
            f"no expert {expert_id!r} is registered (the expert ids are in the reference "
            "data: expertshare sheet export)",
            "user_unknown_expert",
            expert=expert_id,
        )


def create_user(
    session: Session,
    *,
    username: str,
    password: str,
    role: str,
    display_name: str = "",
    unit_id: str | None = None,
    expert_id: str | None = None,
) -> User:
    if role not in ROLES:
        raise UserError("role", f"must be one of {', '.join(ROLES)}", "user_bad_role")
    if not username or len(username) > 64 or not username.replace("-", "").replace("_", "").replace(".", "").isalnum():
        raise UserError("username", "letters, digits, '.', '-' and '_' only, at most 64", "user_bad_name")
    if len(password) < 8:
        raise UserError("password", "at least 8 characters", "user_short_password")
    if role == "commune" and not unit_id:
        raise UserError("unit", "a commune officer is bound to a unit", "user_needs_unit")
    if role == "expert" and not expert_id:
        raise UserError("expert", "an expert user is bound to an expert id", "user_needs_expert")
    if session.get(User, username) is not None:
        raise UserError("username", f"{username!r} already exists", "user_exists", username=username)
    user = User(
        username=username,
        display_name=display_name or username,
        role=role,
        unit_id=unit_id if role == "commune" else None,
        expert_id=expert_id if role == "expert" else None,
        password_hash=_hasher.hash(password),
    )
    session.add(user)
    session.commit()
    session.refresh(user)
    return user


def locked_until(
    session: Session,
    username: str,
    now: dt.datetime | None = None,
    *,
    address: str | None = None,
    per_address: int = MAX_FAILURES_PER_ADDRESS,
) -> dt.datetime | None:
    """When a name (or anyone from `address`) throttled by failed sign-ins may try again (None: now)."""
    now = now or utcnow()
    untils = [_until(session, col(SignInFailure.username) == username, MAX_FAILURES, now)]
    if address:
        untils.append(_until(session, col(SignInFailure.address) == address, per_address, now))
    return max((u for u in untils if u is not None), default=None)


def _until(session: Session, which: ColumnElement[bool], limit: int, now: dt.datetime) -> dt.datetime | None:
    recent = sorted(
        _aware(f.at) for f in session.exec(select(SignInFailure).where(which, col(SignInFailure.at) > now - WINDOW))
    )
    return recent[-limit] + WINDOW if len(recent) >= limit else None


def _aware(at: dt.datetime) -> dt.datetime:
    return at if at.tzinfo else at.replace(tzinfo=dt.UTC)  # SQLite gives the time back without its zone


def sign_in(
    session: Session,
    username: str,
    password: str,
    address: str | None = None,
    per_address: int = MAX_FAILURES_PER_ADDRESS,
) -> tuple[User | None, dt.datetime | None]:
    """(the user, None) on success; (None, None) on a wrong name or password or a disabled user;
    (None, until) while the name or the address is throttled (the password is not even checked).
    Blocking (argon2): the portal calls it through `hashing.PasswordWork`."""
    username, address = username[:64], (address or None) and address[:64]
    until = locked_until(session, username, address=address, per_address=per_address)
    if until is not None:
        return None, until
    user = authenticate(session, username, password)
    if user is not None and user.disabled:
        user = None
    if user is None:
        session.add(SignInFailure(username=username, address=address))
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
    sessions.end_all(session, username)  # whoever had the old password is signed out everywhere


def reset_password(session: Session, username: str, new: str) -> int:
    """An admin sets a forgotten password anew: every session of the user ends (how many: the
    result) and the sign-in throttle on the name is lifted; their API tokens are kept."""
    user = _existing(session, username)
    if len(new) < 8:
        raise UserError("password", "at least 8 characters", "user_short_password")
    user.password_hash = _hasher.hash(new)
    session.add(user)
    for f in session.exec(select(SignInFailure).where(SignInFailure.username == username)):
        session.delete(f)
    session.commit()
    return sessions.end_all(session, username)


def _existing(session: Session, username: str) -> User:
    user = session.get(User, username[:64])
    if user is None:
        raise UserError("username", f"no user {username[:64]!r}", "user_no_such", username=username[:64])
    return user


def set_disabled(session: Session, username: str, disabled: bool) -> int:
    """Disable (or enable again) a user: disabling ends every session of theirs at once (how
    many: the result); their API tokens are kept but refused while they are disabled, and they
    cannot sign in."""
    user = _existing(session, username)
    user.disabled = disabled
    session.add(user)
    session.commit()
    return sessions.end_all(session, username) if disabled else 0


def tokens_of(session: Session, username: str) -> list[ApiToken]:
    return list(session.exec(select(ApiToken).where(ApiToken.username == username).order_by(col(ApiToken.created_at))))


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
    """The token's user; None for an unknown token or a disabled user."""
    row = session.get(ApiToken, hashlib.sha256(token.encode()).hexdigest())
    user = session.get(User, row.username) if row else None
    return user if user is not None and not user.disabled else None


def all_users(session: Session) -> list[User]:
    return list(session.exec(select(User).order_by(User.role, User.username)))


TABLES = [table_of(User), table_of(ApiToken), table_of(SignInFailure), table_of(sessions.SessionRow)]


def metadata() -> MetaData:
    """The portal's tables alone (it has no outbox: it sends commands and reads replies)."""
    md = MetaData()
    for table in TABLES:
        table.to_metadata(md)
    return md


def create_schema(engine: Engine) -> None:
    """Made and upgraded by the portal's migrations, under a lock (`services.portal.migrate`)."""
    upgrade(engine)


def engine(url: str) -> Engine:
    """The portal's database; an SQLite file (and its WAL and shared-memory files, which SQLite
    makes with the file's mode) created 0600 and set 0600 if it was made wider before."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database and parsed.database != ":memory:":
        os.close(os.open(parsed.database, os.O_WRONLY | os.O_CREAT, 0o600))
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(parsed.database + suffix):
                os.chmod(parsed.database + suffix, 0o600)
    return make_engine(url)
