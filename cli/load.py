"""`expertshare load`: send a scenario to the running system, reference data first, in chunks.

Units, travel times, experts and contracts go to the contracts service, a chunk per command; the
matcher learns of them from its events (one event per chunk), so the loader waits until the
matcher has every unit, expert and contract before submitting the requests (which the matcher
checks against its copy of the units). Requests go `BATCH` per command (`matcher.requests.submit`,
signed once, each request answered on its own), `WINDOW` commands in flight at a time: enough to
keep the matcher busy, few enough that a status query still gets its turn.

The progress counts what the system answered, never what was sent: a chunk when the contracts
service replied, the matcher's copies as it reports them, a request when its answer came back.
Each chunk and each batch carries a message id made from the scenario's digest, so re-running a
load after an interruption does nothing twice (a repeated batch gets its first answers again).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Protocol, TypeVar

from pydantic import ValidationError

from cli.client import Client, ClientError
from shared import endpoints as E
from shared import messages as m
from shared.limits import SUBMIT_BATCH
from shared.scenario import Scenario

T = TypeVar("T")
CHUNK = 200  # units, experts or contracts per registration
TRAVEL_CHUNK = 2000
BATCH = 250  # requests per bulk command (at most SUBMIT_BATCH)
WINDOW = 4  # bulk commands in flight
CALL_TIMEOUT_S = 60.0
assert BATCH <= SUBMIT_BATCH


class Progress(Protocol):
    def __call__(self, advance: int, stage: str | None = None) -> None: ...


def read_scenario(path: Path) -> Scenario:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ClientError(f"{path}: no such file") from None
    except json.JSONDecodeError as err:
        raise ClientError(f"{path}: not valid JSON: {err}") from None
    try:
        return Scenario.model_validate(data)
    except ValidationError as err:
        lines = [f"  {'.'.join(str(p) for p in e['loc']) or 'scenario'}: {e['msg']}" for e in err.errors()[:30]]
        raise ClientError(f"{path}: invalid scenario\n" + "\n".join(lines)) from None


def chunks(items: list[T], size: int = CHUNK) -> Iterator[list[T]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def digest(sc: Scenario) -> str:
    """The scenario's fingerprint, computed once per load: the message ids are made from it."""
    return hashlib.sha256(sc.model_dump_json(by_alias=True).encode()).hexdigest()[:20]


def reference_commands(sc: Scenario, fingerprint: str) -> list[m.RegisterReference]:
    """Units, then travel, experts and contracts: each chunk refers only to what came before."""
    ref: list[m.RegisterReference] = []
    ref += [m.RegisterReference(units=c) for c in chunks(sc.units)]
    ref += [m.RegisterReference(travel_minutes=c) for c in chunks(sc.travel_minutes, TRAVEL_CHUNK)]
    ref += [m.RegisterReference(experts=c) for c in chunks(sc.experts)]
    ref += [m.RegisterReference(contracts=c) for c in chunks(sc.contracts)]
    return [cmd.model_copy(update={"event_id": f"load-{fingerprint}-ref-{i}"}) for i, cmd in enumerate(ref)]


def request_commands(sc: Scenario, fingerprint: str) -> list[m.SubmitRequests]:
    return [
        m.SubmitRequests(requests=list(batch), by="load", event_id=f"load-{fingerprint}-reqs-{i}")
        for i, batch in enumerate(chunks(sc.requests, BATCH))
    ]


def total_steps(sc: Scenario) -> int:
    """Every item once when the contracts service takes it, units, experts and contracts once more
    when the matcher has copied them, and every request when the matcher answers it."""
    travel_chunks = len(list(chunks(sc.travel_minutes, TRAVEL_CHUNK)))
    reference = len(sc.units) + len(sc.experts) + len(sc.contracts)
    return 2 * reference + travel_chunks + len(sc.requests)


async def load(client: Client, sc: Scenario, progress: Progress) -> dict[str, Any]:
    fingerprint = digest(sc)
    progress(0, "registering units, experts and contracts")
    for cmd in reference_commands(sc, fingerprint):
        await client.ask(E.REFERENCE_REGISTER, cmd, timeout=CALL_TIMEOUT_S)
        progress(_size(cmd))
    await wait_for_matcher(client, sc, progress)
    progress(0, "submitting requests")
    refused: list[str] = []
    window = asyncio.Semaphore(WINDOW)

    async def submit(cmd: m.SubmitRequests, first: int) -> None:
        async with window:
            results = (await client.ask(E.REQUESTS_SUBMIT, cmd, timeout=CALL_TIMEOUT_S)).results
        refused.extend(
            f"requests[{first + i}] ({r.id}): {r.field or 'request'}: {r.error}"
            for i, r in enumerate(results)
            if not r.ok
        )
        progress(len(results))

    await asyncio.gather(*(submit(cmd, i * BATCH) for i, cmd in enumerate(request_commands(sc, fingerprint))))
    return {
        "units": len(sc.units),
        "experts": len(sc.experts),
        "contracts": len(sc.contracts),
        "requests": len(sc.requests) - len(refused),
        "refused": refused,
    }


def _size(cmd: m.RegisterReference) -> int:
    return len(cmd.units) + len(cmd.experts) + len(cmd.contracts) + (1 if cmd.travel_minutes else 0)


COPIES = ("units", "experts", "contracts")


def missing(counts: dict[str, int], wanted: dict[str, int]) -> list[str]:
    """What the matcher has not copied yet, as `experts: 1470 of 2000`."""
    return [f"{k}: {counts.get(k, 0)} of {n}" for k, n in wanted.items() if counts.get(k, 0) < n]


async def wait_for_matcher(
    client: Client,
    sc: Scenario,
    progress: Progress | None = None,
    *,
    timeout: float = 120.0,
    poll_s: float = 0.25,
    clock: Callable[[], float] = time.monotonic,
) -> None:
    """Until the matcher has every unit, expert and contract (it may have more: an earlier load's).
    Asks the narrowest status question there is (one request, its proposals, the counts), and
    moves the progress by what it copied since the last look. A timeout names what is missing."""
    wanted = {
        "units": len({u.id for u in sc.units}),
        "experts": len({e.id for e in sc.experts}),
        "contracts": len({c.id for c in sc.contracts}),
    }
    deadline = clock() + timeout
    shown = 0
    if progress is not None:
        progress(0, "waiting for the matcher's copies")
    while True:
        counts = (await client.ask(E.MATCHER_STATUS, m.GetRequests(limit=1))).counts.model_dump()
        copied = sum(min(counts.get(k, 0), n) for k, n in wanted.items())
        if progress is not None and copied > shown:
            progress(copied - shown)
            shown = copied
        lacking = missing(counts, wanted)
        if not lacking:
            return
        if clock() > deadline:
            raise ClientError(
                f"the matcher has not copied the reference data after {timeout:.0f} s: "
                f"{', '.join(lacking)} (see its log, var/log/matcher.log)"
            )
        await asyncio.sleep(poll_s)
