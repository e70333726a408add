"""What the live benchmarks share: the system under test started from outside, people's signed
commands, a listener on the events, and the pure arithmetic of their figures.

`System` runs `expertshare up --no-demo` as a child process on a temporary data directory (its
own NATS on a free port, a free portal port), loads scenarios with `expertshare load` (the CLI
itself, as a user would), and stops everything it started at the end, even on an error or
Ctrl-C. This process signs its commands the way the CLI does: the operator credential `up`
issues in var/secrets (`cli.identity`), or a person's credential issued by the installation's
issuer (staff, an expert, a commune), and listens to events as the `admin` NATS identity (the
only one that may subscribe to events: `shared.security.identities`).

The pure parts (`percentile`, `live_weight`) are unit-tested in tests/unit/test_bench_live.py.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shared import assignment, parties

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
READY = "running; Ctrl-C stops everything"

# The event subjects the benchmarks follow (core NATS subscriptions see what the outboxes publish).
PROPOSED = "matcher.assignment.proposed"
UNMATCHED = "matcher.request.unmatched"
WITHDRAWN = "matcher.assignment.withdrawn"
DELIVERED = "notifier.notification.delivered"
APPROVED = "contracts.assignment.approved"
ACCEPTED = "contracts.assignment.accepted"
DECLINED = "contracts.assignment.declined"
REJECTED = "contracts.assignment.rejected"
COMPLETED = "contracts.request.completed"
# Who the notifier tells of a proposal (services/notifier/handlers.py `assignment_proposed`):
# staff (proposal_waiting) and the request's commune (request_matched), one inbox note each.
STAFF_PARTY = parties.STAFF
# A request counts as covered live when each of its slots has a proposal in one of these at the end.
COVERING = frozenset(assignment.COVERING)


class BenchError(RuntimeError):
    """The system under test did not do what the benchmark needs: the message says what."""


# ------------------------------------------------------------------------------ pure arithmetic
def percentile(values: Iterable[float], q: float) -> float | None:
    """The q-th percentile (0..100) by linear interpolation between closest ranks (numpy's
    default), None for no values: p99 of 300 samples is not the maximum, p50 of two is their mean."""
    xs = sorted(values)
    if not xs:
        return None
    if not 0 <= q <= 100:
        raise ValueError(f"a percentile is between 0 and 100, got {q}")
    pos = (len(xs) - 1) * q / 100
    lo, hi = math.floor(pos), math.ceil(pos)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def fmt_ms(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds * 1000:.0f} ms" if seconds < 1 else f"{seconds:.2f} s"


def p50_p99(values: list[float]) -> str:
    """`a / b` as the issue's table writes it, with the number of samples."""
    if not values:
        return "- (no samples)"
    return f"{fmt_ms(percentile(values, 50))} / {fmt_ms(percentile(values, 99))} (n={len(values)})"


def live_weight(
    requests: Mapping[str, tuple[int, int]], proposals: Iterable[Mapping[str, Any]], weights: Mapping[int, int]
) -> int:
    """The live covered weight: the sum of `weights[priority]` over the requests each of whose
    slots has, at the end, a proposal whose status is proposed, approved, accepted or completed.

    `requests`: request id -> (priority, number of slots); `proposals`: the matcher's proposals
    (`request_id`, `slot`, `status`), every status. A request with some slots covered counts for
    nothing (the solver counts a request only when all its slots are filled); proposals of requests
    not in `requests` are ignored; a declined, rejected, withdrawn or cancelled proposal covers nothing."""
    covered: dict[str, set[int]] = {}
    for p in proposals:
        if p["status"] in COVERING and p["request_id"] in requests:
            covered.setdefault(p["request_id"], set()).add(int(p.get("slot", 0)))
    return sum(weights[prio] for rid, (prio, slots) in requests.items() if covered.get(rid, set()) >= set(range(slots)))


