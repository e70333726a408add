"""Hostile input on the bus: no valid message does harm by its size or shape, receivers believe
events only when they make sense, and no secret is kept in a dead letter or echoed in a reply.

Each test is an attack from issue 13, made as the attacker would: raw bytes on the bus, forged
events published into a service's stream (here with the test's own connection), or the largest
messages the catalogue accepts, then the replies measured against NATS's max payload.
"""

from __future__ import annotations

import json
import types
import typing
from typing import Any

import annotated_types
import pytest
from pydantic import BaseModel, ValidationError
from sqlmodel import Session, select

from services.contracts import audit
from services.contracts.db import AssignmentRow, ContractRow
from services.matcher.db import ContractCopy, PlanRun, Proposal, RequestRow
from services.notifier.db import Delivery, Notification
from shared import endpoints as E
from shared import limits as L
from shared import messages as m
from shared import rpc
from shared import scenario as sc
from shared import subjects as s
from shared.db import transaction
from shared.nats import EmbeddedNats
from tests import people
from tests.integration.notifier_harness import Notifier, eventually
from tests.integration.services_harness import Stack, contract, expert, request

SECRET = "the-gateway-secret-never-kept"
WIDE = "ệ"  # three bytes in UTF-8: the worst a Vietnamese text does to a byte count


# ------------------------------------------------------------------ 1. every field has a limit
def _bounded(annotation: Any, metadata: list[Any], where: str, seen: set[type], problems: list[str]) -> None:
    maxed = any(isinstance(x, annotated_types.MaxLen) for x in metadata) or any(
        getattr(x, "max_length", None) is not None or getattr(x, "pattern", None) for x in metadata
    )
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        inner, *extra = typing.get_args(annotation)
        meta = [*metadata, *extra, *(getattr(e, "metadata", []) for e in extra)]
        flat = [x for x in meta if not isinstance(x, list)] + [y for x in meta if isinstance(x, list) for y in x]
        _bounded(inner, flat, where, seen, problems)
        return
    if origin in (typing.Union, types.UnionType):
        for arg in typing.get_args(annotation):
            _bounded(arg, metadata, where, seen, problems)
        return
    if origin is typing.Literal:
        return
    if annotation is str and not maxed:
        problems.append(f"{where}: text without a max length")
    elif origin in (list, dict):
        if not maxed:
            problems.append(f"{where}: {origin.__name__} without a max size")
        for i, arg in enumerate(typing.get_args(annotation)):
            _bounded(arg, [], f"{where}[{'key' if origin is dict and i == 0 else 'item'}]", seen, problems)
    elif isinstance(annotation, type) and issubclass(annotation, BaseModel) and annotation not in seen:
        seen.add(annotation)
        for name, info in annotation.model_fields.items():
            _bounded(info.annotation, list(info.metadata), f"{annotation.__name__}.{name}", seen, problems)


def test_every_text_field_and_collection_of_every_message_has_a_limit() -> None:
    """The 700 KB `language` was accepted: nothing bounded it. Now every str, list and dict of
    every message and scenario record has a maximum (dict[str, Any] fields are bounded in keys and
    in bytes by a validator, `explanation`)."""
    problems: list[str] = []
    seen: set[type] = {m.Reply, m.FieldError, m.DeadLetter}  # what services answer, not what they accept
    for model in [*vars(m).values(), *vars(sc).values()]:
        if isinstance(model, type) and issubclass(model, BaseModel) and model.__module__ in (m.__name__, sc.__name__):
            _bounded(model, [], model.__name__, seen, problems)
    assert problems == []


