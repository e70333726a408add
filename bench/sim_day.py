"""A replayed day without the running system: the live matcher's decisions simulated in one
process, to compare placement policies on many seeds in seconds (`bench_replay` needs minutes
per seed and the whole system). An approximation, not a measurement of the system.

What it keeps of the live matcher: each request decided at its arrival by `placement.decide` (the
same code, the same room), staff approving each proposal after `--approve-after` s (uniform between
half and one and a half times it), the same declines (`bench_replay.declines`), an accepted task
completed after about `--answer-after` + `--work-after` s (its contract's concurrent slot free
again, its hours spent), a declined request placed again at once without that expert; and, with
`--replan` s, a background re-plan every that many seconds of the day: `solve` on the requests not
completed, approved work pinned, pending proposals as the hint; its result applied at once (pending
proposals it moves are withdrawn and proposed again, uncovered requests it covers are proposed,
where they fit the room left). What it leaves out: the re-plan's solving time, the broker, and
requests completed whole by their first task.

    .venv/bin/python -m bench.sim_day --seeds 1-8
    .venv/bin/python -m bench.sim_day --seeds 1-8 --replan 1.5
    .venv/bin/python -m bench.sim_day --seeds 1-16 --history 200   # a day seen before this one
"""

from __future__ import annotations

import argparse
import heapq
import random
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from bench.bench_replay import DAY_S, SIZES, declines, hindsight, hindsight_scenario  # noqa: E402
from services.matcher import placement as pl  # noqa: E402
from services.matcher import scarcity  # noqa: E402
from services.matcher.solver import solve  # noqa: E402
from services.matcher.solver.hint import Hint  # noqa: E402
from services.matcher.solver.limits import DEFAULT_WEIGHTS  # noqa: E402
from shared.scenario import Pin, Request, Scenario, minutes  # noqa: E402

LIVE = ("pending", "approved", "accepted")


@dataclass
class Prop:
    request: str
    slot: int
    expert: str
    contract: str
    minutes: int
    cost: int
    status: str = "pending"


