"""Staff hear, in their inbox, when a plan finds approved work over its limits."""

from __future__ import annotations

from shared import messages as m
from shared import subjects as s
from shared.nats import EmbeddedNats
from tests.integration.notifier_harness import Notifier, eventually

STAFF = "staff:home-affairs"


async def test_staff_are_told_what_no_longer_fits(nats_fresh: EmbeddedNats, db_url: str) -> None:
    note = ("expert e0: approved work is 2 h over the availability of 2 h; it is kept, nothing new is "
            "planned for this expert")
    async with Notifier(nats_fresh.url, db_url) as n:
        await n.publish(s.PLAN_OVERCOMMITTED, m.PlanOvercommitted(notes=[note], plan_input_sha256="ab" * 32))
        [told] = await eventually(lambda: n.inbox(STAFF), what="the staff's notice")
        assert told["kind"] == "plan_overcommitted"
        assert told["subject"] == "Công việc đã duyệt vượt giới hạn: cần xem lại"
        assert f"• {note}" in told["body"]
