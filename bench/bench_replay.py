"""Live matching quality over a replayed day, against what `solve` finds for it in hindsight.

The day: `scenarios.generate.generate(n_requests, n_experts, seed)`: its units, experts and
contracts are loaded first (`expertshare load`, no request); then its requests arrive over a day
compressed into `--day` seconds (arrival times uniform, seeded), each submitted by its commune.
People act on what the system tells them, each with their own credential from the installation's
issuer, each after a delay drawn uniformly between half and one and a half times its option:

- staff approve every proposal (`matcher.assignment.proposed`) after `--approve-after` s (an
  approval the system refuses, a proposal withdrawn or a cap reached meanwhile, is counted);
- the expert of an approved assignment declines it with probability `--decline-share` (decided
  per request and expert from the seed, so a replay repeats), else accepts, after `--answer-after` s;
- an accepted task's expert logs the time reserved for it (the work and, on site, the travel
  there and back) after `--work-after` s, and its commune confirms the completion at once.

With `--history N`, the matcher has seen N requests of earlier days before the day starts, as a
province's matcher has after weeks in service (its price of scarcity takes the requests of the last
four weeks as the sample of what comes, `services/matcher/scarcity.py`): drawn as the day's are
(`history`), submitted by staff in bulk and withdrawn at once, so that the day's room is whole and
only the sample differs. Nobody acts on their proposals.

The run ends when the last request has arrived and nothing is left to do (no open request, no
person's action waiting, nothing new for `--quiet` s), or after `--settle` s more.

**Live** covered weight: the sum of the priority weights (1, 2, 4, 8, 16 for priorities 1 to 5,
the engine's `DEFAULT_WEIGHTS`) of the day's requests each of whose slots has, at the end, a
proposal whose status is pending, approved, accepted or completed (`bench.live.live_weight`, as
the matcher reports them). A declined, rejected, withdrawn or cancelled proposal covers nothing.

**Hindsight**: `services.matcher.solver.solve` on one scenario (`hindsight_scenario`): all the
day's requests, the same units, experts and contracts with their balances at the start of the
day, every (request, expert) pair declined during the replay excluded, and each contract's
concurrent slots raised by the tasks completed under it during the replay (live, a completed
task's slot is free again for another; the hindsight plan holds every task at once). The live
outcome is then one plan of that scenario, so hindsight is at least live but for the solver's
gap. It runs with `--hindsight-limit` s after the system is stopped (the machine to itself) and
is printed with its proven bound.

    .venv/bin/python -m bench.bench_replay --size province              # 200 requests x 60 experts
    .venv/bin/python -m bench.bench_replay --size small --day 30
    .venv/bin/python -m bench.bench_replay --size medium --day 600 --hindsight-limit 60
    .venv/bin/python -m bench.bench_replay --size province --history 2000   # a matcher in service

Sizes as bench_live's: small 40 x 15, province 200 x 60, medium 2000 x 400.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a file: the repository's root is where `bench` is
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import live  # noqa: E402
from shared.parties import expert_party, staff_party, unit_party  # noqa: E402

SIZES = {"small": (40, 15), "province": (200, 60), "medium": (2000, 400)}
DAY_S = {"small": 30.0, "province": 120.0, "medium": 600.0}
HEADER = (
    "| day (requests x experts) | compressed into | live covered weight | hindsight (solve, limit) "
    "| proven bound | live / hindsight | declined | approvals refused |\n|---|---|---|---|---|---|---|---|"
)


def declines(seed: int, request_id: str, expert_id: str, share: float) -> bool:
    """Whether this expert declines this request: fixed by the seed, whatever the timing."""
    return random.Random(f"{seed}:{request_id}:{expert_id}").random() < share


@dataclass
class Day:
    """The people of the replay, acting on the events they are told of."""

    args: argparse.Namespace
    client: Any
    rng: random.Random
    waiting: int = 0  # actions scheduled, not yet done
    last_activity: float = field(default_factory=time.monotonic)
    people: dict[str, Any] = field(default_factory=dict)
    hours: dict[str, float] = field(default_factory=dict)
    declined: set[tuple[str, str]] = field(default_factory=set)
    counts: Counter[str] = field(default_factory=Counter)
    refusals: Counter[str] = field(default_factory=Counter)
    freed: Counter[str] = field(default_factory=Counter)  # contract -> tasks completed under it
    tasks: set[asyncio.Task[None]] = field(default_factory=set)
    past: set[str] = field(default_factory=set)  # the requests of earlier days (`--history`)

    def who(self, role: str, party: str) -> Any:
        if party not in self.people:
            self.people[party] = live.person(role, party)
        return self.people[party]

    def later(self, mean_s: float, action: Any) -> None:
        """`action` after a delay between half and one and a half times `mean_s`."""
        self.waiting += 1
        self.last_activity = time.monotonic()

        async def run() -> None:
            try:
                await asyncio.sleep(mean_s * self.rng.uniform(0.5, 1.5))
                await action()
            finally:
                self.waiting -= 1
                self.last_activity = time.monotonic()

        task = asyncio.create_task(run())
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def send(self, kind: str, subject: str, message: Any, signer: Any) -> bool:
        _data, err, _s = await live.call(self.client, subject, message, signer, timeout=60)
        self.counts[kind] += 1
        if err is not None:
            self.refusals[f"{kind}: {err[:80]}"] += 1
        return err is None

    # ------------------------------------------------------------------ what people are told
    def on_proposed(self, evt: dict[str, Any], _now: float) -> None:
        from shared import messages as m
        from shared import subjects as s

        if evt["request"]["id"] in self.past:
            return  # an earlier day's, withdrawn: nobody acts on it
        self.counts["proposed (event)"] += 1
        cmd = m.ApproveAssignment(assignment_id=evt["assignment_id"], by="bench staff")
        self.later(
            self.args.approve_after,
            lambda: self.send("approve", s.ASSIGNMENT_APPROVE, cmd, self.who("staff", staff_party("bench"))),
        )

    def on_approved(self, evt: dict[str, Any], _now: float) -> None:
        from shared import messages as m
        from shared import subjects as s

        aid, rid, eid = evt["assignment_id"], evt["request_id"], evt["expert_id"]
        # The time reserved (the work and, on site, the travel there and back), as the hindsight
        # plan charges it: logging the work alone gave the travel back to the contract at
        # completion, room the hindsight never had.
        self.hours[aid] = int(evt["reserved_minutes"]) / 60
        expert = self.who("expert", expert_party(eid))
        if declines(self.args.seed, rid, eid, self.args.decline_share):
            self.declined.add((rid, eid))
            cmd: Any = m.DeclineAssignment(assignment_id=aid, expert_id=eid, reason="bench: not available")
            self.later(self.args.answer_after, lambda: self.send("decline", s.ASSIGNMENT_DECLINE, cmd, expert))
        else:
            cmd = m.AcceptAssignment(assignment_id=aid, expert_id=eid)
            self.later(self.args.answer_after, lambda: self.send("accept", s.ASSIGNMENT_ACCEPT, cmd, expert))

    def on_accepted(self, evt: dict[str, Any], _now: float) -> None:
        from shared import messages as m
        from shared import subjects as s

        aid, rid, eid, unit = evt["assignment_id"], evt["request_id"], evt["expert_id"], evt["unit_id"]

        async def work() -> None:
            log = m.LogHours(assignment_id=aid, expert_id=eid, hours=self.hours.get(aid, 1.0), note="bench")
            await self.send("log hours", s.HOURS_LOG, log, self.who("expert", expert_party(eid)))
            done = m.CompleteRequest(request_id=rid, by="bench commune", rating=5)
            await self.send("complete", s.REQUEST_COMPLETE, done, self.who("commune", unit_party(unit)))

        self.later(self.args.work_after, work)

    def on_completed(self, evt: dict[str, Any], _now: float) -> None:
        self.counts["completed (event)"] += 1
        self.last_activity = time.monotonic()
        done = set(evt.get("completed") or ())
        for a in evt.get("assignments", []):
            if a["assignment_id"] in done:
                self.freed[a["contract_id"]] += 1

    def on_other(self, kind: str) -> Any:
        def count(evt: dict[str, Any], _now: float) -> None:
            if evt.get("request_id") in self.past:
                return
            self.counts[f"{kind} (event)"] += 1
            self.last_activity = time.monotonic()

        return count


async def before_the_day(day: Day, past: list[Any], parallel: int = 16) -> float:
    """The requests of earlier days, submitted by staff in bulk, decided by the matcher, then each
    withdrawn: seconds taken."""
    from shared import limits as L
    from shared import messages as m
    from shared import subjects as s

    started = time.monotonic()
    staff = day.who("staff", staff_party("bench"))
    day.past = {r.id for r in past}
    for i in range(0, len(past), L.SUBMIT_BATCH):
        bulk = m.SubmitRequests(requests=past[i : i + L.SUBMIT_BATCH], by="bench: earlier days")
        data, err, _s = await live.call(day.client, s.REQUESTS_SUBMIT, bulk, staff, timeout=60)
        if data is None or data.get("refused"):
            raise live.BenchError(f"the earlier days' requests were refused: {err or data}")
    # Seen: decided (proposed or unmatched), each through the placement and its price's sample; a
    # request withdrawn while still open would be in the sample only once the matcher reads it again.
    decided, waited, seen = await live.wait_decided(day.client, len(past), within_s=600)
    if not decided:
        raise live.BenchError(f"the earlier days' requests were not decided in {waited:.0f} s: {seen}")
    gate = asyncio.Semaphore(parallel)

    async def withdraw(rid: str) -> None:
        async with gate:
            cmd = m.CancelRequest(request_id=rid, by="bench: earlier days", reason="an earlier day's request")
            await day.send("withdraw earlier days", s.REQUEST_CANCEL, cmd, staff)

    await asyncio.gather(*(withdraw(r.id) for r in past))
    refused = sum(n for what, n in day.refusals.items() if what.startswith("withdraw"))
    if refused:
        raise live.BenchError(f"{refused} of the earlier days' requests were not withdrawn: {day.refusals}")
    return time.monotonic() - started


async def arrive(day: Day, requests: list[Any], day_s: float, rng: random.Random) -> None:
    """Each request submitted by its commune at its time of the compressed day."""
    from shared import messages as m
    from shared import subjects as s

    times = sorted(rng.uniform(0, day_s) for _ in requests)
    start = time.monotonic()
    sends = []
    for at, r in zip(times, requests, strict=True):
        await asyncio.sleep(max(0.0, start + at - time.monotonic()))
        signer = day.who("commune", unit_party(r.unit))
        sends.append(asyncio.create_task(day.send("submit", s.REQUEST_SUBMIT, m.SubmitRequest(request=r), signer)))
        day.last_activity = time.monotonic()
    await asyncio.gather(*sends)


async def final_state(client: Any, ids: list[str]) -> tuple[list[Any], list[Any]]:
    """The matcher's requests and proposals at the end (`RequestView`s, `ProposalView`s)."""
    from shared import endpoints as E
    from shared import messages as m

    requests: list[m.RequestView] = []
    proposals: list[m.ProposalView] = []
    for i in range(0, len(ids), 1000):
        q = m.GetRequests(request_ids=ids[i : i + 1000], limit=1000)
        data, err, _ = await live.call(client, E.MATCHER_STATUS.subject, q, timeout=60)
        if data is None:
            raise live.BenchError(f"matcher.status.get failed at the end: {err}")
        status = E.MATCHER_STATUS.reply.model_validate(data)
        requests += status.requests
        proposals += status.proposals
    return requests, proposals


