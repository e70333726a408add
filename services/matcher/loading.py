"""The matcher's side of loading a country: reference data a chunk per event, requests many per
command.

`register(svc, changing)` adds to a built matcher the consumer of `contracts.reference.registered`
(`handlers.copy_reference`: one short transaction per chunk of a registration, instead of one per
unit, expert, contract and balance) and the `matcher.requests.submit` command
(`handlers.submit_requests`: up to 500 requests signed once, each answered on its own, announced in
one `matcher.requests.submitted` event). Both raise
the plan's change counter in their transaction, as every other change does (`app.changing`).

It is called by `python -m services.matcher` and the test harness until the composition root
(`app.build`) calls it itself; a second call changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlmodel import Session

from services.matcher import handlers as h
from shared import messages as m
from shared import subjects as s
from shared.clock import local_today
from shared.security.credentials import Actor
from shared.service import Permit, Service
from shared.streams import stream_for

PERMITS = {s.REQUESTS_SUBMIT: Permit.of("commune", "staff", "admin", owner=h.the_units)}


def register(svc: Service, changing: Callable[[Callable[..., Any]], Callable[..., Any]]) -> None:
    if any(c.config.filter_subject == s.REFERENCE_REGISTERED for c in svc.consumers):
        return
    offset = svc.settings.timezone_offset_hours  # type: ignore[attr-defined]

    def submit_many(session: Session, cmd: m.SubmitRequests, actor: Actor) -> m.Reply:
        return h.submit_requests(session, cmd, actor, today=local_today(offset))

    svc.broker.publisher(s.REQUESTS_SUBMITTED, stream=stream_for("matcher"), schema=m.RequestsSubmitted,
                         description="The requests one bulk submission took, in one event.")
    svc.command(s.REQUESTS_SUBMIT, m.SubmitRequests, changing(submit_many), permit=PERMITS[s.REQUESTS_SUBMIT],
                description="Many requests at once (a load, a spreadsheet): each is answered on its own.")
    svc.event(s.REFERENCE_REGISTERED, m.ReferenceRegistered, changing(h.copy_reference), name="reference",
              description="Copy of a chunk of registered units, travel, experts, contracts and balances.")
