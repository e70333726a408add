"""The inbox, and the one door every notification goes through (`tell`; `notify` for one party).

`tell` runs inside the consuming handler's transaction: it writes the inbox row, and for each
external channel the party chose either queues a send (`Delivery`, worked later by the delivery
worker, never in this transaction) or holds the notification for the party's daily digest. A
repeated event finds its row by (event id, party, kind) and adds nothing.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlmodel import Session, col, func, select

from services.notifier.db import Delivery, DigestItem, Notification
from services.notifier.directory import Directory
from services.notifier.preferences import channels_of
from services.notifier.templates import html_body, render
from shared import messages as m
from shared import subjects as s
from shared.db import add_event, insert_absent, table_of, utcnow
from shared.limits import BODY, TITLE, clip

NOTIFICATION = table_of(Notification)


@dataclass(frozen=True)
class InLanguage:
    """A field of a message worded apart in each language (the party's is put in the message)."""

    vi: str
    en: str

    def said(self, language: str) -> str:
        return self.en if language == "en" else self.vi


@dataclass(frozen=True)
class Note:
    """One party to tell of an event, in which words (the template `kind`) and with what fields."""

    party: str
    kind: str
    fields: Mapping[str, Any]


def notify(session: Session, evt: m.Message, party: str, kind: str, **fields: Any) -> int | None:
    """Tell one party; the notification's id, or None if this event told it this already."""
    return tell(session, evt, [Note(party, kind, fields)])[0]


def tell(
    session: Session, evt: m.Message, notes: Sequence[Note], directory: Directory | None = None
) -> list[int | None]:
    """Tell each note's party of `evt`, once: a party already told this of this event (a repeated
    event, a repeated check of the clock's) is skipped by the database's unique key. The parties'
    languages and preferences are read at once (`directory`, when the handler has read it for the
    names already)."""
    known = directory or Directory.read(session, (n.party for n in notes))
    return [_write(session, evt, n, known) for n in notes]


def _write(session: Session, evt: m.Message, to: Note, known: Directory) -> int | None:
    party, kind = to.party, to.kind
    pref, language = known.preference(party), known.language(party)
    said = {k: v.said(language) if isinstance(v, InLanguage) else v for k, v in to.fields.items()}
    subject, body = render(kind, language, **said)
    # Clipped here, where input becomes words: no event can grow an inbox past what a reply carries.
    row = dict(
        party=party,
        kind=kind,
        language=language,
        subject=clip(subject, TITLE),
        body=clip(body, BODY),
        source_event_id=evt.event_id,
        read=False,
        created_at=utcnow(),
    )
    note_id: int | None = insert_absent(session, NOTIFICATION, row, returning=NOTIFICATION.c.id)
    if note_id is None:
        return None  # told already
    add_event(
        session,
        s.NOTIFICATION_DELIVERED,
        evt.caused(
            m.NotificationDelivered,
            notification_id=str(note_id),
            party=party,
            channel="inbox",
            kind=kind,
            source_event_id=evt.event_id,
        ),
    )
    if pref and pref.digest and channels_of(pref):
        session.add(DigestItem(notification_id=note_id, party=party))
    else:
        for channel in channels_of(pref):
            enqueue(session, Notification.model_validate(dict(row, id=note_id)), channel, event=evt)
    return note_id


def webhook_body(
    *,
    key: str,
    kind: str,
    party: str,
    language: str,
    subject: str,
    text: str,
    notification_id: int | None,
    source_event_id: str,
    event: Any = None,
    **extra: Any,
) -> str:
    """The JSON a webhook receives: the rendered words, and the event itself for machines."""
    body = dict(
        delivery=key,
        kind=kind,
        party=party,
        language=language,
        subject=subject,
        text=text,
        notification_id=notification_id,
        source_event_id=source_event_id,
        **extra,
    )
    if event is not None:
        body.update(event_type=type(event).__name__, event=event.model_dump(mode="json"))
    return json.dumps(body, ensure_ascii=False, sort_keys=True)


def enqueue(session: Session, note: Notification, channel: str, *, event: m.Message) -> None:
    key = f"n:{note.id}:{channel}"
    session.add(
        Delivery(
            key=key,
            party=note.party,
            channel=channel,
            kind=note.kind,
            notification_id=note.id,
            source_event_id=note.source_event_id,
            subject=note.subject,
            text=note.body,
            html=html_body(note.subject, note.body),
            payload=webhook_body(
                key=key,
                kind=note.kind,
                party=note.party,
                language=note.language,
                subject=note.subject,
                text=note.body,
                notification_id=note.id,
                source_event_id=note.source_event_id,
                created_at=note.created_at.isoformat(),
                event=event,
            ),
        )
    )


# ------------------------------------------------------------------ reading the inbox
def inbox(session: Session, q: m.GetInbox) -> m.Reply[m.InboxView]:
    stmt = select(Notification).where(Notification.party == q.party)
    if q.unread_only:
        stmt = stmt.where(col(Notification.read).is_(False))
    rows = session.exec(stmt.order_by(col(Notification.id).desc()).limit(q.limit)).all()
    unread = session.exec(
        select(func.count())
        .select_from(Notification)
        .where(Notification.party == q.party, col(Notification.read).is_(False))
    ).one()
    return m.Reply.of(
        m.InboxView(
            unread=unread,
            notifications=[
                m.NotificationView(
                    id=str(n.id),
                    kind=n.kind,
                    subject=n.subject,
                    body=n.body,
                    language=n.language,
                    read=n.read,
                    created_at=n.created_at.isoformat(),
                    source_event_id=n.source_event_id,
                )
                for n in rows
            ],
        )
    )


def mark_read(session: Session, cmd: m.MarkRead) -> m.Reply[m.MarkedRead]:
    ids = [int(i) for i in cmd.notification_ids if i.isdigit()]
    stmt = select(Notification).where(Notification.party == cmd.party)
    if ids:
        stmt = stmt.where(col(Notification.id).in_(ids))
    changed = 0
    for n in session.exec(stmt):
        if not n.read:
            n.read = True
            session.add(n)
            changed += 1
    return m.Reply.of(m.MarkedRead(marked=changed))
