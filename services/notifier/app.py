"""Composition root of the notifier service: which event tells which party, and the background
tasks that deliver on external channels (`worker.py`) and act on time (`clock.py`).

The notifier listens to the matcher's and the contracts service's events and keeps an inbox per
party (`expert:<id>`, `unit:<id>`, `staff:home-affairs`), in the party's language; email and
webhook sends are queued in the same transaction and worked outside it.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial

import structlog
from sqlalchemy import Engine
from sqlmodel import Session

from services.notifier import handlers as h
from services.notifier import inbox, metrics, preferences, queue
from services.notifier.channels import Channel, SmtpChannel, WebhookChannel
from services.notifier.clock import Clock
from services.notifier.db import create_schema
from services.notifier.sealed import Sealer, seal_plaintext
from services.notifier.settings import NotifierSettings
from services.notifier.worker import DeliveryWorker
from shared import catalogue, parties
from shared import endpoints as E
from shared import messages as m
from shared import subjects as s
from shared.bus import Rejected
from shared.security.credentials import Actor
from shared.service import Permit, Service

log = structlog.get_logger("notifier")

EVENTS = catalogue.events("notifier")


class NotifierService(Service):
    worker: DeliveryWorker
    clock: Clock


def channels_of(st: NotifierSettings) -> dict[str, Channel]:
    return {
        "email": SmtpChannel(
            st.smtp_host,
            st.smtp_port,
            st.smtp_sender,
            username=st.smtp_username,
            password=st.smtp_password,
            starttls=st.smtp_starttls,
            timeout=st.smtp_timeout_s,
        ),
        "webhook": WebhookChannel(st.webhook_timeout_s, allow_private=st.webhook_allow_private),
    }


def build(settings: NotifierSettings | None = None, channels: Mapping[str, Channel] | None = None) -> NotifierService:
    st = settings or NotifierSettings()
    sealer = Sealer(st.secret)

    def schema(engine: Engine) -> None:
        create_schema(engine)
        if sealed := seal_plaintext(engine, sealer):
            log.info("webhook_secrets_sealed", count=sealed)

    svc = NotifierService(st, events=EVENTS, create_schema=schema)
    svc.gauges(metrics.gauges)
    svc.worker = DeliveryWorker(
        svc.engine,
        channels or channels_of(st),
        sealer=sealer,
        concurrency=st.concurrency,
        poll_s=st.poll_s,
        lease_s=st.lease_s,
        backoff=queue.Backoff(st.retry_base_s, st.retry_max_s, st.max_attempts),
        on_recorded=svc.relay.notify,
    )

    def written() -> None:
        svc.relay.notify()
        svc.worker.notify()

    svc.clock = Clock(svc.engine, svc.broker, st, on_written=written)
    svc.background(svc.worker.start)
    svc.background(svc.clock.start)

    async def after_event(_subject: str, _evt: m.Message) -> None:
        svc.worker.notify()  # sends were queued in the handler's transaction: start them now

    svc.after_event = after_event
    _commands(svc, sealer, st)
    for subject, model, use_case, name, description in (
        (
            s.REFERENCE_REGISTERED,
            m.ReferenceRegistered,
            partial(h.reference_registered, ratio=st.low_balance_ratio),
            "reference",
            "A chunk of a registration: names, contracts' ends and balances.",
        ),
        (s.UNIT_REGISTERED, m.UnitRegistered, h.remember_unit, "units", "Names of communes."),
        (
            s.EXPERT_REGISTERED,
            m.ExpertRegistered,
            h.remember_expert,
            "experts",
            "Names and languages of experts.",
        ),
        (
            s.CONTRACT_REGISTERED,
            m.ContractRegistered,
            h.contract_registered,
            "contracts",
            "When contracts end, to warn staff 14 days before.",
        ),
        (
            s.CONTRACT_STATUS_CHANGED,
            m.ContractStatusChanged,
            h.contract_status_changed,
            "contract_status",
            "Contracts terminated or expired are not warned about.",
        ),
        (
            s.REQUEST_SUBMITTED,
            m.RequestSubmitted,
            h.request_submitted,
            "submitted",
            "Commune: request received.",
        ),
        (
            s.REQUESTS_SUBMITTED,
            m.RequestsSubmitted,
            h.requests_submitted,
            "submissions",
            "Communes: requests received, many at once (a load).",
        ),
        (
            s.ASSIGNMENT_PROPOSED,
            m.AssignmentProposed,
            h.assignment_proposed,
            "proposed",
            "Staff: a proposal waits; commune: an expert was found.",
        ),
        (
            s.PLAN_OVERCOMMITTED,
            m.PlanOvercommitted,
            h.plan_overcommitted,
            "overcommitted",
            "Staff: approved work over its limits, or proposals let go.",
        ),
        (
            s.REQUEST_UNMATCHED,
            m.RequestUnmatched,
            h.request_unmatched,
            "unmatched",
            "Commune and staff: no expert yet.",
        ),
        (
            s.ASSIGNMENT_APPROVED,
            m.AssignmentApproved,
            h.approved,
            "approved",
            "Expert: a new task (watched until answered); commune: approved.",
        ),
        (
            s.ASSIGNMENT_ACCEPTED,
            m.AssignmentAccepted,
            h.accepted,
            "accepted",
            "Commune and staff: accepted.",
        ),
        (
            s.ASSIGNMENT_DECLINED,
            m.AssignmentDeclined,
            h.declined,
            "declined",
            "Commune and staff: declined.",
        ),
        (
            s.ASSIGNMENT_CANCELLED,
            m.AssignmentCancelled,
            h.cancelled,
            "cancelled",
            "Expert: task cancelled.",
        ),
        (s.HOURS_LOGGED, m.HoursLogged, h.hours_logged, "hours", "Commune: hours worked."),
        (
            s.HOURS_FLAGGED,
            m.HoursFlagged,
            h.hours_flagged,
            "hours_flagged",
            "Staff: hours logged beyond the reservation wait for approval or refusal.",
        ),
        (
            s.REQUEST_COMPLETED,
            m.RequestCompleted,
            h.completed,
            "completed",
            "Everyone: request completed.",
        ),
        (
            s.BALANCE_CHANGED,
            m.BalanceChanged,
            partial(h.balance_changed, ratio=st.low_balance_ratio),
            "balances",
            "Staff: a contract under 10% of its hours or budget.",
        ),
    ):
        svc.event(subject, model, use_case, name=name, description=description)
    return svc


def _own_party(_session: Session, cmd: m.MarkRead | m.SetPreferences, actor: Actor) -> None:
    """Ownership: a party's inbox and preferences are its own (staff and admins may act for any)."""
    if not actor.is_staff() and cmd.party != actor.party:
        raise Rejected(f"you act as {actor.party}; not {cmd.party}'s", "party", code=m.Refusal.NOT_YOURS)


