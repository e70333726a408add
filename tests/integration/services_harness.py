"""The contracts and matcher services in this test process, on a nats-server of the test's own.

Each service runs exactly as in production (its Service, durable consumers, outbox relay and
background tasks) but in the test's event loop, so a test can also read its tables directly.
The contracts database is the test's `db_url` (SQLite, and PostgreSQL when asked); the matcher
keeps a SQLite file.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path
from typing import Any

from services.contracts.app import build as build_contracts
from services.contracts.settings import ContractsSettings
from services.matcher.app import build as build_matcher
from services.matcher.settings import MatcherSettings
from shared import messages as m
from shared import subjects as s
from shared.clock import local_today
from shared.nats import connect
from shared.service import Service
from shared.streams import setup
from tests.status_client import StatusClient

UNITS = [
    {
        "id": "u1",
        "name": "Xã Thượng Lâm",
        "province": "Tuyên Quang",
        "network": "ok",
        "location": {"lat": 22.45, "lon": 105.25},
    },
    {
        "id": "u2",
        "name": "Xã Lâm Bình",
        "province": "Tuyên Quang",
        "network": "weak",
        "location": {"lat": 22.50, "lon": 105.20},
    },
]


def expert(i: int, **over: Any) -> dict[str, Any]:
    return {
        "id": f"e{i}",
        "name": f"Expert {i}",
        "home_unit": "u2",
        "kind": "contract",
        "skills": {"digital_signature": 3},
        "languages": ["vi"],
        "remote": True,
        "onsite": True,
        "max_travel_minutes": 120,
        "capacity_hours": 100,
        **over,
    }


def contract(i: int, **over: Any) -> dict[str, Any]:
    return {
        "id": f"c{i}",
        "expert": f"e{i}",
        "kind": "project",
        "hourly_rate_vnd": 100_000 * (i + 1),
        "hours_cap": 40,
        "budget_cap_vnd": None,
        "max_concurrent": 5,
        "start": str(local_today() - dt.timedelta(days=30)),
        "end": str(local_today() + dt.timedelta(days=90)),
        "scope_units": None,
        **over,
    }


def request(rid: str, **over: Any) -> dict[str, Any]:
    return {
        "id": rid,
        "unit": "u1",
        "title": f"Chữ ký số {rid}",
        "skills": {"digital_signature": 2},
        "mode": "remote",
        "hours": 4,
        "priority": 4,
        "deadline": str(local_today() + dt.timedelta(days=10)),
        **over,
    }


class Stack(StatusClient):
    call_s, until_s, poll_s = 15.0, 30.0, 0.1

    def __init__(self, nats_url: str, contracts_db: str, tmp: Path) -> None:
        self.url = nats_url
        self.contracts = build_contracts(ContractsSettings(nats_url=nats_url, database_url=contracts_db))
        self.matcher = build_matcher(
            MatcherSettings(
                nats_url=nats_url,
                database_url=f"sqlite:///{tmp / 'matcher.db'}",
                time_limit_s=2,
                debounce_s=0.05,
                solve_in_process=False,
            )
        )
        self.nc: Any = None
        self._tasks: set[asyncio.Task[Any]] = set()

    async def __aenter__(self) -> Stack:
        await setup(self.url)
        before = asyncio.all_tasks()
        for svc in (self.contracts, self.matcher):
            await _start(svc)
        self._tasks = asyncio.all_tasks() - before
        self.nc = await connect(self.url, "admin")
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.nc.drain()
        for svc in (self.matcher, self.contracts):
            for stop in svc._stops:  # the matcher's leadership, released
                await stop()
            await svc.relay.stop()
            await svc.broker.stop()
        for task in self._tasks:
            if task.get_name() in ("replanner", "expiry"):
                task.cancel()
        for svc in (self.matcher, self.contracts):
            svc.engine.dispose()

    async def register(self, experts: list[dict[str, Any]], contracts: list[dict[str, Any]], **fields: Any) -> None:
        await self.ok(
            s.REFERENCE_REGISTER, m.RegisterReference(units=UNITS, experts=experts, contracts=contracts, **fields)
        )
        await self.until(
            lambda st: (
                st["matcher"]["counts"]["contracts"] >= len(contracts)
                and st["matcher"]["counts"]["units"] >= len(UNITS)
            ),
            what="the matcher's copies",
        )

    async def submit(self, rid: str, **over: Any) -> None:
        await self.ok(s.REQUEST_SUBMIT, m.SubmitRequest(request=request(rid, **over)))

    async def proposal(self, rid: str, status: str = "proposed", contract: str | None = None) -> dict[str, Any]:
        def find(st: dict[str, Any]) -> dict[str, Any] | None:
            return next(
                (
                    a
                    for a in st["contracts"]["assignments"]
                    if a["request_id"] == rid and a["status"] == status and contract in (None, a["contract_id"])
                ),
                None,
            )

        return await self.until(find, what=f"a {status} assignment for {rid}")

    async def assignment(self, aid: str) -> dict[str, Any]:
        st = await self.status()
        return next(a for a in st["contracts"]["assignments"] if a["id"] == aid)


async def _start(svc: Service) -> None:
    await svc.prepare()
    await svc.broker.start()
    svc.relay.start()
    for start in svc._background:
        start()


def request_status(st: dict[str, Any], rid: str) -> str:
    return next(r["status"] for r in st["matcher"]["requests"] if r["id"] == rid)
