"""Status queries narrowed to what a page shows, over a real nats-server: a national system holds
more requests and assignments than one NATS message can carry, so the portal and the CLI ask for a
unit, some requests, an expert, a contract, some statuses or the newest few; the counts stay whole."""

from __future__ import annotations

from shared import endpoints as E
from shared import messages as m
from shared import subjects as s
from tests.integration.services_harness import Stack, contract, expert


async def test_status_is_narrowed_by_every_filter_and_counts_stay_whole(stack: Stack) -> None:
    await stack.register([expert(0), expert(1)], [contract(0), contract(1)])
    for rid, unit in (("r1", "u1"), ("r2", "u2"), ("r3", "u1")):
        await stack.submit(rid, unit=unit)
        await stack.proposal(rid)

    async def matcher(**q: object) -> m.MatcherStatus:
        return await stack.ask(E.MATCHER_STATUS, m.GetRequests(**q))  # type: ignore[arg-type]

    async def contracts(**q: object) -> dict:  # type: ignore[type-arg]
        return await stack.ok(s.CONTRACTS_STATUS_GET, m.GetContractsStatus(**q))  # type: ignore[arg-type]

    whole = await matcher()
    assert [r.id for r in whole.requests] == ["r1", "r2", "r3"] and not whole.truncated
    u1 = await matcher(unit_id="u1")
    assert [r.id for r in u1.requests] == ["r1", "r3"]
    assert {p.request_id for p in u1.proposals} == {"r1", "r3"}, "proposals follow the requests shown"
    newest = await matcher(limit=2)
    assert [r.id for r in newest.requests] == ["r2", "r3"] and newest.truncated
    assert newest.counts.requests == 3, "the counts are whole"
    oldest = await matcher(limit=1, oldest_first=True)
    assert [r.id for r in oldest.requests] == ["r1"]
    assert [r.id for r in (await matcher(request_ids=["r2", "r-none"])).requests] == ["r2"]
    assert (await matcher(statuses=["completed"])).requests == []

    every = await contracts()
    assert len(every["assignments"]) == 3 and len(every["contracts"]) == 2
    assert every["counts"]["assignments"] == 3 and every["counts"]["contracts"] == 2
    one = every["assignments"][0]
    by_request = await contracts(request_ids=[one["request_id"]], with_contracts=False)
    assert [a["id"] for a in by_request["assignments"]] == [one["id"]] and by_request["contracts"] == []
    mine = await contracts(expert_id=one["expert_id"])
    assert mine["assignments"] and all(a["expert_id"] == one["expert_id"] for a in mine["assignments"])
    held = await contracts(contract_id=one["contract_id"])
    assert [c["id"] for c in held["contracts"]] == [one["contract_id"]]
    assert all(a["contract_id"] == one["contract_id"] for a in held["assignments"])
    assert [a["unit_id"] for a in (await contracts(unit_id="u2"))["assignments"]] == ["u2"]
    assert (await contracts(statuses=["approved"]))["assignments"] == []
    assert (await contracts(extra_pending=True))["assignments"] == []
    last = await contracts(limit=1)
    assert last["truncated"] and [a["id"] for a in last["assignments"]] == [every["assignments"][-1]["id"]]

    refused = await stack.call(s.MATCHER_STATUS_GET, m.GetRequests.model_construct(limit=0))
    assert not refused.ok and "limit" in refused.error, "a bad query is refused with its field named"
