"""The alternatives staff see beside a proposal: the best few experts for one request.

Built from the same scenario a re-plan would see (`planner.snapshot`), answered by the engine's
`candidates` without a full solve, so the proposals board can ask for it on every page view.
"""

from __future__ import annotations

import datetime as dt

from sqlmodel import Session

from services.matcher.db import RequestRow
from services.matcher.planner import snapshot
from services.matcher.solver.candidates import candidates as best_candidates
from shared import messages as m
from shared.bus import Rejected


def candidates(session: Session, q: m.GetCandidates, *, today: dt.date) -> m.Reply:
    row = session.get(RequestRow, q.request_id)
    if row is None:
        raise Rejected(f"no request {q.request_id}", "request_id")
    # `keep` so a request staff assigned by hand still shows who else could have taken it.
    snap = snapshot(session, today, keep=q.request_id)
    if q.request_id not in snap.requests:
        raise Rejected(f"request {q.request_id} is {row.status}: it has no alternatives any more", "request_id")
    names = {e.id: e.name for e in snap.scenario.experts}
    # Its own pending or approved proposal is pinned in a re-plan; unpinned here, or the only
    # option left for it would be the expert already proposed.
    free = snap.scenario.model_copy(update={
        "pinned": [p for p in snap.scenario.pinned if p.request != q.request_id]})
    found = best_candidates(free, q.request_id, limit=q.limit)
    return m.Reply.success(request_id=q.request_id, candidates=[
        {"expert": c.expert, "expert_name": names.get(c.expert, c.expert), "contract": c.contract,
         "slot": c.slot, "mode": c.mode, "travel_minutes": c.travel_minutes, "hours": round(c.minutes / 60, 2),
         "cost_vnd": c.cost_vnd, "score": c.score, "fits_now": c.fits_now, "displaces": c.displaces}
        for c in found
    ])
