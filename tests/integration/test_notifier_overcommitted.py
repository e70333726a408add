"""Staff hear, in their inbox, when a plan finds approved work over its limits; the commune and the
community member hear of a trainee proposed beside the expert."""

from __future__ import annotations

from shared import messages as m
from shared import subjects as s
from shared.nats import EmbeddedNats
from tests.integration.notifier_harness import Notifier, eventually

STAFF = "staff:home-affairs"


async def test_staff_are_told_what_no_longer_fits(nats_fresh: EmbeddedNats, db_url: str) -> None:
    note = (
        "expert e0: approved work is 2 h over the availability of 2 h; it is kept, nothing new is "
        "planned for this expert"
    )
    async with Notifier(nats_fresh.url, db_url) as n:
        await n.publish(s.PLAN_OVERCOMMITTED, m.PlanOvercommitted(notes=[note], plan_input_sha256="ab" * 32))
        [told] = await eventually(lambda: n.inbox(STAFF), what="the staff's notice")
        assert told["kind"] == "plan_overcommitted"
        assert told["subject"] == "Công việc đã duyệt vượt giới hạn: cần xem lại"
        assert f"• {note}" in told["body"]


async def test_the_notes_about_rules_are_worded_from_the_catalogue_in_staffs_language(
    nats_fresh: EmbeddedNats, db_url: str
) -> None:
    """A plan's notes about rules come as data (`broken`): staff read them in Vietnamese, worded
    from `shared.rules`, whatever the English of `notes` says; a remark about no rule as it came."""
    over = m.BrokenRule(rule="held_over_capacity", expert="e0", detail={"over": 2.0, "capacity": 2.0})
    let_go = "pending proposals let go: the engine found no plan"
    evt = m.PlanOvercommitted(notes=["(the English, not read)", let_go], broken=[over], remarks=[let_go])
    async with Notifier(nats_fresh.url, db_url) as n:
        await n.publish(s.PLAN_OVERCOMMITTED, evt)
        [told] = await eventually(lambda: n.inbox(STAFF), what="the staff's notice")
        body = str(told["body"])
        assert "• chuyên gia e0: công việc đã duyệt vượt 2 giờ so với thời gian có thể nhận 2 giờ" in body, body
        assert f"• {let_go}" in body and "(the English, not read)" not in body


async def test_the_commune_and_the_trainee_hear_of_a_trainee_beside_the_expert(
    nats_fresh: EmbeddedNats, db_url: str
) -> None:
    request = {
        "id": "r1",
        "unit": "u1",
        "title": "Chữ ký số",
        "skills": {"digital_signature": 2},
        "mode": "remote",
        "hours": 4,
        "priority": 3,
        "deadline": "2026-12-20",
        "trainee": True,
    }
    proposed = dict(
        request=request,
        expert_id="e0",
        expert_name="Chuyên gia",
        contract_id="c0",
        mode="remote",
        travel_minutes=0,
        minutes=240,
        cost_vnd=400_000,
    )
    async with Notifier(nats_fresh.url, db_url) as n:
        await n.meet("unit:u1", "expert:e5")
        await n.publish(
            s.ASSIGNMENT_PROPOSED,
            m.AssignmentProposed(
                assignment_id="a1", trainee_id="e5", trainee_name="Hoàng Thị Mai", trainee_minutes=240, **proposed
            ),
        )
        await n.publish(s.ASSIGNMENT_PROPOSED, m.AssignmentProposed(assignment_id="a2", **proposed))
        for party in ("unit:u1", "expert:e5"):
            [told] = await eventually(lambda p=party: _trainee_notes(n, p), what=f"{party}'s notice")  # type: ignore[misc]
            assert told["subject"] == "Học viên đi kèm cho yêu cầu r1"
            assert str(told["body"]).startswith("Hoàng Thị Mai được đề xuất học cùng e0 khi hỗ trợ «Chữ ký số» (4 giờ")
        matched = await eventually(lambda: _kind(n, "unit:u1", "request_matched", 2), what="both matches told")
        assert len(matched) == 2 and len(await _trainee_notes(n, "unit:u1")) == 1  # a2 asked no trainee


async def _kind(n: Notifier, party: str, kind: str, at_least: int = 1) -> list[dict[str, object]]:
    found = [x for x in await n.inbox(party) if x["kind"] == kind]
    return found if len(found) >= at_least else []


async def _trainee_notes(n: Notifier, party: str) -> list[dict[str, object]]:
    return await _kind(n, party, "trainee_proposed")
