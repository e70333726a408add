"""What the inbox needs to know of the parties one event tells: their names (the directory learnt
from the contracts service's events), their languages and their preferences.

A proposal tells staff and a commune and names an expert: read one by one that was seven reads,
most of them for rows that do not exist (few parties set preferences), and the notifier's share
of a re-plan's hundreds of proposals went to them. Here the parties of one event are read in two
queries, whatever their number.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlmodel import Session, col, select

from services.notifier.db import Party, Preference
from shared.parties import id_of

LANGUAGE_DEFAULT = "vi"


class Directory:
    def __init__(self, parties: dict[str, Party], preferences: dict[str, Preference]) -> None:
        self._parties, self._preferences = parties, preferences

    @classmethod
    def read(cls, session: Session, parties: Iterable[str]) -> Directory:
        ids = sorted(set(parties))
        return cls(
            {p.id: p for p in session.exec(select(Party).where(col(Party.id).in_(ids)))},
            {p.party: p for p in session.exec(select(Preference).where(col(Preference.party).in_(ids)))},
        )

    def name(self, party: str) -> str:
        """The party's name, else its id (a party the directory has not heard of yet)."""
        row = self._parties.get(party)
        return row.name if row else str(id_of(party))

    def preference(self, party: str) -> Preference | None:
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
    row = session.get(Party, party)
    return row.name if row else str(id_of(party))
