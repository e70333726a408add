"""Loading a country into the running system, measured from outside: `expertshare up --no-demo` on
free ports with a var/ of its own, then `expertshare load` of a generated scenario, timed, while
a staff member's status query (what `expertshare status` asks of the matcher and of contracts) is
sent every second. Figures go into docs/performance.md ("Loading").

    .venv/bin/python bench/bench_load.py [--requests 10000 --experts 2000 --seed 1] [--keep]

It prints the machine's load average before and after (other work on the machine slows it), the
wall time of the load and of each stage as the loader reported it, the progress lines (the last
must be the total), what the matcher holds at the end, and the status queries' latency (p50, p99,
max) and how many timed out (10 s, the CLI's timeout).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
QUERY_TIMEOUT_S = 10.0


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start(var: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    log = (var.parent / "up.log").open("wb")
    proc = subprocess.Popen(
        [str(BIN / "expertshare"), "up", "--no-demo", "--nats-port", str(free_port())],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if "running; Ctrl-C stops everything" in (var.parent / "up.log").read_text(errors="replace"):
            return proc
        if proc.poll() is not None:
            break
        time.sleep(0.5)
    stop(proc)
    raise SystemExit(f"the system did not start: see {var.parent / 'up.log'}")


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)  # `up` stops the services, then NATS
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


async def sample_status(stop_at: asyncio.Event, samples: list[tuple[str, float | None]], slow: list[str]) -> None:
    """Every second, what `expertshare status` sends, to each service; its latency, None on timeout."""
    from cli.client import ClientError, connect
    from shared import endpoints as E
    from shared import messages as m

    began = time.monotonic()
    asked: list[tuple[E.Endpoint[Any, Any], m.Message]] = [
        (E.MATCHER_STATUS, m.GetRequests(limit=200)),
        (E.CONTRACTS_STATUS, m.GetContractsStatus(limit=200)),
    ]
    async with connect(timeout=QUERY_TIMEOUT_S) as client:
        while not stop_at.is_set():
            for endpoint, q in asked:
                subject = endpoint.subject
                began = time.perf_counter()
                at = time.monotonic()
                try:
                    await client.ask(endpoint, q)
                    samples.append((subject, time.monotonic() - at))
                except ClientError:
                    samples.append((subject, None))
                if samples[-1][1] is None or samples[-1][1] > 1.0:
                    took = "timed out" if samples[-1][1] is None else f"{samples[-1][1]:.1f} s"
                    slow.append(f"{subject} asked at {at - began:.0f} s: {took}")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop_at.wait(), 1.0)


async def matcher_counts() -> dict[str, int]:
    from cli.client import connect
    from shared import endpoints as E
    from shared import messages as m

    async with connect(timeout=QUERY_TIMEOUT_S) as client:
        return (await client.ask(E.MATCHER_STATUS, m.GetRequests(limit=1))).counts.model_dump()


async def drained(timeout_s: float = 600.0) -> tuple[float, dict[str, int]]:
    """Seconds until every durable consumer has taken all its events (the matcher's submissions
    reach contracts and the notifier as one event per request), and the backlog when it began."""
    from cli.client import nats_url
    from shared.nats import connect
    from shared.streams import catalogue

    nc = await connect(nats_url(), "admin")
    try:
        js = nc.jetstream()
        began, first = time.monotonic(), None
        while time.monotonic() - began < timeout_s:
            backlog = {}
            for consumer in catalogue():
                info = await js.consumer_info(consumer.stream, consumer.durable)
                if info.num_pending or info.num_ack_pending:
                    backlog[consumer.durable] = info.num_pending + info.num_ack_pending
            first = backlog if first is None else first
            if not backlog:
                return time.monotonic() - began, first
            await asyncio.sleep(1.0)
        raise SystemExit(f"consumers still behind after {timeout_s:.0f} s: {backlog}")
    finally:
        await nc.close()


async def run_load(scenario: Path, env: dict[str, str]) -> dict[str, Any]:
    samples: list[tuple[str, float | None]] = []
    slow: list[str] = []
    done = asyncio.Event()
    sampler = asyncio.create_task(sample_status(done, samples, slow))
    began = time.monotonic()
    proc = await asyncio.create_subprocess_exec(
        str(BIN / "expertshare"),
        "load",
        str(scenario),
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    lines: list[tuple[float, str]] = []
    assert proc.stderr is not None and proc.stdout is not None
    async for raw in proc.stderr:
        lines.append((time.monotonic() - began, raw.decode(errors="replace").rstrip()))
    out = (await proc.stdout.read()).decode()
    code = await proc.wait()
    wall = time.monotonic() - began
    done.set()
    await sampler
    return {"code": code, "wall_s": wall, "out": out.strip(), "lines": lines, "samples": samples, "slow": slow}


def stages(lines: list[tuple[float, str]]) -> list[tuple[str, float]]:
    """When each stage began, as the loader reported it."""
    seen: list[tuple[str, float]] = []
    for at, line in lines:
        found = re.match(r"progress \d+ of \d+: (.*)", line)
        if found and (not seen or seen[-1][0] != found.group(1)):
            seen.append((found.group(1), at))
    return seen


def latency(samples: list[tuple[str, float | None]], subject: str) -> str:
    got = sorted(x * 1000 for subj, x in samples if subj == subject and x is not None)
    timeouts = sum(1 for subj, x in samples if subj == subject and x is None)
    if not got:
        return f"{subject}: no answer ({timeouts} timeouts)"
    p99 = got[min(len(got) - 1, int(round(0.99 * (len(got) - 1))))]
    return (
        f"{subject}: {len(got) + timeouts} queries, p50 {statistics.median(got):.0f} ms, p99 {p99:.0f} ms, "
        f"max {got[-1]:.0f} ms, {timeouts} timed out (> {QUERY_TIMEOUT_S:.0f} s)"
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=10_000)
    ap.add_argument("--experts", type=int, default=2_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--keep", action="store_true", help="keep the var/ directory (its logs) afterwards")
    args = ap.parse_args()

    from scenarios.generate import generate

    work = Path(tempfile.mkdtemp(prefix="bench-load-"))
    var = work / "var"
    scenario = work / "scenario.json"
    sc = generate(args.requests, args.experts, seed=args.seed)
    scenario.write_text(json.dumps(sc.model_dump(mode="json", by_alias=True), ensure_ascii=False), encoding="utf-8")
    env = {**os.environ, "EXPERTSHARE_VAR": str(var), "PORTAL_PORT": str(free_port())}
    env.pop("NATS_URL", None)
    os.environ.update({"EXPERTSHARE_VAR": str(var)})
    os.environ.pop("NATS_URL", None)
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    print(
        f"scenario: {len(sc.units)} units, {len(sc.experts)} experts, {len(sc.contracts)} contracts, "
        f"{len(sc.requests)} requests (seed {args.seed}); matcher settings: "
        f"{ {k: v for k, v in os.environ.items() if k.startswith('MATCHER_')} or 'the defaults' }"
    )
    up = start(var, env)
    try:
        before = os.getloadavg()
        print(
            f"load average before: {before[0]:.2f} {before[1]:.2f} {before[2]:.2f}; "
            f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}"
        )
        result = asyncio.run(run_load(scenario, env))
        after = os.getloadavg()
        counts = asyncio.run(matcher_counts())
        drain_s, backlog = asyncio.run(drained())
    finally:
        stop(up)
    print(f"load average after: {after[0]:.2f} {after[1]:.2f} {after[2]:.2f}")
    print(f"expertshare load: exit {result['code']}, {result['wall_s']:.1f} s wall; {result['out']}")
    for name, at in stages(result["lines"]):
        print(f"  at {at:6.1f} s: {name}")
    print(f"  progress lines: {len(result['lines'])}, the last: {result['lines'][-1][1] if result['lines'] else '-'}")
    print(f"  the matcher holds: {counts}")
    print(
        f"  every consumer caught up {drain_s:.0f} s after the load ended; its backlog then: "
        f"{dict(sorted(backlog.items(), key=lambda kv: -kv[1])[:4])}"
    )
    for subject in ("matcher.status.get", "contracts.status.get"):
        print("  " + latency(result["samples"], subject))
    for line in result["slow"]:
        print(f"    over 1 s: {line}")
    if args.keep:
        print(f"kept {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    main()
