"""Every service serves /metrics and /healthz on a port of its own, with the domain's figures.

The system runs as in production (each service its own process); the test scrapes each service's
address (written to var/metrics/<service>.url) and reads the figures a scenario implies: two
requests proposed means two proposals waiting and two requests proposed; one approval takes one
proposal out of waiting and makes one assignment approved; the notifier counts what it told.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from shared import messages as m
from shared import subjects as s
from tests.e2e import flow
from tests.e2e.portal import start_portal
from tests.e2e.system import SERVICES, System
from tests.observability import NATS_EXPORTER, queried

pytestmark = pytest.mark.slow

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def address(var: Path, service: str) -> str:
    return (var / "metrics" / f"{service}.url").read_text().strip()


async def get(url: str) -> httpx.Response:
    async with httpx.AsyncClient(timeout=10) as http:
        return await http.get(url)


async def exported(var: Path, service: str) -> set[str]:
    """Every name a query may read of what the service exports, with or without samples yet."""
    text = (await get(f"{address(var, service)}/metrics")).text
    names = set()
    for family in text_string_to_metric_families(text):
        suffixes = {"counter": ("_total",), "histogram": ("_bucket", "_count", "_sum")}.get(family.type, ("",))
        names |= {family.name + x for x in suffixes} | {x.name for x in family.samples}
    return names


async def scrape(var: Path, service: str) -> Samples:
    text = (await get(f"{address(var, service)}/metrics")).text
    return {
        (x.name, tuple(sorted(x.labels.items()))): x.value
        for family in text_string_to_metric_families(text)
        for x in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples[(name, tuple(sorted(labels.items())))]


async def until(var: Path, service: str, predicate, what: str, timeout: float = 30.0) -> Samples:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while True:
        samples = await scrape(var, service)
        try:
            if predicate(samples):
                return samples
        except KeyError:
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"{service}: {what} not seen within {timeout} s")
        await asyncio.sleep(0.2)


async def test_every_service_serves_its_metrics_and_the_domain_figures_follow_the_scenario(system: System) -> None:
    portal_url = await start_portal(system)
    for name in (*SERVICES, "portal"):
        ready = await get(f"{address(system.var, name)}/healthz")
        assert ready.status_code == 200, (name, ready.text)
        assert "ready" in ready.text
    await flow.load_reference(system, n_experts=3)
    # one more contract, 37 of its 40 hours and 46 of its 50 million dong used: near both caps
    await system.ok(
        s.REFERENCE_REGISTER,
        m.RegisterReference(
            units=flow.UNITS,
            experts=[flow.expert(9)],
            contracts=[flow.contract(9, hours_used=37, budget_used_vnd=46_000_000)],
        ),
    )
    await flow.submit(system, "r1")
    await flow.submit(system, "r2")
    first = await flow.proposal_for(system, "r1")
    await flow.proposal_for(system, "r2")

    def two_waiting(x: Samples) -> bool:
        return (
            value(x, "expertshare_proposals_waiting") == 2 and value(x, "expertshare_requests", status="proposed") == 2
        )

    matcher = await until(system.var, "matcher", two_waiting, "two proposals waiting")
    assert value(matcher, "expertshare_requests", status="open") == 0
    assert value(matcher, "expertshare_proposal_oldest_waiting_seconds") >= 0
    # FastStream's own metrics: the submissions were received and processed
    handled = [
        v
        for (n, labels), v in matcher.items()
        if n == "faststream_received_processed_messages_total" and ("handler", s.REQUEST_SUBMIT) in labels
    ]
    assert sum(handled) >= 2
    assert value(matcher, "expertshare_outbox_backlog", service="matcher") >= 0

    await system.ok(s.ASSIGNMENT_APPROVE, m.ApproveAssignment(assignment_id=first["id"], by="Sở Nội vụ"))
    await flow.assignment(system, first["id"], "approved")
    await until(
        system.var,
        "matcher",
        lambda x: value(x, "expertshare_proposals_waiting") == 1,
        "one proposal fewer waiting after one approval",
    )
    contracts = await until(
        system.var,
        "contracts",
        lambda x: value(x, "expertshare_assignments", status="approved") == 1,
        "one approved assignment",
    )
    assert value(contracts, "expertshare_assignments", status="proposed") == 1
    assert value(contracts, "expertshare_contracts", status="active") == 4
    assert value(contracts, "expertshare_contracts_near_cap", cap="hours") == 1
    assert value(contracts, "expertshare_contracts_near_cap", cap="budget") == 1
    await until(
        system.var,
        "notifier",
        lambda x: value(x, "expertshare_notifications_sent_total", channel="inbox") >= 1,
        "a notification in an inbox",
    )

    # a malformed command is dead-lettered and counted, by service and reason
    await system.call(s.REQUEST_SUBMIT, b'{"request": ')
    await until(
        system.var,
        "matcher",
        lambda x: value(x, "expertshare_dead_letters_total", service="matcher", reason="invalid") == 1,
        "the dead letter counted",
    )

    # the last re-plan's quality and time
    plan = await until(
        system.var, "matcher", lambda x: value(x, "expertshare_plan_covered_weight") > 0, "a plan covering the requests"
    )
    assert 0 < value(plan, "expertshare_plan_quality_ratio") <= 1
    assert value(plan, "expertshare_plan_upper_bound") >= value(plan, "expertshare_plan_covered_weight")
    assert value(plan, "expertshare_replan_duration_seconds_count") >= 1

    # the portal: requests by route, from prometheus-fastapi-instrumentator
    assert (await get(f"{portal_url}/login")).status_code == 200
    portal = await scrape(system.var, "portal")
    assert value(portal, "http_requests_total", handler="/login", method="GET", status="2xx") >= 1

    # the committed dashboard and alert rules read only what the services export (or NATS' exporter)
    everything = set().union(*[await exported(system.var, name) for name in (*SERVICES, "portal")])
    missing = {n for n in queried() if n not in NATS_EXPORTER} - everything
    assert not missing, f"the dashboard or the alerts read metrics no service exports: {sorted(missing)}"