def test_the_700_kb_language_and_the_widest_fields_are_refused_by_name() -> None:
    with pytest.raises(ValidationError) as err:
        m.SubmitRequest(request=request("r1", language="x" * 700_000))
    assert [e["loc"] for e in err.value.errors()] == [("request", "language")]
    with pytest.raises(ValidationError):
        m.AssignmentProposed(
            assignment_id="a",
            request=request("r1"),
            expert_id="e1",
            expert_name="E",
            contract_id="c1",
            mode="remote",
            travel_minutes=0,
            minutes=60,
            cost_vnd=0,
            explanation={"why": "x" * (L.EXPLANATION_BYTES + 1)},
        )
    with pytest.raises(ValidationError, match="finite"):
        m.LogHours(assignment_id="a", expert_id="e1", hours=float("nan"))


# ------------------------------------------------------------------ 2. shape, on the bus
async def _raw(stack: Stack, subject: str, data: bytes) -> m.Reply:
    return m.Reply.model_validate_json((await stack.nc.request(subject, data, timeout=10)).data)


def _submit(**over: Any) -> str:
    """A valid command as JSON text (escaped to ASCII, as json.dumps writes it), to edit by hand."""
    cmd = m.SubmitRequest(request=request("r1", **over))
    return json.dumps(json.loads(cmd.model_dump_json()), separators=(",", ":"))


async def test_deep_nan_infinity_bad_utf8_and_lone_surrogates_are_field_errors(stack: Stack) -> None:
    deep = await _raw(stack, s.REQUEST_SUBMIT, b"[" * 5000 + b"]" * 5000)
    assert not deep.ok and "nested deeper than 32" in (deep.error or "") and "RecursionError" not in (deep.error or "")

    cmd = _submit().replace('"hours":4.0', '"hours":NaN').encode()
    nan = await _raw(stack, s.REQUEST_SUBMIT, cmd)
    assert not nan.ok and [(f.field, f.message) for f in nan.field_errors] == [
        ("request.hours", "NaN is not a JSON number")
    ]
    cmd = _submit().replace('"priority":4', '"priority":-Infinity').encode()
    inf = await _raw(stack, s.REQUEST_SUBMIT, cmd)
    assert not inf.ok and inf.field_errors[0].field == "request.priority"

    surrogate = _submit(title="Chữ ký số").replace("Ch\\u1eef k\\u00fd s\\u1ed1", "\\ud800")
    lone = await _raw(stack, s.REQUEST_SUBMIT, surrogate.encode())
    assert not lone.ok and [(f.field, f.message) for f in lone.field_errors] == [
        ("request.title", "a lone UTF-16 surrogate is not text")
    ]
    pair = _submit(title="Chữ ký số 😀")  # a surrogate pair, as ensure_ascii writes it
    assert (await _raw(stack, s.REQUEST_SUBMIT, pair.encode())).field_errors[0].field != "request.title"

    bad_utf8 = await _raw(stack, s.REQUEST_SUBMIT, b'{"request": {"title": "\xff\xfe"}}')
    assert not bad_utf8.ok and "not UTF-8" in (bad_utf8.error or "")

    # An event as deep: dead-lettered with the reason, not retried as an internal error.
    await stack.nc.jetstream().publish(s.CONTRACT_REGISTERED, b"[" * 5000 + b"]" * 5000, stream="CONTRACTS")
    letters = await eventually(lambda: _letters(stack, "nested deeper"), what="the deep event dead-lettered")
    assert all("RecursionError" not in d["reason"] for d in letters)


async def _letters(stack: Any, needle: str) -> list[dict[str, Any]]:
    sub = await stack.nc.jetstream().pull_subscribe("deadletter.>", stream="DEADLETTER")
    try:
        got = [json.loads(msg.data) for msg in await sub.fetch(200, timeout=1)]
    except TimeoutError:
        got = []
    finally:
        await sub.unsubscribe()
    return [d for d in got if needle in d["reason"]]


