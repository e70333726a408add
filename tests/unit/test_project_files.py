"""The project's promises about its own files: compose names every service, docs are current."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from cli.asyncapi import DOCS, SERVICES, document, listened_subjects
from shared import subjects as s
from shared.catalogue import events_of

ROOT = Path(__file__).resolve().parents[2]


NODES = ("nats-1", "nats-2", "nats-3")
DEPLOYED = ("matcher", "contracts", "notifier", "portal")
SECRETS = "/run/secrets/expertshare"


def _compose() -> dict:
    return yaml.safe_load((ROOT / "compose.yaml").read_text())


def _secrets(service: dict) -> dict[str, str]:
    """{target: source} of a service's mounted secrets."""
    return {s["target"]: s["source"] for s in service.get("secrets", [])}


def test_compose_parses_and_runs_every_service_from_one_image() -> None:
    compose = _compose()
    services = compose["services"]
    for name in DEPLOYED:
        assert name in services, f"compose.yaml has no {name} service"
        assert services[name]["command"] == ["python", "-m", f"services.{name}"]
        assert services[name]["build"] == "."
        env = services[name]["environment"]
        assert env["NATS_URL"].split(",") == [f"tls://{n}:4222" for n in NODES], "TLS to every NATS node"
        assert env["EXPERTSHARE_STREAM_REPLICAS"] == "3", "a stream must outlive the loss of a node"
        assert env[f"{name.upper()}_DATABASE_URL"] == f"postgresql+psycopg://{name}@postgres:5432/{name}", (
            "its own role and database, no password in the URL"
        )
    assert {*NODES, "postgres"} <= set(services)
    for node in NODES:
        assert services[node]["command"] == ["-c", "/etc/nats/nats.conf", "--name", node]


def test_compose_gives_each_service_its_own_secrets_only() -> None:
    compose = _compose()
    services, declared = compose["services"], compose["secrets"]
    for name in DEPLOYED:
        service, env = services[name], services[name]["environment"]
        mounted = _secrets(service)
        assert all(declared[s]["file"].startswith("./deploy/secrets/") for s in mounted.values())
        seeds = {t: s for t, s in mounted.items() if declared[s]["file"].endswith(".nk")}
        own_seed = f"{SECRETS}/nats/{name}.nk"
        assert env["EXPERTSHARE_NATS_SEED"] == own_seed and declared[mounted[own_seed]]["file"] == (
            f"./deploy/secrets/nats/{name}.nk"
        )
        issuer = {f"{SECRETS}/issuer.nk"} if name == "portal" else set()
        assert set(seeds) == {own_seed} | issuer, f"{name} gets another's seed: {sorted(seeds)}"
        assert env["PGPASSFILE"] == f"{SECRETS}/postgres/{name}.pgpass"
        assert declared[mounted[env["PGPASSFILE"]]]["file"] == f"./deploy/secrets/postgres/{name}.pgpass"
        assert not [
            f
            for f in (declared[s]["file"] for s in mounted.values())
            if "/postgres/" in f and not f.endswith(f"/{name}.pgpass")
        ], f"{name} gets another's password"
        assert not [f for f in (declared[s]["file"] for s in mounted.values()) if "/tls/" in f and "ca.crt" not in f]
        assert declared[mounted[env["EXPERTSHARE_NATS_CA"]]]["file"] == "./deploy/secrets/tls/ca.crt"
        assert "nats_auth" not in mounted.values() and "nats_routes" not in mounted.values()
        assert service["user"].startswith("${EXPERTSHARE_UID:?"), "runs as the owner of the 0600 secret files"
    assert services["portal"]["environment"]["EXPERTSHARE_ISSUER_SEED"] == f"{SECRETS}/issuer.nk"
    setup = services["setup"]
    assert set(_secrets(setup)) == {f"{SECRETS}/nats/admin.nk", f"{SECRETS}/tls/ca.crt"}, "the admin's seed only"
    assert setup["environment"]["EXPERTSHARE_NATS_SEED"] == f"{SECRETS}/nats/admin.nk"
    assert all(
        services[name]["depends_on"]["setup"]["condition"] == "service_completed_successfully" for name in DEPLOYED
    )
    for node in NODES:
        files = {declared[s]["file"].rsplit("/", 1)[1] for s in _secrets(services[node]).values()}
        assert files == {"ca.crt", "server.crt", "server.key", "auth.conf", "routes.conf", "cluster-routes.conf"}


