"""The audit trail: append-only, each entry sealed with the hash of the one before.

An entry says who decided what and when, the state before and after, the solver's explanation
and the digest of the input it planned from, and the contract line charged. `verify` recomputes
the chain: an edited entry breaks its own hash, a deleted one breaks the link of the next, and a
deleted last entry no longer matches the head row that every append updates.

Who: the actor the owning service verified (`shared.security.credentials.Actor`): the person, their
role, party and channel, and for a person's command its proof (the issuer-signed credential, the
signature, and the exact document signed). The hash covers them. `verify` checks, beyond the
chain, every proof again with nothing but the issuer's public keys: the credential was the
issuer's and valid when the entry was written, the signature is the credential's key over the
document, and the document is the command of this decision (its subject, its ids). A person's
decision written without a proof is reported; entries written before signing existed (no role
recorded, before `audit_head.signing_from`, which the upgrade that brought signing set) are counted
as "unsigned (before signing)". An attacker who can write the database can recompute the hashes,
but not sign as a person; emptying a signed entry's actor shows as an unsigned entry after signing
began, unless `signing_from` is moved too, which changes the count `audit verify` prints (it never
grows on its own: keep it).

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
from sqlmodel import Field, Session, SQLModel, col, select

from shared import subjects as s
from shared.db import utcnow
from shared.security import credentials
from shared.security.credentials import Actor, IssuerKey, Refused
from shared.statuses import ContractStatus as C

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
    actor_role: str | None = Field(default=None, max_length=10, description="None: written before signing")
    actor_party: str | None = Field(default=None, max_length=80)
    channel: str | None = Field(default=None, max_length=10)
    proof: dict | None = Field(
        default=None,
        sa_column=Column(JSON, nullable=True),
        description="a person's command: credential, signature, document",
    )
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64)


class AuditHead(SQLModel, table=True):
    __tablename__ = "audit_head"
    id: int = Field(default=1, primary_key=True)
    seq: int = 0
    hash: str = GENESIS
    signing_from: int = Field(default=1, description="the first entry written with its actor verified (0006)")


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
    signed: list[Any] | None = None,
) -> str:
    """The entry's hash; `signed` ([role, party, channel, proof]) is absent from entries written
    before signing, whose hashes stay what they were."""
    fields = [seq, at.astimezone(dt.UTC).isoformat(), actor, action, subject, before, after, detail, correlation_id]
    body = json.dumps(
        fields if signed is None else [*fields, *signed],
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
        default=str,
    )
    return hashlib.sha256((prev_hash + body).encode()).hexdigest()


def _signed(e: AuditEntry) -> list[Any] | None:
    return None if e.actor_role is None else [e.actor_role, e.actor_party, e.channel, e.proof]


def record(
    session: Session,
    *,
    actor: Actor,
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
    entry = AuditEntry(
        seq=seq,
        at=at,
        actor=actor.person,
        action=action,
        subject=subject,
        before=_plain(before),
        after=_plain(after),
        detail=_plain(detail),
        correlation_id=correlation_id,
        actor_role=actor.role,
        actor_party=actor.party,
        channel=actor.channel,
        proof=dict(actor.evidence) if actor.evidence else None,
        prev_hash=head.hash,
        hash="",
    )
    entry.hash = _seal(entry)
    head.seq, head.hash = seq, entry.hash
    session.add(entry)
    session.add(head)
    return entry


def _seal(e: AuditEntry) -> str:
    at = e.at if e.at.tzinfo else e.at.replace(tzinfo=dt.UTC)
    return seal(
        e.prev_hash, e.seq, at, e.actor, e.action, e.subject, e.before, e.after, e.detail, e.correlation_id, _signed(e)
    )


def _plain(data: dict[str, Any] | None) -> dict[str, Any]:
    return json.loads(json.dumps(data or {}, default=str, ensure_ascii=False))


def _assignment(doc: dict[str, Any], e: AuditEntry) -> bool:
    aid = e.subject.removeprefix("assignment:")
    return doc.get("assignment_id") == aid or aid in (doc.get("assignment_ids") or [])


def _decided(decision: str) -> Any:
    return lambda doc, e: _assignment(doc, e) and doc.get("decision") == decision


def _extra(approve: bool) -> Any:
    return lambda doc, e: _assignment(doc, e) and doc.get("approve") is approve


def _assign(doc: dict[str, Any], e: AuditEntry) -> bool:
    d = e.detail
    request = d.get("request")
    recorded = (
        request.get("id") if isinstance(request, dict) else request,
        d.get("expert") or e.after.get("expert"),
        e.after.get("contract") or (d.get("contract_line") or {}).get("contract"),
        d.get("slot", 0),
    )
    return (doc.get("request_id"), doc.get("expert_id"), doc.get("contract_id"), doc.get("slot")) == recorded


# Which signed command may stand behind each decision, and how its ids must match the entry.
SIGNED_BY: dict[str, dict[str, Any]] = {
    "approve": {s.ASSIGNMENT_APPROVE: _assignment, s.ASSIGNMENTS_DECIDE: _decided("approve")},
    "reject": {s.ASSIGNMENT_REJECT: _assignment, s.ASSIGNMENTS_DECIDE: _decided("reject")},
    "accept": {s.ASSIGNMENT_ACCEPT: _assignment},
    "decline": {s.ASSIGNMENT_DECLINE: _assignment},
    "log_hours": {s.HOURS_LOG: _assignment},
    "flag_hours": {s.HOURS_LOG: _assignment},
    "approve_hours": {s.EXTRA_HOURS_DECIDE: _extra(True)},
    "refuse_hours": {s.EXTRA_HOURS_DECIDE: _extra(False)},
    "complete": {s.REQUEST_COMPLETE: lambda doc, e: doc.get("request_id") == e.detail.get("request")},
    "propose": {s.ASSIGNMENT_ASSIGN: _assign},
    "assign": {s.ASSIGNMENT_ASSIGN: _assign},
    "contract_status": {
        s.CONTRACT_STATUS_CHANGE: lambda doc, e: (
            f"contract:{doc.get('contract_id')}" == e.subject
            and e.after.get("status")
            in ((doc.get("to"), C.EXHAUSTED) if doc.get("to") == C.ACTIVE else (doc.get("to"),))
        ),
        s.CONTRACTS_EXPIRE: lambda doc, e: e.after.get("status") == C.EXPIRED,
        s.REFERENCE_REGISTER: lambda doc, e: e.subject in {f"contract:{c.get('id')}" for c in doc.get("contracts", [])},
    },
    "cancel": {
        s.CONTRACT_STATUS_CHANGE: lambda doc, e: (
            doc.get("to") == C.TERMINATED
            and doc.get("contract_id") == (e.detail.get("contract_line") or {}).get("contract")
        )
    },
    "register": {
        s.REFERENCE_REGISTER: lambda doc, e: [x["id"] for x in doc.get("experts", [])] == e.after.get("experts")
    },
}
# Decisions only a person makes: recorded as the system, they were not made through a command.
PERSONS_ONLY = (
    "approve",
    "reject",
    "accept",
    "log_hours",
    "flag_hours",
    "approve_hours",
    "refuse_hours",
    "complete",
    "assign",
    "register",
)


def _proof_problem(e: AuditEntry, issuers: list[IssuerKey]) -> str | None:
    """Why the entry's actor is not proven (None: it is, or it is the system's own entry)."""
    if e.proof is None:
        if e.actor_role != "system":
            return f"entry {e.seq} names {e.actor} ({e.actor_role}) but carries no signature"
        return (
            f"entry {e.seq} says the system decided {e.action}, which only a person does"
            if e.action in PERSONS_ONLY
            else None
        )
    at = e.at if e.at.tzinfo else e.at.replace(tzinfo=dt.UTC)
    try:
        cred, doc = credentials.check_evidence(e.proof, issuers, at)
    except Refused as err:
        return f"entry {e.seq} ({e.action} {e.subject}): {err.reason}"
    if (cred.person, cred.role, cred.party, cred.channel) != (e.actor, e.actor_role, e.actor_party, e.channel):
        return f"entry {e.seq} names {e.actor} ({e.actor_role}) but was signed by {cred.person} ({cred.role})"
    match = SIGNED_BY.get(e.action, {}).get(doc["subject"])
    if match is None or doc.get("correlation_id") != e.correlation_id or not match(doc, e):
        return f"entry {e.seq} ({e.action} {e.subject}) carries a signed {doc['subject']} that is not this decision"
    return None


def verify(session: Session, issuers: list[IssuerKey]) -> tuple[list[str], dict[str, int]]:
    """Every break in the chain and every unproven actor, as sentences (empty when the trail is
    intact and every decision proven), with counts: signed, system, unsigned (before signing)."""
    problems: list[str] = []
    counts = {"signed": 0, "system": 0, "unsigned_before_signing": 0}
    head = session.get(AuditHead, 1)
    prev, expected_seq = GENESIS, 1
    signing = False
    for e in session.exec(select(AuditEntry).order_by(col(AuditEntry.seq))):
        if e.seq != expected_seq:
            problems.append(f"entries {expected_seq}..{e.seq - 1} are missing (deleted)")
        if e.prev_hash != prev:
            problems.append(f"entry {e.seq} does not follow the entry before it (one was deleted or replaced)")
        if _seal(e) != e.hash:
            problems.append(f"entry {e.seq} was edited after it was written ({e.action} {e.subject})")
        signing = signing or e.actor_role is not None or (head is not None and e.seq >= head.signing_from)
        if e.actor_role is None:
            if signing:
                problems.append(f"entry {e.seq} has no actor's role, after signing began (edited)")
            else:
                counts["unsigned_before_signing"] += 1
        else:
            problem = _proof_problem(e, issuers)
            if problem:
                problems.append(problem)
            counts["signed" if e.proof else "system"] += problem is None
        prev, expected_seq = e.hash, e.seq + 1
    if head is not None and (head.seq, head.hash) != (expected_seq - 1, prev):
        problems.append(
            f"the trail ends at entry {expected_seq - 1} but {head.seq} were written (the last were deleted)"
        )
    return problems, counts


def rows(session: Session, *, subject: str | None = None, limit: int = 1000) -> list[dict[str, Any]]:
    stmt = select(AuditEntry).order_by(col(AuditEntry.seq).desc())
    if subject:
        stmt = stmt.where(AuditEntry.subject == subject)
    return [e.model_dump(mode="json") for e in session.exec(stmt.limit(limit))][::-1]
