"""The alternatives staff see beside a proposal: the best few experts for one request.

Built from the same scenario a re-plan would see (`planner.snapshot`), answered by the engine's
candidate index without a full solve. The index of the last snapshot is kept (keyed by the
snapshot's digest), so the proposals board asking about request after request pays for building
it once per change, then milliseconds per request.
"""

from __future__ import annotations

import datetime as dt

from sqlmodel import Session

from services.matcher.db import RequestRow
from services.matcher.planner import digest, snapshot
from services.matcher.solver.candidates import Index
from shared import messages as m
from shared.bus import Rejected
from shared.scenario import Scenario


def candidates(session: Session, q: m.GetCandidates, *, today: dt.date) -> m.Reply[m.CandidatesView]:
    row = session.get(RequestRow, q.request_id)
    if row is None:
        raise Rejected(f"no request {q.request_id}", "request_id")
    # `keep` so a request staff assigned by hand still shows who else could have taken it.
    snap = snapshot(session, today, keep=q.request_id)
    if q.request_id not in snap.requests:
        raise Rejected(f"request {q.request_id} is {row.status}: it has no alternatives any more", "request_id")
    names = {e.id: e.name for e in snap.scenario.experts}
    # Its own pending or approved proposal is pinned in a re-plan; the index gives back what the
    # request itself holds, or the only option left for it would be the expert already proposed.
    found = index_of(snap.scenario).best(q.request_id, limit=q.limit)
    return m.Reply.of(
        m.CandidatesView(
            request_id=q.request_id,
            candidates=[
                m.CandidateView(
                    expert=c.expert,
                    expert_name=names.get(c.expert, c.expert),
                    contract=c.contract,
                    slot=c.slot,
                    mode=c.mode,
                    travel_minutes=c.travel_minutes,
                    hours=round(c.minutes / 60, 2),
                    cost_vnd=c.cost_vnd,
                    score=c.score,
                    fits_now=c.fits_now,
                    displaces=c.displaces,
                )
                for c in found
            ],
        )
    )


_last: dict[str, Index] = {}


def index_of(scenario: Scenario) -> Index:
    _, sha = digest(scenario)
    if sha not in _last:
        _last.clear()
        _last[sha] = Index(scenario)
    return _last[sha]
