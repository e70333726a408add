"""Where this installation keeps its secrets, and how they are written.

`EXPERTSHARE_SECRETS_DIR`, else `var/secrets/`: a directory only its owner can enter (0700),
files only its owner can read (0600). Writes are atomic (a temporary file renamed), so a process
killed halfway never leaves half a key. Nothing here ever logs or prints a secret.
"""

from __future__ import annotations

import os
from pathlib import Path

from shared.settings import var_dir


def secrets_dir() -> Path:
    configured = os.environ.get("EXPERTSHARE_SECRETS_DIR")
    return Path(configured).resolve() if configured else var_dir() / "secrets"


def private_dir(path: Path) -> Path:
    """`path` made if missing, and (re)set to 0700, its parents made as usual."""
    path.mkdir(parents=True, exist_ok=True)
    path.chmod(0o700)
    return path


def write_private(path: Path, data: bytes) -> Path:
    """`data` into `path`, 0600 from the first byte, atomically; the directory is made 0700."""
    private_dir(path.parent)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    return path


def read_private(path: Path) -> bytes:
    return path.read_bytes().strip()


def seed_file(identity: str) -> Path:
    """This process's NATS nkey seed: `EXPERTSHARE_NATS_SEED` (a deployment mounts only its own),
    else the identity's file in the secrets directory. It signs the process into NATS and, for a
    service, signs its system commands (`shared.security.credentials`)."""
    configured = os.environ.get("EXPERTSHARE_NATS_SEED")
    return Path(configured) if configured else secrets_dir() / "nats" / f"{identity}.nk"
