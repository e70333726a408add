"""`expertshare load`: send a scenario to the running system, reference data first, in chunks.

Units, travel times, experts and contracts go to the contracts service; the matcher learns of
them from its events, so the loader waits until the matcher has them before submitting the
requests (which the matcher checks against its copy of the units). Each chunk and each request
carries its own message id, so re-running a load after an interruption does nothing twice.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

from pydantic import ValidationError

from cli.client import Client, ClientError
from shared import messages as m
from shared import subjects as s
from shared.scenario import Scenario

T = TypeVar("T")
CHUNK = 200


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


def chunks(items: Sequence[T], size: int = CHUNK) -> Iterator[Sequence[T]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _stable_id(kind: str, index: int, sc: Scenario) -> str:
    """The same scenario gives the same message ids: a repeated load is a no-op."""
    import hashlib

    h = hashlib.sha256(sc.model_dump_json(by_alias=True).encode()).hexdigest()[:20]
    return f"load-{h}-{kind}-{index}"


async def load(client: Client, sc: Scenario, progress: Callable[[int], None]) -> dict[str, Any]:
    ref: list[m.RegisterReference] = []
    ref += [m.RegisterReference(units=c) for c in chunks(sc.units)]
    ref += [m.RegisterReference(travel_minutes=c) for c in chunks(sc.travel_minutes, 2000)]
    ref += [m.RegisterReference(experts=c) for c in chunks(sc.experts)]
    ref += [m.RegisterReference(contracts=c) for c in chunks(sc.contracts)]
    for i, cmd in enumerate(ref):
        await client.ok(s.REFERENCE_REGISTER, cmd.model_copy(update={"event_id": _stable_id("ref", i, sc)}), timeout=60)
        progress(_size(cmd))
    await wait_for_matcher(client, sc)
    refused: list[str] = []
    sem = asyncio.Semaphore(16)

    async def submit(i: int, r: Any) -> None:
        cmd = m.SubmitRequest(request=r, by="load", event_id=_stable_id("req", i, sc))
        async with sem:
            reply = await client.call(s.REQUEST_SUBMIT, cmd, timeout=60)
        if not reply.ok:
            refused.append(f"requests[{i}] ({r.id}): {reply.error}")
        progress(1)

    await asyncio.gather(*(submit(i, r) for i, r in enumerate(sc.requests)))
    return {"units": len(sc.units), "experts": len(sc.experts), "contracts": len(sc.contracts),
            "requests": len(sc.requests) - len(refused), "refused": refused}


def _size(cmd: m.RegisterReference) -> int:
    return len(cmd.units) + len(cmd.experts) + len(cmd.contracts) + (1 if cmd.travel_minutes else 0)


def total_steps(sc: Scenario) -> int:
    travel_chunks = len(list(chunks(sc.travel_minutes, 2000)))
    return len(sc.units) + len(sc.experts) + len(sc.contracts) + travel_chunks + len(sc.requests)


async def wait_for_matcher(client: Client, sc: Scenario, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        counts = (await client.ok(s.MATCHER_STATUS_GET, m.GetStatus(limit=1)))["counts"]
        if counts["units"] >= len({u.id for u in sc.units}) and counts["contracts"] >= len(sc.contracts):
            return
        if time.monotonic() > deadline:
            raise ClientError(f"the matcher has not caught up with the reference data after {timeout:.0f} s: {counts}")
        await asyncio.sleep(0.2)