# ------------------------------------------------------------------ 3. no secret kept or echoed
async def test_a_dead_lettered_preference_keeps_no_secret_and_replies_echo_no_input(
    nats_fresh: EmbeddedNats, db_url: str
) -> None:
    async with Notifier(nats_fresh.url, db_url) as n:
        bad = json.dumps(
            {
                "party": "unit:w1",
                "channels": ["pigeon"],
                "webhook_url": "https://sms.example.vn/h",
                "webhook_secret": SECRET,
                "email": "not-an-address-PRIVATE",
                "proof": {"signature": SECRET},
            }
        )
        raw = (await n.nc.request(s.PREFERENCES_SET, bad.encode(), timeout=10)).data
        reply = m.Reply.model_validate_json(raw)
        assert not reply.ok and {f.field for f in reply.field_errors} >= {"channels.0", "email"}
        assert SECRET.encode() not in raw and b"not-an-address-PRIVATE" not in raw, "a reply echoes no input"
        [letter] = await eventually(lambda: _letters(n, "invalid message"), what="the dead letter")
        assert SECRET not in json.dumps(letter) and "not-an-address-PRIVATE" not in letter["reason"]
        kept = json.loads(letter["payload"])
        assert kept["webhook_secret"] == "[redacted]" and kept["proof"] == "[redacted]"
        assert kept["party"] == "unit:w1", "the rest of the payload is kept, to see what went wrong"

        # Not even JSON: the secret is found in the text.
        broken = b'{"party": "unit:w1", "webhook_secret": "' + SECRET.encode() + b'", '
        await n.nc.request(s.PREFERENCES_SET, broken, timeout=10)
        letters = await eventually(lambda: _letters(n, "invalid message"), what="two dead letters")
        assert len(letters) == 2 and SECRET not in json.dumps(letters)


# ------------------------------------------------------------------ 4. receivers check events
def forged_proposal(stack_request: dict[str, Any]) -> m.AssignmentProposed:
    return m.AssignmentProposed(
        assignment_id="a-forged",
        request=stack_request,
        expert_id="e10",
        expert_name="Expert 10",
        contract_id="c1",
        mode="remote",
        travel_minutes=0,
        minutes=360,
        cost_vnd=900_000,
        manual=m.ManualOverride(by="Giám đốc Sở Nội vụ", forced=True, reason="trust me"),
    )


async def test_a_proposal_charging_another_experts_contract_is_refused(stack: Stack) -> None:
    await stack.register([expert(1), expert(10)], [contract(1), contract(10)])
    await stack.nc.jetstream().publish(
        s.ASSIGNMENT_PROPOSED, forged_proposal(request("r-x")).model_dump_json().encode(), stream="MATCHER"
    )
    [letter] = await eventually(lambda: _letters(stack, "not expert 'e10'"), what="the forged proposal refused")
    assert letter["service"] == "contracts"
    assert letter["reason"] == "refused: contract 'c1' is not expert 'e10''s"
    with Session(stack.contracts.engine) as session:
        assert session.get(AssignmentRow, "a-forged") is None
        c1 = session.get(ContractRow, "c1")
        assert c1 is not None and (c1.reserved_minutes, c1.reserved_vnd) == (0, 0), "nothing reserved"


def _c0(stack: Stack) -> ContractCopy:
    with Session(stack.matcher.engine) as session:
        copy = session.get(ContractCopy, "c0")
        assert copy is not None
        return copy


