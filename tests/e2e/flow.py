"""Shared steps of the end-to-end tests: a small Tuyen Quang scenario and the user actions."""

from __future__ import annotations

import datetime as dt
from typing import Any

from shared import endpoints as E
from shared import messages as m
from shared import subjects as s
from shared.clock import local_today
from tests.e2e.system import System

UNITS = [
    {
        "id": "w2269",
        "name": "Xã Thượng Lâm",
        "province": "Tuyên Quang",
        "network": "ok",
        "location": {"lat": 22.45, "lon": 105.25},
    },
    {
        "id": "w2266",
        "name": "Xã Lâm Bình",
        "province": "Tuyên Quang",
        "network": "weak",
        "location": {"lat": 22.50, "lon": 105.20},
    },
]


def expert(i: int, home: str = "w2266", **over: Any) -> dict[str, Any]:
    return {
        "id": f"e{i}",
        "name": f"Expert {i}",
        "home_unit": home,
        "kind": "contract",
        "skills": {"digital_signature": 3, "office_it": 2},
        "languages": ["vi"],
        "remote": True,
        "onsite": True,
        "max_travel_minutes": 120,
        "capacity_hours": 40,
        **over,
    }


def contract(i: int, **over: Any) -> dict[str, Any]:
    return {
        "id": f"c{i}",
        "expert": f"e{i}",
        "kind": "project",
        "hourly_rate_vnd": 100_000 * (i + 1),
        "hours_cap": 40,
        "hours_used": 0,
        "budget_cap_vnd": 50_000_000,
        "budget_used_vnd": 0,
        "max_concurrent": 5,
        "start": str(local_today() - dt.timedelta(days=30)),
        "end": str(local_today() + dt.timedelta(days=180)),
        "scope_units": None,
        **over,
    }


def request(rid: str, unit: str = "w2269", **over: Any) -> dict[str, Any]:
    return {
        "id": rid,
        "unit": unit,
        "title": f"Cài đặt chữ ký số {rid}",
        "skills": {"digital_signature": 2},
        "mode": "remote",
        "hours": 4,
        "priority": 4,
        "deadline": str(local_today() + dt.timedelta(days=10)),
        **over,
    }


async def load_reference(system: System, n_experts: int = 3) -> None:
    await system.ok(
        s.REFERENCE_REGISTER,
        m.RegisterReference(
            units=UNITS,
            experts=[expert(i) for i in range(n_experts)],
            contracts=[contract(i) for i in range(n_experts)],
        ),
    )
    # Units, experts and contracts reach the matcher on subjects of their own, in any order.
    await system.until(
        lambda st: st["matcher"]["counts"]["contracts"] >= n_experts and st["matcher"]["counts"]["units"] >= len(UNITS),
        what="matcher copies",
    )


async def submit(system: System, rid: str, **over: Any) -> None:
    await system.ok(s.REQUEST_SUBMIT, m.SubmitRequest(request=request(rid, **over), by="commune officer"))


def live_proposals(st: dict[str, Any], rid: str, *states: str) -> list[dict[str, Any]]:
    return [p for p in st["matcher"]["proposals"] if p["request_id"] == rid and p["status"] in states]


async def proposal_for(system: System, rid: str, exclude: set[str] = frozenset()) -> dict[str, Any]:  # type: ignore[assignment]
    """Wait until the contracts service holds a proposal for `rid` (by an expert not in `exclude`)."""

    def find(st: dict[str, Any]) -> dict[str, Any] | None:
        for a in st["contracts"]["assignments"]:
            if a["request_id"] == rid and a["status"] == "proposed" and a["expert_id"] not in exclude:
                return a
        return None

    return await system.until(find, what=f"a proposal for {rid}")


async def assignment(system: System, aid: str, status: str) -> dict[str, Any]:
    def find(st: dict[str, Any]) -> dict[str, Any] | None:
        return next((a for a in st["contracts"]["assignments"] if a["id"] == aid and a["status"] == status), None)

    return await system.until(find, what=f"{aid} {status}")


def balance(st: dict[str, Any], contract_id: str) -> dict[str, Any]:
    return next(c for c in st["contracts"]["contracts"] if c["id"] == contract_id)


async def inbox(system: System, party: str) -> list[dict[str, Any]]:
    box = await system.ask(E.INBOX, m.GetInbox(party=party, limit=500))
    return [n.model_dump(mode="json") for n in box.notifications]
