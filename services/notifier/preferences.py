"""Per-party preferences: which external channels, which language, the addresses, digest or not.

The inbox is always on. A channel can only be chosen once the party has its address (an email,
a webhook url and secret), so a preference never points at nowhere. The secret is sealed before
it is stored (`sealed.py`) and never read back. A webhook URL must reach a public address
(`addresses.py`, checked again at every send).

Preferences are kept only for parties that exist: an expert or a unit the notifier has heard of
from the contracts service (its directory, `Party`), or a staff party of the notifier's settings
(`NOTIFIER_STAFF_PARTIES`) or the one it writes to itself (`staff:home-affairs`). Anything else
would be a row nobody ever reads, and a way to fill the table.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Row
from sqlmodel import Session

from services.notifier.addresses import Refused, check_url
from services.notifier.db import Party, Preference
from services.notifier.directory import Directory
from services.notifier.sealed import Sealer
from shared import messages as m
from shared.bus import Rejected
from shared.db import utcnow
from shared.parties import STAFF_KIND, kind_of


def language_of(session: Session, party: str) -> str:
    return Directory.read(session, [party]).language(party)


def channels_of(pref: Preference | Row[Any] | None) -> list[str]:
    return [c for c in (pref.channels.split(",") if pref else []) if c]


def set_preferences(
    session: Session, cmd: m.SetPreferences, *, sealer: Sealer, staff: frozenset[str], allow_private: bool
) -> m.Reply[m.PreferencesView]:
    known = cmd.party in staff if kind_of(cmd.party) == STAFF_KIND else session.get(Party, cmd.party) is not None
    if not known:
        raise Rejected(f"unknown party {cmd.party}", "party")
    pref = session.get(Preference, cmd.party) or Preference(party=cmd.party)
    # None leaves a field as it was (the wire carries every field); an empty email clears it.
    if cmd.language is not None:
        pref.language = cmd.language
    if cmd.email is not None:
        pref.email = cmd.email or None
    if cmd.webhook_url is not None:
        try:
            check_url(str(cmd.webhook_url), allow_private=allow_private)
        except Refused as err:
            raise Rejected(str(err), "webhook_url") from None
        pref.webhook_url = str(cmd.webhook_url)
    if cmd.webhook_secret is not None:
        pref.webhook_secret_sealed, pref.webhook_secret = sealer.seal(cmd.webhook_secret), None
    if cmd.digest is not None:
        pref.digest = cmd.digest
    if cmd.channels is not None:
        pref.channels = ",".join(dict.fromkeys(c for c in cmd.channels if c != "inbox"))
    channels = channels_of(pref)
    if "email" in channels and not pref.email:
        raise Rejected("the email channel needs an email address", "email")
    if "webhook" in channels and not (pref.webhook_url and pref.webhook_secret_sealed):
        field = "webhook_url" if not pref.webhook_url else "webhook_secret"
        raise Rejected("the webhook channel needs a webhook url and a secret", field)
    pref.updated_at = utcnow()
    session.add(pref)
    return m.Reply.of(describe(session, cmd.party, pref))


def describe(session: Session, party: str, pref: Preference | None) -> m.PreferencesView:
    return m.PreferencesView(
        party=party,
        channels=["inbox", *channels_of(pref)],
        language=language_of(session, party),
        email=pref.email if pref else None,
        webhook_url=pref.webhook_url if pref else None,
        webhook_secret_set=bool(pref and pref.webhook_secret_sealed),
        digest=bool(pref and pref.digest),
    )


def get_preferences(session: Session, q: m.GetPreferences) -> m.Reply[m.PreferencesView]:
    return m.Reply.of(describe(session, q.party, session.get(Preference, q.party)))
