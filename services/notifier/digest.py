"""Daily digests: for a party who asked, one message per period instead of one per event.

Notifications held for a digest (`DigestItem`) are gathered at the first check after a period's
boundary; only those created before the boundary go in, so a digest is never sent mid-period.
One digest per party per period (a unique key), made in a transaction of its own with the
party's held items claimed, so two instances or a repeated check send one, and a failure for one
party holds back no other's.
"""

from __future__ import annotations

import datetime as dt

from sqlmodel import Session, col, select

from services.notifier.db import Delivery, Digest, DigestItem, Notification, Preference
from services.notifier.inbox import webhook_body
from services.notifier.preferences import channels_of, language_of
from services.notifier.templates import html_body, render
from shared import clock


def period_of(now: dt.datetime, *, period_s: float, offset_s: float) -> tuple[int, dt.datetime]:
    """The period `now` falls in, and when it began."""
    n = int((now.timestamp() - offset_s) // period_s)
    return n, dt.datetime.fromtimestamp(n * period_s + offset_s, dt.UTC)


def waiting_parties(session: Session, *, now: dt.datetime, period_s: float, offset_s: float) -> list[str]:
    """Parties with notifications held from before the current period's boundary."""
    _, boundary = period_of(now, period_s=period_s, offset_s=offset_s)
    held = session.exec(
        select(DigestItem.party)
        .join(Notification, col(Notification.id) == DigestItem.notification_id)
        .where(DigestItem.digest_id == None, Notification.created_at < boundary)  # noqa: E711
        .distinct()
    )
    return sorted(held)


def make_digest(
    session: Session, party: str, *, now: dt.datetime, period_s: float, offset_s: float, tz_hours: int = 7
) -> bool:
    """The party's digest of the period just closed, if not made yet. Its held items are claimed
    (`FOR UPDATE SKIP LOCKED`): a copy that finds them held by another leaves the digest to it."""
    period, boundary = period_of(now, period_s=period_s, offset_s=offset_s)
    items = session.exec(
        select(DigestItem, Notification)
        .join(Notification, col(Notification.id) == DigestItem.notification_id)
        .where(
            DigestItem.party == party,
            DigestItem.digest_id == None,  # noqa: E711
            Notification.created_at < boundary,
        )
        .order_by(col(Notification.id))
        .with_for_update(of=DigestItem, skip_locked=True)
    ).all()
    if not items:
        return False
    done = session.exec(select(Digest).where(Digest.party == party, Digest.period == period)).first()
    if done is not None:
        return False
    digest = Digest(party=party, period=period)
    session.add(digest)
    session.flush()
    for item, _ in items:
        item.digest_id = digest.id
        session.add(item)
    _queue(
        session,
        digest,
        [n for _, n in items],
        local_day=clock.local_day(boundary, tz_hours),
    )
    return True


def _queue(session: Session, digest: Digest, notes: list[Notification], *, local_day: dt.date) -> None:
    language = language_of(session, digest.party)
    items = "\n\n".join(f"• {n.subject}\n  " + "\n  ".join(n.body.splitlines()) for n in notes)
    subject, body = render("digest", language, count=len(notes), date=local_day, items=items)
    for channel in channels_of(session.get(Preference, digest.party)):
        key = f"d:{digest.id}:{channel}"
        session.add(
            Delivery(
                key=key,
                party=digest.party,
                channel=channel,
                kind="digest",
                notification_id=None,
                source_event_id=f"digest-{digest.id}",
                subject=subject,
                text=body,
                html=html_body(subject, body),
                payload=webhook_body(
                    key=key,
                    kind="digest",
                    party=digest.party,
                    language=language,
                    subject=subject,
                    text=body,
                    notification_id=None,
                    source_event_id=f"digest-{digest.id}",
                    notification_ids=[n.id for n in notes],
                ),
            )
        )
