"""`up`'s watch of a process it started itself (the embedded nats-server): started again when it
exits, said in one line, and tried again (more slowly) while it cannot be started."""

from __future__ import annotations

import asyncio
from pathlib import Path

from cli.supervisor import Supervisor
from shared.nats import NatsServerError


async def test_a_dead_server_is_started_again_and_the_console_says_so(tmp_path: Path) -> None:
    lines: list[str] = []
    sup = Supervisor({}, tmp_path, lines.append)
    state: dict[str, int | None] = {"code": None, "tries": 0}

    def restart() -> str:
        state["tries"] = (state["tries"] or 0) + 1
        if state["tries"] == 1:
            raise NatsServerError("port 4222 is already taken on 127.0.0.1")
        state["code"] = None
        return "on nats://127.0.0.1:4222 (store var/nats, pid 42)"

    sup.watch("nats-server", lambda: state["code"], restart, poll_s=0.01)
    await asyncio.sleep(0.05)
    assert lines == [], "a running server is left alone"
    state["code"] = -9
    for _ in range(500):
        if any("started it again" in x for x in lines):
            break
        await asyncio.sleep(0.01)
    assert lines == [
        "nats-server exited with status -9 and could not be started again: port 4222 is already taken on "
        "127.0.0.1; trying again in 2 s",
        "nats-server exited with status -9; started it again on nats://127.0.0.1:4222 (store var/nats, pid 42)",
    ]
    await sup.stop()
    assert state["tries"] == 2
