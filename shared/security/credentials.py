"""People's credentials and signed commands: who decided, provable without trusting a database.

The issuer. One ACCOUNT nkey, its seed in `issuer.nk` (secrets_dir(), 0600), its public keys in
`issuer.pub` (JSON, `{"keys": [{"key": "A...", "added": iso, "retired": iso | null}]}`). Whoever
holds the seed (the portal, a local admin with `expertshare credential issue`) can say who a key
belongs to; every verifier needs only the public keys. Rotation (`rotate_issuer`) makes a new seed
and marks the old public key retired at that moment: a retired key no longer admits a new
command (everyone signs in again), but it still proves the audit entries signed before it was
retired. The old seed is gone; nothing it signs later is believed. `EXPERTSHARE_ISSUER_PUBLIC_KEY`
(one key, or several separated by commas) replaces the file for a verifier that mounts no secrets.

A credential. The issuer's statement "key K is person P, role R, party Q, through channel C, from
iat until exp", as one compact string: base64url(canonical JSON) "." base64url(issuer signature
over that base64url text). It holds no secret: the person's private key never leaves where it
was made (the CLI's machine, the portal's memory). Short-lived: 12 h from `expertshare login`,
the portal's for at most 24 h; there is no revocation list, expiry is the revocation (a disabled
portal user gets no new one).

A signed command. `Proof(credential, signature)` on the message, where the signature is the
person's key over the *document*:

    subject + "\\n" + JSON of the message without `proof` (pydantic's `model_dump(mode="json",
    by_alias=True)`, keys sorted, separators "," and ":", non-ASCII kept as UTF-8)

The subject is in it, so an approval cannot be replayed as a rejection; the event id is in it, so a
replay under a new event id fails the signature (the same event id is answered from the
service's memory, never done twice). A system command (the notifier declining for an expert who
never answered) is signed by the sending service's own nkey seed and carries `service` instead of
a credential; its public key comes from `nats/public.json`.

`verify` is pure: keys and the clock are given. It returns the `Actor` the owning service acts
as, or raises `Refused` with a reason that names what is wrong and never echoes the input.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import os
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypedDict

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from shared.clock import utcnow
from shared.messages import Message, Proof
from shared.parties import id_of, system_party
from shared.security import keys
from shared.security.secrets import read_private, secrets_dir, seed_file, write_private

ROLES = ("commune", "staff", "expert", "admin", "system")
STAFF = frozenset({"staff", "admin"})
CLI_HOURS = 12
MAX_HOURS = 24
SKEW = dt.timedelta(minutes=2)  # clocks of two machines disagree a little
ISSUER_SEED, ISSUER_PUB = "issuer.nk", "issuer.pub"
ISSUER_KEY_ENV = "EXPERTSHARE_ISSUER_PUBLIC_KEY"
ISSUER_SEED_ENV = "EXPERTSHARE_ISSUER_SEED"


class Refused(Exception):
    """A command that is not the signed act of someone the system knows, or not theirs to send."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Claims(TypedDict):
    """Who a credential is for, as `issue` takes it: person, display name, role and party."""

    person: str
    name: str
    role: str
    party: str