# ------------------------------------------------------------------------------ the system
@dataclass
class System:
    """`expertshare up --no-demo` on a temporary var/ (see the module's docstring)."""

    keep: bool = False  # keep the data directory (its logs) after the run
    var: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="expertshare-bench-")))
    proc: subprocess.Popen[bytes] | None = None
    nats_port: int = 0
    url: str = ""
    pids: set[int] = field(default_factory=set)
    children: list[subprocess.Popen[str]] = field(default_factory=list)  # CLI commands running

    def env(self) -> dict[str, str]:
        env = {
            k: v
            for k, v in os.environ.items()
            if not (
                k
                in (
                    "NATS_URL",
                    "EXPERTSHARE_SECRETS_DIR",
                    "EXPERTSHARE_CREDENTIAL",
                    "EXPERTSHARE_NATS_SEED",
                    "EXPERTSHARE_NATS_PORT",
                )
                or k.endswith("_DATABASE_URL")
            )
        }
        env.update(EXPERTSHARE_VAR=str(self.var), EXPERTSHARE_CREDENTIAL=str(self.var / "secrets" / "operator.cred"))
        return env

    def start(self, within_s: float = 120.0) -> None:
        from shared.nats import die_with_parent, free_port

        self.nats_port = free_port()
        env = {**self.env(), "PORTAL_PORT": str(free_port())}
        console = (self.var / "console.log").open("wb")
        self.proc = subprocess.Popen(
            [str(BIN / "expertshare"), "up", "--no-demo", "--nats-port", str(self.nats_port)],
            cwd=self.var,
            env=env,
            stdout=console,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=die_with_parent,
        )  # a benchmark killed outright still stops `up` (SIGTERM)
        # This process acts in the system's data directory from now on (secrets, credentials).
        os.environ.update({k: env[k] for k in ("EXPERTSHARE_VAR", "EXPERTSHARE_CREDENTIAL")})
        for k in ("NATS_URL", "EXPERTSHARE_SECRETS_DIR", "EXPERTSHARE_NATS_SEED"):
            os.environ.pop(k, None)
        deadline = time.monotonic() + within_s
        while True:
            text = self.console()
            self.pids |= {int(p) for p in re.findall(r"\(pid (\d+)", text)}
            if READY in text:
                break
            if self.proc.poll() is not None or "did not come up" in text:
                raise BenchError(f"expertshare up failed (exit {self.proc.poll()}); console:\n{text[-2000:]}")
            if time.monotonic() > deadline:
                raise BenchError(f"expertshare up not ready after {within_s:.0f} s; console:\n{text[-2000:]}")
            time.sleep(0.2)
        self.url = (self.var / "nats.url").read_text().strip()
        with contextlib.suppress(OSError, ValueError):
            self.pids.add(int((self.var / "nats.pid").read_text()))

    def console(self) -> str:
        try:
            return (self.var / "console.log").read_text(errors="replace")
        except OSError:
            return ""

    def stop(self, grace_s: float = 40.0) -> None:
        """SIGTERM to `up` (it stops the services, then NATS), SIGKILL to whatever is left after
        `grace_s`, then every pid `up` reported (services, nats-server) checked gone."""
        for child in list(self.children):
            child.kill()
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(grace_s)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        self.pids |= {int(p) for p in re.findall(r"\(pid (\d+)", self.console())}
        for pid in self.pids:
            if _alive(pid):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        if not self.keep:
            shutil.rmtree(self.var, ignore_errors=True)

    def cli(self, *args: str, timeout_s: float) -> tuple[int, str, float]:
        """An `expertshare` command against this system: (exit status, output, seconds). `stop`
        ends it too (the benchmark interrupted while it runs in a thread)."""
        started = time.monotonic()
        child = subprocess.Popen(
            [str(BIN / "expertshare"), *args],
            env=self.env(),
            cwd=self.var,
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        self.children.append(child)
        try:
            out, _ = child.communicate(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            child.kill()
            out, _ = child.communicate()
            return -1, f"timed out after {timeout_s:.0f} s; {(out or '')[-500:]}", time.monotonic() - started
        finally:
            self.children.remove(child)
        return child.returncode, (out or "").strip(), time.monotonic() - started

    def load(self, scenario: Any, *, timeout_s: float) -> tuple[bool, str, float]:
        """`expertshare load` of `scenario`: (succeeded, its last lines, seconds)."""
        path = self.var / f"scenario-{len(scenario.requests)}.json"
        path.write_text(scenario.model_dump_json(by_alias=True))
        code, out, seconds = self.cli("load", str(path), timeout_s=timeout_s)
        return code == 0, "\n".join(out.splitlines()[-5:]), seconds


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie (our own child not yet reaped) is not running.
    with contextlib.suppress(OSError):
        return " Z " not in Path(f"/proc/{pid}/stat").read_text().split(")", 1)[1][:4]
    return True


@contextlib.contextmanager
def running(keep: bool = False) -> Any:
    """A started `System`, stopped on the way out whatever happens (an error, Ctrl-C, SIGTERM).
    A CLI command running in a thread is ended at once: asyncio waits for its threads on the way out."""
    system = System(keep=keep)

    def interrupted(_signum: int, _frame: Any) -> None:
        for child in list(system.children):
            child.kill()
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupted)
    signal.signal(signal.SIGINT, interrupted)
    try:
        system.start()
        yield system
    finally:
        system.stop()
        if keep:
            print(f"kept {system.var}", file=sys.stderr)


# ------------------------------------------------------------------------------ people and events
def person(role: str, party: str, *, hours: float = 12) -> Any:
    """Someone signed in (staff, an expert, a commune), with a credential from this installation's
    issuer (`expertshare credential issue` does the same): returns a signer for commands."""
    from cli.identity import Identity
    from shared.security import credentials, keys

    seed = keys.new_seed(keys.USER)
    cred = credentials.issue(
        credentials.issuer_seed(),
        person=party.split(":", 1)[1],
        role=role,
        party=party,
        key=keys.public_key(seed),
        channel="cli",
        hours=hours,
    )
    return Identity(cred, seed, Path("-"))


async def call(
    client: Any, subject: str, message: Any, signer: Any = None, *, timeout: float = 30.0
) -> tuple[dict[str, Any] | None, str | None, float]:
    """A signed command or query: (data, error, seconds); `signer` None signs as the operator."""
    from cli.client import ClientError

    if signer is not None:
        message = signer.sign(subject, message)
    started = time.monotonic()
    try:
        reply = await client.call(subject, message, timeout=timeout)
    except ClientError as err:
        return None, str(err), time.monotonic() - started
    seconds = time.monotonic() - started
    return (reply.data or {}, None, seconds) if reply.ok else (None, reply.error or "refused", seconds)


class Listener:
    """Core NATS subscriptions as the admin: each event's JSON, with when it arrived here, goes to
    the callback of its subject."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.nc: Any = None
        # When this connection was lost (events published meanwhile were not seen), and why.
        self.lost: list[tuple[float, str]] = []

    def lost_since(self, since: float) -> list[str]:
        return [why for at, why in self.lost if at >= since]

    async def start(self, handlers: Mapping[str, Callable[[dict[str, Any], float], None]]) -> None:
        from shared.nats import connect
        from shared.security.identities import ADMIN

        async def error(err: Exception) -> None:
            self.lost.append((time.monotonic(), f"{type(err).__name__}: {err}"[:200]))

        async def disconnected() -> None:
            self.lost.append((time.monotonic(), "disconnected"))

        self.nc = await connect(
            self.url,
            ADMIN,
            max_reconnect_attempts=-1,
            reconnect_time_wait=0.5,
            pending_size=256 * 1024 * 1024,
            error_cb=error,
            disconnected_cb=disconnected,
        )
        for subject, handle in handlers.items():

            async def cb(msg: Any, handle: Callable[[dict[str, Any], float], None] = handle) -> None:
                now = time.monotonic()
                try:
                    data = json.loads(msg.data)
                except ValueError:
                    return
                handle(data, now)

            await self.nc.subscribe(subject, cb=cb, pending_msgs_limit=1_000_000, pending_bytes_limit=512 * 1024 * 1024)
        await self.nc.flush()

    async def stop(self) -> None:
        if self.nc is not None:
            with contextlib.suppress(Exception):
                await self.nc.close()


async def open_requests(client: Any, total: int) -> tuple[int, int]:
    """(requests the matcher holds, those of them still open): a narrow query (the open ones, at
    most one returned) whose counts are whole."""
    from shared import endpoints as E
    from shared import messages as m

    q = m.GetRequests(statuses=["open"], limit=1)
    data, err, _ = await call(client, E.MATCHER_STATUS.subject, q, timeout=30)
    if data is None:
        raise BenchError(f"matcher.status.get failed: {err}")
    status = E.MATCHER_STATUS.reply.model_validate(data)
    return status.counts.requests, len(status.requests)


async def wait_decided(client: Any, total: int, within_s: float, every_s: float = 1.0) -> tuple[bool, float, str]:
    """Poll until the matcher holds `total` requests and none is open (each proposed or unmatched):
    (decided, seconds waited, what was seen last)."""
    started = time.monotonic()
    seen = ""
    while True:
        try:
            held, still_open = await open_requests(client, total)
            seen = f"{held} requests held, open: {'some' if still_open else 'none'}"
            if held >= total and not still_open:
                return True, time.monotonic() - started, seen
        except BenchError as err:
            seen = str(err)
        if time.monotonic() - started > within_s:
            return False, time.monotonic() - started, seen
        await asyncio.sleep(every_s)


async def wait_settled(nc: Any, within_s: float, every_s: float = 0.5) -> tuple[bool, float, str]:
    """Poll, as the admin, until every service's durable consumers have nothing pending or
    unacknowledged: what the backlog set off (a notifier telling 10,000 parties) is done, so the
    new requests are timed on a settled system rather than behind the backlog's queue."""
    from shared.streams import CONSUMERS, stream_name

    js = nc.jetstream()
    started = time.monotonic()
    seen = ""
    while True:
        busy: list[str] = []
        for service, consumers in CONSUMERS.items():
            for name, subject in consumers.items():
                try:
                    info = await js.consumer_info(stream_name(subject.split(".")[0]), f"{service}-{name}")
                except Exception as err:  # noqa: BLE001 - a consumer not made: nothing waits on it
                    seen = f"{service}-{name}: {type(err).__name__}"
                    continue
                if info.num_pending or info.num_ack_pending:
                    busy.append(f"{service}-{name} {info.num_pending + info.num_ack_pending}")
        seen = ", ".join(busy[:5]) or "nothing pending"
        if not busy:
            return True, time.monotonic() - started, seen
        if time.monotonic() - started > within_s:
            return False, time.monotonic() - started, seen
        await asyncio.sleep(every_s)


def parser(doc: str, sizes: Mapping[str, Any]) -> argparse.ArgumentParser:
    """The options every benchmark of the running system takes; each adds its own."""
    ap = argparse.ArgumentParser(description=doc.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", choices=sorted(sizes), default="province")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--load-timeout", type=float, default=600.0)
    ap.add_argument("--keep", action="store_true", help="keep the data directory (logs) afterwards")
    ap.add_argument("--json", type=Path, help="also write the figures here")
    return ap


def machine() -> str:
    """The machine and its load, for the figures' text."""
    import platform

    load = os.getloadavg()
    return (
        f"{os.cpu_count()} cores, Python {platform.python_version()}, "
        f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}"
    )
