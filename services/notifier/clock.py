"""The notifier's clock: every `watch_interval_s`, the checks that time alone triggers.

Reminders, escalations, contract expiry warnings and digests are written in one transaction per
item, which claims the item's rows (`FOR UPDATE SKIP LOCKED`): with several copies ticking at once
each item is done by one of them, and an item that fails undoes no other (it is logged and tried
again on the next tick). A task past its last limit is declined for its expert by the contracts
service's own decline command, sent over NATS as the system, so the request goes back to
matching exactly as if the expert had declined.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable
from typing import Any

import structlog
from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from services.notifier import watch
from services.notifier.digest import make_digest, waiting_parties
from services.notifier.settings import NotifierSettings
from shared import messages as m
from shared import subjects as s
from shared.bus import in_thread
from shared.clock import local_day
from shared.db import transaction, utcnow
from shared.parties import STAFF
from shared.security import credentials

log = structlog.get_logger("notifier.clock")


def limits_of(st: NotifierSettings) -> watch.Limits:
    return watch.Limits(
        remind=dt.timedelta(seconds=st.remind_after_s),
        escalate=dt.timedelta(seconds=st.escalate_after_s),
        decline=dt.timedelta(seconds=st.decline_after_s),
    )


class Clock:
    def __init__(
        self,
        engine: Engine,
        broker: Any,
        settings: NotifierSettings,
        on_written: Callable[[], None] = lambda: None,
    ) -> None:
        self.engine, self.broker, self.st = engine, broker, settings
        self.limits = limits_of(settings)
        self.on_written = on_written  # wakes the outbox relay and the delivery worker
        self._task: asyncio.Task[None] | None = None
        self.ticks = 0  # checks completed since start

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="notifier-clock")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _run(self) -> None:
        while True:
            try:
                await self.tick()
            except Exception:  # noqa: BLE001 - e.g. the database briefly away: next tick
                log.exception("clock_tick_failed")
            await asyncio.sleep(self.st.watch_interval_s)

    async def tick(self, now: dt.datetime | None = None) -> None:
        now = now or utcnow()
        to_decline = await in_thread(self._checks, now)
        self.on_written()
        for w in to_decline:
            declined = await self._decline(w)
            if declined is not None:
                await in_thread(self._closed, w.assignment_id, declined)
        if to_decline:
            self.on_written()
        self.ticks += 1

    def _checks(self, now: dt.datetime) -> list[Any]:
        st = self.st
        with Session(self.engine) as session:
            answers = watch.open_answers(session)
        declining = self._each(
            "answer", answers, lambda s, aid: watch.advance_answer(s, aid, now=now, limits=self.limits, staff=STAFF)
        )
        today = local_day(now, st.timezone_offset_hours)
        with Session(self.engine) as session:
            contracts = watch.expiring(session, today=today, days=st.expiry_warning_days)
        self._each(
            "expiry_warning",
            contracts,
            lambda s, cid: watch.warn_expiring(s, cid, today=today, days=st.expiry_warning_days, staff=STAFF),
        )
        period_s, offset_s = st.digest_period_s, st.digest_offset_s
        with Session(self.engine) as session:
            parties = waiting_parties(session, now=now, period_s=period_s, offset_s=offset_s)
        self._each(
            "digest",
            parties,
            lambda s, party: make_digest(
                s, party, now=now, period_s=period_s, offset_s=offset_s, tz_hours=st.timezone_offset_hours
            ),
        )
        return [w for w in declining if w is not None]

    def _each(self, what: str, keys: list[str], work: Callable[[Session, str], Any]) -> list[Any]:
        """`work` for each key in a transaction of its own, which claims the key's rows: each item is
        done by one copy, and one that fails (logged, tried again next tick) undoes no other."""
        done = []
        for key in keys:
            try:
                with transaction(self.engine) as session:
                    done.append(work(session, key))
            except IntegrityError:  # another copy's clock wrote it first: done, once
                log.info("clock_item_done_elsewhere", what=what, key=key)
            except Exception:  # noqa: BLE001 - this item again next tick; the others stand
                log.exception("clock_item_failed", what=what, key=key)
        return done

    async def _decline(self, w: Any) -> bool | None:
        """True: declined; False: refused (the expert answered meanwhile); None: ask again later."""
        try:
            # The system's own command, signed by the notifier's identity: contracts accepts a
            # decline for an unanswered task from nobody else.
            cmd = credentials.sign(
                s.ASSIGNMENT_DECLINE,
                watch.decline_command(w, self.limits),
                credentials.service_seed("notifier"),
                service="notifier",
            )
            msg = await self.broker.request(cmd, s.ASSIGNMENT_DECLINE, timeout=10.0)
            reply: m.Reply[Any] = m.Reply.model_validate_json(msg.body)
        except Exception as err:  # noqa: BLE001 - contracts down or slow: the same command next tick
            log.warning(
                "auto_decline_unanswered",
                assignment=w.assignment_id,
                error=f"{type(err).__name__}: {err}",
            )
            return None
        log.info("auto_decline", assignment=w.assignment_id, ok=reply.ok, error=reply.error)
        if not reply.ok and any(f.field == "proof" for f in reply.field_errors):
            return None  # our signature was refused (a key being replaced): not the expert's answer
        return reply.ok

    def _closed(self, assignment_id: str, declined: bool) -> None:
        with transaction(self.engine) as session:
            watch.closed_by_system(session, assignment_id, declined=declined, limits=self.limits)
