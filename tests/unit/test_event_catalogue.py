"""The events are declared once (`shared.catalogue`): the streams, the services' publishers and
the NATS permissions follow that declaration, never a subject's wording."""

from __future__ import annotations

import pytest

from cli.asyncapi import SERVICES, built
from shared import catalogue
from shared import subjects as s
from shared.security import identities
from shared.streams import owners, stream_config


def test_every_declared_event_is_a_known_subject_of_its_owner() -> None:
    known = set(s.all_subjects())
    for owner, declared in catalogue.EVENTS.items():
        for subject in declared:
            assert subject in known, subject
            assert subject.split(".")[0] == owner, f"{subject} is declared under {owner}"


def test_every_declared_event_is_in_its_owners_stream_and_nothing_else_is() -> None:
    assert owners() == ["contracts", "matcher", "notifier"]
    for owner in owners():
        assert stream_config(owner).subjects == sorted(catalogue.EVENTS[owner])
    streamed = {subj for owner in owners() for subj in stream_config(owner).subjects or []}
    assert not {x for x in s.all_subjects() if not catalogue.is_event(x)} & streamed


def test_a_command_whose_name_ends_in_ed_never_lands_in_a_stream(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(s, "REQUEST_SEED", "matcher.request.seed", raising=False)
    monkeypatch.setattr(s, "PLAN_SHRED", "matcher.plan.shred", raising=False)
    assert {"matcher.request.seed", "matcher.plan.shred"} <= set(s.all_subjects())
    assert "matcher.request.seed" not in (stream_config("matcher").subjects or [])
    assert "matcher.plan.shred" not in (stream_config("matcher").subjects or [])
    assert "matcher.plan.shred" in identities.answers("matcher"), "a command is answered, not streamed"
    assert "matcher.plan.shred" not in (identities.permissions("contracts").publish or ())


@pytest.mark.parametrize("service", SERVICES)
def test_a_service_publishes_exactly_its_declared_events(service: str) -> None:
    svc = built(service)
    published = {p._subject for p in svc.broker.publishers} - {s.deadletter(service)}
    assert published == set(catalogue.EVENTS[service])
    for pub in svc.broker.publishers:
        if pub._subject in published:
            assert pub.stream is not None and pub.stream.name == service.upper(), pub.subject
