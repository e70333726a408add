"""One vocabulary (`shared.statuses`, `shared.parties`): a status is one word in every service,
each named set of statuses is one set, and a party is spelled in one place."""

from __future__ import annotations

import re

from shared import parties, statuses
from shared.assignment import Status
from shared.security.credentials import Credential, system
from shared.statuses import AssignmentStatus, ContractStatus, DeliveryStatus, RequestStatus


def test_a_status_member_is_its_word_on_the_wire_and_in_a_table() -> None:
    assert AssignmentStatus is Status
    assert AssignmentStatus.PROPOSED == "proposed" and f"{AssignmentStatus.PROPOSED}" == "proposed"
    assert RequestStatus("unmatched") is RequestStatus.UNMATCHED
    assert [str(c) for c in ContractStatus] == ["draft", "active", "suspended", "exhausted", "expired", "terminated"]
    assert {str(d) for d in DeliveryStatus} == {"pending", "sent", "failed"}


def test_the_named_sets_of_request_statuses() -> None:
    assert statuses.MATCHING == (RequestStatus.OPEN, RequestStatus.UNMATCHED, RequestStatus.PROPOSED)
    assert set(statuses.UNCOVERED) < set(statuses.MATCHING)
    assert not set(statuses.FINISHED) & set(statuses.MATCHING)


def test_statuses_as_sql_constants() -> None:
    assert statuses.sql_words(statuses.HELD) == "'approved', 'accepted'"
    assert statuses.sql_words(statuses.LIVE) == "'proposed', 'approved', 'accepted'"


def test_parties_are_built_and_read_in_one_place() -> None:
    assert parties.expert_party("e1") == "expert:e1" and parties.unit_party("u1") == "unit:u1"
    assert parties.staff_party("lan") == parties.staff_party("staff:lan") == "staff:lan"
    assert parties.STAFF == "staff:home-affairs" and parties.kind_of(parties.STAFF) == "staff"
    assert parties.id_of("expert:e1") == "e1" and parties.id_of("expert:e1", "unit") is None
    assert parties.id_of("unit:u:1", "unit") == "u:1"
    assert system("notifier").party == parties.system_party("notifier") == "system:notifier"


def test_every_party_the_helpers_build_is_one_a_credential_accepts() -> None:
    field = Credential.model_fields["party"]
    pattern = next(m.pattern for m in field.metadata if getattr(m, "pattern", None))
    for party in (parties.expert_party("e-1"), parties.unit_party("u.1"), parties.STAFF, parties.system_party("x")):
        assert re.fullmatch(pattern, party), party
