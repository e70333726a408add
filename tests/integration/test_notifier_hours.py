"""Hours an expert logs beyond the reservation reach staff, from the contracts service through a
real nats-server to the notifier: who, which request, logged against reserved, and the commands
to approve or refuse them, in Vietnamese and then in English."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from shared import messages as m
from shared import subjects as s
from shared.nats import free_port, start_nats
from tests.integration.notifier_harness import Notifier, eventually
from tests.integration.services_harness import Stack, contract, expert

STAFF = "staff:home-affairs"


@pytest.fixture
async def system(tmp_path: Path, db_url: str) -> AsyncIterator[tuple[Stack, Notifier]]:
    server = start_nats(tmp_path / "nats", free_port())
    try:
        async with (
            Stack(server.url, db_url, tmp_path) as stack,
            Notifier(server.url, f"sqlite:///{tmp_path / 'notifier.db'}") as notifier,
        ):
            yield stack, notifier
    finally:
        server.stop()


async def flagged(n: Notifier, count: int) -> list[dict[str, Any]]:
    async def found() -> list[dict[str, Any]]:
        notes = [x for x in await n.inbox(STAFF) if x["kind"] == "hours_flagged"]
        return notes if len(notes) == count else []

    return await eventually(found, what=f"{count} hours_flagged notification(s) for staff")


async def test_staff_hear_of_hours_logged_beyond_the_reservation(system: tuple[Stack, Notifier]) -> None:
    stack, n = system
    await stack.register([expert(0)], [contract(0)])
    await stack.submit("r1")  # 4 h
    aid = (await stack.proposal("r1"))["id"]
    await stack.ok(s.ASSIGNMENT_APPROVE, m.ApproveAssignment(assignment_id=aid, by="Sở Nội vụ"))
    await stack.ok(s.ASSIGNMENT_ACCEPT, m.AcceptAssignment(assignment_id=aid, expert_id="e0"))
    done = await stack.ok(s.HOURS_LOG, m.LogHours(assignment_id=aid, expert_id="e0", hours=5.5))
    assert done["flagged_minutes"] == 90

    [note] = await flagged(n, 1)
    text = note["subject"] + "\n" + note["body"]
    assert note["language"] == "vi"
    for words in (
        "Expert 0",
        "e0",
        "r1",
        "«Chữ ký số r1»",
        "Xã Thượng Lâm",
        "5.5 giờ",
        "đặt trước 4 giờ",
        "1.5 giờ vượt",
        "c0",
        f"expertshare hours approve {aid} --by",
        f"expertshare hours refuse {aid} --by",
    ):
        assert words in text, f"{words!r} not in {text!r}"

    # Staff who read English get the next one in English, with what is now waiting in all.
    await n.ok(s.PREFERENCES_SET, m.SetPreferences(party=STAFF, language="en"))
    await stack.ok(s.HOURS_LOG, m.LogHours(assignment_id=aid, expert_id="e0", hours=1))
    [newest, _] = await flagged(n, 2)
    text = newest["subject"] + "\n" + newest["body"]
    assert newest["language"] == "en"
    for words in (
        "Expert 0 logged hours beyond the reservation",
        "logged 6.5 h on request r1",
        "against 4 h reserved",
        "2.5 h beyond it",
        f"Approve: expertshare hours approve {aid} --by",
        f"Refuse: expertshare hours refuse {aid} --by <name> --comment",
    ):
        assert words in text, f"{words!r} not in {text!r}"