@dataclass
class Sim:
    sc: Scenario
    args: argparse.Namespace
    ref: pl.Reference
    room: pl.Room
    rng: random.Random
    now: float = 0.0
    events: list[tuple[float, int, str, Any]] = field(default_factory=list)
    seq: int = 0
    requests: dict[str, Request] = field(default_factory=dict)
    props: list[Prop] = field(default_factory=list)
    banned: dict[str, set[str]] = field(default_factory=dict)
    completed: set[str] = field(default_factory=set)
    freed: dict[str, int] = field(default_factory=dict)
    declined: set[tuple[str, str]] = field(default_factory=set)
    unmatched_at_arrival: set[str] = field(default_factory=set)

    def at(self, delay: float, kind: str, data: Any) -> None:
        self.seq += 1
        heapq.heappush(self.events, (self.now + delay, self.seq, kind, data))

    def later(self, mean: float) -> float:
        return mean * self.rng.uniform(0.5, 1.5)

    def live(self, rid: str) -> list[Prop]:
        return [p for p in self.props if p.request == rid and p.status in LIVE]

    def take(self, p: Prop, sign: int = 1) -> None:
        self.room.take(self.ref.e_pos[p.expert], self.ref.c_pos[p.contract], p.minutes, p.cost, sign=sign)

    def place(self, r: Request) -> bool:
        if self.ref.demand is not None:
            self.ref.demand.see(r)
        filled = {p.slot: p.expert for p in self.live(r.id)}
        d = pl.decide(self.ref, self.room, r, filled=filled, banned=self.banned.get(r.id, set()))
        for o in d.chosen:
            self.propose(Prop(r.id, o.slot, o.expert, o.contract, o.minutes, o.cost), taken=True)
        return bool(d.chosen)

    def propose(self, p: Prop, taken: bool = False) -> None:
        if not taken:
            self.take(p)
        self.props.append(p)
        self.at(self.later(self.args.approve_after), "approve", p)

    def handle(self, kind: str, data: Any) -> None:
        if kind == "arrive":
            self.requests[data.id] = data
            if not self.place(data):
                self.unmatched_at_arrival.add(data.id)
        elif kind == "approve" and data.status == "pending":
            data.status = "approved"
            if declines(self.args.seed, data.request, data.expert, self.args.decline_share):
                self.at(self.later(self.args.answer_after), "decline", data)
            else:
                self.at(self.later(self.args.answer_after), "accept", data)
        elif kind == "decline":
            data.status = "declined"
            self.take(data, sign=-1)
            self.declined.add((data.request, data.expert))
            self.banned.setdefault(data.request, set()).add(data.expert)
            self.place(self.requests[data.request])
        elif kind == "accept":
            data.status = "accepted"
            self.at(self.later(self.args.work_after), "complete", data)
        elif kind == "complete":
            data.status = "completed"
            self.room.c_n[self.ref.c_pos[data.contract]] += 1
            self.freed[data.contract] = self.freed.get(data.contract, 0) + 1
        elif kind == "replan":
            self.replan()
            if self.now < self.day_s:
                self.at(self.args.replan, "replan", None)

    day_s: float = 0.0

    def replan(self) -> None:
        open_ = [r for rid, r in self.requests.items() if not self._done(rid)]
        if not open_:
            return
        sc = self._snapshot(open_)
        held = [p for p in self.props if p.status in ("approved", "accepted") and p.request in {r.id for r in open_}]
        pending = [p for p in self.props if p.status == "pending"]
        sc = sc.model_copy(
            update={"pinned": [Pin(request=p.request, expert=p.expert, contract=p.contract, slot=p.slot) for p in held]}
        )
        hint: list[Any] = [Hint(p.request, p.slot, p.expert, p.contract) for p in pending]
        plan = solve(sc, time_limit_s=self.args.replan_limit, workers=1, seed=0, hint=hint or None)
        if plan.status == "infeasible":
            return
        planned = {(a.request, a.slot): a for a in plan.assignments}
        for p in pending:
            a = planned.get((p.request, p.slot))
            if a is None or (a.expert, a.contract) != (p.expert, p.contract):
                p.status = "withdrawn"
                self.take(p, sign=-1)
        by_req: dict[str, list[Any]] = {}
        for a in plan.assignments:
            by_req.setdefault(a.request, []).append(a)
        for rid, assigned in by_req.items():
            have = {p.slot for p in self.live(rid)}
            new = [a for a in assigned if a.slot not in have]
            fits = all(
                self.room.fits(self.ref.e_pos[a.expert], self.ref.c_pos[a.contract], a.minutes, a.cost_vnd) for a in new
            )
            if new and fits:
                for a in new:
                    self.propose(Prop(rid, a.slot, a.expert, a.contract, a.minutes, a.cost_vnd))
        for rid in {p.request for p in pending if p.status == "withdrawn"}:
            if len(self.live(rid)) < len(self.requests[rid].effective_slots()):
                self.place(self.requests[rid])

    def _done(self, rid: str) -> bool:
        return any(p.request == rid and p.status == "completed" for p in self.props)

    def _snapshot(self, open_: list[Request]) -> Scenario:
        """Experts and contracts with what completed work spent (pinned work is added by the engine)."""
        spent_e: dict[str, int] = {}
        spent_c: dict[str, tuple[int, int]] = {}
        open_ids = {r.id for r in open_}
        for p in self.props:
            if p.status == "completed" or (p.status in ("approved", "accepted") and p.request not in open_ids):
                spent_e[p.expert] = spent_e.get(p.expert, 0) + p.minutes
                m, v = spent_c.get(p.contract, (0, 0))
                spent_c[p.contract] = (m + p.minutes, v + p.cost)
        experts = [
            e.model_copy(update={"committed_hours": e.committed_hours + spent_e.get(e.id, 0) / 60})
            for e in self.sc.experts
        ]
        contracts = [
            c.model_copy(
                update={
                    "hours_used": c.hours_used + spent_c.get(c.id, (0, 0))[0] / 60,
                    "budget_used_vnd": c.budget_used_vnd + spent_c.get(c.id, (0, 0))[1],
                }
            )
            for c in self.sc.contracts
        ]
        excluded = [{"request": r, "expert": e} for r, e in self.declined if r in open_ids]
        return Scenario.model_validate(
            self.sc.model_dump(mode="json", by_alias=True)
            | {
                "experts": [e.model_dump(mode="json", by_alias=True) for e in experts],
                "contracts": [c.model_dump(mode="json", by_alias=True) for c in contracts],
                "requests": [r.model_dump(mode="json", by_alias=True) for r in sorted(open_, key=lambda r: r.id)],
                "excluded": excluded,
            }
        )

    def weight(self) -> int:
        w = 0
        for rid, r in self.requests.items():
            slots = {p.slot for p in self.props if p.request == rid and p.status in (*LIVE, "completed")}
            if len(slots) == len(r.effective_slots()):
                w += DEFAULT_WEIGHTS[r.priority]
        return w