def test_compose_networks_keep_nats_routes_and_postgres_apart() -> None:
    compose = _compose()
    services, networks = compose["services"], compose["networks"]
    assert all(networks[n].get("internal") for n in ("routes", "bus", "db"))
    assert services["postgres"]["networks"] == ["db"] and "ports" not in services["postgres"]
    for node in NODES:
        assert set(services[node]["networks"]) == {"routes", "bus"} and "ports" not in services[node]
    for name in DEPLOYED:
        assert "routes" not in services[name]["networks"]
    published = {name: s["ports"] for name, s in services.items() if "ports" in s}
    assert set(published) == {"portal", "grafana"}
    assert all(p.startswith("127.0.0.1:") for p in published["grafana"]), "the dashboard on the host's loopback only"
    assert "POSTGRES_PASSWORD" in services["postgres"]["environment"]
    assert any("init-roles.sql:/docker-entrypoint-initdb.d/" in v for v in services["postgres"]["volumes"])


def test_nats_config_enables_jetstream_cluster_with_tls_and_authorization() -> None:
    """The configuration's promises (tests/security/test_deploy.py runs it on three real nodes)."""
    text = (ROOT / "deploy" / "nats.conf").read_text()
    lines = [line.split("#", 1)[0].strip() for line in text.splitlines()]
    assert "jetstream {" in lines and "sync_interval: always" in lines
    assert "cluster {" in lines and "verify: true" in lines, "a route presents a certificate of our CA"
    assert lines.count('include "auth.conf"') == 1 and 'include "routes.conf"' in lines
    assert 'include "cluster-routes.conf"' in lines
    assert "http: 127.0.0.1:8222" in lines, "monitoring only on the node's loopback"
    assert lines.count('cert_file: "/etc/nats/tls/server.crt"') == 2, "TLS for clients and for routes"
    assert "max_payload: 1MB" in lines
    assert not [line for line in lines if line.startswith(("no_auth_user", "authorization {", "accounts"))]
    assert (ROOT / ".gitignore").read_text().count("deploy/secrets/") == 1


@pytest.mark.parametrize("service", SERVICES)
def test_asyncapi_document_is_current(service: str) -> None:
    committed = DOCS / f"{service}.json"
    assert committed.exists(), f"run `make docs` to write {committed}"
    assert json.loads(committed.read_text()) == json.loads(document(service)), f"{committed} is stale: run `make docs`"


def _addresses(doc: dict, action: str) -> set[str]:
    channels = doc["channels"]
    return {
        channels[op["channel"]["$ref"].rsplit("/", 1)[1]]["address"]
        for op in doc["operations"].values()
        if op["action"] == action
    }


@pytest.mark.parametrize("service", SERVICES)
def test_asyncapi_document_names_every_subject_the_service_uses(service: str) -> None:
    doc = json.loads((DOCS / f"{service}.json").read_text())
    received, sent = _addresses(doc, "receive"), _addresses(doc, "send")
    listened = {subject for subject, _ in listened_subjects(service)}
    assert listened <= received, f"undocumented subscriptions: {sorted(listened - received)}"
    mine = set(events_of(service)) | {s.deadletter(service)}
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


def test_security_page_shows_the_permissions_the_code_enforces() -> None:
    """docs/security.md's tables of NATS identities and command permits are generated from the
    code that enforces them (`make docs`); a change to either must regenerate the page."""
    from cli import security_doc

    page = security_doc.PAGE.read_text()
    assert security_doc.render(page) == page, "docs/security.md is stale: run `make docs`"
