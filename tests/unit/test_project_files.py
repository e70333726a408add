"""The project's promises about its own files: compose names every service, docs are current."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from cli.asyncapi import DOCS, SERVICES, document, listened_subjects
from shared import subjects as s

ROOT = Path(__file__).resolve().parents[2]


def test_compose_parses_and_runs_every_service_from_one_image() -> None:
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text())
    services = compose["services"]
    for name in SERVICES:
        assert name in services, f"compose.yaml has no {name} service"
        assert services[name]["command"] == ["python", "-m", f"services.{name}"]
        assert services[name]["build"] == "."
        env = services[name]["environment"]
        assert env["NATS_URL"].count("nats://") == 3, "services must know every NATS node"
        assert env["EXPERTSHARE_STREAM_REPLICAS"] == "3", "a stream must outlive the loss of a node"
        assert env[f"{name.upper()}_DATABASE_URL"].startswith("postgresql+psycopg://")
    assert {"nats1", "nats2", "nats3", "postgres"} <= set(services)
    for node in ("nats1", "nats2", "nats3"):
        assert "-c" in services[node]["command"]


def test_nats_config_enables_jetstream_cluster() -> None:
    text = (ROOT / "deploy" / "nats.conf").read_text()
    assert "jetstream" in text and "cluster" in text


@pytest.mark.parametrize("service", SERVICES)
def test_asyncapi_document_is_current(service: str) -> None:
    committed = DOCS / f"{service}.json"
    assert committed.exists(), f"run `make docs` to write {committed}"
    assert json.loads(committed.read_text()) == json.loads(document(service)), (
        f"{committed} is stale: run `make docs`"
    )


def _addresses(doc: dict, action: str) -> set[str]:
    channels = doc["channels"]
    return {channels[op["channel"]["$ref"].rsplit("/", 1)[1]]["address"]
            for op in doc["operations"].values() if op["action"] == action}


@pytest.mark.parametrize("service", SERVICES)
def test_asyncapi_document_names_every_subject_the_service_uses(service: str) -> None:
    doc = json.loads((DOCS / f"{service}.json").read_text())
    received, sent = _addresses(doc, "receive"), _addresses(doc, "send")
    listened = {subject for subject, _ in listened_subjects(service)}
    assert listened <= received, f"undocumented subscriptions: {sorted(listened - received)}"
    mine = set(s.events_of(service)) | {s.deadletter(service)}
    assert mine <= sent, f"undocumented events: {sorted(mine - sent)}"
    for address in received | sent:
        channel = next(c for c in doc["channels"].values() if c["address"] == address)
        assert channel.get("description"), f"{address} has no description"


def test_every_subject_is_documented_by_the_service_that_answers_or_publishes_it() -> None:
    documented: set[str] = set()
    for service in SERVICES:
        doc = json.loads((DOCS / f"{service}.json").read_text())
        documented |= {c["address"] for c in doc["channels"].values()}
    portal = {s.CREDENTIAL_ISSUE}  # answered by the portal's own NATS client (services.portal.bus), not a broker
    assert not set(s.all_subjects()) - documented - portal, sorted(set(s.all_subjects()) - documented - portal)


def test_hours_are_shown_as_hours_and_minutes() -> None:
    from cli.views import hours

    assert (hours(460), hours(480), hours(5)) == ("7 h 40", "8 h", "0 h 05")
