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

`--foresight` measures what knowing the day would be worth, which no live matcher can have:
`price`, the price of scarcity sees the day's own requests before the first arrival (the demand
exactly, not a sample of it); `plan`, every `--lookahead` arrivals the rest of the day (the
requests still to come) is solved on the room left (`--lookahead-limit` s), and each arrival takes
its planned option where it still fits, stays uncovered where the plan leaves it out, and is
placed as live otherwise; `sample`, the rest of the day replaced by as many requests drawn from
other days (`history`), their plan reserving room: an arrival takes the room no drawn request
holds, else the room of one drawn request no more urgent that its experts could serve, else is
placed as live: what a lookahead can do without foresight.

    .venv/bin/python -m bench.sim_day --seeds 1-8
    .venv/bin/python -m bench.sim_day --seeds 1-8 --replan 1.5
    .venv/bin/python -m bench.sim_day --seeds 1-16 --history 200   # a day seen before this one
    .venv/bin/python -m bench.sim_day --seeds 1-16 --foresight price
    .venv/bin/python -m bench.sim_day --size medium --foresight plan --lookahead 100 --lookahead-limit 5
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

from bench.bench_replay import DAY_S, SIZES, declines, hindsight, hindsight_scenario, history  # noqa: E402
from services.matcher import placement as pl  # noqa: E402
from services.matcher import scarcity  # noqa: E402
from services.matcher.solver import solve  # noqa: E402
from services.matcher.solver.hint import Hint  # noqa: E402
from services.matcher.solver.limits import DEFAULT_WEIGHTS  # noqa: E402
from shared.scenario import Pin, Request, Scenario, minutes  # noqa: E402

