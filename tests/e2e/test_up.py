"""`expertshare up` as a person runs it (what `make run` does): the real command in a process of
its own, its console read line by line, Ctrl-C sent to it alone, as a terminal would.

It starts NATS and every service, says in one line that the usual port is taken and which it
took instead, loads the demo and shows proposals, keeps the console to the story and warnings,
starts a service that dies again, stops everything on Ctrl-C, keeps the data for the next start
(no second demo), and uses the server named by NATS_URL and a database named by its URL instead
of its own.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from shared.nats import free_port, start_nats

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
SERVICE_LINE = re.compile(r"^(expertshare|contracts|matcher|notifier|portal) *\| ")


class Up:
    started: list[Up] = []  # stopped after each test, even one that failed halfway

    def __init__(self, var: Path, *args: str, **env: str) -> None:
        Up.started.append(self)
        self.lines: list[str] = []
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "cli.main", "up", *args],
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
            env={**os.environ, "EXPERTSHARE_VAR": str(var), "MATCHER_TIME_LIMIT_S": "5", **env},
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def wait_for(self, pattern: str, timeout: float = 120.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = next((x for x in self.lines if re.search(pattern, x)), None)
            if found:
                return found
            if self.proc.poll() is not None and not self._reader.is_alive():
                break
            time.sleep(0.2)
        raise AssertionError(f"no line matching {pattern!r}; console:\n" + "\n".join(self.lines[-80:]))

    def ctrl_c(self, timeout: float = 40.0) -> int:
        self.proc.send_signal(signal.SIGINT)  # the terminal's Ctrl-C reaches only `up`'s group
        code = self.proc.wait(timeout)
        self._reader.join(5)
        return code

    def child_pids(self) -> list[int]:
        return [int(p) for p in re.findall(r"started \w+ \(pid (\d+)", "\n".join(self.lines))]


@pytest.fixture(autouse=True)
def _no_up_left_running() -> Iterator[None]:
    yield
    while Up.started:
        up = Up.started.pop()
        if up.proc.poll() is None:  # the test failed before its Ctrl-C: stop it as a person would
            try:
                up.ctrl_c()
            except subprocess.TimeoutExpired:
                os.killpg(up.proc.pid, signal.SIGKILL)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}").exists() and "zombie" not in Path(f"/proc/{pid}/status").read_text().lower()


def status(var: Path, attempts: int = 1) -> dict:
    """`expertshare status --json`, asked again (every 0.5 s) while a service is still starting."""
    own = {"EXPERTSHARE_SECRETS_DIR": ""} if (var / "secrets").exists() else {}  # as on a machine: var/secrets
    for _ in range(attempts):
        out = subprocess.run(
            [sys.executable, "-m", "cli.main", "status", "--json"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, "EXPERTSHARE_VAR": str(var), **own},
        )
        if out.returncode == 0:
            return json.loads(out.stdout)
        time.sleep(0.5)
    raise AssertionError(out.stderr)


@pytest.fixture
def taken_port() -> Iterator[int]:
    """A port something else listens on, as 4222 may be on a developer's machine."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        yield s.getsockname()[1]


def private(d: Path) -> bool:
    return d.is_dir() and d.stat().st_mode & 0o777 == 0o700


def kept(st: dict) -> dict:  # type: ignore[type-arg]
    """The counts of what was loaded (assignments come and go as the matcher re-plans)."""
    return {k: v for k, v in st["counts"].items() if k != "assignments"}