async def test_a_balance_revision_out_of_sequence_is_never_adopted(stack: Stack) -> None:
    """How contracts numbers them: per contract, one step per balance published (registration is
    1, each reservation or release the next). A forged 999999999 after 1 waits for 2..999999998,
    which never come: dead-lettered with the reason, and c0 stays as it was."""
    await stack.register([expert(0)], [contract(0)])
    await eventually(lambda: _c0(stack).balance_revision == 1, what="c0's first balance")
    await stack.submit("r1")
    p = await stack.proposal("r1")
    forged = m.BalanceChanged(
        contract_id="c0",
        expert_id="e0",
        hours_used=40,
        budget_used_vnd=0,
        active_assignments=5,
        expert_committed_hours=100,
        revision=999_999_999,
        expert_revision=999_999_999,
    )
    await stack.nc.jetstream().publish(s.BALANCE_CHANGED, forged.model_dump_json().encode(), stream="CONTRACTS")
    [letter] = await eventually(lambda: _letters(stack, "999999999"), within=60, what="the forged balance parked")
    assert letter["service"] == "matcher" and "waiting for revision 2" in letter["reason"]
    copy = _c0(stack)
    assert (copy.balance_revision, copy.hours_used, copy.active_assignments) == (1, 0, 0)
    # A stale copy of revision 1 is ignored; planning goes on, and the proposal was never withdrawn.
    stale = forged.model_copy(update={"revision": 1, "hours_used": 39.0, "expert_revision": 1})
    await stack.nc.jetstream().publish(s.BALANCE_CHANGED, stale.model_dump_json().encode(), stream="CONTRACTS")
    await stack.submit("r2")
    await stack.proposal("r2")
    assert _c0(stack).hours_used == 0
    with Session(stack.matcher.engine) as session:
        assert session.get(Proposal, p["id"]).status == "proposed"  # type: ignore[union-attr]
        assert session.exec(select(Proposal).where(Proposal.status == "withdrawn")).all() == []
    # The true next balance (an approval) is still adopted.
    await stack.ok(s.ASSIGNMENT_APPROVE, m.ApproveAssignment(assignment_id=p["id"], by="staff"))
    await eventually(lambda: _c0(stack).balance_revision == 2, what="revision 2 adopted")


# ------------------------------------------------------------------ 1. replies under the max payload
async def _size(nc: Any, subject: str, msg: m.Message) -> tuple[int, m.Reply]:
    try:
        raw = (await nc.request(subject, msg.model_dump_json().encode(), timeout=20)).data
    except TimeoutError:
        raise AssertionError(f"no reply to {subject}: larger than NATS's max payload?") from None
    return len(raw), m.Reply.model_validate_json(raw)


def worst_request(rid: str) -> dict[str, Any]:
    """Every field of a request at its limit, in the widest characters."""
    return request(
        rid,
        title=WIDE * L.TITLE,
        language="x" * L.LANGUAGE,
        slots=[{"skills": {"digital_signature": 2}, "hours": 1}] * L.SLOTS,
    )


async def test_the_worst_requests_and_notes_leave_the_inbox_under_the_max_payload(
    nats_fresh: EmbeddedNats, db_url: str
) -> None:
    async with Notifier(nats_fresh.url, db_url) as n:
        notes = m.PlanOvercommitted(notes=["x" * L.TEXT] * L.NOTES)  # 400 KB: as much as a message carries
        await n.publish(s.PLAN_OVERCOMMITTED, notes)
        unmatched = m.RequestUnmatched(
            request_id="r1", unit_id="w1", title=WIDE * L.TITLE, reason_code="language", reason=WIDE * L.TEXT
        )
        await n.publish(s.REQUEST_UNMATCHED, unmatched)
        told = await eventually(lambda: len(_notes(n)) == 3 and _notes(n), what="the staff and unit told")
        assert all(len(x.body) <= L.BODY and len(x.subject) <= L.TITLE for x in told)
        # The staff inbox full of the largest notifications there can be.
        with transaction(n.svc.engine) as session:
            for i in range(500):
                session.add(
                    Notification(
                        party="staff:home-affairs",
                        kind="plan_overcommitted",
                        language="vi",
                        subject=WIDE * L.TITLE,
                        body=WIDE * L.BODY,
                        source_event_id=f"x{i}",
                    )
                )
        size, reply = await _size(n.nc, s.INBOX_GET, m.GetInbox(party="staff:home-affairs", limit=500))
        box = rpc.read(E.INBOX, reply)
        assert size < L.MAX_PAYLOAD and box.truncated is True
        newest = max(x.id for x in _notes(n) if x.party == "staff:home-affairs")
        assert box.notifications[0].id == str(newest), "the newest are the ones kept"

        with transaction(n.svc.engine) as session:
            for i in range(1000):
                session.add(
                    Delivery(
                        key=f"k{i}",
                        party="unit:w1",
                        channel="webhook",
                        kind="x",
                        source_event_id="x",
                        subject=WIDE * L.TITLE,
                        text="",
                        html="",
                        payload="",
                        status="failed",
                        last_error=WIDE * L.REASON,
                    )
                )
        size, reply = await _size(n.nc, s.DELIVERIES_GET, m.GetDeliveries(limit=1000))
        assert size < L.MAX_PAYLOAD and rpc.read(E.DELIVERIES, reply).truncated is True


