"""The live system measured from outside, the way issue 14's table was: a backlog loaded, then new
requests at a fixed rate, and how fast each is decided and its proposal told.

1. `expertshare up --no-demo` on a temporary data directory (free NATS and portal ports).
2. A backlog: `scenarios.generate.generate(n_requests, n_experts, seed)` loaded with
   `expertshare load` (timed; a failure is recorded and the run goes on with what got in).
3. Wait until the backlog is decided: the matcher holds every request and none is `open` (each
   proposed or unmatched), polling `matcher.status.get` with a narrow question; then until what
   it set off has settled: every service's durable consumers have nothing pending (as the admin,
   JetStream's consumer info), so the new requests are not timed behind the backlog's queue.
4. NEW requests, drawn by the scenario generator's own request function (new ids, the scenario's
   units, another seed), submitted over NATS at a fixed rate, signed as the CLI signs (the
   operator credential `up` issues), each as its own task on its schedule.
5. Measured per new request, from this process's clock: the submit reply's latency; submit to the
   first decision for it (an `matcher.assignment.proposed` or `matcher.request.unmatched` event,
   received on a plain subscription as the admin identity); how many have no decision `--deadline`
   seconds after their submission. Per proposal received after the first submission (any request's:
   a re-plan proposes for the backlog too): from its arrival here to the arrival of the last of
   its `notifier.notification.delivered` events for every party the notifier tells of a proposal
   (staff:home-affairs and the request's commune, the inbox notes `proposal_waiting` and
   `request_matched`, matched by `source_event_id`).
6. Everything started is stopped at the end, also on an error or Ctrl-C.

Prints one markdown row like the issue's table, and the details under it.

    .venv/bin/python -m bench.bench_live --size province              # 200 open x 60 experts
    .venv/bin/python -m bench.bench_live --size country --rate 20 --count 400
    .venv/bin/python -m bench.bench_live --size small --rate 5 --count 10 --deadline 150

Sizes: small 40 x 15, province 200 x 60, medium 2000 x 400, country 10000 x 2000 (3,321 communes).
Options: --rate (new requests per second), --count, --deadline (s; "no decision after"),
--seed, --load-timeout, --decide-timeout (s waited for the backlog's decisions), --during-replan S
(start the new requests once a re-plan's write is seen: a backlog request proposed again after the
consumers settled; waited for up to S s), --keep (keep the data directory and its logs), --json FILE
(the figures as JSON too).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a file: the repository's root is where `bench` is
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import live  # noqa: E402
from shared.parties import unit_party  # noqa: E402

SIZES = {"small": (40, 15), "province": (200, 60), "medium": (2000, 400), "country": (10_000, 2000)}
HEADER = (
    "| backlog loaded | new requests | submit reply p50 / p99 | submit to decision p50 / p99 "
    "| no decision after {deadline:g} s | proposal to notified p50 / p99 |\n|---|---|---|---|---|---|"
)


@dataclass
class Tally:
    """What was seen, by the monotonic clock of this process."""

    sent: dict[str, float] = field(default_factory=dict)
    reply_s: dict[str, float] = field(default_factory=dict)
    refused: dict[str, str] = field(default_factory=dict)
    decided: dict[str, float] = field(default_factory=dict)
    how: dict[str, str] = field(default_factory=dict)
    measuring_since: float = float("inf")
    proposals: dict[str, tuple[float, str]] = field(default_factory=dict)  # event id -> (arrived, unit party)
    delivered: dict[str, dict[str, float]] = field(default_factory=dict)  # source event id -> party -> arrived
    backlog: set[str] = field(default_factory=set)  # the loaded requests' ids
    moves_since: float = float("inf")  # from when a backlog request's proposal counts as a re-plan's move
    moved_at: float | None = None  # when the first such proposal arrived

    def on_proposed(self, evt: dict[str, Any], now: float) -> None:
        rid = evt["request"]["id"]
        if now >= self.moves_since and rid in self.backlog and self.moved_at is None:
            self.moved_at = now
        if now >= self.measuring_since:
            self.proposals[evt["event_id"]] = (now, unit_party(evt["request"]["unit"]))
        self._decide(rid, now, "proposed")

    def on_unmatched(self, evt: dict[str, Any], now: float) -> None:
        self._decide(evt["request_id"], now, "unmatched")

    def _decide(self, rid: str, now: float, how: str) -> None:
        if rid in self.sent and rid not in self.decided:
            self.decided[rid], self.how[rid] = now, how

    def on_delivered(self, evt: dict[str, Any], now: float) -> None:
        parties = self.delivered.setdefault(evt["source_event_id"], {})
        parties.setdefault(evt["party"], now)

    def notified_s(self) -> tuple[list[float], int]:
        """Per proposal, the time until the last party was told; and how many were never told."""
        out, missing = [], 0
        for eid, (arrived, unit) in self.proposals.items():
            told = self.delivered.get(eid, {})
            if live.STAFF_PARTY in told and unit in told:
                out.append(max(0.0, max(told[live.STAFF_PARTY], told[unit]) - arrived))
            else:
                missing += 1
        return out, missing

    def all_told(self) -> bool:
        return all(
            live.STAFF_PARTY in self.delivered.get(e, {}) and u in self.delivered.get(e, {})
            for e, (_t, u) in self.proposals.items()
        )


def new_requests(sc: Any, count: int, seed: int) -> list[Any]:
    """Drawn like the scenario's own (`scenarios.generate`'s request function), with ids after the
    scenario's and units from the scenario."""
    from scenarios.generate import SHAPES, _request
    from shared.scenario import Request

    rng = random.Random(seed * 7919 + 14)
    units = [u.id for u in sc.units]
    days = (sc.horizon.end - sc.horizon.start).days
    return [
        Request.model_validate(
            _request(rng, len(sc.requests) + k, rng.choice(units), sc.horizon.start, days, SHAPES["default"])
        )
        for k in range(count)
    ]