async def replay(system: live.System, sc: Any, args: argparse.Namespace) -> dict[str, Any]:
    from cli.client import connect

    day_s = args.day or DAY_S[args.size]
    out: dict[str, Any] = {
        "size": args.size,
        "requests": len(sc.requests),
        "experts": len(sc.experts),
        "day_s": day_s,
        "machine_before": live.machine(),
    }
    ok, said, load_s = await asyncio.to_thread(
        system.load, sc.model_copy(update={"requests": []}), timeout_s=args.load_timeout
    )
    out.update(load_ok=ok, load_s=round(load_s, 1))
    if not ok:
        raise live.BenchError(f"the reference data did not load: {said}")
    print(
        f"# reference data loaded in {load_s:.1f} s; replaying {len(sc.requests)} arrivals over {day_s:g} s",
        file=sys.stderr,
        flush=True,
    )
    rng = random.Random(args.seed * 31 + 7)
    async with connect(system.url, timeout=60) as client:
        day = Day(args, client, random.Random(args.seed * 17 + 3))
        listener = live.Listener(system.url)
        await listener.start(
            {
                live.PROPOSED: day.on_proposed,
                live.APPROVED: day.on_approved,
                live.ACCEPTED: day.on_accepted,
                live.UNMATCHED: day.on_other("unmatched"),
                live.WITHDRAWN: day.on_other("withdrawn"),
                live.DECLINED: day.on_other("declined"),
                live.COMPLETED: day.on_completed,
            }
        )
        try:
            if args.history:
                took = await before_the_day(day, history(sc, args.history))
                out["history"] = {"requests": args.history, "s": round(took, 1)}
                print(f"# {args.history} requests of earlier days seen and withdrawn in {took:.1f} s", file=sys.stderr)
            began = time.monotonic()
            await arrive(day, list(sc.requests), day_s, rng)
            settle_until = time.monotonic() + args.settle
            settled = False
            while time.monotonic() < settle_until:
                await asyncio.sleep(1.0)
                if day.waiting or time.monotonic() - day.last_activity < args.quiet:
                    continue
                _held, still_open = await live.open_requests(client, len(sc.requests))
                if not still_open:
                    settled = True
                    break
            out.update(settled=settled, replay_s=round(time.monotonic() - began, 1))
            for task in list(day.tasks):
                task.cancel()
            requests, proposals = await final_state(client, [r.id for r in sc.requests])
            out["listener_lost"] = listener.lost_since(0)
        finally:
            await listener.stop()
    statuses = Counter(r.status for r in requests)
    refused = Counter[str]()
    for what, n in day.refusals.items():
        refused[what.split(":", 1)[0]] += n
    out.update(
        counts=dict(day.counts),
        refusals=dict(day.refusals.most_common(8)),
        refused=dict(refused),
        final_statuses=dict(statuses),
        declined_pairs=sorted(day.declined),
        freed=dict(day.freed),
        proposals=[p.model_dump(mode="json") for p in proposals],
        machine_after=live.machine(),
    )
    return out


