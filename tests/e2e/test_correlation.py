"""One correlation id follows a request through every service, every service its own process.

The services write JSON log lines (as in production); the test gives a submission, a rejection and
an approval correlation ids of its own, runs them through the flow, and reads the three logs: each
id is on lines of every service, the proposals the matcher makes for the request carry the id of
what last acted on it, and every line written while handling a message carries an id.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from shared import messages as m
from shared import subjects as s
from tests.e2e import flow
from tests.e2e.system import SERVICES, System

pytestmark = pytest.mark.slow


def log_entries(system: System) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for name in SERVICES:
        lines = system.log(name).splitlines()
        out[name] = [json.loads(x) for x in lines if x.startswith("{")]
    return out


async def test_a_correlation_id_follows_a_request_through_every_service(system: System) -> None:
    await flow.load_reference(system, n_experts=2)
    await system.ok(
        s.REQUEST_SUBMIT,
        m.SubmitRequest(request=flow.request("r1"), by="commune officer", correlation_id="corr-submit-r1"),
    )
    first = await flow.proposal_for(system, "r1")
    await system.ok(
        s.ASSIGNMENT_REJECT,
        m.RejectAssignment(assignment_id=first["id"], by="Sở Nội vụ", reason="busy", correlation_id="corr-reject-r1"),
    )
    second = await flow.proposal_for(system, "r1", exclude={first["expert_id"]})
    await system.ok(
        s.ASSIGNMENT_APPROVE,
        m.ApproveAssignment(assignment_id=second["id"], by="Sở Nội vụ", correlation_id="corr-approve-r1"),
    )
    await flow.assignment(system, second["id"], "approved")
    for _ in range(100):  # the notifier tells the expert of the approval
        box = await flow.inbox(system, f"expert:{second['expert_id']}")
        if any(second["id"] in n["body"] for n in box):
            break
        await asyncio.sleep(0.2)

    def reached(entries: dict[str, list[dict[str, Any]]], corr: str) -> set[str]:
        return {name for name, lines in entries.items() if any(e.get("correlation_id") == corr for e in lines)}

    def handled(entries: dict[str, list[dict[str, Any]]], service: str, subject: str) -> set[str]:
        return {
            e["correlation_id"] for e in entries[service] if e["event"] == "event_handled" and e["subject"] == subject
        }

    def told(entries: dict[str, list[dict[str, Any]]]) -> bool:
        """Every service has logged each id, and the consumers asserted on below have logged theirs
        (another line of the same id, a balance's, may come first in a service's log)."""
        return (
            all(reached(entries, corr) == set(SERVICES) for corr in ids)
            and {"corr-submit-r1", "corr-reject-r1"} <= handled(entries, "contracts", s.ASSIGNMENT_PROPOSED)
            and all("corr-approve-r1" in handled(entries, x, s.ASSIGNMENT_APPROVED) for x in ("matcher", "notifier"))
        )

    ids = ("corr-submit-r1", "corr-reject-r1", "corr-approve-r1")
    for _ in range(150):  # until the last consumers have logged what they handled
        entries = log_entries(system)
        if told(entries):
            break
        await asyncio.sleep(0.2)
    for corr in ids:
        assert reached(entries, corr) == set(SERVICES), f"{corr} seen only in {sorted(reached(entries, corr))}"
    # A plan answers many changes at once: each proposal carries the id of what last acted on
    # its request, the submission for the first, the rejection for the one that replaced it.
    assert {"corr-submit-r1", "corr-reject-r1"} <= handled(entries, "contracts", s.ASSIGNMENT_PROPOSED)
    assert "corr-approve-r1" in handled(entries, "matcher", s.ASSIGNMENT_APPROVED)
    assert "corr-approve-r1" in handled(entries, "notifier", s.ASSIGNMENT_APPROVED)
    # every line written while handling a message names the request it belongs to
    for name, lines in entries.items():
        orphans = [e for e in lines if e.get("subject") and not e.get("correlation_id")]
        assert not orphans, f"{name}: lines without a correlation id: {orphans[:3]}"