class Credential(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    v: Literal[1] = 1
    person: str = Field(min_length=1, max_length=64, description="portal user name, or a service")
    name: str = Field(default="", max_length=120, description="display name")
    role: Literal["commune", "staff", "expert", "admin", "system"]
    party: str = Field(pattern=r"^(unit|expert|staff|system):[A-Za-z0-9_.:-]{1,64}$")
    key: str = Field(min_length=56, max_length=56, description="the person's public USER nkey")
    channel: Literal["portal", "cli", "system"]
    iat: int
    exp: int
    jti: str = Field(min_length=1, max_length=64)


@dataclass(frozen=True)
class Actor:
    """Who a command is from, as the owning service established it (never as the message says)."""

    person: str
    role: str
    party: str
    channel: str
    name: str = ""
    # What proves it, kept in the audit entry: {credential, signature, document}; None for the
    # system (a service's own decision) or for use cases called in-process.
    evidence: dict[str, str] | None = field(default=None, compare=False)

    @property
    def label(self) -> str:
        """How events and the trail name the actor to people."""
        return self.name or self.person

    def party_id(self, kind: str) -> str | None:
        """`e1` for an actor of party `expert:e1` and kind `expert`, else None."""
        return id_of(self.party, kind)

    def is_staff(self) -> bool:
        return self.role in STAFF


def system(service: str) -> Actor:
    """A service deciding on its own (an expiry sweep, the ledger refusing): no person behind it."""
    return Actor(person=service, role="system", party=system_party(service), channel="system")


# ------------------------------------------------------------------ the issuer
def _pub_path(directory: Path) -> Path:
    return directory / ISSUER_PUB


def _read_pub(directory: Path) -> list[dict[str, Any]]:
    path = _pub_path(directory)
    return list(json.loads(path.read_text())["keys"]) if path.exists() else []


def _write_pub(directory: Path, entries: list[dict[str, Any]]) -> None:
    write_private(_pub_path(directory), json.dumps({"keys": entries}, indent=1).encode())
    _pub_path(directory).chmod(0o644)  # public keys: any verifier on the machine may read them


def ensure_issuer(directory: Path) -> str:
    """The issuer's public key, made with its seed on first call; never rotates."""
    seed_path = directory / ISSUER_SEED
    if not seed_path.exists():
        write_private(seed_path, keys.new_seed(keys.ACCOUNT))
    public = keys.public_key(read_private(seed_path))
    entries = _read_pub(directory)
    if not any(e["key"] == public for e in entries):
        _write_pub(directory, [*entries, {"key": public, "added": _iso(_now()), "retired": None}])
    return public


def rotate_issuer(directory: Path) -> str:
    """A new issuer key; the current one is retired now (see the module's docstring)."""
    at = _iso(_now())
    entries = [{**e, "retired": e["retired"] or at} for e in _read_pub(directory)]
    seed = keys.new_seed(keys.ACCOUNT)
    public = keys.public_key(seed)
    _write_pub(directory, [*entries, {"key": public, "added": at, "retired": None}])
    write_private(directory / ISSUER_SEED, seed)
    return public


def issuer_seed() -> bytes:
    """The issuer's seed, for those who issue (the portal, a local admin): a clear error if absent."""
    path = Path(os.environ.get(ISSUER_SEED_ENV) or secrets_dir() / ISSUER_SEED)
    if not path.exists():
        raise Refused(f"no issuer seed at {path}: only the portal or a local admin can issue credentials")
    return read_private(path)


@dataclass(frozen=True)
class IssuerKey:
    key: str
    retired: dt.datetime | None = None

    def valid_at(self, at: dt.datetime) -> bool:
        return self.retired is None or at < self.retired


def issuer_keys(directory: Path | None = None) -> list[IssuerKey]:
    """The issuer's public keys a verifier believes: the environment's, else `issuer.pub`."""
    configured = os.environ.get(ISSUER_KEY_ENV, "")
    if configured:
        return [IssuerKey(k.strip()) for k in configured.split(",") if k.strip()]
    return [
        IssuerKey(e["key"], dt.datetime.fromisoformat(e["retired"]) if e.get("retired") else None)
        for e in _read_pub(directory or secrets_dir())
    ]


def service_keys(directory: Path | None = None) -> dict[str, str]:
    """{service identity: public nkey} from `nats/public.json` (helper A's file), {} without it."""
    path = (directory or secrets_dir()) / "nats" / "public.json"
    return dict(json.loads(path.read_text())) if path.exists() else {}


def service_seed(identity: str) -> bytes:
    """This process's own nkey seed: `EXPERTSHARE_NATS_SEED`, else `nats/<identity>.nk`."""
    return read_private(seed_file(identity))


# ------------------------------------------------------------------ credentials
def issue(
    seed: bytes | str,
    *,
    person: str,
    role: str,
    party: str,
    key: str,
    channel: str,
    hours: float,
    name: str = "",
    now: dt.datetime | None = None,
) -> str:
    """A credential for `key`, signed by the issuer `seed`, valid `hours` (at most MAX_HOURS)."""
    if not 0 < hours <= MAX_HOURS:
        raise ValueError(f"a credential lasts more than 0 and at most {MAX_HOURS} hours")
    if not key.startswith("U"):
        raise ValueError("a credential is for a person's USER key")
    keys.verify(key, b"", "")  # raises for a key that is not one
    start = int((now or _now()).timestamp())
    # Validated, not constructed: the role and the channel are words from the users' table and callers.
    cred = Credential.model_validate(
        {
            "person": person,
            "name": name,
            "role": role,
            "party": party,
            "key": key,
            "channel": channel,
            "iat": start,
            "exp": start + int(hours * 3600),
            "jti": uuid.uuid4().hex,
        }
    )
    body = _b64(_canonical(cred.model_dump()))
    return f"{body}.{keys.sign(seed, body.encode())}"


def read(token: str) -> Credential:
    """The credential's claims, unverified (for display, and before checking the signature)."""
    body, _, _sig = token.partition(".")
    try:
        return Credential.model_validate_json(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    except (ValidationError, ValueError, binascii.Error):
        raise Refused("credential is unreadable") from None


def check_credential(
    token: str, issuers: list[IssuerKey], at: dt.datetime, grace: dt.timedelta = dt.timedelta(0)
) -> Credential:
    """The credential, if a known issuer key valid at `at` signed it and `at` is in its lifetime
    (`grace` after its expiry: an audit entry is written a moment after its command was checked)."""
    body, dot, sig = token.partition(".")
    if not dot:
        raise Refused("credential is unreadable")
    cred = read(token)
    if not any(i.valid_at(at) and _verifies(i.key, body.encode(), sig) for i in issuers):
        raise Refused("credential is not from this system's issuer")
    if at.timestamp() + SKEW.total_seconds() < cred.iat:
        raise Refused("credential is not valid yet")
    if at.timestamp() - grace.total_seconds() > cred.exp:
        raise Refused("credential expired: sign in again (expertshare login)")
    return cred


def _verifies(public: str, data: bytes, sig: str) -> bool:
    try:
        return keys.verify(public, data, sig)
    except keys.KeyError_:
        return False


# ------------------------------------------------------------------ signed commands
def document(subject: str, message: Message) -> str:
    """What a proof signs (see the module's docstring)."""
    body = message.model_dump(mode="json", by_alias=True, exclude={"proof"})
    return subject + "\n" + json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def sign(
    subject: str, message: Message, seed: bytes | str, *, credential: str | None = None, service: str | None = None
) -> Message:
    """`message` with its proof: a person's (their credential) or a service's (its identity)."""
    signature = keys.sign(seed, document(subject, message).encode())
    return message.model_copy(update={"proof": Proof(credential=credential, service=service, signature=signature)})


def verify(
    subject: str,
    message: Message,
    issuers: list[IssuerKey],
    services: dict[str, str],
    now: dt.datetime,
) -> Actor:
    """The actor who signed `message` for `subject`, or Refused."""
    proof = message.proof
    if proof is None:
        raise Refused("not signed in: this command needs a signed credential (expertshare login)")
    doc = document(subject, message)
    if proof.service is not None:
        public = services.get(proof.service)
        if public is None or proof.credential is not None:
            raise Refused("signed by an unknown service")
        if not _verifies(public, doc.encode(), proof.signature):
            raise Refused("signature does not match the command")
        return system(proof.service)
    cred = check_credential(proof.credential or "", issuers, now)
    if cred.role == "system" or cred.channel == "system":
        raise Refused("a person's credential cannot claim the system")
    if not _verifies(cred.key, doc.encode(), proof.signature):
        raise Refused("signature does not match the command")
    return Actor(
        person=cred.person,
        role=cred.role,
        party=cred.party,
        channel=cred.channel,
        name=cred.name,
        evidence={"credential": proof.credential or "", "signature": proof.signature, "document": doc},
    )


def check_evidence(evidence: dict[str, Any], issuers: list[IssuerKey], at: dt.datetime) -> tuple[Credential, dict]:
    """An audit entry's proof checked again, later, by anyone holding the issuer's public keys:
    the credential as of `at`, and the signed document's subject and body. Refused otherwise."""
    cred = check_credential(str(evidence.get("credential", "")), issuers, at, grace=SKEW)
    doc = str(evidence.get("document", ""))
    if not _verifies(cred.key, doc.encode(), str(evidence.get("signature", ""))):
        raise Refused("signature does not match the signed command")
    subject, _, body = doc.partition("\n")
    try:
        return cred, {"subject": subject, **json.loads(body)}
    except ValueError:
        raise Refused("the signed command is unreadable") from None


# ------------------------------------------------------------------ helpers
def _canonical(data: dict[str, Any]) -> bytes:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _now() -> dt.datetime:
    return utcnow()


def _iso(at: dt.datetime) -> str:
    return at.astimezone(dt.UTC).isoformat()