def history(sc: Any, n: int) -> list[Any]:
    """`n` requests of earlier days, drawn as the day's are (the same units, the generator's own
    draw, another seed), ids `h0`, `h1`...: what a province's matcher has seen before the day."""
    from scenarios.generate import SHAPES, _request
    from shared.scenario import Request

    rng = random.Random(99_991)
    units = [u.id for u in sc.units]
    drawn = (_request(rng, i, rng.choice(units), sc.horizon.start, 14, SHAPES["default"]) for i in range(n))
    return [Request.model_validate(r | {"id": f"h{i}"}) for i, r in enumerate(drawn)]


def hindsight_scenario(sc: Any, declined: list[tuple[str, str]], freed: dict[str, int]) -> Any:
    """The day in one scenario: every request, the balances at its start, the declined pairs
    excluded, and each contract's concurrent slots raised by the tasks completed under it live
    (their slots were free again for others; the hindsight plan holds every task at once). So
    the live outcome is a plan of this scenario, and hindsight is never below live but by the
    solver's gap."""
    data = sc.model_dump(mode="json", by_alias=True)
    data["excluded"] = [{"request": r, "expert": e} for r, e in declined]
    for c in data["contracts"]:
        c["max_concurrent"] += freed.get(c["id"], 0)
    return sc.model_validate(data)


