"""The CLI's inbox shows Vietnam's wall clock with the zone, as the portal does (issue 15: it
showed UTC without saying so)."""

from __future__ import annotations

import io

from rich.console import Console

from cli import views
from shared import messages as m


def test_inbox_times_are_vietnam_time_with_the_zone(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    out = io.StringIO()
    monkeypatch.setattr(views, "console", Console(file=out, width=80))
    views.print_inbox(
        "unit:w1",
        m.InboxView(
            unread=1,
            notifications=[
                m.NotificationView(
                    id="1",
                    kind="assignment_accepted",
                    created_at="2026-12-01T20:30:00+00:00",
                    subject="Đã có chuyên gia",
                    body="e1",
                    language="vi",
                    read=False,
                    source_event_id="x1",
                )
            ],
        ),
    )
    line = next(x for x in out.getvalue().splitlines() if "Đã có chuyên gia" in x)
    assert "2026-12-02 03:30 (UTC+7)" in line and "20:30" not in line


def test_contract_ids_sort_naturally() -> None:
    assert sorted(["c10", "c2", "c0", "c1", "s3", "c11"], key=views.natural) == ["c0", "c1", "c2", "c10", "c11", "s3"]