def reference(sc: Scenario, priced: bool) -> pl.Reference:
    bare = sc.model_copy(update={"requests": []})
    ref = pl.Reference.of(bare, np.ones(len(sc.contracts), dtype=bool), (0, sc.horizon.start))
    if not priced:
        ref.demand = None
    return ref


def initial_room(sc: Scenario) -> pl.Room:
    return pl.Room(
        [minutes(e.capacity_hours) - minutes(e.committed_hours) for e in sc.experts],
        [minutes(c.hours_cap) - minutes(c.hours_used) for c in sc.contracts],
        [(c.budget_cap_vnd - c.budget_used_vnd) if c.budget_cap_vnd is not None else 0 for c in sc.contracts],
        [c.max_concurrent - c.active_assignments for c in sc.contracts],
        [c.budget_cap_vnd is not None for c in sc.contracts],
    )


def run(seed: int, args: argparse.Namespace) -> dict[str, Any]:
    from scenarios.generate import generate

    n_req, n_exp = SIZES[args.size]
    sc = generate(n_req, n_exp, seed=seed)
    args.seed = seed
    sim = Sim(sc, args, reference(sc, args.w_scarce > 0), initial_room(sc), random.Random(seed * 17 + 3))
    if sim.ref.demand is not None:
        for r in history(sc, getattr(args, "history", 0)):
            sim.ref.demand.see(r)
    sim.day_s = args.day or DAY_S[args.size]
    rng = random.Random(seed * 31 + 7)
    times = sorted(rng.uniform(0, sim.day_s) for _ in sc.requests)
    for t, r in zip(times, sc.requests, strict=True):
        sim.now = t
        sim.at(0.0, "arrive", r)
    sim.now = 0.0
    if args.replan:
        sim.at(args.replan, "replan", None)
    while sim.events:
        sim.now, _, kind, data = heapq.heappop(sim.events)
        sim.handle(kind, data)
    live_w = sim.weight()
    best, bound, status, _s = hindsight(hindsight_scenario(sc, sorted(sim.declined), sim.freed), args.hindsight_limit)
    spent = sum(p.cost for p in sim.props if p.status in (*LIVE, "completed"))
    return {
        "seed": seed,
        "live": live_w,
        "hindsight": best,
        "status": status,
        "share": live_w / max(1, best),
        "spent": spent,
    }


def history(sc: Scenario, n: int) -> list[Request]:
    """`n` requests of earlier days, drawn as the day's are (the same units, the generator's own
    draw, another seed): what a province's matcher has seen before the day starts."""
    from scenarios.generate import SHAPES, _request

    rng = random.Random(99_991)
    units = [u.id for u in sc.units]
    drawn = (_request(rng, i, rng.choice(units), sc.horizon.start, 14, SHAPES["default"]) for i in range(n))
    return [Request.model_validate(r | {"id": f"h{i}"}) for i, r in enumerate(drawn)]


def seeds(text: str) -> list[int]:
    if "-" in text:
        a, b = text.split("-")
        return list(range(int(a), int(b) + 1))
    return [int(x) for x in text.split(",")]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size", choices=sorted(SIZES), default="province")
    ap.add_argument("--seeds", default="1")
    ap.add_argument("--day", type=float, default=None)
    ap.add_argument("--approve-after", type=float, default=2.0)
    ap.add_argument("--answer-after", type=float, default=2.0)
    ap.add_argument("--work-after", type=float, default=5.0)
    ap.add_argument("--decline-share", type=float, default=0.1)
    ap.add_argument("--replan", type=float, default=0.0, help="s between re-plans (0: none)")
    ap.add_argument("--replan-limit", type=float, default=0.5)
    ap.add_argument("--hindsight-limit", type=float, default=20.0)
    ap.add_argument("--history", type=int, default=0, help="requests of earlier days the price has seen")
    ap.add_argument("--w-scarce", type=float, default=scarcity.W_SCARCE, help="the scarcity price's weight (0: none)")
    args = ap.parse_args()
    scarcity.W_SCARCE = args.w_scarce
    out = [run(s, args) for s in seeds(args.seeds)]
    for o in out:
        print(
            f"seed {o['seed']}: live {o['live']} hindsight {o['hindsight']} ({o['status']}) {100 * o['share']:.1f}%, "
            f"spent {o['spent']:,} VND ({o['spent'] / max(1, o['live']):,.0f} a unit of weight covered)"
        )
    mean_spent = sum(o["spent"] / max(1, o["live"]) for o in out) / len(out)
    print(f"mean {100 * sum(o['share'] for o in out) / len(out):.2f}%, {mean_spent:,.0f} VND a unit of weight covered")
    return 0


if __name__ == "__main__":
    sys.exit(main())
