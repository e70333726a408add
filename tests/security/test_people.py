"""Every decision is made by a person the system knows, and recorded as that person.

Each test is an attack from issue 13, made against the contracts and matcher services running in
this process on a nats-server of the test's own: a name carried in a message, the wrong role, the
wrong party, an expired or foreign credential, a message changed or replayed after signing, an
audit entry rewritten by someone with the database, a forged manual proposal, a forged
auto-decline. On main every one of them was accepted.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlmodel import Session, select

from services.contracts import audit
from shared import endpoints as E
from shared import messages as m
from shared import rpc
from shared import subjects as s
from shared.clock import utcnow
from shared.nats import connect
from shared.security import credentials, keys
from tests import people
from tests.integration.services_harness import Stack, contract, expert, request

STAFF = people.as_person("staff", "staff:lan", name="Nguyễn Thị Lan")


async def proposed(stack: Stack, rid: str = "r1") -> dict[str, Any]:
    await stack.register([expert(0), expert(1)], [contract(0), contract(1)])
    await stack.submit(rid)
    return await stack.proposal(rid)


def refused(reply: m.Reply, *words: str) -> bool:
    return not reply.ok and all(w in (reply.error or "") for w in words)


async def test_the_actor_is_who_signed_never_the_name_in_the_message(stack: Stack) -> None:
    p = await proposed(stack)
    forged = m.ApproveAssignment(assignment_id=p["id"], by="Giám đốc Sở Nội vụ")
    assert refused(await stack.call(s.ASSIGNMENT_APPROVE, forged.model_dump_json().encode()), "not signed in")
    as_expert = await stack.call(s.ASSIGNMENT_APPROVE, forged, as_=people.expert(p["expert_id"]))
    assert refused(as_expert, "not allowed", "expert")
    assert (await stack.assignment(p["id"]))["status"] == "proposed"

    await stack.ok(s.ASSIGNMENT_APPROVE, forged, as_=STAFF)
    entry = (await stack.ok(s.AUDIT_GET, m.GetAudit(subject=f"assignment:{p['id']}")))["entries"][-1]
    assert (entry["action"], entry["actor"], entry["actor_role"], entry["actor_party"], entry["channel"]) == (
        "approve",
        "lan",
        "staff",
        "staff:lan",
        "cli",
    )
    assert (await stack.assignment(p["id"]))["decided_by"] == "Nguyễn Thị Lan"


async def test_only_staff_approve_reject_or_decide(stack: Stack) -> None:
    p = await proposed(stack)
    for who in (people.expert(p["expert_id"]), people.commune("u1")):
        for subject, cmd in (
            (s.ASSIGNMENT_APPROVE, m.ApproveAssignment(assignment_id=p["id"], by="x")),
            (s.ASSIGNMENT_REJECT, m.RejectAssignment(assignment_id=p["id"], by="x")),
            (s.ASSIGNMENTS_DECIDE, m.DecideAssignments(assignment_ids=[p["id"]], decision="approve", by="x")),
        ):
            assert refused(await stack.call(subject, cmd, as_=who), "not allowed"), (who.role, subject)
    assert (await stack.assignment(p["id"]))["status"] == "proposed"


async def test_only_the_tasks_expert_answers_it(stack: Stack) -> None:
    p = await proposed(stack)
    await stack.ok(s.ASSIGNMENT_APPROVE, m.ApproveAssignment(assignment_id=p["id"], by="x"), as_=STAFF)
    mine, other = p["expert_id"], "e1" if p["expert_id"] == "e0" else "e0"
    # Another expert, naming the task's expert or themselves; staff for the expert.
    for cmd, who in (
        (m.AcceptAssignment(assignment_id=p["id"], expert_id=mine), people.expert(other)),
        (m.AcceptAssignment(assignment_id=p["id"], expert_id=other), people.expert(other)),
        (m.AcceptAssignment(assignment_id=p["id"], expert_id=mine), STAFF),
    ):
        assert not (await stack.call(s.ASSIGNMENT_ACCEPT, cmd, as_=who)).ok
    log = m.LogHours(assignment_id=p["id"], expert_id=mine, hours=2)
    assert not (await stack.call(s.HOURS_LOG, log, as_=people.expert(other))).ok
    assert (await stack.assignment(p["id"]))["status"] == "approved"
    await stack.ok(s.ASSIGNMENT_ACCEPT, m.AcceptAssignment(assignment_id=p["id"], expert_id=mine))


async def test_only_the_requests_commune_completes_it(stack: Stack) -> None:
    p = await proposed(stack)
    await stack.ok(s.ASSIGNMENT_APPROVE, m.ApproveAssignment(assignment_id=p["id"], by="x"), as_=STAFF)
    await stack.ok(s.ASSIGNMENT_ACCEPT, m.AcceptAssignment(assignment_id=p["id"], expert_id=p["expert_id"]))
    done = m.CompleteRequest(request_id="r1", by="Chủ tịch xã")
    assert refused(await stack.call(s.REQUEST_COMPLETE, done, as_=people.commune("u2")), "only the commune of unit u1")
    assert refused(await stack.call(s.REQUEST_COMPLETE, done, as_=STAFF), "not allowed")
    assert (await stack.assignment(p["id"]))["status"] == "accepted"
    await stack.ok(s.REQUEST_COMPLETE, done.model_copy(update={"event_id": "its-own"}), as_=people.commune("u1"))


async def test_a_commune_submits_and_cancels_for_its_own_unit_only(stack: Stack) -> None:
    await stack.register([expert(0)], [contract(0)])
    other = m.SubmitRequest(request=request("r9", unit="u2"))
    theirs = await stack.call(s.REQUEST_SUBMIT, other, as_=people.commune("u1"))
    assert refused(theirs, "own unit") and theirs.field_errors[0].code == m.Refusal.NOT_YOURS
    await stack.ok(s.REQUEST_SUBMIT, m.SubmitRequest(request=request("r1")), as_=people.commune("u1"))
    cancel = m.CancelRequest(request_id="r1", by="x")
    assert refused(await stack.call(s.REQUEST_CANCEL, cancel, as_=people.commune("u2")), "own unit")
    # A unit nobody registered is refused as such, by a code a page acts on (not by its words).
    nowhere = await stack.call(s.REQUEST_SUBMIT, m.SubmitRequest(request=request("r8", unit="u404")), as_=STAFF)
    assert [(fe.field, fe.code) for fe in nowhere.field_errors] == [("request.unit", m.Refusal.UNKNOWN_UNIT)]


async def test_expired_foreign_and_altered_commands_are_refused(stack: Stack) -> None:
    p = await proposed(stack)
    cmd = m.ApproveAssignment(assignment_id=p["id"], by="x")
    expired = people.as_person("staff", "staff:lan", now=utcnow() - dt.timedelta(hours=3), hours=1)
    assert refused(await stack.call(s.ASSIGNMENT_APPROVE, cmd, as_=expired), "credential expired")
    foreign = people.as_person("staff", "staff:lan", issuer=keys.new_seed(keys.ACCOUNT))
    assert refused(await stack.call(s.ASSIGNMENT_APPROVE, cmd, as_=foreign), "not from this system's issuer")

    signed = STAFF.sign(s.ASSIGNMENT_APPROVE, cmd)
    for changed in (
        signed.model_copy(update={"assignment_id": "a-other"}),  # another decision
        signed.model_copy(update={"event_id": "replayed-1"}),  # a replay under a new id
    ):
        assert refused(await stack.call(s.ASSIGNMENT_APPROVE, changed), "signature does not match")
    as_reject = m.RejectAssignment(assignment_id=p["id"], by="x", proof=signed.proof)  # another subject
    assert refused(await stack.call(s.ASSIGNMENT_REJECT, as_reject), "signature does not match")
    assert (await stack.assignment(p["id"]))["status"] == "proposed"

    await stack.ok(s.ASSIGNMENT_APPROVE, m.ApproveAssignment(assignment_id=p["id"], by="x"), as_=STAFF)
    await stack.ok(s.ASSIGNMENT_ACCEPT, m.AcceptAssignment(assignment_id=p["id"], expert_id=p["expert_id"]))
    hours = people.expert(p["expert_id"]).sign(
        s.HOURS_LOG, m.LogHours(assignment_id=p["id"], expert_id=p["expert_id"], hours=1)
    )
    more = hours.model_copy(update={"hours": 9.0})  # the amount changed after signing
    assert refused(await stack.call(s.HOURS_LOG, more), "signature does not match")
    assert (await stack.assignment(p["id"]))["logged_minutes"] == 0


async def test_audit_verify_catches_an_actor_rewritten_with_the_hashes_recomputed(stack: Stack) -> None:
    p = await proposed(stack)
    await stack.ok(s.ASSIGNMENT_APPROVE, m.ApproveAssignment(assignment_id=p["id"], by="x"), as_=STAFF)
    verified = await stack.ok(s.AUDIT_VERIFY_GET, m.VerifyAudit())
    assert verified["intact"] and verified["signed"] >= 2 and verified["unsigned_before_signing"] == 0

    # Someone with the database names another person and seals the whole chain again.
    with Session(stack.contracts.engine) as session:
        entries = list(session.exec(select(audit.AuditEntry).order_by(audit.AuditEntry.seq)))
        for e in entries:
            if e.action == "approve":
                e.actor, e.actor_party = "giamdoc", "staff:giamdoc"
        _rechain(session, entries)
        seq = next(e.seq for e in entries if e.action == "approve")
        session.commit()
    verified = await stack.ok(s.AUDIT_VERIFY_GET, m.VerifyAudit())
    assert not verified["intact"]
    assert verified["problems"] == [f"entry {seq} names giamdoc (staff) but was signed by lan (staff)"]


async def test_an_approval_without_its_proof_is_reported(stack: Stack) -> None:
    p = await proposed(stack)
    await stack.ok(s.ASSIGNMENT_APPROVE, m.ApproveAssignment(assignment_id=p["id"], by="x"), as_=STAFF)
    with stack.contracts.engine.begin() as c:  # the proof removed, the actor made "the system"
        c.execute(text("UPDATE audit_entry SET proof = NULL, actor_role = 'system' WHERE action = 'approve'"))
    problems = (await stack.ok(s.AUDIT_VERIFY_GET, m.VerifyAudit()))["problems"]
    assert any("says the system decided approve, which only a person does" in p for p in problems)


async def test_a_forged_manual_proposal_is_never_approved_on_its_own(stack: Stack) -> None:
    await stack.register([expert(0), expert(1)], [contract(0), contract(1)])
    req = m.Request.model_validate(request("r7"))
    forged = m.AssignmentProposed(
        assignment_id="a-forged",
        request=req,
        expert_id="e1",
        expert_name="Expert 1",
        contract_id="c1",
        mode="remote",
        travel_minutes=0,
        minutes=240,
        cost_vnd=800_000,
        manual=m.ManualOverride(by="Giám đốc Sở Nội vụ"),
    )
    # A real staff signature, but of another assignment: it must not carry this one.
    signed = STAFF.sign(
        s.ASSIGNMENT_ASSIGN, m.AssignManually(request_id="r7", expert_id="e0", contract_id="c0", by="x")
    )
    assert signed.proof is not None and signed.proof.credential is not None
    evidence = m.SignedCommand(
        credential=signed.proof.credential,
        signature=signed.proof.signature,
        document=credentials.document(s.ASSIGNMENT_ASSIGN, signed),
    )
    borrowed = forged.model_copy(
        update={
            "assignment_id": "a-borrowed",
            "event_id": "e-borrowed",
            "manual": m.ManualOverride(by="x", command=evidence),
        }
    )
    # Only the matcher may publish it (tests/security/test_bus_permissions.py): the forger here is a
    # compromised matcher, signed in as itself.
    nc = await connect(stack.url, "matcher")
    for evt in (forged, borrowed):
        await nc.jetstream().publish(
            s.ASSIGNMENT_PROPOSED,
            evt.model_dump_json().encode(),
            stream="MATCHER",
            headers={"Nats-Msg-Id": evt.event_id},
        )
    await nc.drain()
    for aid in ("a-forged", "a-borrowed"):
        found = await stack.until(
            lambda st, aid=aid: next((a for a in st["contracts"]["assignments"] if a["id"] == aid), None), what=aid
        )
        assert found["status"] == "proposed"  # waits for staff like any proposal
    trail = (await stack.ok(s.AUDIT_GET, m.GetAudit(subject="assignment:a-borrowed")))["entries"]
    assert trail[-1]["actor"] == "matcher" and "another request" in trail[-1]["detail"]["not_approved_at_once"]


async def test_only_the_notifier_declines_an_unanswered_task(stack: Stack) -> None:
    p = await proposed(stack)
    await stack.ok(s.ASSIGNMENT_APPROVE, m.ApproveAssignment(assignment_id=p["id"], by="x"), as_=STAFF)

    def cmd() -> m.DeclineAssignment:
        return m.DeclineAssignment(assignment_id=p["id"], expert_id=p["expert_id"], unanswered_only=True, reason="x")

    for who in (STAFF, people.expert(p["expert_id"]), people.System("matcher")):
        assert not (await stack.call(s.ASSIGNMENT_DECLINE, cmd(), as_=who)).ok
    assert (await stack.assignment(p["id"]))["status"] == "approved"
    await stack.ok(s.ASSIGNMENT_DECLINE, cmd(), as_=people.System("notifier"))
    entry = (await stack.ok(s.AUDIT_GET, m.GetAudit(subject=f"assignment:{p['id']}")))["entries"][-1]
    assert (entry["action"], entry["actor"], entry["actor_party"]) == ("decline", "notifier", "system:notifier")


def _reseal(engine: Any, where: str) -> None:
    """What an upgrade leaves (or an attacker makes): the actor's columns emptied, hashes redone."""
    with engine.begin() as c:
        c.execute(
            text(
                f"UPDATE audit_entry SET actor_role = NULL, actor_party = NULL, channel = NULL, "
                f"proof = NULL WHERE {where}"
            )
        )
    with Session(engine) as session:
        _rechain(session, list(session.exec(select(audit.AuditEntry).order_by(audit.AuditEntry.seq))))
        session.commit()


