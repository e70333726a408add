"""Who the CLI acts as: the current credential and the private key it vouches for.

Found, first that exists: the file `EXPERTSHARE_CREDENTIAL` names; `~/.config/expertshare/credential`
(written by `expertshare login`); `var/secrets/operator.cred` (the machine's operator: admin, party
staff:operator, issued by `expertshare up`, and issued again here when it has expired and this
user can read the issuer's seed). Each is a 0600 JSON file {"credential": ..., "seed": ...}: the
seed is the person's private key, made on this machine and never sent anywhere; the credential
holds no secret. Every command the CLI sends is signed with it (`cli.client.Client`).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import typer

from shared.clock import utcnow
from shared.messages import Message
from shared.parties import EXPERT, id_of, staff_party
from shared.security import credentials, keys
from shared.security.credentials import Credential, Refused
from shared.security.secrets import secrets_dir, write_private

CREDENTIAL_ENV = "EXPERTSHARE_CREDENTIAL"
OPERATOR = "operator.cred"
OPERATOR_HOURS = 24


class IdentityError(RuntimeError):
    """No usable credential, or an option that contradicts it: the message says what to do."""


@dataclass(frozen=True)
class Identity:
    credential: str
    seed: bytes
    source: Path

    @property
    def claims(self) -> Credential:
        return credentials.read(self.credential)

    @property
    def label(self) -> str:
        return self.claims.name or self.claims.person

    def sign(self, subject: str, message: Message) -> Message:
        return credentials.sign(subject, message, self.seed, credential=self.credential)


def login_path() -> Path:
    return Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config") / "expertshare" / "credential"


def save(path: Path, credential: str, seed: bytes) -> Path:
    return write_private(path, json.dumps({"credential": credential, "seed": seed.decode()}).encode())


def load(path: Path) -> Identity:
    try:
        data = json.loads(path.read_text())
        return Identity(str(data["credential"]), str(data["seed"]).encode(), path)
    except (OSError, ValueError, KeyError, TypeError):
        raise IdentityError(f"{path} is not a credential file (expertshare login writes one)") from None


def issue_operator(directory: Path | None = None, *, hours: float = OPERATOR_HOURS) -> Path:
    """The machine's operator credential (admin, staff:operator, cli), issued by the local issuer:
    `expertshare up` calls this on every start."""
    root = directory or secrets_dir()
    seed = keys.new_seed(keys.USER)
    cred = credentials.issue(
        (root / credentials.ISSUER_SEED).read_bytes().strip(),
        person="operator",
        name="Operator",
        role="admin",
        party=staff_party("operator"),
        key=keys.public_key(seed),
        channel="cli",
        hours=hours,
    )
    return save(root / OPERATOR, cred, seed)


def current() -> Identity | None:
    """The credential this CLI signs with (see the module's docstring), None when there is none."""
    named = os.environ.get(CREDENTIAL_ENV)
    if named:
        return load(Path(named))
    if login_path().exists():
        return load(login_path())
    operator = secrets_dir() / OPERATOR
    can_issue = (secrets_dir() / credentials.ISSUER_SEED).exists() and os.access(
        secrets_dir() / credentials.ISSUER_SEED, os.R_OK
    )
    if operator.exists():
        who = load(operator)
        if not can_issue or not expired(who):
            return who
    return load(issue_operator()) if can_issue else None


def expired(who: Identity) -> bool:
    try:
        claims = who.claims
    except Refused:
        return True
    return claims.exp <= utcnow().timestamp() + 60


def acting(option: str, given: str | None, mine: str) -> str:
    """What the credential says (`mine`); an option given must agree with it."""
    if given and given != mine:
        raise IdentityError(
            f"--{option} {given!r} is not you: you are signed in as {mine!r} "
            "(leave it out, or `expertshare login` as that person)"
        )
    return mine


def by(given: str | None) -> str:
    """`--by`: only a comment now, and it must name the signed-in person when given."""
    who = required()
    claims = who.claims
    if given and given in (claims.person, claims.name):
        return given
    return acting("by", given, who.label)


def expert_id(given: str | None) -> str:
    """`--expert`: the signed-in expert's own id."""
    who = required()
    mine = id_of(who.claims.party, EXPERT)
    if mine is None:
        if given:
            raise IdentityError(
                f"you are signed in as {who.claims.party}, not as expert {given}: "
                "an expert answers their own tasks (expertshare login as that expert)"
            )
        raise IdentityError("sign in as an expert first (expertshare login)")
    return acting("expert", given, mine)


def required() -> Identity:
    who = current()
    if who is None:
        raise IdentityError("not signed in: run `expertshare login USER` (or `expertshare up` for the operator)")
    return who


def option(resolve: Callable[[str | None], str], given: str | None) -> str:
    """An option resolved against the credential, or the command ends with the reason (status 2)."""
    try:
        return resolve(given)
    except IdentityError as err:
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(2) from None
