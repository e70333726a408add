"""Who connects to NATS, and exactly what each may do there: the identities as data.

Every connection to NATS is one of these identities, signed in with its own nkey (a seed only it
holds; the server keeps the public key). Their permissions are derived from the subject catalogue
(`shared.subjects`) and the durable consumers (`shared.streams.CONSUMERS`), so they follow the code:
`ensure` rewrites the server's `auth.conf` from them on every start.

- a service publishes only its own events, its dead letters (`deadletter.<service>`), the
  commands it sends to others (`SENDS`), replies to what it was asked (`allow_responses`), and
  the exact JetStream API subjects its own consumers, its checks at start and its leader election
  need; it subscribes only to the subjects it answers, in its own queue group, and to its own
  inbox prefix (`_INBOX_<identity>.>`, which its client uses for every reply it waits for).
  It can neither create, change, delete nor purge a stream or a consumer;
- `cli` (people's commands from the terminal, and `up` waiting for the services): every command
  and query, never an event; its own inbox;
- `admin`: everything. It makes the streams, the leaders bucket and the durable consumers
  (`shared.streams.setup`) and tails the events on `up`'s console.

The server's configuration holds public keys and permissions only (`auth.conf`, `public.json`);
the seeds are files of their own (0600 in a 0700 directory), one per identity, so that a
deployment can hand each process its own seed and nothing else.
"""

from __future__ import annotations

import json
import secrets as token
from dataclasses import dataclass, field
from pathlib import Path

from shared import subjects as s
from shared.catalogue import events_of, is_event
from shared.nats import inbox_prefix
from shared.security.keys import USER, new_seed, public_key
from shared.security.secrets import private_dir, read_private, write_private
from shared.streams import CONSUMERS, DEADLETTER, LEADERS, stream_name

ADMIN = "admin"
CLI = "cli"
SERVICES = ("matcher", "contracts", "notifier", "portal")
IDENTITIES = (ADMIN, *SERVICES, CLI)
ROUTE_USER = "route"

# The commands and queries each service sends to another (found in its code: the notifier declines
# a task nobody answered; the portal acts for its signed-in users). The CLI sends them all.
SENDS: dict[str, tuple[str, ...]] = {
    "matcher": (),
    "contracts": (),
    "notifier": (s.ASSIGNMENT_DECLINE,),
    "portal": (
        s.REQUEST_SUBMIT,
        s.ASSIGNMENT_ASSIGN,
        s.CANDIDATES_GET,
        s.MATCHER_STATUS_GET,
        s.ASSIGNMENTS_DECIDE,
        s.ASSIGNMENT_ACCEPT,
        s.ASSIGNMENT_DECLINE,
        s.HOURS_LOG,
        s.EXTRA_HOURS_DECIDE,
        s.REQUEST_COMPLETE,
        s.CONTRACT_STATUS_CHANGE,
        s.REFERENCE_REGISTER,
        s.CONTRACTS_STATUS_GET,
        s.AUDIT_GET,
        s.REPORT_GET,
        s.REFERENCE_GET,
        s.INBOX_GET,
        s.INBOX_MARK_READ,
        s.PREFERENCES_GET,
        s.GAPS_GET,
        s.CONTRACTS_GAPS_GET,
        s.HIRING_PLAN_GET,
    ),
}
# Leader election (`shared.leader`): the keys of the leaders bucket each service campaigns for.
LEADER_KEYS: dict[str, tuple[str, ...]] = {"matcher": ("plan",)}


def answers(service: str) -> list[str]:
    """The commands and queries a service answers: its own subjects that are not events, and its health."""
    own = [x for x in s.all_subjects() if x.split(".")[0] == service and not is_event(x)]
    return sorted({*own, s.health(service)})


def commands_and_queries() -> list[str]:
    return sorted(
        {x for x in s.all_subjects() if not is_event(x) and x.split(".")[0] in SERVICES}
        | {s.health(svc) for svc in SERVICES}
    )


@dataclass(frozen=True)
class Permissions:
    """One identity's rights; `None` lists mean unrestricted (the admin)."""

    identity: str
    publish: tuple[str, ...] | None = None
    subscribe: tuple[str, ...] | None = None
    allow_responses: bool = False
    # What each subject is for, for the table in docs/security.md.
    why: dict[str, str] = field(default_factory=dict, compare=False)


