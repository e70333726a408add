"""Every secret this installation needs, made where missing: `expertshare secrets init` and each
`expertshare up` call `ensure`, which never replaces a secret that exists (rotating one is deleting
it and running this again) and rewrites what is derived from the code (the NATS permissions).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from shared.security import credentials, identities, postgres, routes, tls
from shared.security.secrets import private_dir


def ensure(directory: Path, *, production: bool = False, hosts: Sequence[str] = ()) -> Path:
    """The secrets under `directory` (0700; files 0600). `production`: also what a cluster needs:
    the routes' credentials and URLs, the TLS certificates for `hosts` (every NATS node), and one
    PostgreSQL role and password per service."""
    private_dir(directory)
    identities.ensure(directory, cluster=production)
    credentials.ensure_issuer(directory)
    if production:
        tls.ensure(directory, hosts)
        routes.ensure(directory, hosts)  # reads the routes' credentials identities just made
        postgres.ensure(directory, identities.SERVICES)
    return directory
