"""Every secret this installation needs, made where missing: `expertshare secrets init` and each
`expertshare up` call `ensure`, which never replaces a secret that exists (rotating one is deleting
it and running this again) and rewrites what is derived from the code (the NATS permissions).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from shared.security import identities
from shared.security.secrets import private_dir


def ensure(directory: Path, *, production: bool = False, hosts: Sequence[str] = ()) -> Path:
    """The secrets under `directory` (0700; files 0600). `production`: also what a cluster needs
    (the routes' credentials); `hosts`: the names the TLS certificates are for."""
    private_dir(directory)
    identities.ensure(directory, cluster=production)
    return directory
