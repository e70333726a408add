"""Every connection to NATS is someone, allowed exactly its job: tried as an attacker would, with
nats-py, against a real nats-server started with the real generated configuration and set up by
the admin (streams, consumers, the leaders bucket) as `expertshare up` does.

A refusal is seen twice: the server's "Permissions Violation" (reported to the client's error
callback before the answer to a flush, so no waiting on chance) and its effect: nothing arrives,
the stream is still there, nobody answers in a queue group it may not join.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import nats
import nats.errors
import nats.js.errors
import pytest

from shared import subjects as s
from shared.catalogue import events_of
from shared.messages import Message
from shared.nats import EmbeddedNats, connect, free_port, start_nats
from shared.security import identities
from shared.security.keys import new_seed
from shared.security.secrets import write_private
from shared.streams import DEADLETTER, setup

SERVICES = ("matcher", "contracts", "notifier", "portal")
VIOLATION = "Permissions Violation"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedNats]:
    running = start_nats(tmp_path_factory.mktemp("bus-nats"), free_port())
    asyncio.run(setup(running.url))
    yield running
    running.stop()


class As:
    """A client signed in as one identity that keeps every error the server reports to it."""

    def __init__(self) -> None:
        self.nc: Any = None
        self.errors: list[str] = []
        self.changed = asyncio.Event()

    @classmethod
    async def open(cls, url: str, identity: str) -> As:
        client = cls()

        async def keep(err: Exception) -> None:
            client.errors.append(str(err))
            client.changed.set()

        client.nc = await connect(url, identity, error_cb=keep, allow_reconnect=False)
        return client

    async def refused(self, what: str, within_s: float = 5.0) -> str:
        """The server's violation for `what` (a subject): the server sends it for certain, the
        client hands it to its error callback a moment later."""
        await self.nc.flush(timeout=5)
        deadline = asyncio.get_running_loop().time() + within_s
        while True:
            found = [e for e in self.errors if VIOLATION.lower() in e.lower() and f'"{what.lower()}"' in e.lower()]
            if found:
                return found[0]
            self.changed.clear()
            left = deadline - asyncio.get_running_loop().time()
            assert left > 0, f"{what}: not refused (errors: {self.errors})"
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.changed.wait(), left)


@pytest.fixture
async def admin(server: EmbeddedNats) -> AsyncIterator[Any]:
    nc = await connect(server.url, identities.ADMIN)
    yield nc
    await nc.close()


async def arrived(admin: Any, subject: str, act: Any) -> list[bytes]:
    """What the admin (who may listen to anything) sees on `subject` while `act` runs."""
    got: list[bytes] = []

    async def keep(msg: Any) -> None:
        got.append(msg.data)

    sub = await admin.subscribe(subject, cb=keep)
    await admin.flush()
    await act()
    await asyncio.sleep(0)
    await admin.flush()
    await sub.unsubscribe()
    return got


# ------------------------------------------------------------------------ who may connect at all
async def test_an_anonymous_client_is_refused(server: EmbeddedNats) -> None:
    with pytest.raises(nats.errors.Error) as refused:
        await nats.connect(server.url, allow_reconnect=False, max_reconnect_attempts=0, connect_timeout=3)
    assert isinstance(refused.value, nats.errors.AuthorizationError) or "authorization" in str(refused.value).lower()


async def test_a_seed_the_server_does_not_know_is_refused(server: EmbeddedNats, tmp_path: Path) -> None:
    stranger = write_private(tmp_path / "stranger.nk", new_seed())
    with pytest.raises(nats.errors.Error) as refused:
        await nats.connect(
            server.url, nkeys_seed=str(stranger), allow_reconnect=False, max_reconnect_attempts=0, connect_timeout=3
        )
    assert isinstance(refused.value, nats.errors.AuthorizationError) or "authorization" in str(refused.value).lower()


# ------------------------------------------------------------------------ forged events
FORGED = [
    (identity, subject)
    for identity in (*SERVICES, identities.CLI)
    for subject in (s.ASSIGNMENT_PROPOSED, s.BALANCE_CHANGED, s.ASSIGNMENT_APPROVED, s.NOTIFICATION_DELIVERED)
    if subject.split(".")[0] != identity
]


@pytest.mark.parametrize(("identity", "subject"), FORGED, ids=[f"{i}-{x}" for i, x in FORGED])
async def test_nobody_publishes_another_owners_event(
    server: EmbeddedNats, admin: Any, identity: str, subject: str
) -> None:
    """A forged `matcher.assignment.proposed` (manual, charged to another expert's contract) or a
    `contracts.balance.changed` with revision 999999999 never reaches the stream or a consumer."""
    forger = await As.open(server.url, identity)
    js = admin.jetstream()
    stream = subject.split(".")[0].upper()
    before = (await js.stream_info(stream)).state.messages
    forged = json.dumps({"contract_id": "c1", "revision": 999_999_999, "manual": True}).encode()
    try:

        async def forge() -> None:
            await forger.nc.publish(subject, forged)
            await forger.nc.flush()  # had the server taken it, the admin would have it before its own flush

        got = await arrived(admin, subject, forge)
        await forger.refused(subject)
    finally:
        await forger.nc.close()
    assert got == [] and (await js.stream_info(stream)).state.messages == before


async def test_each_service_publishes_its_own_events_and_its_dead_letters(server: EmbeddedNats) -> None:
    for identity in ("matcher", "contracts", "notifier"):
        owner = await As.open(server.url, identity)
        try:
            js = owner.nc.jetstream()
            ack = await js.publish(
                events_of(identity)[0], Message().model_dump_json().encode(), stream=identity.upper()
            )
            assert ack.stream == identity.upper()
            assert (await js.publish(s.deadletter(identity), b"{}", stream=DEADLETTER)).stream == DEADLETTER
            other = s.deadletter("contracts" if identity != "contracts" else "matcher")
            await owner.nc.publish(other, b"{}")
            await owner.refused(other)
        finally:
            await owner.nc.close()


# ------------------------------------------------------------------------ listening and answering
@pytest.mark.parametrize("identity", (*SERVICES, identities.CLI))
async def test_nobody_but_the_admin_listens_to_everything(server: EmbeddedNats, identity: str) -> None:
    spy = await As.open(server.url, identity)
    try:
        await spy.nc.subscribe(">")
        await spy.refused(">")
        await spy.nc.subscribe("_INBOX.>")  # the replies to everybody else
        await spy.refused("_INBOX.>")
    finally:
        await spy.nc.close()


COMMANDS_OF_OTHERS = [
    ("notifier", s.ASSIGNMENT_APPROVE, "contracts"),
    ("portal", s.ASSIGNMENT_APPROVE, "contracts"),
    ("matcher", s.PREFERENCES_SET, "notifier"),
    ("contracts", s.REQUEST_SUBMIT, "matcher"),
    ("cli", s.INBOX_GET, "notifier"),
]


@pytest.mark.parametrize(
    ("identity", "subject", "owner"), COMMANDS_OF_OTHERS, ids=[f"{i}-{x}" for i, x, _ in COMMANDS_OF_OTHERS]
)
async def test_nobody_answers_another_services_commands_nor_joins_its_queue_group(
    server: EmbeddedNats, admin: Any, identity: str, subject: str, owner: str
) -> None:
    """A stranger in the `notifier` queue group would answer half of the staff's inbox reads."""
    stranger = await As.open(server.url, identity)

    async def answer(msg: Any) -> None:
        await msg.respond(b'{"ok": true, "data": {"forged": true}}')

    try:
        await stranger.nc.subscribe(subject, queue=owner, cb=answer)  # in the owner's own group
        await stranger.refused(subject)
        await stranger.nc.subscribe(subject, cb=answer)  # or on its own
        await stranger.refused(subject)
        with pytest.raises(nats.errors.NoRespondersError):
            await admin.request(subject, Message().model_dump_json().encode(), timeout=2)
    finally:
        await stranger.nc.close()


async def test_a_service_answers_its_own_commands_only_in_its_own_queue_group(server: EmbeddedNats) -> None:
    notifier = await As.open(server.url, "notifier")
    try:
        await notifier.nc.subscribe(s.INBOX_GET, queue="notifier")
        await notifier.nc.flush()
        assert notifier.errors == []
        await notifier.nc.subscribe(s.INBOX_GET, queue="portal")
        await notifier.refused(s.INBOX_GET)
    finally:
        await notifier.nc.close()


async def test_the_cli_sends_commands_and_queries_never_events(server: EmbeddedNats) -> None:
    cli = await As.open(server.url, identities.CLI)
    try:
        await cli.nc.publish(s.ASSIGNMENT_APPROVE, b"{}")
        await cli.nc.publish(s.health("contracts"), b"{}")
        await cli.nc.flush()
        assert cli.errors == []
        await cli.nc.publish(s.REQUEST_SUBMITTED, b"{}")
        await cli.refused(s.REQUEST_SUBMITTED)
    finally:
        await cli.nc.close()


# ------------------------------------------------------------------------ JetStream administration
JS_ATTACKS = [
    f"$JS.API.STREAM.DELETE.{'MATCHER'}",
    f"$JS.API.STREAM.PURGE.{DEADLETTER}",
    "$JS.API.CONSUMER.DELETE.CONTRACTS.matcher-balances",
    "$JS.API.STREAM.CREATE.EVIL",
    "$JS.API.STREAM.UPDATE.MATCHER",
    "$JS.API.CONSUMER.CREATE.CONTRACTS.spy",
    f"$JS.API.STREAM.MSG.DELETE.{'CONTRACTS'}",
]


@pytest.mark.parametrize("identity", (*SERVICES, identities.CLI))
async def test_no_service_deletes_purges_or_creates_streams_or_consumers(
    server: EmbeddedNats, admin: Any, identity: str
) -> None:
    attacker = await As.open(server.url, identity)
    js = admin.jetstream()
    dead_before = (await js.stream_info(DEADLETTER)).state.messages
    try:
        for subject in JS_ATTACKS:  # refused, so never answered: published with a reply inbox, not waited for
            await attacker.nc.publish(
                subject, b'{"name": "EVIL", "subjects": ["evil.>"]}', reply=attacker.nc.new_inbox()
            )
            await attacker.refused(subject)
    finally:
        await attacker.nc.close()
    assert (await js.stream_info("MATCHER")).config.subjects == sorted(events_of("matcher"))
    assert (await js.consumer_info("CONTRACTS", "matcher-balances")).name == "matcher-balances"
    assert (await js.stream_info(DEADLETTER)).state.messages >= dead_before
    with pytest.raises(nats.js.errors.NotFoundError):
        await js.stream_info("EVIL")


async def test_streams_refuse_deleting_or_purging_messages_even_to_the_admin(admin: Any) -> None:
    js = admin.jetstream()
    ack = await js.publish(s.deadletter("matcher"), b'{"reason": "kept"}', stream=DEADLETTER)
    for stream in ("MATCHER", "CONTRACTS", "NOTIFIER", DEADLETTER):
        config = (await js.stream_info(stream)).config
        assert config.deny_delete and config.deny_purge, stream
        assert config.max_bytes and config.max_bytes > 0 and config.max_age, f"{stream} is unbounded"
    with pytest.raises(nats.js.errors.APIError, match="purge not permitted"):
        await js.purge_stream(DEADLETTER)
    with pytest.raises(nats.js.errors.APIError, match="delete not permitted|message delete"):
        await js.delete_msg(DEADLETTER, ack.seq)
    assert (await js.get_msg(DEADLETTER, ack.seq)).data == b'{"reason": "kept"}'


# ------------------------------------------------------------------------ the configuration itself
def test_the_server_configuration_holds_no_secret(server: EmbeddedNats, nats_secrets: Path) -> None:
    conf = (server.store_dir / "server.conf").read_text()
    auth = (nats_secrets / "nats" / "auth.conf").read_text()
    seeds = [p.read_text().strip() for p in (nats_secrets / "nats").glob("*.nk")]
    assert seeds and not any(seed in conf or seed in auth for seed in seeds)
    assert "http" not in conf and "monitor" not in conf, "no monitoring port"
    assert "127.0.0.1" in conf and "include" in conf
    assert (server.store_dir / "server.conf").stat().st_mode & 0o777 == 0o600


def test_every_identity_has_a_row_in_the_table() -> None:
    table = identities.table()
    assert all(f"| `{identity}` |" in table for identity in identities.IDENTITIES)


# Another service's command a service names without sending it: contracts checks that a manual
# proposal carries staff's signed `matcher.assignment.assign` (its audit trail names it too).
NAMED_NOT_SENT = {"contracts": {s.ASSIGNMENT_ASSIGN}}


@pytest.mark.parametrize("service", identities.SERVICES)
def test_every_command_a_service_names_is_one_it_may_send(service: str) -> None:
    """`identities.SENDS` is written by hand: each other service's command or query a service's
    code names (`s.<NAME>`) must be in it, or nats-server refuses the send at run time."""
    import ast

    named = set()
    for path in (Path(__file__).resolve().parents[2] / "services" / service).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "s":
                subject = getattr(s, node.attr, None)
                if (
                    isinstance(subject, str)
                    and subject.split(".")[0] not in (service, s.DEADLETTER_PREFIX)
                    and not identities.is_event(subject)
                ):
                    named.add(subject)
    missing = named - set(identities.SENDS[service]) - NAMED_NOT_SENT.get(service, set())
    assert not missing, f"{service} names {sorted(missing)} but identities.SENDS does not let it send them"
