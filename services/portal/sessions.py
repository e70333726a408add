"""Signed-in sessions, kept on the server so that they can be ended.

The browser's cookie (signed by the portal's secret) carries a random session id, its CSRF token
and its language, never who is signed in: the id means someone only while its row is in
`portal_session`. The row is keyed by the id's SHA-256, so reading the database gives no live
session. Ending a session is deleting its row: logout ends one, a password change or an admin
disabling the user ends every session of that user at once. A session also ends when unused for
the idle lifetime or, used or not, the absolute lifetime after sign-in (both settings).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy import Column, DateTime, delete, or_
from sqlmodel import Field, Session, SQLModel, col, select

from shared.clock import utcnow

#: How stale `seen_at` may be before a request writes it again (not a write per page).
TOUCH_EVERY = dt.timedelta(minutes=1)


class SessionRow(SQLModel, table=True):
    __tablename__ = "portal_session"
    id_sha256: str = Field(primary_key=True, max_length=64)
    username: str = Field(index=True, max_length=64, foreign_key="portal_user.username")
    created_at: dt.datetime = Field(default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False))
    seen_at: dt.datetime = Field(
        default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False, index=True)
    )


@dataclass(frozen=True)
class Lifetime:
    idle: dt.timedelta
    absolute: dt.timedelta

    def over(self, row: SessionRow, now: dt.datetime) -> bool:
        return _aware(row.seen_at) + self.idle <= now or _aware(row.created_at) + self.absolute <= now


def _digest(sid: str) -> str:
    return hashlib.sha256(sid.encode()).hexdigest()


def _aware(at: dt.datetime) -> dt.datetime:
    return at if at.tzinfo else at.replace(tzinfo=dt.UTC)  # SQLite gives the time back without its zone


def start(db: Session, username: str, lifetime: Lifetime) -> str:
    """A new session of `username`: its id, for the cookie (only its hash is kept). The sessions
    of everyone that have run out are deleted on the way."""
    now = utcnow()
    db.execute(
        delete(SessionRow).where(
            or_(
                col(SessionRow.seen_at) <= now - lifetime.idle,
                col(SessionRow.created_at) <= now - lifetime.absolute,
            )
        )
    )
    sid = secrets.token_urlsafe(32)
    db.add(SessionRow(id_sha256=_digest(sid), username=username, created_at=now, seen_at=now))
    db.commit()
    return sid


def username_of(db: Session, sid: str, lifetime: Lifetime) -> str | None:
    """Who session `sid` is signed in as; None if it never was, was ended or has run out."""
    row = db.get(SessionRow, _digest(sid))
    if row is None:
        return None
    now = utcnow()
    if lifetime.over(row, now):
        db.delete(row)
        db.commit()
        return None
    if _aware(row.seen_at) + TOUCH_EVERY <= now:
        row.seen_at = now
        db.add(row)
        db.commit()
    return row.username


def end(db: Session, sid: str) -> None:
    db.execute(delete(SessionRow).where(col(SessionRow.id_sha256) == _digest(sid)))
    db.commit()


def end_all(db: Session, username: str) -> int:
    """Every session of `username` ended at once; how many there were."""
    rows = list(db.exec(select(SessionRow).where(SessionRow.username == username)))
    for row in rows:
        db.delete(row)
    db.commit()
    return len(rows)
