"""People for the tests: signed commands from a session-wide test issuer.

`setup()` (called once by tests/conftest.py) makes sure `EXPERTSHARE_SECRETS_DIR` names a
directory of the test session (a temporary one unless already set), with an issuer and the
services' own nkeys (`nats/<identity>.nk` and `nats/public.json`, made the way `expertshare up`
makes them, when missing). Services started in this process or by it read the same directory.

`as_person(role, party)` is someone with a fresh key and a credential for it; `.sign(subject,
message)` gives the message with its proof. `STAFF`, `OPERATOR`, `expert(id)`, `commune(unit)`
are the usual ones. `actor(role, party)` is an `Actor` for calling a use case in-process (no
proof: the audit trail will say so).
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import tempfile
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from shared import clock
from shared import subjects as s
from shared.clock import utcnow
from shared.messages import Message
from shared.security import credentials, identities, keys, secrets_init
from shared.security.credentials import Actor
from shared.security.secrets import read_private, secrets_dir

_made: list[Path] = []  # the temporary secrets directory setup() made, removed by teardown()


def setup() -> Path:
    if not os.environ.get("EXPERTSHARE_SECRETS_DIR"):
        made = Path(tempfile.mkdtemp(prefix="expertshare-secrets-"))
        _made.append(made)
        os.environ["EXPERTSHARE_SECRETS_DIR"] = str(made)
    root = secrets_dir()
    # As `expertshare secrets init` makes them (and the cluster routes' credentials, for tests/cluster).
    secrets_init.ensure(root)
    identities.ensure(root, cluster=True)
    return root


def teardown() -> None:
    for made in _made:
        shutil.rmtree(made, ignore_errors=True)


@dataclass(frozen=True)
class Person:
    person: str
    role: str
    party: str
    seed: bytes
    credential: str

    def sign(self, subject: str, message: Message) -> Message:
        return credentials.sign(subject, message, self.seed, credential=self.credential)


def as_person(
    role: str,
    party: str,
    *,
    person: str | None = None,
    name: str = "",
    hours: float = 2,
    issuer: bytes | None = None,
    now: dt.datetime | None = None,
    channel: str = "cli",
) -> Person:
    """Someone signed in: a fresh key, and a credential from the test issuer (or `issuer`)."""
    seed = keys.new_seed(keys.USER)
    who = person or party.split(":", 1)[1]
    cred = credentials.issue(
        issuer or credentials.issuer_seed(),
        person=who,
        name=name,
        role=role,
        party=party,
        key=keys.public_key(seed),
        channel=channel,
        hours=hours,
        now=now,
    )
    return Person(who, role, party, seed, cred)


@cache
def _known(role: str, party: str, person: str, name: str, _clock: str | None) -> Person:
    return as_person(role, party, person=person, name=name)


def _person(role: str, party: str, person: str, name: str = "") -> Person:
    """One per party, issued again when a test moves the clock (`utc_hour`)."""
    return _known(role, party, person, name, os.environ.get(clock.OFFSET_ENV))


def expert(expert_id: str) -> Person:
    return _person("expert", f"expert:{expert_id}", f"expert-{expert_id}")


def commune(unit_id: str) -> Person:
    return _person("commune", f"unit:{unit_id}", f"commune-{unit_id}")


def staff() -> Person:
    return _person("staff", "staff:tester", "tester", "Tester")


def operator() -> Person:
    return _person("admin", "staff:operator", "operator")


class System:
    """A service signing its own command with its nkey (the notifier's auto-decline)."""

    def __init__(self, identity: str) -> None:
        self.identity = identity

    def sign(self, subject: str, message: Message) -> Message:
        seed = read_private(secrets_dir() / "nats" / f"{self.identity}.nk")
        return credentials.sign(subject, message, seed, service=self.identity)


_EXPERT_SUBJECTS = (s.ASSIGNMENT_ACCEPT, s.ASSIGNMENT_DECLINE, s.HOURS_LOG)


def signer_for(subject: str, message: Any) -> Person:
    """The harness's default: a command naming an expert on the expert's subjects is signed by
    that expert; anything else by the operator (admin). Tests acting as a commune say so."""
    if subject in _EXPERT_SUBJECTS and getattr(message, "expert_id", None):
        return expert(message.expert_id)
    return operator()


def actor(role: str, party: str, person: str | None = None) -> Actor:
    """For a use case called in-process (not through a service: no proof)."""
    return Actor(person=person or party.split(":", 1)[1], role=role, party=party, channel="cli")


def verified(subject: str, message: Message, who: Person) -> tuple[Message, Actor]:
    """The message signed by `who` and the actor a service would derive from it (with its proof)."""
    signed = who.sign(subject, message)
    return signed, credentials.verify(subject, signed, credentials.issuer_keys(), credentials.service_keys(), utcnow())


STAFF_ACTOR = actor("staff", "staff:tester")


def _subjects() -> dict[type, str]:
    from shared import messages as m

    return {
        m.ApproveAssignment: s.ASSIGNMENT_APPROVE,
        m.RejectAssignment: s.ASSIGNMENT_REJECT,
        m.DecideAssignments: s.ASSIGNMENTS_DECIDE,
        m.AcceptAssignment: s.ASSIGNMENT_ACCEPT,
        m.DeclineAssignment: s.ASSIGNMENT_DECLINE,
        m.LogHours: s.HOURS_LOG,
        m.CompleteRequest: s.REQUEST_COMPLETE,
        m.RegisterReference: s.REFERENCE_REGISTER,
        m.ChangeContractStatus: s.CONTRACT_STATUS_CHANGE,
        m.ExpireContracts: s.CONTRACTS_EXPIRE,
        m.DecideExtraHours: s.EXTRA_HOURS_DECIDE,
        m.SubmitRequest: s.REQUEST_SUBMIT,
        m.CancelRequest: s.REQUEST_CANCEL,
        m.AssignManually: s.ASSIGNMENT_ASSIGN,
    }


def call(use_case: Any, session: Any, cmd: Message, *args: Any, **kw: Any) -> Any:
    """A use case called in-process as the person a service would have verified: the command
    signed (by `signer_for`'s choice) and the actor derived from it, with its proof."""
    subject = _subjects()[type(cmd)]
    signed, who = verified(subject, cmd, signer_for(subject, cmd))
    return use_case(session, signed, who, *args, **kw)


def verify_audit(session: Any) -> list[str]:
    """The audit trail's problems, checked with the test issuer's keys."""
    from services.contracts import audit

    return audit.verify(session, credentials.issuer_keys())[0]
