"""The portal's only way to the other services: NATS request-reply (queries and commands).

The portal holds no copy of requests, assignments or contracts: each page asks the owner.

Every command is a signed-in user's act (`Bus.command`): the portal holds the issuer's seed
(`EXPERTSHARE_ISSUER_SEED`, else secrets_dir()/issuer.nk) and, per user, a key pair it mints and
keeps in memory only, with a credential for it (channel portal, the user's role and party,
`SESSION_HOURS`), minted again when it is about to expire or after a restart. The owning service
checks that signature and the user's role; the portal's own checks are for the forms only.

The portal also answers `portal.credential.issue` (`expertshare login`): the password is checked
like a sign-in (a failure counts towards the name's lockout), and a credential is issued for the
public key the CLI made; the private key never leaves the user's machine.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from dataclasses import dataclass
from typing import Any, TypeVar

import structlog
from pydantic import BaseModel

from services.portal import users, vocabulary
from services.portal.users import User
from shared import endpoints as E
from shared import messages as m
from shared import rpc
from shared import subjects as s
from shared.clock import utcnow
from shared.endpoints import Endpoint
from shared.messages import (
    FieldError,
    GetRequests,
    IssueCredential,
    IssuedCredential,
    MatcherStatus,
    Message,
    Reply,
)
from shared.nats import connect, connection_callbacks
from shared.parties import expert_party, staff_party, unit_party
from shared.security import credentials, keys

log = structlog.get_logger("portal.bus")
R = TypeVar("R", bound=BaseModel)
SESSION_HOURS = 12  # a portal user's signing key; minted again before it runs out
RENEW_BEFORE = dt.timedelta(minutes=10)


class Unavailable(RuntimeError):
    """A service did not answer: the page says so instead of failing."""


def claims_of(user: User) -> credentials.Claims:
    """Who a portal user is in a credential: person, display name, role and party."""
    party = {"commune": unit_party(str(user.unit_id)), "expert": expert_party(str(user.expert_id))}.get(
        user.role, staff_party(user.username)
    )
    return {"person": user.username, "name": user.display_name, "role": user.role, "party": party}


@dataclass(frozen=True)
class _Key:
    seed: bytes
    credential: str
    exp: dt.datetime
    claims: credentials.Claims


class Signer:
    """The portal's per-user signing keys, in memory (see the module's docstring)."""

    def __init__(self) -> None:
        self._keys: dict[str, _Key] = {}

    def sign(self, user: User, subject: str, message: Message) -> Message:
        claims = claims_of(user)
        key = self._keys.get(user.username)
        if key is None or key.exp - RENEW_BEFORE <= utcnow() or key.claims != claims:
            key = self._mint(claims)
            self._keys[user.username] = key
        return credentials.sign(subject, message, key.seed, credential=key.credential)

    def _mint(self, claims: credentials.Claims) -> _Key:
        seed = keys.new_seed(keys.USER)
        cred = credentials.issue(
            credentials.issuer_seed(), key=keys.public_key(seed), channel="portal", hours=SESSION_HOURS, **claims
        )
        exp = dt.datetime.fromtimestamp(credentials.read(cred).exp, dt.UTC)
        return _Key(seed, cred, exp, claims)


class Bus:
    def __init__(self, url: str, timeout: float) -> None:
        self.url, self.timeout = url, timeout
        self.nc: Any = None
        self.signer = Signer()
        # The names of units and experts the pages show (services.portal.directory): (when, names).
        self.names_kept: tuple[float, dict[str, Any]] | None = None

    async def connect(self) -> None:
        # Keep reconnecting through a NATS restart (nats-py gives up after 60 tries by default).
        self.nc = await connect(
            self.url, "portal", max_reconnect_attempts=-1, reconnect_time_wait=1, **connection_callbacks("portal")
        )

    async def close(self) -> None:
        if self.nc is not None:
            await self.nc.drain()

    async def call(self, subject: str, message: BaseModel, timeout: float | None = None) -> Reply[Any]:
        """The whole reply (a refusal too). The page's trace goes on in the service (the FastAPI
        instrumentation made its span)."""
        try:
            return await rpc.request(self.nc, subject, message, timeout=timeout or self.timeout)
        except rpc.Unavailable as err:
            raise Unavailable(str(err)) from None

    async def ask(self, endpoint: Endpoint[Any, R], message: BaseModel, timeout: float | None = None) -> R:
        """A query's reply model; a refusal raises `rpc.Refused` (the page shows its fields)."""
        return rpc.read(endpoint, await self.call(endpoint.subject, message, timeout))

    async def command(self, user: User, subject: str, message: Message, timeout: float | None = None) -> Reply:
        """A signed-in user's command (or signed query), signed as that user."""
        if subject == s.REFERENCE_REGISTER:
            self.names_kept = None  # the names of units and experts may change: asked again
        try:
            signed = self.signer.sign(user, subject, message)
        except credentials.Refused as err:  # no issuer seed: the installation is not set up
            log.error("cannot_sign", reason=err.reason)
            raise Unavailable("the portal cannot sign commands (no issuer key): ask the administrator") from None
        return await self.call(subject, signed, timeout)

    async def serve_logins(self, engine: Any) -> None:
        """Answer `portal.credential.issue` (`expertshare login`), in the portal's queue group."""

        async def answer(msg: Any) -> None:
            reply = await asyncio.to_thread(_issue, engine, msg.data)
            await msg.respond(reply.model_dump_json().encode())

        await self.nc.subscribe(s.CREDENTIAL_ISSUE, queue="portal", cb=answer)

    async def matcher_status(self, **filters: Any) -> MatcherStatus:
        """The matcher's requests and proposals (`GetRequests`); a refusal: the page cannot show them."""
        return await self.read(E.MATCHER_STATUS, GetRequests(**filters))

    async def read(self, endpoint: Endpoint[Any, R], message: BaseModel) -> R:
        """A query's reply model; a refusal or an unexpected answer is `Unavailable` (the page says so)."""
        try:
            return await self.ask(endpoint, message)
        except rpc.Refused as err:
            raise Unavailable(err.reply.error or f"{endpoint.subject} refused") from None
        except rpc.Unavailable as err:
            raise Unavailable(str(err)) from None

    async def contracts_status(self, **filters: Any) -> m.ContractsStatus:
        return await self.read(E.CONTRACTS_STATUS, m.GetContractsStatus(**filters))

    async def audit(self, subject: str | None = None, limit: int = 200) -> list[m.AuditEntry]:
        return (await self.read(E.AUDIT, m.GetAudit(subject=subject, limit=limit))).entries

    async def reference(self, ids: list[str] | None = None) -> m.ReferenceData:
        return await self.read(E.REFERENCE, m.GetReference(ids=ids))


