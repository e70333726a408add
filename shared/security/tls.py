"""TLS for NATS in production: a private CA of this installation and one certificate for its nodes.

`ensure(secrets, hosts)` makes, under `<secrets>/tls/` (0700, every file 0600):

- `ca.key`, `ca.crt`: the installation's own CA. Nobody else's CA is trusted, so a certificate
  bought or issued elsewhere for the same names does not let anyone pose as a node.
- `server.key`, `server.crt`: the NATS nodes' certificate, signed by that CA, naming every host in
  `hosts` (DNS names and IP addresses). It serves clients and also authenticates each node to the
  others on the cluster routes, hence both server and client use.

Keys are ECDSA P-256: nats-server (Go) accepts Ed25519 too, but P-256 is what every NATS client's
TLS stack verifies. Running it again keeps what is current and remakes what is not: a certificate
whose hosts changed, that expires within 30 days or that another CA signed; the CA itself when it
expires within 30 days (then every client needs the new `ca.crt`).

The client side: what a client needs to verify the servers (`EXPERTSHARE_NATS_CA`) and, when a
deployment wants mutual TLS, present a certificate of its own (`EXPERTSHARE_NATS_CERT`,
`EXPERTSHARE_NATS_KEY`): `client_tls_options()` for nats-py's `nats.connect`,
`broker_tls_options()` for a FastStream NatsBroker (which takes TLS in another shape).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import ssl
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from shared.security.secrets import private_dir, write_private

CA_DAYS = 3650
CERT_DAYS = 825
RENEW_BEFORE = dt.timedelta(days=30)
ORGANIZATION = "expertshare"


class TLSConfigError(ValueError):
    """A host name or a TLS setting that cannot be used; the message names it."""


def tls_dir(secrets: Path) -> Path:
    return secrets / "tls"


def ensure(secrets: Path, hosts: Sequence[str]) -> Path:
    """The CA and the nodes' certificate for `hosts` under `secrets`/tls, made or remade as needed."""
    names = _names(hosts)
    d = private_dir(tls_dir(private_dir(secrets)))
    ca_key, ca_cert = _ensure_ca(d)
    current = _load_cert(d / "server.crt")
    if current is None or not (d / "server.key").exists() or not _serves(current, names, ca_cert):
        key = ec.generate_private_key(ec.SECP256R1())
        cert = _server_cert(key, names, ca_key, ca_cert)
        write_private(d / "server.key", _key_pem(key))
        write_private(d / "server.crt", cert.public_bytes(serialization.Encoding.PEM))
    return d


def client_ssl_context() -> ssl.SSLContext | None:
    """The context that verifies the NATS servers, None when `EXPERTSHARE_NATS_CA` is unset.

    It trusts that CA alone and checks the server's name against the URL's host; with
    `EXPERTSHARE_NATS_CERT` and `EXPERTSHARE_NATS_KEY` it also presents that certificate."""
    ca = os.environ.get("EXPERTSHARE_NATS_CA")
    if not ca:
        return None
    cert, key = os.environ.get("EXPERTSHARE_NATS_CERT"), os.environ.get("EXPERTSHARE_NATS_KEY")
    if bool(cert) != bool(key):
        raise TLSConfigError("EXPERTSHARE_NATS_CERT and EXPERTSHARE_NATS_KEY go together: set both or neither")
    for variable, path in (("EXPERTSHARE_NATS_CA", ca), ("EXPERTSHARE_NATS_CERT", cert), ("EXPERTSHARE_NATS_KEY", key)):
        if path and not Path(path).is_file():
            raise TLSConfigError(f"{variable}: no such file: {path}")
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=ca)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if cert and key:
        context.load_cert_chain(cert, key)
    return context


def _tls_hostname() -> str | None:
    # For servers reached by an address their certificate does not name.
    return os.environ.get("EXPERTSHARE_NATS_TLS_HOSTNAME") or None


def client_tls_options() -> dict[str, Any]:
    """nats-py's `nats.connect` TLS keyword arguments, {} when `EXPERTSHARE_NATS_CA` is unset."""
    context = client_ssl_context()
    if context is None:
        return {}
    options: dict[str, Any] = {"tls": context}
    if hostname := _tls_hostname():
        options["tls_hostname"] = hostname
    return options