def _consumer_api(service: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for name, subject in sorted(CONSUMERS.get(service, {}).items()):
        stream, durable = stream_name(subject.split(".")[0]), f"{service}-{name}"
        out[f"$JS.API.CONSUMER.INFO.{stream}.{durable}"] = "its durable consumer exists"
        out[f"$JS.API.CONSUMER.MSG.NEXT.{stream}.{durable}"] = "fetch from its durable consumer"
        out[f"$JS.ACK.{stream}.{durable}.>"] = "acknowledge what it fetched"
    return out


def _stream_info(service: str) -> dict[str, str]:
    read = {stream_name(subject.split(".")[0]) for subject in CONSUMERS.get(service, {}).values()}
    wrote = {stream_name(service)} if events_of(service) else set()
    out = {
        f"$JS.API.STREAM.INFO.{name}": "check at start that the stream exists"
        for name in sorted(read | wrote | {DEADLETTER})
    }
    if service in LEADER_KEYS:
        bucket = f"KV_{LEADERS}"
        out[f"$JS.API.STREAM.INFO.{bucket}"] = "the leaders bucket exists (and its TTL)"
        out[f"$JS.API.DIRECT.GET.{bucket}.$KV.{LEADERS}.>"] = "read a leader key"
        out[f"$JS.API.STREAM.MSG.GET.{bucket}"] = "read a leader key"
        for key in LEADER_KEYS[service]:
            out[f"$KV.{LEADERS}.{key}"] = "campaign for, renew and release its leadership"
    return out


def permissions(identity: str) -> Permissions:
    if identity == ADMIN:
        return Permissions(ADMIN, why={">": "everything: streams, consumers, the leaders bucket, the console tail"})
    inbox = f"{inbox_prefix(identity)}.>"
    if identity == CLI:
        sends = commands_and_queries()
        why = {**dict.fromkeys(sends, "a command or query"), inbox: "its replies"}
        return Permissions(CLI, publish=tuple(sends), subscribe=(inbox,), why=why)
    if identity not in SERVICES:
        raise ValueError(f"unknown NATS identity: {identity!r} (known: {', '.join(IDENTITIES)})")
    pub: dict[str, str] = {
        **dict.fromkeys(events_of(identity), "its own event"),
        s.deadletter(identity): "its dead letters",
        **dict.fromkeys(SENDS[identity], "a command or query it sends"),
        **_consumer_api(identity),
        **_stream_info(identity),
    }
    sub = {
        **{f"{x} {identity}": "answers it, in its own queue group" for x in answers(identity)},
        inbox: "its replies (requests, JetStream API, fetched messages)",
    }
    return Permissions(identity, publish=tuple(pub), subscribe=tuple(sub), allow_responses=True, why={**pub, **sub})


# ------------------------------------------------------------------------------ the server's files
def _quoted(items: tuple[str, ...]) -> str:
    return "[" + ", ".join(json.dumps(x) for x in items) + "]"


def auth_conf(public: dict[str, str]) -> str:
    """The `authorization` block of nats-server: public keys and permissions, no secret."""
    lines = [
        "# Generated by `expertshare secrets init` from shared/security/identities.py; rewritten",
        "# on every start. Public keys and permissions only: the seeds are the *.nk files.",
        "authorization {",
        "  users = [",
    ]
    for identity in IDENTITIES:
        p = permissions(identity)
        lines.append(f"    # {identity}")
        if p.publish is None:
            lines.append(f"    {{ nkey: {public[identity]} }}")
            continue
        perms = [f"publish: {{ allow: {_quoted(p.publish)} }}", f"subscribe: {{ allow: {_quoted(p.subscribe or ())} }}"]
        if p.allow_responses:
            perms.append("allow_responses: true")
        lines.append(f"    {{ nkey: {public[identity]}, permissions: {{")
        lines.extend(f"        {x}" for x in perms)
        lines.append("    } }")
    lines += ["  ]", "}", ""]
    return "\n".join(lines)


def nats_dir(secrets: Path) -> Path:
    return secrets / "nats"


def seed_path(secrets: Path, identity: str) -> Path:
    return nats_dir(secrets) / f"{identity}.nk"


def ensure(secrets: Path, *, cluster: bool = False) -> Path:
    """Under `secrets`/nats: a seed per identity that has none (never replaced: a rotation is
    deleting the seed and running this again), `public.json`, and `auth.conf` rewritten from the
    current code. `cluster`: also the routes' credentials (`routes.conf`), made once."""
    d = private_dir(nats_dir(private_dir(secrets)))
    public: dict[str, str] = {}
    for identity in IDENTITIES:
        path = seed_path(secrets, identity)
        if not path.exists():
            write_private(path, new_seed(USER))
        public[identity] = public_key(read_private(path))
    _write_if_changed(d / "public.json", (json.dumps(public, indent=2, sort_keys=True) + "\n").encode())
    _write_if_changed(d / "auth.conf", auth_conf(public).encode())
    if cluster and not (d / "routes.conf").exists():
        password = token.token_urlsafe(32)
        write_private(d / "routes.conf", f'authorization {{ user: "{ROUTE_USER}", password: "{password}" }}\n'.encode())
    return d


def _write_if_changed(path: Path, data: bytes) -> None:
    if not path.exists() or path.read_bytes() != data:
        write_private(path, data)


# ------------------------------------------------------------------------------ the table
def table() -> str:
    """Identities against subjects, as markdown (docs/security.md includes it verbatim): each
    identity's subjects grouped by what they are for."""
    rows = ["| identity | may publish | may subscribe |", "|---|---|---|"]
    for identity in IDENTITIES:
        p = permissions(identity)
        if p.publish is None:
            rows.append(f"| `{identity}` | everything | everything |")
            continue
        pub = _grouped(p.publish, p.why)
        if p.allow_responses:
            pub += "<br>replies to the requests it receives (`allow_responses`)"
        rows.append(f"| `{identity}` | {pub} | {_grouped(p.subscribe or (), p.why)} |")
    return "\n".join(rows) + "\n"


def _grouped(subjects: tuple[str, ...], why: dict[str, str]) -> str:
    groups: dict[str, list[str]] = {}
    for subject in subjects:
        groups.setdefault(why.get(subject, ""), []).append(f"`{subject}`")
    return "<br>".join(f"{reason}: {', '.join(items)}" for reason, items in groups.items())
