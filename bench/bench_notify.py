"""The notifier's own cost of telling one proposal, offline: its handler's transaction and nothing
else (no broker, no relay), on a fresh SQLite database whose directory holds a country's parties
(3,321 communes, 2,000 experts).

A re-plan's write sends proposals in bursts, and the notifier tells them one after another: this
is the part of each that is the notifier's own work (`docs/performance.md`, issue 14's sixth
session). The live figure, with everything else, is `bench_live.py --during-replan`'s.

    .venv/bin/python -m bench.bench_notify                # 600 proposals, the first 100 to warm up
    .venv/bin/python -m bench.bench_notify --count 2000
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import tempfile
import time
from functools import partial
from pathlib import Path

if __package__ in (None, ""):  # run as a file: the repository's root is where `bench` is
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlmodel import Session  # noqa: E402

from services.notifier import handlers as h  # noqa: E402
from services.notifier.db import Party, create_schema  # noqa: E402
from shared import messages as m  # noqa: E402
from shared import subjects as s  # noqa: E402
from shared.bus import run_once  # noqa: E402
from shared.db import make_engine  # noqa: E402
from shared.scenario import Request  # noqa: E402

UNITS, EXPERTS = 3321, 2000


def proposal(i: int) -> m.AssignmentProposed:
    request = Request(
        id=f"r{i}",
        unit=f"u{i % UNITS}",
        title="Chữ ký số",
        skills={"digital_signature": 2},
        mode="either",
        hours=4,
        priority=3,
        deadline=dt.date(2026, 12, 20),
    )
    return m.AssignmentProposed(
        assignment_id=f"a{i}",
        request=request,
        expert_id=f"e{i % EXPERTS}",
        expert_name=f"Chuyên gia {i % EXPERTS}",
        contract_id=f"c{i % EXPERTS}",
        mode="remote",
        travel_minutes=0,
        minutes=240,
        cost_vnd=400_000,
        explanation={"summary": "the closest expert with the skill"},
    )


def _tell(evt: m.AssignmentProposed, session: Session) -> None:
    h.assignment_proposed(session, evt)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--count", type=int, default=600, help="proposals told, the first 100 not timed")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite:///{tmp}/notifier.db")
        create_schema(engine)
        with Session(engine) as session:
            session.add_all(Party(id=f"unit:u{i}", name=f"Xã {i}") for i in range(UNITS))
            session.add_all(Party(id=f"expert:e{i}", name=f"Chuyên gia {i}") for i in range(EXPERTS))
            session.commit()
        events = [proposal(i) for i in range(args.count)]
        took = []
        for evt in events:
            began = time.perf_counter()
            run_once(
                engine,
                f"proposed:{evt.event_id}",
                s.ASSIGNMENT_PROPOSED,
                partial(_tell, evt),
            )
            took.append(time.perf_counter() - began)
        engine.dispose()
    timed = sorted(took[100:]) or sorted(took)
    mean = sum(timed) / len(timed)
    p99 = timed[min(len(timed) - 1, int(0.99 * len(timed)))]
    print(f"{len(timed)} proposals told (staff and commune each): mean {mean * 1000:.2f} ms, p99 {p99 * 1000:.2f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