def broker_tls_options() -> dict[str, Any]:
    """The same for a FastStream NatsBroker, which takes TLS only as `security` (its nkey argument
    is merged into it), {} when `EXPERTSHARE_NATS_CA` is unset."""
    from faststream.nats.security import NatsSecurity

    context = client_ssl_context()
    if context is None:
        return {}
    return {"security": NatsSecurity(ssl_context=context, use_ssl=True, tls_hostname=_tls_hostname())}


# ------------------------------------------------------------------------------ making
def _names(hosts: Sequence[str]) -> list[x509.GeneralName]:
    if not hosts:
        raise TLSConfigError("no host given: name every NATS node (--host nats-1 --host nats-2 ...)")
    names: list[x509.GeneralName] = []
    for host in hosts:
        host = host.strip()
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
            continue
        except ValueError:
            pass
        labels = host.rstrip(".").split(".")
        if not host or len(host) > 253 or not all(_label(x) for x in labels):
            raise TLSConfigError(f"not a host name or IP address: {host[:64]!r}")
        names.append(x509.DNSName(host.rstrip(".").lower()))
    return list(dict.fromkeys(names))


def _label(label: str) -> bool:
    return (
        0 < len(label) <= 63
        and label[0] != "-"
        and label[-1] != "-"
        and all(c.isascii() and (c.isalnum() or c == "-") for c in label)
    )


def _ensure_ca(d: Path) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    cert = _load_cert(d / "ca.crt")
    if cert is not None and (d / "ca.key").exists() and not _expiring(cert):
        key = serialization.load_pem_private_key((d / "ca.key").read_bytes(), password=None)
        if isinstance(key, ec.EllipticCurvePrivateKey) and key.public_key() == cert.public_key():
            return key, cert
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, ORGANIZATION),
            x509.NameAttribute(NameOID.COMMON_NAME, f"{ORGANIZATION} NATS CA"),
        ]
    )
    now = _now()
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=CA_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    # The key first: a CA certificate on disk always has its key beside it.
    write_private(d / "ca.key", _key_pem(key))
    write_private(d / "ca.crt", cert.public_bytes(serialization.Encoding.PEM))
    return key, cert


def _server_cert(
    key: ec.EllipticCurvePrivateKey,
    names: list[x509.GeneralName],
    ca_key: ec.EllipticCurvePrivateKey,
    ca_cert: x509.Certificate,
) -> x509.Certificate:
    now = _now()
    first = names[0].value
    return (
        x509.CertificateBuilder()
        .subject_name(
            x509.Name(
                [
                    x509.NameAttribute(NameOID.ORGANIZATION_NAME, ORGANIZATION),
                    x509.NameAttribute(NameOID.COMMON_NAME, str(first)),
                ]
            )
        )
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(min(now + dt.timedelta(days=CERT_DAYS), ca_cert.not_valid_after_utc))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False
        )
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )


# ------------------------------------------------------------------------------ checking
def _serves(cert: x509.Certificate, names: list[x509.GeneralName], ca_cert: x509.Certificate) -> bool:
    """Whether `cert` is the current one: for exactly `names`, not expiring, signed by `ca_cert`."""
    try:
        cert.verify_directly_issued_by(ca_cert)
        sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (ValueError, TypeError, InvalidSignature, x509.ExtensionNotFound):
        return False
    return set(sans) == set(names) and not _expiring(cert)


def _expiring(cert: x509.Certificate) -> bool:
    return cert.not_valid_after_utc - _now() < RENEW_BEFORE


def _load_cert(path: Path) -> x509.Certificate | None:
    try:
        return x509.load_pem_x509_certificate(path.read_bytes())
    except (OSError, ValueError):
        return None


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _now() -> dt.datetime:
    # The machine's real time, not shared.clock's (which tests may shift): nats-server and every
    # client check a certificate's dates against the real one.
    return dt.datetime.now(dt.UTC)