def _issue(engine: Any, data: bytes) -> Reply:
    """A credential for the CLI's key, if the name and password are right (a sign-in, counted)."""
    from pydantic import ValidationError
    from sqlmodel import Session

    try:
        req = IssueCredential.model_validate_json(data)
    except ValidationError:
        return Reply.failure("not a credential request: username, password and a public key are needed")
    with Session(engine) as session:
        user, until = users.sign_in(session, req.username, req.password)
    if until is not None:
        return Reply.failure(f"too many failed sign-ins: try again after {until:%H:%M} UTC")
    if user is None:
        return Reply.failure("wrong user name or password")
    try:
        cred = credentials.issue(
            credentials.issuer_seed(), key=req.key, channel="cli", hours=req.hours, **claims_of(user)
        )
    except credentials.Refused as err:
        log.error("cannot_issue", reason=err.reason)
        return Reply.failure("the portal cannot issue credentials (no issuer key): ask the administrator")
    except (ValueError, keys.KeyError_):
        return Reply.failure("key: not a public USER nkey")
    log.info("credential_issued", user=user.username, channel="cli")
    return Reply.of(IssuedCredential(credential=cred))


def errors_by_field(reply: Reply) -> dict[str, str]:
    """A refusal as {field: message}, the field's last dotted part (`request.hours` -> `hours`)."""
    out: dict[str, str] = {}
    for fe in reply.field_errors:
        out[fe.field.split(".")[-1] if fe.field else "_"] = vocabulary.broken_rules(fe.broken) or fe.message
    if not out and reply.error:
        out["_"] = reply.error
    return out


__all__ = ["Bus", "FieldError", "Unavailable", "errors_by_field"]