def _rechain(session: Session, entries: list[audit.AuditEntry]) -> None:
    """What someone with write access to the database does after editing entries: every hash and
    the head's recomputed, so the chain alone no longer shows the edit."""
    prev = audit.GENESIS
    for e in entries:
        e.prev_hash = prev
        e.hash = prev = audit._seal(e)
        session.add(e)
    head = session.get(audit.AuditHead, 1)
    assert head is not None
    head.hash = prev
    session.add(head)


def test_entries_from_before_signing_are_counted_not_failed(db_url: str) -> None:
    from services.contracts import handlers as h
    from shared.db import transaction
    from tests.integration.test_ledger import setup

    engine = setup(db_url, n=1, hours=2)  # a registration and a proposal
    _reseal(engine, "1 = 1")
    with engine.begin() as c:  # as the upgrade that brought signing leaves it
        c.execute(text("UPDATE audit_head SET signing_from = seq + 1"))
    with transaction(engine) as session:
        people.call(h.approve, session, m.ApproveAssignment(assignment_id="a0", by="x"))
    with Session(engine) as session:
        problems, counts = audit.verify(session, credentials.issuer_keys())
    assert problems == [] and counts == {"signed": 1, "system": 0, "unsigned_before_signing": 2}
    _reseal(engine, "action = 'approve'")  # a signed decision made to look older than signing
    with Session(engine) as session:
        problems, _ = audit.verify(session, credentials.issuer_keys())
    assert problems == ["entry 3 has no actor's role, after signing began (edited)"]