async def submit_at_rate(client: Any, requests: list[Any], rate: float, tally: Tally) -> None:
    from shared import messages as m
    from shared import subjects as s

    async def one(r: Any) -> None:
        tally.sent[r.id] = time.monotonic()
        _data, err, seconds = await live.call(
            client, s.REQUEST_SUBMIT, m.SubmitRequest(request=r, by="bench"), timeout=60
        )
        tally.reply_s[r.id] = seconds
        if err is not None:
            tally.refused[r.id] = err

    start = time.monotonic()
    tally.measuring_since = start
    tasks = []
    for k, r in enumerate(requests):
        await asyncio.sleep(max(0.0, start + k / rate - time.monotonic()))
        tasks.append(asyncio.create_task(one(r)))
    await asyncio.gather(*tasks)


async def wait_for(condition: Any, until: float, every_s: float = 0.1) -> bool:
    while not condition():
        if time.monotonic() > until:
            return False
        await asyncio.sleep(every_s)
    return True


async def measure(system: live.System, args: argparse.Namespace) -> dict[str, Any]:
    from cli.client import connect
    from scenarios.generate import generate

    n_req, n_exp = SIZES[args.size]
    sc = generate(n_req, n_exp, seed=args.seed)
    out: dict[str, Any] = {
        "size": args.size,
        "requests": n_req,
        "experts": n_exp,
        "units": len(sc.units),
        "rate": args.rate,
        "count": args.count,
        "deadline_s": args.deadline,
        "machine_before": live.machine(),
    }
    tally = Tally()
    listener = live.Listener(system.url)
    await listener.start(
        {live.PROPOSED: tally.on_proposed, live.UNMATCHED: tally.on_unmatched, live.DELIVERED: tally.on_delivered}
    )
    try:
        print(
            f"# loading {n_req} requests x {n_exp} experts ({len(sc.units)} units) with expertshare load ...",
            file=sys.stderr,
            flush=True,
        )
        ok, said, load_s = await asyncio.to_thread(system.load, sc, timeout_s=args.load_timeout)  # events flow on
        out.update(load_ok=ok, load_s=round(load_s, 1), load_said=said)
        print(f"# load {'done' if ok else 'FAILED'} in {load_s:.1f} s: {said}", file=sys.stderr, flush=True)
        async with connect(system.url, timeout=30) as client:
            held, _ = await live.open_requests(client, n_req)
            decided, waited, seen = await live.wait_decided(client, held, args.decide_timeout)
            out.update(
                backlog_held=held, backlog_decided=decided, backlog_decide_wait_s=round(waited, 1), backlog_seen=seen
            )
            print(
                f"# backlog: {held} requests held; {'decided' if decided else 'NOT decided'} after "
                f"{waited:.1f} s more ({seen})",
                file=sys.stderr,
                flush=True,
            )
            settled, waited, seen = await live.wait_settled(listener.nc, args.decide_timeout)
            out.update(backlog_settled=settled, backlog_settle_wait_s=round(waited, 1))
            print(
                f"# consumers {'settled' if settled else 'NOT settled'} after {waited:.1f} s more ({seen})",
                file=sys.stderr,
                flush=True,
            )
            if args.during_replan:
                tally.backlog, tally.moves_since = {r.id for r in sc.requests}, time.monotonic()
                seen_move = await wait_for(lambda: tally.moved_at is not None, time.monotonic() + args.during_replan)
                out.update(replan_waited_s=round(time.monotonic() - tally.moves_since, 1), replan_seen=seen_move)
                print(
                    f"# a re-plan's write {'seen' if seen_move else 'NOT seen'} after "
                    f"{time.monotonic() - tally.moves_since:.1f} s",
                    file=sys.stderr,
                    flush=True,
                )
            fresh = new_requests(sc, args.count, args.seed)
            await submit_at_rate(client, fresh, args.rate, tally)
            last_sent = max(tally.sent.values())
            accepted = [r.id for r in fresh if r.id not in tally.refused]
            await wait_for(lambda: all(r in tally.decided for r in accepted), last_sent + args.deadline, 0.2)
            await wait_for(tally.all_told, time.monotonic() + args.notify_grace, 0.2)
        out.update(
            listener_lost_before=len(listener.lost_since(0)) - len(listener.lost_since(tally.measuring_since)),
            listener_lost_measuring=listener.lost_since(tally.measuring_since),
        )
    finally:
        await listener.stop()
    late = [
        r
        for r in tally.sent
        if r not in tally.refused and (r not in tally.decided or tally.decided[r] - tally.sent[r] > args.deadline)
    ]
    to_decision = [tally.decided[r] - tally.sent[r] for r in tally.decided if r not in tally.refused]
    notified, never = tally.notified_s()
    out.update(
        submitted=len(tally.sent),
        refused=len(tally.refused),
        refused_examples=sorted(set(tally.refused.values()))[:5],
        reply_s=list(tally.reply_s.values()),
        decision_s=to_decision,
        no_decision=len(late),
        proposed=sum(1 for h in tally.how.values() if h == "proposed"),
        unmatched=sum(1 for h in tally.how.values() if h == "unmatched"),
        notified_s=notified,
        proposals_not_told=never,
        machine_after=live.machine(),
    )
    return out


