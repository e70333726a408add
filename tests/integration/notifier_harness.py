"""The notifier service in this process, on a real nats-server and a real database, with the
helpers its tests share: publishing events into JetStream, commands, reading streams, waiting."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import time
from collections.abc import Callable
from typing import Any, TypeVar

from pydantic import BaseModel
from sqlmodel import Session, select

from services.notifier.app import NotifierService, build
from services.notifier.db import Delivery, Party
from services.notifier.settings import NotifierSettings
from shared import endpoints as E
from shared import messages as m
from shared import subjects as s
from shared.clock import local_today
from shared.endpoints import Endpoint
from shared.nats import connect
from shared.streams import setup
from tests import people
from tests.status_client import typed

R = TypeVar("R", bound=BaseModel)


class Notifier:
    def __init__(self, nats_url: str, db_url: str, **settings: Any) -> None:
        base: dict[str, Any] = dict(
            retry_base_s=0.2,
            retry_max_s=1.0,
            max_attempts=3,
            poll_s=0.1,
            watch_interval_s=0.2,
            smtp_timeout_s=2,
            webhook_timeout_s=1,
            secret_key="the test installation's key",
            webhook_allow_private=True,  # the test's HTTP sinks are on loopback
        )
        self.settings = NotifierSettings(nats_url=nats_url, database_url=db_url, **{**base, **settings})
        self.svc: NotifierService = build(self.settings)
        self.url = nats_url
        self.nc: Any = None

    async def __aenter__(self) -> Notifier:
        await setup(self.url)
        await self.svc.prepare()
        await self.svc.broker.start()
        self.svc.relay.start()
        self.svc.worker.start()
        self.svc.clock.start()
        self.nc = await connect(self.url, "admin")
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.nc.drain()
        await self.svc.clock.stop()
        await self.svc.worker.stop()
        await self.svc.relay.stop()
        await self.svc.broker.stop()
        self.svc.engine.dispose()

    async def publish(self, subject: str, evt: m.Message, *, dedup_header: bool = True) -> None:
        headers = {"Nats-Msg-Id": evt.event_id} if dedup_header else None
        stream = subject.split(".")[0].upper()
        await self.nc.jetstream().publish(subject, evt.model_dump_json().encode(), stream=stream, headers=headers)

    async def call(self, subject: str, msg: BaseModel, *, as_: Any = None) -> m.Reply:
        if isinstance(msg, m.Message) and msg.proof is None:  # signed (tests.people)
            msg = (as_ or people.signer_for(subject, msg)).sign(subject, msg)
        answer = await self.nc.request(subject, msg.model_dump_json().encode(), timeout=10)
        return m.Reply.model_validate_json(answer.data)

    async def ok(self, subject: str, msg: BaseModel) -> dict[str, Any]:
        reply = await self.call(subject, msg)
        assert reply.ok, reply.error
        return reply.data or {}

    async def ask(self, endpoint: Endpoint[Any, R], msg: BaseModel) -> R:
        """The endpoint's reply model, checked to give back the JSON the notifier sent."""
        reply = await self.call(endpoint.subject, msg)
        assert reply.ok, reply.error
        return typed(endpoint, reply)

    async def inbox(self, party: str) -> list[dict[str, Any]]:
        box = await self.ask(E.INBOX, m.GetInbox(party=party, limit=500))
        return [n.model_dump(mode="json") for n in box.notifications]

    async def known(self, *parties: str) -> None:
        """Wait until the notifier's directory has these parties (preferences need them)."""

        def all_there() -> bool:
            with Session(self.svc.engine) as session:
                return all(session.get(Party, p) is not None for p in parties)

        await eventually(all_there, what=f"the notifier knows {', '.join(parties)}")

    async def meet(self, *parties: str) -> None:
        """Register these experts and units as the contracts service would, and wait for them."""
        for party in parties:
            kind, pid = party.split(":", 1)
            await self.publish(
                *(
                    (s.EXPERT_REGISTERED, expert(pid))
                    if kind == "expert"
                    else (
                        s.UNIT_REGISTERED,
                        m.UnitRegistered(unit=dict(id=pid, name=pid, province="Tuyên Quang", network="ok")),
                    )
                )
            )
        await self.known(*parties)

    def deliveries(self, **where: Any) -> list[Delivery]:
        with Session(self.svc.engine) as session:
            rows = session.exec(select(Delivery).order_by(Delivery.id)).all()  # type: ignore[arg-type]
        return [d for d in rows if all(getattr(d, k) == v for k, v in where.items())]

    async def stream(self, stream: str, subject: str) -> list[dict[str, Any]]:
        """Every message on `subject` in `stream` so far (an ephemeral consumer from the start)."""
        sub = await self.nc.jetstream().pull_subscribe(subject, stream=stream)
        out: list[dict[str, Any]] = []
        try:
            while True:
                msgs = await sub.fetch(100, timeout=0.5)
                out += [json.loads(msg.data) for msg in msgs]
        except TimeoutError:  # nats-py raises its own subclass, or asyncio's from inside fetch
            pass
        finally:
            await sub.unsubscribe()
        return out


async def eventually(check: Callable[[], Any], within: float = 15.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return result
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def expert(eid: str, languages: list[str] | None = None) -> m.ExpertRegistered:
    return m.ExpertRegistered(
        expert=dict(
            id=eid,
            name=f"Chuyên gia {eid}",
            home_unit="w1",
            kind="contract",
            skills={"digital_signature": 3},
            languages=languages or ["vi"],
            remote=True,
            onsite=True,
            max_travel_minutes=60,
            capacity_hours=40,
        )
    )


def approved(aid: str, eid: str, unit: str = "w1", **over: Any) -> m.AssignmentApproved:
    fields = dict(
        assignment_id=aid,
        request_id=f"r-{aid}",
        unit_id=unit,
        expert_id=eid,
        contract_id=f"c-{eid}",
        title="Cài chữ ký số",
        by="Sở Nội vụ",
        mode="remote",
        hours=4.0,
        deadline=local_today() + dt.timedelta(days=10),
        reserved_minutes=240,
        reserved_vnd=400_000,
    )
    return m.AssignmentApproved(**{**fields, **over})
