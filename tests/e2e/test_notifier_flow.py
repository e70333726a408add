"""The notifier with every service as its own process, on short limits: a task its expert never
answers is reminded once, escalated to staff, then declined on the expert's behalf and matched
again; and the CLI lists a webhook delivery that failed and sends it again."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from shared import endpoints as E
from shared import messages as m
from shared import subjects as s
from shared.nats import EmbeddedNats
from tests.e2e import flow
from tests.e2e.system import System
from tests.integration.sinks import HttpSink

pytestmark = pytest.mark.slow

LIMITS = {
    "NOTIFIER_REMIND_AFTER_S": "2",
    "NOTIFIER_ESCALATE_AFTER_S": "4",
    "NOTIFIER_DECLINE_AFTER_S": "6",
    "NOTIFIER_WATCH_INTERVAL_S": "0.3",
}
RETRIES = {
    "NOTIFIER_POLL_S": "0.1",
    "NOTIFIER_MAX_ATTEMPTS": "2",
    "NOTIFIER_RETRY_BASE_S": "0.2",
    "NOTIFIER_RETRY_MAX_S": "0.5",
    "NOTIFIER_WEBHOOK_ALLOW_PRIVATE": "1",  # the test's webhook sink is on loopback
}


@pytest.fixture
async def system(nats_fresh: EmbeddedNats, tmp_path: Path) -> AsyncIterator[System]:
    async with System(nats_fresh.url, tmp_path / "var", env=LIMITS) as sys_:
        yield sys_


@pytest.fixture
async def retrying(nats_fresh: EmbeddedNats, tmp_path: Path) -> AsyncIterator[System]:
    async with System(nats_fresh.url, tmp_path / "var", env=RETRIES) as sys_:
        yield sys_


async def kinds_about(system: System, party: str, assignment_id: str) -> list[str]:
    return [n["kind"] for n in await flow.inbox(system, party) if assignment_id in n["subject"]]


async def wait_for(system: System, party: str, aid: str, kind: str, within: float = 30) -> None:
    for _ in range(int(within / 0.2)):
        if kind in await kinds_about(system, party, aid):
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"{party} never heard {kind} about {aid}: {await flow.inbox(system, party)}")


async def test_an_unanswered_task_is_reminded_escalated_then_declined_for_the_expert(
    utc_hour: object,
    system: System,
) -> None:
    """At 16:30 and 23:30 UTC (23:30 and 06:30 in Vietnam): the limits count time, not days."""
    await flow.load_reference(system, n_experts=3)
    await flow.submit(system, "r1")
    await flow.submit(system, "r2")
    silent = await flow.proposal_for(system, "r1")
    answered = await flow.proposal_for(system, "r2")
    for p in (silent, answered):
        await system.ok(s.ASSIGNMENT_APPROVE, m.ApproveAssignment(assignment_id=p["id"], by="Sở Nội vụ"))
    await system.ok(
        s.ASSIGNMENT_ACCEPT,
        m.AcceptAssignment(assignment_id=answered["id"], expert_id=answered["expert_id"]),
    )
    expert = f"expert:{silent['expert_id']}"
    await wait_for(system, expert, silent["id"], "task_reminder")
    await wait_for(system, "staff:home-affairs", silent["id"], "task_escalated")
    declined = await flow.assignment(system, silent["id"], "declined")
    assert declined["decided_by"] == "system (no answer)"
    await wait_for(system, expert, silent["id"], "task_expired")

    again = await flow.proposal_for(system, "r1", exclude={silent["expert_id"]})
    assert again["expert_id"] != silent["expert_id"]
    assert sorted(await kinds_about(system, expert, silent["id"])) == [
        "task_expired",
        "task_new",
        "task_reminder",
    ]
    staff = await kinds_about(system, "staff:home-affairs", silent["id"])
    assert staff.count("task_escalated") == 1 and "task_declined" in staff
    unit = [n for n in await flow.inbox(system, "unit:w2269") if n["kind"] == "task_declined"]
    assert "no answer within 6 s: declined by the system" in unit[0]["body"]
    # the task that was answered at once was never chased
    other = f"expert:{answered['expert_id']}"
    assert "task_reminder" not in await kinds_about(system, other, answered["id"])
    assert "task_escalated" not in await kinds_about(system, "staff:home-affairs", answered["id"])


def cli(system: System, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cli.main", *args],
        env=system.env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


async def test_the_cli_sets_preferences_lists_a_failed_webhook_and_sends_it_again(
    retrying: System,
) -> None:
    system = retrying
    hook = HttpSink(behaviour={"/sms": 503}).start()
    try:
        await flow.load_reference(system, n_experts=1)
        # Preferences are kept only for parties the notifier has heard of: wait until it has e0.
        for _ in range(100):
            if (await system.call(s.PREFERENCES_SET, m.SetPreferences(party="expert:e0"))).ok:
                break
            await asyncio.sleep(0.1)
        done = await asyncio.to_thread(
            cli,
            system,
            "notifications",
            "prefs",
            "expert:e0",
            "--channel",
            "webhook",
            "--webhook-url",
            hook.url("/sms"),
            "--webhook-secret",
            "x" * 20,
            "--language",
            "en",
        )
        assert done.returncode == 0, done.stderr
        assert "channels inbox, webhook; language en" in done.stdout and "secret set" in done.stdout
        refused = await asyncio.to_thread(cli, system, "notifications", "prefs", "expert:e0", "--channel", "email")
        assert refused.returncode == 1 and "email: the email channel needs an email address" in refused.stderr

        await flow.submit(system, "r1")
        p = await flow.proposal_for(system, "r1")
        await system.ok(s.ASSIGNMENT_APPROVE, m.ApproveAssignment(assignment_id=p["id"], by="Sở Nội vụ"))
        failed: list[dict[str, Any]] = []
        for _ in range(100):
            listed = await asyncio.to_thread(cli, system, "notifications", "--failed", "--json")
            failed = json.loads(listed.stdout)
            if failed:
                break
            await asyncio.sleep(0.2)
        assert [(f["party"], f["kind"], f["attempts"]) for f in failed] == [("expert:e0", "task_new", 2)]
        assert "HTTP 503" in failed[0]["last_error"] and len(hook.to("/sms")) == 2

        hook.behaviour["/sms"] = 200
        again = await asyncio.to_thread(cli, system, "notifications", "retry", failed[0]["id"])
        assert again.returncode == 0 and f"1 deliveries queued again: {failed[0]['id']}" in again.stdout
        for _ in range(100):
            if len(hook.to("/sms")) == 3:
                break
            await asyncio.sleep(0.1)
        assert hook.to("/sms")[-1].json()["subject"] == f"New task {p['id']} at Xã Thượng Lâm"
        listed = await asyncio.to_thread(cli, system, "notifications", "--failed", "--json")
        assert json.loads(listed.stdout) == []

        unread = (await system.ask(E.INBOX, m.GetInbox(party="expert:e0"))).unread
        marked = await asyncio.to_thread(cli, system, "notifications", "read", "expert:e0")
        assert marked.returncode == 0 and f"{unread} notifications marked read" in marked.stdout
        assert unread >= 1 and (await system.ask(E.INBOX, m.GetInbox(party="expert:e0"))).unread == 0
    finally:
        hook.stop()