def test_up_runs_the_demo_stops_on_ctrl_c_and_keeps_the_data(tmp_path: Path, taken_port: int) -> None:
    var = tmp_path / "var"
    up = Up(var, EXPERTSHARE_NATS_PORT=str(taken_port), EXPERTSHARE_SECRETS_DIR="")  # its own, in var/secrets
    up.wait_for(r"demo loaded: 60 requests submitted")
    assert private(var) and private(var / "secrets") and private(var / "secrets" / "nats")
    made = [*var.glob("*.db"), *(var / "secrets" / "nats").iterdir(), *(var / "log").iterdir()]
    assert made and all(f.stat().st_mode & 0o777 == 0o600 for f in made), [(f, oct(f.stat().st_mode)) for f in made]
    up.wait_for(r"proposed  a-")
    portal = re.search(r"portal on (http://\S+)", up.wait_for(r"portal on http://")).group(1)
    assert "Đăng nhập" in httpx.get(portal + "/login", timeout=10).text, "the portal answers, in Vietnamese"
    for name in ("contracts", "matcher", "notifier", "portal"):  # where each serves its metrics, said once
        url = re.search(rf"{name} metrics on (http://\S+)/metrics", up.wait_for(rf"{name} metrics on")).group(1)
        assert httpx.get(url + "/healthz", timeout=10).status_code == 200
    moved = [x for x in up.lines if str(taken_port) in x]
    assert len(moved) == 1 and re.search(rf"port {taken_port} is taken.*on port (\d+) instead", moved[0]), moved
    first = status(var)
    assert first["counts"]["requests"] == 60 and first["proposals"], first["counts"]
    # a service that dies is started again
    matcher = int(re.search(r"started matcher \(pid (\d+)", up.wait_for(r"started matcher")).group(1))
    os.kill(matcher, signal.SIGKILL)
    up.wait_for(r"matcher exited with status -9; starting it again")
    up.wait_for(rf"started matcher \(pid (?!{matcher}\b)\d+")
    assert kept(status(var, attempts=60)) == kept(first)
    pids = up.child_pids()

    assert up.ctrl_c() == 0
    assert "stopped; data kept in" in up.lines[-1]
    assert not [p for p in pids if alive(p)], "a service outlived Ctrl-C"
    assert all(SERVICE_LINE.match(x) for x in up.lines), "console lines that are not the story"
    noise = [x for x in up.lines if re.search(r"callback for|Traceback|\berror\b", x)]
    assert not noise, noise
    # every line of every service is in its log file, as JSON carrying the correlation id
    for name in ("contracts", "matcher", "notifier"):
        entries = [json.loads(x) for x in (var / "log" / f"{name}.log").read_text().splitlines()]
        handled = [e for e in entries if e["event"] in ("command_handled", "event_handled")]
        assert handled and all(e["correlation_id"] for e in handled), name

    again = Up(var, EXPERTSHARE_NATS_PORT=str(taken_port), EXPERTSHARE_SECRETS_DIR="")
    again.wait_for(r"running; Ctrl-C stops everything")
    assert any("existing data: 20 units, 30 experts, 30 contracts, 60 requests" in x for x in again.lines)
    assert not any("loading the Tuyen Quang demo" in x for x in again.lines)
    second = status(var)
    assert kept(second) == kept(first)
    assert {r["id"]: r["status"] for r in second["requests"]}.keys() == {r["id"] for r in first["requests"]}
    assert again.ctrl_c() == 0


def test_up_uses_the_server_and_database_named_by_their_urls(tmp_path: Path) -> None:
    theirs = start_nats(tmp_path / "their-nats", free_port())
    try:
        var = tmp_path / "var"
        elsewhere = tmp_path / "elsewhere" / "contracts.db"
        elsewhere.parent.mkdir()
        up = Up(var, "--no-demo", NATS_URL=theirs.url, CONTRACTS_DATABASE_URL=f"sqlite:///{elsewhere}")
        up.wait_for(r"running; Ctrl-C stops everything", timeout=90)
        assert any(f"using NATS at {theirs.url}" in x for x in up.lines)
        assert not any("NATS with JetStream on" in x for x in up.lines), "it started a server of its own"
        assert not (var / "nats").exists()
        assert (var / "nats.url").read_text() == theirs.url  # the CLI in another terminal finds it
        assert status(var)["counts"]["units"] == 0
        assert elsewhere.exists() and not (var / "contracts.db").exists(), "CONTRACTS_DATABASE_URL not used"
        assert (var / "matcher.db").exists()
        assert up.ctrl_c() == 0
        assert theirs.process.poll() is None, "a server it did not start is left running"
    finally:
        theirs.stop()


def nats_children(pid: int) -> list[int]:
    """The live nats-server processes `pid` started (from the process tree)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            name = stat.read_text().split("(", 1)[1].rsplit(")", 1)[0]
        except (OSError, IndexError):
            continue
        if name == "nats-server" and int(fields[1]) == pid and alive(int(stat.parent.name)):
            found.append(int(stat.parent.name))
    return found


def test_up_starts_its_nats_server_again_when_it_dies(tmp_path: Path) -> None:
    """Killed, the server `up` started comes back on the same port with the same store, the console
    says so in one line, and the services carry on: a command is answered from the data kept."""
    var = tmp_path / "var"
    up = Up(var, "--no-demo")
    up.wait_for(r"running; Ctrl-C stops everything", timeout=90)
    url = (var / "nats.url").read_text()
    before = status(var)
    [first] = nats_children(up.proc.pid)
    os.kill(first, signal.SIGKILL)
    line = up.wait_for(r"nats-server exited", timeout=30)
    assert re.search(
        rf"nats-server exited with status -9; started it again on {re.escape(url)} "
        rf"\(store {re.escape(str(var / 'nats'))}, pid (\d+)\)",
        line,
    ), line
    assert len([x for x in up.lines if "nats-server exited" in x]) == 1
    assert not [x for x in up.lines if "Traceback" in x], "a traceback for every reconnect attempt"
    [second] = nats_children(up.proc.pid)
    assert second != first and int((var / "nats.pid").read_text()) == second
    after = status(var, attempts=60)  # through every service, over the restarted server
    assert after["counts"] == before["counts"]
    assert up.ctrl_c() == 0
    assert not alive(second), "the restarted server outlived Ctrl-C"