STAFF = ("staff", "admin")
# Who may send each command (the roles), and whose it must be (the ownership check).
PERMITS: dict[str, Permit] = {
    s.INBOX_MARK_READ: Permit.of("commune", "expert", *STAFF, owner=_own_party),
    s.PREFERENCES_SET: Permit.of("commune", "expert", *STAFF, owner=_own_party),
    s.DELIVERIES_RETRY: Permit.of(*STAFF),
}


def _commands(svc: Service, sealer: Sealer, st: NotifierSettings) -> None:
    svc.query(E.INBOX, inbox.inbox, description="A party's notifications, newest first.")
    svc.command(
        E.INBOX_MARK_READ,
        lambda session, cmd, _actor: inbox.mark_read(session, cmd),
        description="Mark a party's notifications read.",
        permit=PERMITS[s.INBOX_MARK_READ],
    )
    svc.command(
        E.PREFERENCES_SET,
        lambda session, cmd, _actor: preferences.set_preferences(
            session, cmd, sealer=sealer, staff=st.staff() | {parties.STAFF}, allow_private=st.webhook_allow_private
        ),
        description="Set a party's channels, language, addresses and digest choice (the secret sealed).",
        permit=PERMITS[s.PREFERENCES_SET],
    )
    svc.query(
        E.PREFERENCES,
        preferences.get_preferences,
        description="A party's notification preferences (never the webhook secret).",
    )
    svc.query(
        E.DELIVERIES,
        queue.list_deliveries,
        description="Email and webhook sends, e.g. the failed ones.",
    )
    svc.command(
        E.DELIVERIES_RETRY,
        lambda session, cmd, _actor: queue.retry(session, cmd),
        description="Send failed deliveries again (named ones, or all).",
        permit=PERMITS[s.DELIVERIES_RETRY],
    )
