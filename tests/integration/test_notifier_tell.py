"""`inbox.tell`, the one door every notification goes through: each party told once per event and
kind (the database's unique key, no read first), in its language (its preference, else the
directory's), its external channels queued; on SQLite and PostgreSQL."""

from __future__ import annotations

from sqlmodel import Session, col, select

from services.notifier.db import Delivery, Notification, Party, Preference, create_schema
from services.notifier.inbox import Note, tell
from shared import messages as m
from shared.db import OutboxRow, make_engine, transaction


def _event() -> m.RequestUnmatched:
    return m.RequestUnmatched(
        request_id="r1", unit_id="u1", title="Chữ ký số", reason_code="no_option", reason="no expert within reach"
    )


FIELDS = dict(request_id="r1", title="Chữ ký số", unit_name="Xã Thượng Lâm", reason="-")


def test_each_party_is_told_once_per_event_and_kind_in_its_language(db_url: str) -> None:
    engine = make_engine(db_url)
    create_schema(engine)
    with transaction(engine) as session:
        session.add(Party(id="unit:u1", name="Xã Thượng Lâm", language="vi"))
        session.add(Party(id="expert:e1", name="Jane", language="vi"))
        session.add(
            Preference(party="expert:e1", language="en", channels="email", email="jane@example.org", digest=False)
        )
    evt = _event()
    with transaction(engine) as session:
        ids = tell(
            session,
            evt,
            [
                Note("unit:u1", "request_unmatched", FIELDS),
                Note("expert:e1", "request_unmatched", FIELDS),
                Note("unit:u1", "request_unmatched", FIELDS),  # the same party and kind again
            ],
        )
    assert ids[0] is not None and ids[1] is not None and ids[2] is None
    with transaction(engine) as session:  # the same event again (a clock's check repeated)
        assert tell(session, evt, [Note("unit:u1", "request_unmatched", FIELDS)]) == [None]
    with Session(engine) as session:
        notes = session.exec(select(Notification).order_by(col(Notification.id))).all()
        assert [(n.party, n.language) for n in notes] == [("unit:u1", "vi"), ("expert:e1", "en")]
        sends = session.exec(select(Delivery)).all()
        assert [(d.party, d.channel, d.notification_id) for d in sends] == [("expert:e1", "email", ids[1])]
        told = session.exec(select(OutboxRow.payload)).all()
        assert len(told) == 2, "one NotificationDelivered per notification written"
    engine.dispose()