def test_login_issues_a_credential_for_the_clis_key_only_with_the_password(tmp_path: Path) -> None:
    """`expertshare login` as the portal answers it: the password checked like a sign-in (failures
    counted towards the lockout), the credential for the public key the CLI made."""
    from services.portal import users
    from services.portal.bus import _issue
    from shared.db import make_engine

    engine = make_engine(f"sqlite:///{tmp_path / 'portal.db'}")
    users.create_schema(engine)
    with Session(engine) as session:
        users.create_user(session, username="chuyengia3", password="correct horse", role="expert", expert_id="e3")
    seed = keys.new_seed(keys.USER)

    def ask(password: str) -> m.Reply:
        cmd = m.IssueCredential(username="chuyengia3", password=password, key=keys.public_key(seed))
        return _issue(engine, cmd.model_dump_json().encode())

    wrong = ask("guess")
    assert not wrong.ok and wrong.error == "wrong user name or password" and "guess" not in wrong.model_dump_json()
    with Session(engine) as session:
        assert len(list(session.exec(select(users.SignInFailure)))) == 1
    cred = rpc.read(E.CREDENTIAL_ISSUE, ask("correct horse")).credential
    claims = credentials.check_credential(cred, credentials.issuer_keys(), utcnow())
    assert (claims.person, claims.role, claims.party, claims.channel, claims.key) == (
        "chuyengia3",
        "expert",
        "expert:e3",
        "cli",
        keys.public_key(seed),
    )
    assert claims.exp - claims.iat == credentials.CLI_HOURS * 3600
    signed = credentials.sign(
        s.ASSIGNMENT_ACCEPT, m.AcceptAssignment(assignment_id="a1", expert_id="e3"), seed, credential=cred
    )
    actor = credentials.verify(s.ASSIGNMENT_ACCEPT, signed, credentials.issuer_keys(), {}, utcnow())
    assert (actor.person, actor.party) == ("chuyengia3", "expert:e3")