def _notes(n: Notifier) -> list[Notification]:
    with Session(n.svc.engine) as session:
        return list(session.exec(select(Notification)))


async def test_the_plan_input_status_and_audit_replies_stay_under_the_max_payload(stack: Stack) -> None:
    await stack.register([expert(0)], [contract(0)])
    await stack.ok(s.REQUEST_SUBMIT, m.SubmitRequest(request=worst_request("r-worst")))
    # Nobody speaks its language: refused, and the reason stays short.
    row = await eventually(lambda: _request_row(stack, "r-worst"), what="r-worst planned")
    assert row.reason_code == "language" and len(row.reason) <= L.TEXT

    # A stored plan input far larger than a message (a province's), read in pieces.
    scenario = {"requests": [worst_request(f"r{i}") | {"title": '"\\' * 150} for i in range(3000)]}
    text = json.dumps(scenario)
    with transaction(stack.matcher.engine) as session:
        session.add(PlanRun(input_sha256="f" * 64, scenario=text, status="optimal"))
    parts, offset = [], 0
    while offset is not None:
        size, reply = await _size(stack.nc, s.PLAN_INPUT_GET, m.GetPlanInput(sha256="f" * 64, offset=offset))
        piece = rpc.read(E.PLAN_INPUT, reply)
        assert size < L.MAX_PAYLOAD
        parts.append(piece.scenario)
        offset = piece.next_offset
    assert "".join(parts) == text and len(parts) > 1

    with transaction(stack.matcher.engine) as session:
        for i in range(5000):
            r = worst_request(f"r-many-{i}")
            session.add(RequestRow(id=r["id"], unit_id="u1", record=r))
    size, reply = await _size(stack.nc, s.MATCHER_STATUS_GET, m.GetRequests())
    status = rpc.read(E.MATCHER_STATUS, reply)
    assert size < L.MAX_PAYLOAD and status.truncated is True
    assert status.counts.requests == 5001, "the counts stay whole"

    with transaction(stack.contracts.engine) as session:
        wide = people.actor("staff", "staff:x", person=WIDE * 100)
        for i in range(300):
            audit.record(
                session,
                actor=wide,
                action="propose",
                subject=f"assignment:a{i}",
                detail={"request": worst_request(f"r{i}"), "explanation": {"why": WIDE * 6000}},
            )
    size, reply = await _size(stack.nc, s.AUDIT_GET, m.GetAudit(limit=100_000))
    assert size < L.MAX_PAYLOAD and reply.data and reply.data["truncated"] is True


def _request_row(stack: Stack, rid: str) -> RequestRow | None:
    with Session(stack.matcher.engine) as session:
        row = session.get(RequestRow, rid)
        return row if row is not None and row.reason_code else None


def test_fit_cuts_the_longest_list_and_says_so() -> None:
    data = {"items": [{"x": WIDE * 1000}] * 2000, "counts": {"all": 2000}}
    fitted, cut = L.fit(data, 100_000)
    assert cut and L.json_size(fitted) <= 100_000 and fitted["counts"] == {"all": 2000}
    assert L.fit({"a": 1}, 100) == ({"a": 1}, False)