def row(r: dict[str, Any]) -> str:
    backlog = f"{r['requests']:,} x {r['experts']:,} ({r['size']}, {r['units']:,} units)"
    if not r.get("load_ok", True):
        backlog += f"; load failed after {r['load_s']:.0f} s, {r['backlog_held']:,} requests in"
    accepted = r["submitted"] - r["refused"]
    new = f"{r['submitted']} at {r['rate']:g}/s" + (f" ({r['refused']} refused)" if r["refused"] else "")
    return (
        f"| {backlog} | {new} | {live.p50_p99(r['reply_s'])} | {live.p50_p99(r['decision_s'])} "
        f"| {r['no_decision']} of {accepted} | {live.p50_p99(r['notified_s'])} |"
    )


def details(r: dict[str, Any]) -> str:
    lines = [
        f"- load: {'ok' if r['load_ok'] else 'FAILED'} in {r['load_s']} s ({r['load_said']!r})",
        f"- backlog: {r['backlog_held']} requests held; decided: {r['backlog_decided']} "
        f"(waited {r['backlog_decide_wait_s']} s after the load; last seen: {r['backlog_seen']})",
        f"- new requests: first decision proposed {r['proposed']}, unmatched {r['unmatched']}; "
        f"refused {r['refused']} {r['refused_examples']}",
        f"- proposals received while measuring: {len(r['notified_s']) + r['proposals_not_told']}, "
        f"of which every party not told within the grace: {r['proposals_not_told']}",
        *(
            [
                f"- a re-plan's write (a backlog request proposed again) seen before measuring: {r['replan_seen']}, "
                f"after {r['replan_waited_s']} s"
            ]
            if "replan_seen" in r
            else []
        ),
        f"- machine before: {r['machine_before']}; after: {r['machine_after']}",
        f"- the event listener's connection: lost {r['listener_lost_before']} times before measuring, while "
        f"measuring {r['listener_lost_measuring'] or 'never'} (events missed then would count as no decision)",
    ]
    return "\n".join(lines)


def main() -> int:
    ap = live.parser(__doc__, SIZES)
    ap.add_argument("--rate", type=float, default=10.0, help="new requests per second")
    ap.add_argument("--count", type=int, default=100, help="new requests")
    ap.add_argument("--deadline", type=float, default=150.0, help="s: a request not decided by then counts")
    ap.add_argument("--notify-grace", type=float, default=30.0, help="s waited for notifications after that")
    ap.add_argument("--decide-timeout", type=float, default=600.0)
    ap.add_argument(
        "--during-replan",
        type=float,
        default=0.0,
        metavar="S",
        help="start the new requests once a re-plan's write is seen (a backlog request proposed again after the "
        "consumers settled), waiting up to S s for it: the measuring then overlaps the write",
    )
    args = ap.parse_args()
    if args.rate <= 0 or args.count < 1:
        ap.error("--rate must be above 0 and --count at least 1")
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    try:
        with live.running(keep=args.keep) as system:
            result = asyncio.run(measure(system, args))
    except live.BenchError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted; everything started was stopped", file=sys.stderr)
        return 130
    result["started_utc"] = started
    print(f"{started}, {result['machine_before']}")
    print(HEADER.format(deadline=args.deadline))
    print(row(result))
    print(details(result))
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
