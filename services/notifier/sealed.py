"""Webhook secrets sealed at rest: what a party's endpoint checks signatures with is never in the
database in clear, so a copy of the database alone cannot sign webhooks.

Fernet (AES-128-CBC with HMAC-SHA256, from `cryptography`) under a key of the installation:
`NOTIFIER_SECRET_KEY` (any text, hashed into the key; in production the same in every notifier
container), else a key made once in `var/notifier.key`. A secret sealed under another key cannot
be opened: that party's webhook fails with that reason until the secret is set again. Secrets
written in clear by an earlier version are sealed when the service starts.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable

from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from services.notifier.db import Preference


class Sealer:
    """`key`: the key's text, read when first needed (building the service, for its documents
    say, makes no key file)."""

    def __init__(self, key: Callable[[], str]) -> None:
        self._key = key
        self._cached: Fernet | None = None

    @property
    def _fernet(self) -> Fernet:
        if self._cached is None:
            self._cached = Fernet(base64.urlsafe_b64encode(hashlib.sha256(self._key().encode()).digest()))
        return self._cached

    def seal(self, secret: str) -> str:
        return self._fernet.encrypt(secret.encode()).decode()

    def open(self, sealed: str) -> str | None:
        """The secret, or None when it was sealed under another key."""
        try:
            return self._fernet.decrypt(sealed.encode()).decode()
        except InvalidToken:
            return None


def webhook_secret(pref: Preference | None, sealer: Sealer) -> str | None:
    if pref is None or not pref.webhook_secret_sealed:
        return None
    return sealer.open(pref.webhook_secret_sealed)


def seal_plaintext(engine: Engine, sealer: Sealer) -> int:
    """Seal the secrets an earlier version kept in clear; how many there were."""
    with Session(engine) as session:
        found = list(session.exec(select(Preference).where(col(Preference.webhook_secret).is_not(None))))
        for pref in found:
            pref.webhook_secret_sealed = sealer.seal(pref.webhook_secret or "")
            pref.webhook_secret = None
            session.add(pref)
        session.commit()
    return len(found)
