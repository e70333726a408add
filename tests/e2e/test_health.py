"""`expertshare status --health` tells a person, on one machine and without Prometheus, whether
matching is healthy: each service ready or not, consumers' backlogs, outbox lag, dead letters,
proposals waiting, and the last plan's quality and time. Exit status 1 while a service is not ready.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import time
from typing import Any

import pytest

from shared import subjects as s
from tests.e2e import flow
from tests.e2e.portal import start_portal
from tests.e2e.system import System

pytestmark = pytest.mark.slow


async def health(system: System, *more: str) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "cli.main",
        "status",
        "--health",
        *more,
        env={**os.environ, "EXPERTSHARE_VAR": str(system.var), "NATS_URL": system.nats_url, "COLUMNS": "120"},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    return proc.returncode or 0, out.decode() + err.decode()


async def until_health(system: System, predicate: Any, what: str, timeout: float = 30.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        code, out = await health(system, "--json")
        found = json.loads(out)
        assert (code == 0) == found["healthy"]
        if predicate(found):
            return found
        assert time.monotonic() < deadline, f"{what} not seen: {out}"
        await asyncio.sleep(0.3)


async def test_status_health_says_what_is_ready_stuck_and_how_good_the_last_plan_is(system: System) -> None:
    code, out = await health(system)
    assert code == 1, out
    assert out.splitlines()[0] == "NOT HEALTHY: 3 of 4 services ready"
    assert any(line.split()[:2] == ["portal", "not"] for line in out.splitlines()), out
    assert any(line.split()[:2] == ["matcher", "ready"] for line in out.splitlines()), out
    assert "last plan: none yet" in out

    await start_portal(system)
    await flow.load_reference(system, n_experts=2)
    await flow.submit(system, "r1")
    await flow.proposal_for(system, "r1")
    await system.call(s.REQUEST_SUBMIT, b'{"request": ')  # dead-lettered: malformed

    def settled(h: dict[str, Any]) -> bool:
        return (
            h["healthy"]
            and h["waiting"]["count"] == 1
            and h["plan"]["made"]
            and h["dead_letters"]
            and h["consumers"]
            and not any(c.get("pending") or c.get("ack_pending") for c in h["consumers"])
        )

    found = await until_health(system, settled, "a healthy system with one proposal waiting and a plan")
    assert {c["service"] for c in found["consumers"]} == {"contracts", "matcher", "notifier"}
    assert found["dead_letters"] == [{"service": "matcher", "reason": "invalid", "count": 1}]
    assert {o["service"] for o in found["outbox"]} == {"contracts", "matcher", "notifier"}
    assert all(o["backlog"] == 0 for o in found["outbox"])
    assert found["plan"]["upper_bound"] >= found["plan"]["covered_weight"] > 0

    code, out = await health(system)
    assert code == 0, out
    lines = out.splitlines()
    assert lines[0] == "healthy: 4 of 4 services ready"
    assert "consumers: " in out and "all drained" in out
    assert "proposals waiting for staff: 1, the oldest" in out
    assert "DEAD LETTERS matcher (invalid): 1 since it started" in out
    plan = next(line for line in lines if line.startswith("last plan: "))
    assert "of a proven bound of" in plan and "solved in" in plan, plan

    system.kill("notifier", signal.SIGKILL)
    code, out = await health(system)
    assert code == 1 and out.splitlines()[0] == "NOT HEALTHY: 3 of 4 services ready", out
    assert any(line.split()[:3] == ["notifier", "not", "running"] for line in out.splitlines()), out
