"""The audit trail: append-only, each entry sealed with the hash of the one before.

An entry says who decided what and when, the state before and after, the solver's explanation
and the digest of the input it planned from, and the contract line charged. `verify` recomputes
the chain: an edited entry breaks its own hash, a deleted one breaks the link of the next, and a
deleted last entry no longer matches the head row that every append updates.

Appends are serialised by locking the single head row, so two concurrent decisions can never
both chain onto the same predecessor. That lock is the last a writer takes (the lock order is in
`assignments`): every assignment, contract and expert row it changes is locked before its first
entry, so a writer holding the head never waits for another's row.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Any

from sqlalchemy import JSON, Column, DateTime
from sqlmodel import Field, Session, SQLModel, select

from shared.db import utcnow

GENESIS = "0" * 64


class AuditEntry(SQLModel, table=True):
    __tablename__ = "audit_entry"
    seq: int = Field(primary_key=True)
    at: dt.datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    actor: str = Field(max_length=120)
    action: str = Field(max_length=40, index=True)
    subject: str = Field(max_length=120, index=True, description="assignment:a-1, contract:c1 ...")
    before: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    after: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    detail: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    correlation_id: str = Field(default="", max_length=64)
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64)


class AuditHead(SQLModel, table=True):
    __tablename__ = "audit_head"
    id: int = Field(default=1, primary_key=True)
    seq: int = 0
    hash: str = GENESIS


def seal(
    prev_hash: str,
    seq: int,
    at: dt.datetime,
    actor: str,
    action: str,
    subject: str,
    before: dict[str, Any],
    after: dict[str, Any],
    detail: dict[str, Any],
    correlation_id: str,
) -> str:
    body = json.dumps(
        [seq, at.astimezone(dt.UTC).isoformat(), actor, action, subject, before, after, detail, correlation_id],
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
        default=str,
    )
    return hashlib.sha256((prev_hash + body).encode()).hexdigest()


def record(
    session: Session,
    *,
    actor: str,
    action: str,
    subject: str,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    detail: dict[str, Any] | None = None,
    correlation_id: str = "",
) -> AuditEntry:
    head = session.exec(select(AuditHead).where(AuditHead.id == 1).with_for_update()).first()
    if head is None:
        head = AuditHead()
        session.add(head)
        session.flush()
    at = utcnow().replace(microsecond=0)
    seq = head.seq + 1
    fields = dict(
        actor=actor,
        action=action,
        subject=subject,
        before=_plain(before),
        after=_plain(after),
        detail=_plain(detail),
        correlation_id=correlation_id,
    )
    digest = seal(head.hash, seq, at, **fields)
    entry = AuditEntry(seq=seq, at=at, prev_hash=head.hash, hash=digest, **fields)
    head.seq, head.hash = seq, digest
    session.add(entry)
    session.add(head)
    return entry


def _plain(data: dict[str, Any] | None) -> dict[str, Any]:
    return json.loads(json.dumps(data or {}, default=str, ensure_ascii=False))


def verify(session: Session) -> list[str]:
    """Every break in the chain, as sentences; empty when the trail is intact."""
    problems: list[str] = []
    prev, expected_seq = GENESIS, 1
    for e in session.exec(select(AuditEntry).order_by(AuditEntry.seq)):
        if e.seq != expected_seq:
            problems.append(f"entries {expected_seq}..{e.seq - 1} are missing (deleted)")
        if e.prev_hash != prev:
            problems.append(f"entry {e.seq} does not follow the entry before it (one was deleted or replaced)")
        at = e.at if e.at.tzinfo else e.at.replace(tzinfo=dt.UTC)
        if (
            seal(e.prev_hash, e.seq, at, e.actor, e.action, e.subject, e.before, e.after, e.detail, e.correlation_id)
            != e.hash
        ):
            problems.append(f"entry {e.seq} was edited after it was written ({e.action} {e.subject})")
        prev, expected_seq = e.hash, e.seq + 1
    head = session.get(AuditHead, 1)
    if head is not None and (head.seq, head.hash) != (expected_seq - 1, prev):
        problems.append(
            f"the trail ends at entry {expected_seq - 1} but {head.seq} were written (the last were deleted)"
        )
    return problems


def rows(session: Session, *, subject: str | None = None, limit: int = 1000) -> list[dict[str, Any]]:
    stmt = select(AuditEntry).order_by(AuditEntry.seq.desc())  # type: ignore[attr-defined]
    if subject:
        stmt = stmt.where(AuditEntry.subject == subject)
    return [e.model_dump(mode="json") for e in session.exec(stmt.limit(limit))][::-1]