LIVE = ("pending", "approved", "accepted")
#: A drawn request's hold on the room (`--foresight sample`): its weight, and per slot planned
#: (expert, contract, minutes, cost) as positions.
Held = tuple[int, list[tuple[int, int, int, int]]]


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
    to_come: list[Request] = field(default_factory=list)  # the day's arrivals in order (`--foresight`)
    arrived: int = 0
    planned: dict[str, list[Any]] = field(default_factory=dict)  # request -> its options in the lookahead plan
    looked_at: set[str] = field(default_factory=set)  # the requests the lookahead plan was solved for
    held: list[Held] = field(default_factory=list)  # `sample`: per drawn request planned, its weight and draws
    pool: list[Request] = field(default_factory=list)  # `sample`: the requests of other days drawn from

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
        if r.id in self.looked_at and not filled:
            planned = [a for a in self.planned.get(r.id, []) if a.expert not in self.banned.get(r.id, set())]
            if not planned and r.id not in self.planned:
                return False  # the plan of the rest of the day leaves it out: kept for later work
            if planned and all(self.room.fits(*self._draw(a)) for a in planned):
                for a in planned:
                    self.propose(Prop(r.id, a.slot, a.expert, a.contract, a.minutes, a.cost_vnd))
                return True
        d = self._within_held(r, filled) if self.held else None
        if d is None or not d.chosen:
            d = pl.decide(self.ref, self.room, r, filled=filled, banned=self.banned.get(r.id, set()))
        for o in d.chosen:
            self.propose(Prop(r.id, o.slot, o.expert, o.contract, o.minutes, o.cost), taken=True)
        return bool(d.chosen)

    def propose(self, p: Prop, taken: bool = False) -> None:
        if not taken:
            self.take(p)
        self.props.append(p)
        self.at(self.later(self.args.approve_after), "approve", p)

    def _within_held(self, r: Request, filled: dict[int, str]) -> pl.Decision:
        """`sample`: decide in the room the drawn requests' plan leaves, else in the room of the
        least urgent drawn request (no more urgent than `r`) one of whose experts could serve it."""
        banned = self.banned.get(r.id, set())
        self._hold(+1)
        d = pl.decide(self.ref, self.room, r, filled=filled, banned=banned)
        if not d.chosen:
            mine = {int(e) for es, _hours in scarcity.spread(self.ref, r) for e in es}
            w = DEFAULT_WEIGHTS[r.priority]
            near = [h for h in self.held if h[0] <= w and any(x[0] in mine for x in h[1])]
            for h in sorted(near, key=lambda h: h[0])[:5]:
                self.held.remove(h)
                self._hold(-1, [h])
                d = pl.decide(self.ref, self.room, r, filled=filled, banned=banned)
                if d.chosen:
                    break
                self.held.append(h)
                self._hold(+1, [h])
        self._hold(-1)
        return d

    def _hold(self, sign: int, held: list[Held] | None = None) -> None:
        """Take (+1) or give back (-1) the room the drawn requests' plan holds."""
        for _w, draws in self.held if held is None else held:
            for e, c, m, v in draws:
                self.room.take(e, c, m, v, sign=sign)

    def _draw(self, a: Any) -> tuple[int, int, int, int]:
        return self.ref.e_pos[a.expert], self.ref.c_pos[a.contract], a.minutes, a.cost_vnd

    def look_ahead(self) -> None:
        """Solve the rest of the day (or, `sample`, as many requests of other days) on the room left."""
        rest = self.to_come[self.arrived :]
        if self.args.foresight == "sample":
            self.pool = self.pool or history(self.sc, 20 * len(self.sc.requests))
            drawn = random.Random(self.arrived).sample(self.pool, len(rest))
            rest = [r.model_copy(update={"id": f"f{k}"}) for k, r in enumerate(drawn)]
        plan = solve(self._room_left(rest), time_limit_s=self.args.lookahead_limit, workers=2, seed=0)
        self.planned = {}
        for a in plan.assignments:
            self.planned.setdefault(a.request, []).append(a)
        self.looked_at = {r.id for r in rest} if self.args.foresight == "plan" else set()
        if self.args.foresight == "sample":
            priority = {r.id: r.priority for r in rest}
            self.held = [
                (DEFAULT_WEIGHTS[priority[rid]], [self._draw(a) for a in made]) for rid, made in self.planned.items()
            ]

    def _room_left(self, requests: list[Request]) -> Scenario:
        """The day's experts and contracts with only the room left (concurrent slots not limiting:
        the day's tasks complete and free theirs), and `requests`."""
        data = self.sc.model_dump(mode="json", by_alias=True)
        for e, d in zip(self.sc.experts, data["experts"], strict=True):
            d["committed_hours"] = d["capacity_hours"] - max(0, self.room.e[self.ref.e_pos[e.id]]) / 60
        for c, d in zip(self.sc.contracts, data["contracts"], strict=True):
            k = self.ref.c_pos[c.id]
            d["hours_used"] = d["hours_cap"] - max(0, self.room.c_min[k]) / 60
            if d.get("budget_cap_vnd") is not None:
                d["budget_used_vnd"] = d["budget_cap_vnd"] - max(0, self.room.c_vnd[k])
            d["max_concurrent"] += len(self.sc.requests)
        data["requests"] = [r.model_dump(mode="json", by_alias=True) for r in requests]
        ids = {r.id for r in requests}
        data["excluded"] = [{"request": r, "expert": e} for r, e in self.declined if r in ids]
        return Scenario.model_validate(data)

    def handle(self, kind: str, data: Any) -> None:
        if kind == "arrive":
            if self.args.foresight in ("plan", "sample") and self.arrived % self.args.lookahead == 0:
                self.look_ahead()
            self.arrived += 1
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
        seen = sc.requests if getattr(args, "foresight", "") == "price" else history(sc, getattr(args, "history", 0))
        for r in seen:
            sim.ref.demand.see(r)
    sim.day_s = args.day or DAY_S[args.size]
    rng = random.Random(seed * 31 + 7)
    times = sorted(rng.uniform(0, sim.day_s) for _ in sc.requests)
    sim.to_come = list(sc.requests)  # generated in the order the times are handed out
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
    ap.add_argument(
        "--foresight", choices=("", "price", "plan", "sample"), default="", help="what knowing the day is worth"
    )
    ap.add_argument("--lookahead", type=int, default=20, help="arrivals between two plans of the rest of the day")
    ap.add_argument("--lookahead-limit", type=float, default=2.0, help="s to solve the rest of the day")
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
