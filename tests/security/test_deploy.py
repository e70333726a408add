"""Production deployment: NATS with TLS and authorization, authenticated cluster routes, and one
PostgreSQL role per service that reaches only its own database.

The NATS tests run three real nats-server nodes with deploy/nats.conf itself, its paths and ports
moved into a temporary directory (`_render` refuses a deploy/nats.conf whose shape it no longer
knows), with the certificates `tls.ensure` makes and the route URLs `routes.ensure` makes, as
`expertshare secrets init --production` does. On main the deployment had none of it: anyone on
the network spoke plaintext to any node, joined the cluster as a route, and every service used
the one PostgreSQL superuser.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
import os
import shutil
import socket
import ssl
import subprocess
import time
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import nats
import nats.errors
import psycopg
import pytest

from shared.nats import free_port, nats_server_binary, wait_for_port
from shared.security import identities, postgres, routes, tls
from shared.security.secrets import write_private

ROOT = Path(__file__).resolve().parents[2]
DEPLOY_CONF = ROOT / "deploy" / "nats.conf"
HOSTS = ("localhost", "127.0.0.1")
# Beside deploy/nats.conf in the container, as compose.yaml mounts them.
NODE_FILES = ("auth.conf", "routes.conf", "cluster-routes.conf")
ROUTE_USER = "route"


def make_nats_secrets(secrets: Path) -> Path:
    """The identities' generated auth.conf and routes.conf under `secrets`/nats, as `expertshare
    secrets init --production` makes them; returns the admin's seed file."""
    identities.ensure(secrets, cluster=True)
    return secrets / "nats" / "admin.nk"


@dataclass
class Node:
    name: str
    port: int
    route_port: int
    http_port: int
    directory: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def log(self) -> Path:
        return self.directory / "nats.log"

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def monitor(self, path: str) -> dict:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.http_port}/{path}", timeout=5) as r:
            return json.loads(r.read())

    def peers(self) -> set[str]:
        """The nodes this one has routes with (each peer has a pool of route connections)."""
        return {r.get("remote_name") or r["remote_id"] for r in self.monitor("routez").get("routes") or []}

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def _render(node: Node, secrets: Path) -> Path:
    """deploy/nats.conf with its container paths and ports moved to this node, and the generated
    files beside it as compose mounts them."""
    text = DEPLOY_CONF.read_text()
    moves = {
        "/etc/nats/tls/": f"{tls.tls_dir(secrets)}/",
        '"/data/jetstream"': f'"{node.directory / "jetstream"}"',
        "listen: 0.0.0.0:4222": f"listen: 127.0.0.1:{node.port}",
        "listen: 0.0.0.0:6222": f"listen: 127.0.0.1:{node.route_port}",
        "http: 127.0.0.1:8222": f"http: 127.0.0.1:{node.http_port}",
    }
    for old, new in moves.items():
        assert old in text, f"deploy/nats.conf no longer has {old!r}: update _render"
        text = text.replace(old, new)
    node.directory.mkdir(parents=True, exist_ok=True)
    for name in NODE_FILES:
        shutil.copy(secrets / "nats" / name, node.directory / name)
    conf = node.directory / "nats.conf"
    conf.write_text(text)
    return conf


def _start(node: Node, secrets: Path) -> Node:
    conf = _render(node, secrets)
    node.process = subprocess.Popen(
        [nats_server_binary(), "-c", str(conf), "--name", node.name, "-l", str(node.log)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_for_port(node.port, alive=lambda: node.process is not None and node.process.poll() is None)
    except Exception:
        node.stop()
        raise AssertionError(f"{node.name} did not start: {node.log_text()[-2000:]}") from None
    return node


def _nodes(root: Path, count: int, prefix: str = "n") -> list[Node]:
    return [Node(f"{prefix}{i}", free_port(), free_port(), free_port(), root / f"{prefix}{i}") for i in range(count)]


def _wait_until(check, what: str, timeout: float = 15.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError(f"not within {timeout:.0f} s: {what}")


@dataclass
class Cluster:
    nodes: list[Node]
    secrets: Path
    seed: Path

    @property
    def servers(self) -> list[str]:
        return [f"tls://127.0.0.1:{n.port}" for n in self.nodes]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    root = tmp_path_factory.mktemp("deploy")
    secrets = root / "secrets"
    tls.ensure(secrets, HOSTS)
    seed = make_nats_secrets(secrets)
    nodes = _nodes(root, 3)
    routes.ensure(secrets, [f"127.0.0.1:{n.route_port}" for n in nodes])
    try:
        for node in nodes:
            _start(node, secrets)
        for node in nodes:
            others = {n.name for n in nodes} - {node.name}
            _wait_until(lambda n=node, o=others: n.peers() == o, f"{node.name} routed to {sorted(others)}")
            _wait_until(
                lambda n=node: n.monitor("jsz").get("meta_cluster", {}).get("leader"),
                f"{node.name} knows JetStream's meta leader",
            )
        yield Cluster(nodes, secrets, seed)
    finally:
        for node in nodes:
            node.stop()


@pytest.fixture
def client_env(cluster: Cluster, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EXPERTSHARE_NATS_CA", str(tls.tls_dir(cluster.secrets) / "ca.crt"))
    for name in ("EXPERTSHARE_NATS_CERT", "EXPERTSHARE_NATS_KEY", "EXPERTSHARE_NATS_TLS_HOSTNAME"):
        monkeypatch.delenv(name, raising=False)


def _info(port: int) -> tuple[socket.socket, dict]:
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    line = sock.makefile("rb").readline()
    assert line.startswith(b"INFO "), line[:80]
    return sock, json.loads(line[5:])


# ------------------------------------------------------------------------------ clients
def test_a_plaintext_client_is_refused(cluster: Cluster) -> None:
    sock, info = _info(cluster.nodes[0].port)
    with sock:
        assert info["tls_required"] is True
        sock.sendall(b'CONNECT {"verbose":false,"pedantic":false}\r\nPING\r\nSUB > 1\r\n')
        answer = b""
        with contextlib.suppress(ConnectionResetError):
            # Until the server closes the connection (a silent server would time out: an error).
            while chunk := sock.recv(4096):
                answer += chunk
    assert b"PONG" not in answer and b"+OK" not in answer and b"MSG" not in answer, answer[:200]


def test_a_tls_client_without_the_installations_ca_fails_verification(cluster: Cluster) -> None:
    sock, _ = _info(cluster.nodes[0].port)
    with sock, pytest.raises(ssl.SSLCertVerificationError):
        ssl.create_default_context().wrap_socket(sock, server_hostname="127.0.0.1")


async def test_a_tls_client_with_the_ca_and_its_nkey_connects_and_jetstream_replicates(
    cluster: Cluster, client_env: None
) -> None:
    nc = await nats.connect(
        cluster.servers, nkeys_seed=str(cluster.seed), allow_reconnect=False, **tls.client_tls_options()
    )
    try:
        assert nc.connected_url is not None and nc.connected_url.scheme == "tls"
        js = nc.jetstream()
        await js.add_stream(name="DEPLOYTEST", subjects=["deploytest.>"], num_replicas=3)
        ack = await js.publish("deploytest.one", b"kept on three nodes")
        assert ack.stream == "DEPLOYTEST" and ack.seq == 1
        info = await js.stream_info("DEPLOYTEST")
        assert info.cluster is not None and len(info.cluster.replicas or []) == 2
    finally:
        await nc.close()
    for node in cluster.nodes:
        assert node.monitor("varz")["jetstream"]["config"]["sync_always"] is True


async def test_a_broker_with_the_ca_and_its_nkey_connects(cluster: Cluster, client_env: None) -> None:
    """The services' FastStream broker takes TLS in its own shape (`broker_tls_options`)."""
    from faststream.nats import NatsBroker

    listener = await nats.connect(
        cluster.servers, nkeys_seed=str(cluster.seed), allow_reconnect=False, **tls.client_tls_options()
    )
    sub = await listener.subscribe("deploytest.broker")
    await listener.flush()
    # nkeys_seed as shared.nats.make_broker passes it; FastStream merges it with the TLS `security`.
    broker = NatsBroker(
        cluster.servers, nkeys_seed=str(cluster.seed), allow_reconnect=False, **tls.broker_tls_options()
    )
    try:
        await broker.connect()
        await broker.publish(b"over tls", "deploytest.broker")
        assert (await sub.next_msg(timeout=5)).data == b"over tls"
    finally:
        await broker.stop()
        await listener.close()


async def test_a_tls_client_without_an_nkey_is_refused(cluster: Cluster, client_env: None) -> None:
    errors: list[Exception] = []

    async def error_cb(err: Exception) -> None:
        errors.append(err)

    with pytest.raises((nats.errors.NoServersError, nats.errors.Error)):
        await nats.connect(
            f"tls://127.0.0.1:{cluster.nodes[0].port}",
            allow_reconnect=False,
            connect_timeout=3,
            error_cb=error_cb,
            **tls.client_tls_options(),
        )
    assert any("Authorization Violation" in str(e) for e in errors), errors


# ------------------------------------------------------------------------------ routes
def test_the_routes_use_tls(cluster: Cluster) -> None:
    for node in cluster.nodes:
        varz = node.monitor("varz")
        assert varz["cluster"]["tls_required"] is True and varz["cluster"]["tls_verify"] is True
        assert varz["tls_required"] is True and varz["max_payload"] == 1024 * 1024


def _intruder(cluster: Cluster, root: Path, *, password: str | None = None, own_ca: bool = False) -> Node:
    """A fourth node dialling the first: with the installation's certificate and a wrong route
    password, or with the right password and a certificate of another CA."""
    secrets = root / "secrets"
    shutil.copytree(cluster.secrets, secrets)
    if own_ca:
        shutil.rmtree(tls.tls_dir(secrets))
        tls.ensure(secrets, HOSTS)
    if password is not None:
        write_private(
            secrets / "nats" / "routes.conf",
            f'authorization {{ user: "{ROUTE_USER}", password: "{password}" }}\n'.encode(),
        )
    routes.ensure(secrets, [f"127.0.0.1:{cluster.nodes[0].route_port}"])
    node = _nodes(root, 1, prefix="intruder")[0]
    return _start(node, secrets)


def test_a_route_with_a_wrong_password_is_refused(cluster: Cluster, tmp_path: Path) -> None:
    first = cluster.nodes[0]
    node = _intruder(cluster, tmp_path, password="not-the-password")
    try:
        _wait_until(lambda: "Authorization Violation" in node.log_text(), "the intruder told it is not authorized")
        assert "authentication error" in first.log_text().lower()
        assert first.peers() == {"n1", "n2"}
    finally:
        node.stop()


def test_a_route_with_a_certificate_of_another_ca_is_refused(cluster: Cluster, tmp_path: Path) -> None:
    first = cluster.nodes[0]
    node = _intruder(cluster, tmp_path, own_ca=True)
    try:
        _wait_until(lambda: "TLS route handshake error" in node.log_text(), "the intruder's TLS handshake failed")
        assert first.peers() == {"n1", "n2"}
    finally:
        node.stop()


# ------------------------------------------------------------------------------ certificates
def test_certificates_are_private_kept_and_remade_when_their_hosts_change(tmp_path: Path) -> None:
    d = tls.ensure(tmp_path, ["nats-1", "nats-2", "10.0.0.7"])
    assert d.stat().st_mode & 0o777 == 0o700
    files = {p.name: p.read_bytes() for p in d.iterdir()}
    assert set(files) == {"ca.key", "ca.crt", "server.key", "server.crt"}
    assert all(p.stat().st_mode & 0o777 == 0o600 for p in d.iterdir())
    tls.ensure(tmp_path, ["nats-2", "nats-1", "10.0.0.7"])
    assert {p.name: p.read_bytes() for p in d.iterdir()} == files, "the same hosts keep what exists"
    tls.ensure(tmp_path, ["nats-1", "nats-2", "nats-3"])
    assert (d / "ca.crt").read_bytes() == files["ca.crt"], "a new host keeps the CA"
    assert (d / "server.crt").read_bytes() != files["server.crt"]
    assert (d / "server.key").read_bytes() != files["server.key"]


def test_a_certificate_expiring_within_30_days_is_remade(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tls, "CERT_DAYS", 20)
    d = tls.ensure(tmp_path, ["nats-1"])
    first = (d / "server.crt").read_bytes()
    monkeypatch.setattr(tls, "CERT_DAYS", 825)
    tls.ensure(tmp_path, ["nats-1"])
    assert (d / "server.crt").read_bytes() != first


def test_a_bad_host_is_named_and_nothing_is_made(tmp_path: Path) -> None:
    with pytest.raises(tls.TLSConfigError, match="not a host name"):
        tls.ensure(tmp_path, ["nats-1", "bad host/" + "x" * 500])
    assert not tls.tls_dir(tmp_path).exists() or not any(tls.tls_dir(tmp_path).iterdir())
    with pytest.raises(tls.TLSConfigError, match="no host"):
        tls.ensure(tmp_path, [])


def test_client_tls_options(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "EXPERTSHARE_NATS_CA",
        "EXPERTSHARE_NATS_CERT",
        "EXPERTSHARE_NATS_KEY",
        "EXPERTSHARE_NATS_TLS_HOSTNAME",
    ):
        monkeypatch.delenv(name, raising=False)
    assert tls.client_tls_options() == {} and tls.broker_tls_options() == {}
    monkeypatch.setenv("EXPERTSHARE_NATS_CA", str(tmp_path / "missing.crt"))
    with pytest.raises(tls.TLSConfigError, match="EXPERTSHARE_NATS_CA: no such file"):
        tls.client_tls_options()
    d = tls.ensure(tmp_path, ["nats-1"])
    monkeypatch.setenv("EXPERTSHARE_NATS_CA", str(d / "ca.crt"))
    monkeypatch.setenv("EXPERTSHARE_NATS_TLS_HOSTNAME", "nats-1")
    options = tls.client_tls_options()
    assert options["tls_hostname"] == "nats-1"
    assert options["tls"].verify_mode == ssl.CERT_REQUIRED and options["tls"].check_hostname
    monkeypatch.setenv("EXPERTSHARE_NATS_CERT", str(d / "server.crt"))
    with pytest.raises(tls.TLSConfigError, match="set both or neither"):
        tls.client_tls_options()
    monkeypatch.setenv("EXPERTSHARE_NATS_KEY", str(d / "server.key"))
    assert "tls" in tls.client_tls_options()


def test_route_urls_carry_the_generated_credentials(tmp_path: Path) -> None:
    make_nats_secrets(tmp_path)
    user, password = routes.credentials(tmp_path)
    path = routes.ensure(tmp_path, ["nats-1", "nats-2:7222", "fd00::1"])
    text = path.read_text()
    assert path.stat().st_mode & 0o777 == 0o600
    assert f"nats-route://{user}:{password}@nats-1:6222" in text
    assert "@nats-2:7222" in text and "@[fd00::1]:6222" in text
    (tmp_path / "nats" / "routes.conf").unlink()
    with pytest.raises(routes.RoutesError, match="no route credentials"):
        routes.credentials(tmp_path)


# ------------------------------------------------------------------------------ PostgreSQL
SERVICES = ("matcher", "contracts", "notifier", "portal")
PG = os.environ.get("EXPERTSHARE_TEST_PG", "")


def test_the_scram_verifier_is_postgresqls_rfc_7677() -> None:
    """RFC 7677's example exchange (user "user", password "pencil") checks out against the verifier."""
    verifier = postgres.scram_verifier("pencil", salt=base64.b64decode("W22ZaJ0SNY7soEsUEjb6gQ=="))
    _, stored_b64, server_b64 = verifier.replace("$", ":").split(":")[1:][1:]
    stored, server = base64.b64decode(stored_b64), base64.b64decode(server_b64)
    nonce = "rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
    auth = f"n=user,r=rOprNGfwEbeRWgbNEkqO,r={nonce},s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096,c=biws,r={nonce}".encode()
    proof = base64.b64decode("dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=")
    client_key = bytes(a ^ b for a, b in zip(proof, hmac.new(stored, auth, hashlib.sha256).digest(), strict=True))
    assert hashlib.sha256(client_key).digest() == stored
    assert base64.b64encode(hmac.new(server, auth, hashlib.sha256).digest()).decode() == (
        "6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="
    )


def test_postgres_secrets_are_private_and_the_init_script_holds_no_password(tmp_path: Path) -> None:
    d = postgres.ensure(tmp_path, SERVICES)
    script = (d / "init-roles.sql").read_text()
    for name in SERVICES:
        password = (d / f"{name}.password").read_text()
        assert (d / f"{name}.password").stat().st_mode & 0o777 == 0o600
        assert (d / f"{name}.pgpass").read_text() == f"*:*:*:{name}:{password}\n"
        assert password not in script
    assert (d / "init-roles.sql").stat().st_mode & 0o777 == 0o644
    assert script.endswith(postgres.LOCKDOWN_SQL) and "PASSWORD NULL" in script
    kept = {p.name: p.read_bytes() for p in d.iterdir()}
    postgres.ensure(tmp_path, SERVICES)
    assert {p.name: p.read_bytes() for p in d.iterdir()} == kept, "a second run changes nothing"
    with pytest.raises(postgres.PostgresConfigError, match="not a role name"):
        postgres.role_statements('x"; DROP ROLE postgres; --', postgres.scram_verifier("p"))


def _libpq(url: str, **override: str) -> str:
    """A libpq URL of the test server (EXPERTSHARE_TEST_PG is SQLAlchemy's), with `override`."""
    info = psycopg.conninfo.conninfo_to_dict(url.replace("postgresql+psycopg://", "postgresql://"))
    info.update(override)
    return psycopg.conninfo.make_conninfo(**info)


@pytest.fixture
def pg_roles() -> Iterator[tuple[str, dict[str, str]]]:
    if not PG:
        pytest.skip("set EXPERTSHARE_TEST_PG to run against PostgreSQL")
    if not shutil.which("psql"):
        pytest.skip("psql (which runs the init script in the container) is not installed")
    prefix = f"deploy_{uuid.uuid4().hex[:8]}_"
    verifiers = {name: postgres.scram_verifier(uuid.uuid4().hex) for name in SERVICES}
    script = postgres.init_sql(SERVICES, verifiers, prefix=prefix)
    try:
        subprocess.run(
            ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", _libpq(PG)],
            input=script.encode(),
            check=True,
            capture_output=True,
            timeout=60,
        )
        yield prefix, verifiers
    finally:
        with psycopg.connect(_libpq(PG), autocommit=True) as admin:
            for name in SERVICES:  # every database first: one may name another's role in its grants
                admin.execute(f'DROP DATABASE IF EXISTS "{prefix}{name}" WITH (FORCE)')
            for name in SERVICES:
                admin.execute(f'DROP ROLE IF EXISTS "{prefix}{name}"')


def test_each_service_role_reaches_only_its_own_database(pg_roles: tuple[str, dict[str, str]]) -> None:
    prefix, verifiers = pg_roles
    with psycopg.connect(_libpq(PG), autocommit=True) as admin:
        rows = admin.execute(
            "SELECT rolname, rolsuper, rolcreatedb, rolcreaterole, rolreplication, rolbypassrls, rolpassword "
            "FROM pg_authid WHERE rolname LIKE %s",
            (prefix + "%",),
        ).fetchall()
    assert {r[0] for r in rows} == {prefix + name for name in SERVICES}
    for name, *powers, stored in rows:
        assert not any(powers), f"{name} has powers it must not: {powers}"
        assert stored == verifiers[name.removeprefix(prefix)], "the verifier was stored as is, not hashed again"
    for name in SERVICES:
        role = prefix + name
        # Trust authentication on the test server: no password asked, so only the privileges are tested.
        with psycopg.connect(_libpq(PG, user=role, dbname=role), autocommit=True) as own:
            own.execute("CREATE TABLE kept (id integer PRIMARY KEY)")
            own.execute("INSERT INTO kept VALUES (1)")
            assert own.execute("SELECT current_user").fetchone() == (role,)
        for other in SERVICES:
            if other == name:
                continue
            with pytest.raises(psycopg.OperationalError, match="permission denied for database"):
                psycopg.connect(_libpq(PG, user=role, dbname=prefix + other))


def test_no_service_role_may_create_in_anothers_schema(pg_roles: tuple[str, dict[str, str]]) -> None:
    """Even a role let into another's database (here by the superuser, to prove the second wall)
    could not create anything in its schema."""
    prefix, _ = pg_roles
    matcher, contracts = prefix + "matcher", prefix + "contracts"
    with psycopg.connect(_libpq(PG, dbname=contracts), autocommit=True) as admin:
        admin.execute(f'GRANT CONNECT ON DATABASE "{contracts}" TO "{matcher}"')
        owner = admin.execute("SELECT nspowner::regrole::text FROM pg_namespace WHERE nspname = 'public'").fetchone()
    assert owner == (contracts,), "the service owns its schema (its migrations run as itself)"
    with (
        psycopg.connect(_libpq(PG, user=matcher, dbname=contracts), autocommit=True) as intruder,
        pytest.raises(psycopg.errors.InsufficientPrivilege),
    ):
        intruder.execute("CREATE TABLE public.planted (id integer)")


def test_one_secrets_init_makes_every_file_compose_mounts(tmp_path: Path) -> None:
    """`expertshare secrets init --production --dir deploy/secrets --host ...` is the one command
    production needs: every secret file compose.yaml mounts exists afterwards, private."""
    import yaml

    from shared.security import secrets_init

    secrets = tmp_path / "secrets"
    secrets_init.ensure(secrets, production=True, hosts=["nats-1", "nats-2", "nats-3"])
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text())
    files = [spec["file"] for spec in compose["secrets"].values()]
    assert files
    for file in files:
        path = secrets / file.removeprefix("./deploy/secrets/")
        assert path.is_file(), f"compose mounts {file}, which secrets init did not make"
        if path.suffix in (".nk", ".key", ".password", ".pgpass", ".conf"):
            assert path.stat().st_mode & 0o077 == 0, f"{file} is readable by others"