def hindsight(scenario: Any, limit_s: float) -> tuple[int, int, str, float]:
    from services.matcher.solver import solve

    started = time.monotonic()
    plan = solve(scenario, time_limit_s=limit_s, workers=2, seed=0)
    return plan.objective.covered_weight, plan.objective.upper_bound, plan.status, time.monotonic() - started


def main() -> int:
    ap = live.parser(__doc__, SIZES)
    ap.add_argument("--day", type=float, default=None, help="s the day is compressed into (default by size)")
    ap.add_argument("--approve-after", type=float, default=2.0)
    ap.add_argument("--answer-after", type=float, default=2.0)
    ap.add_argument("--work-after", type=float, default=5.0)
    ap.add_argument("--decline-share", type=float, default=0.1)
    ap.add_argument("--quiet", type=float, default=10.0, help="s with nothing new before the day is over")
    ap.add_argument("--settle", type=float, default=300.0, help="s at most after the last arrival")
    ap.add_argument("--hindsight-limit", type=float, default=60.0)
    ap.add_argument("--history", type=int, default=0, help="requests of earlier days the matcher has seen")
    args = ap.parse_args()
    if not 0 <= args.decline_share <= 1:
        ap.error("--decline-share is a share, 0 to 1")
    from scenarios.generate import generate
    from services.matcher.solver.limits import DEFAULT_WEIGHTS

    n_req, n_exp = SIZES[args.size]
    sc = generate(n_req, n_exp, seed=args.seed)
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    try:
        with live.running(keep=args.keep) as system:
            result = asyncio.run(replay(system, sc, args))
    except live.BenchError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted; everything started was stopped", file=sys.stderr)
        return 130
    weights = {r.id: (r.priority, len(r.effective_slots())) for r in sc.requests}
    live_w = live.live_weight(weights, result.pop("proposals"), DEFAULT_WEIGHTS)
    print(f"# solving the day in hindsight ({args.hindsight_limit:g} s) ...", file=sys.stderr, flush=True)
    day = hindsight_scenario(sc, result["declined_pairs"], result["freed"])
    best, bound, status, solve_s = hindsight(day, args.hindsight_limit)
    result.update(
        started_utc=started,
        live_weight=live_w,
        hindsight=best,
        bound=bound,
        hindsight_status=status,
        hindsight_s=round(solve_s, 1),
        machine_end=live.machine(),
    )
    approve_refused = result["refused"].get("approve", 0)
    print(f"{started}, {result['machine_before']}")
    print(HEADER)
    print(
        f"| {n_req} x {n_exp} ({args.size}) | {result['day_s']:g} s | {live_w} | {best} ({status}, "
        f"{args.hindsight_limit:g} s) | {bound} | {100 * live_w / max(1, best):.1f}% "
        f"| {len(result['declined_pairs'])} | {approve_refused} |"
    )
    print(
        f"- settled: {result['settled']} after {result['replay_s']} s; final request statuses "
        f"{result['final_statuses']}"
    )
    if "history" in result:
        h = result["history"]
        print(f"- earlier days: {h['requests']} requests seen and withdrawn before the day, in {h['s']} s")
    print(f"- actions and events: {result['counts']}")
    print(f"- refused, by command: {result['refused']}; the most frequent reasons: {result['refusals']}")
    print(
        f"- the event listener's connection lost: {result['listener_lost'] or 'never'} "
        "(people miss what is published meanwhile)"
    )
    print(
        f"- machine before: {result['machine_before']}; after the replay: {result['machine_after']}; "
        f"after the hindsight solve: {result['machine_end']}"
    )
    if args.json:
        args.json.write_text(json.dumps(result, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
