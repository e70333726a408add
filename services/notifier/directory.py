"""What the inbox needs to know of the parties one event tells: their names (the directory learnt
from the contracts service's events), their languages and their preferences.

A proposal tells staff and a commune and names an expert: read one by one that was seven reads,
most of them for rows that do not exist (few parties set preferences), and the notifier's share
of a re-plan's hundreds of proposals went to them. Here the parties of one event are read in two
queries, whatever their number.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import Row, bindparam, select
from sqlmodel import Session

from services.notifier.db import Party, Preference
from shared.db import table_of
from shared.parties import id_of

PARTY, PREFERENCE = table_of(Party), table_of(Preference)
# Built once (see `shared.db`): rows of the tables, not objects for the unit of work, since
# nothing here is changed, and a re-plan's burst of proposals reads these hundreds of times a second.
PARTIES = select(PARTY).where(PARTY.c.id.in_(bindparam("ids", expanding=True)))
PREFERENCES = select(PREFERENCE).where(PREFERENCE.c.party.in_(bindparam("ids", expanding=True)))

LANGUAGE_DEFAULT = "vi"


class Directory:
    """The rows of `party` and `preference` of some parties."""

    def __init__(self, parties: dict[str, Row[Any]], preferences: dict[str, Row[Any]]) -> None:
        self._parties, self._preferences = parties, preferences

    @classmethod
    def read(cls, session: Session, parties: Iterable[str]) -> Directory:
        ids = dict(ids=sorted(set(parties)))
        return cls(
            {p.id: p for p in session.execute(PARTIES, ids)},
            {p.party: p for p in session.execute(PREFERENCES, ids)},
        )

    def name(self, party: str) -> str:
        return _named(party, self._parties.get(party))

    def preference(self, party: str) -> Row[Any] | None:
        return self._preferences.get(party)

    def language(self, party: str) -> str:
        """The party's chosen language first, else its directory entry's, else the default."""
        pref = self._preferences.get(party)
        if pref and pref.language:
            return pref.language
        row = self._parties.get(party)
        return row.language if row else LANGUAGE_DEFAULT


def name(session: Session, party: str) -> str:
    """One party's name (for a notice about, not to, it)."""
    return _named(party, session.get(Party, party))


def _named(party: str, row: Party | Row[Any] | None) -> str:
    """The party's name, else its id (a party the directory has not heard of yet)."""
    return row.name if row else str(id_of(party))
