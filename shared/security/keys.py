"""Ed25519 keys in the NATS nkeys encoding, for every signature the system makes.

A seed (`SU...` for a user, `SA...` for an account-like issuer) is the private key; its public key
(`U...`, `A...`) is what others keep. The same kind of key signs into NATS (a service's nkey) and
signs a person's commands, so one library and one encoding serve both.
"""

from __future__ import annotations

import base64

import nkeys
from nacl.exceptions import BadSignatureError
from nacl.signing import SigningKey, VerifyKey

USER = nkeys.PREFIX_BYTE_USER
ACCOUNT = nkeys.PREFIX_BYTE_ACCOUNT
_PUBLIC_PREFIXES = {"U": USER, "A": ACCOUNT}


class KeyError_(ValueError):
    """A seed or public key that is not one (named in the message, never the key itself)."""


def new_seed(kind: int = USER) -> bytes:
    """A fresh seed of `kind` (USER for identities and people's keys, ACCOUNT for an issuer)."""
    return bytes(nkeys.encode_seed(bytes(SigningKey.generate()), kind))


def public_key(seed: bytes | str) -> str:
    raw = seed.encode() if isinstance(seed, str) else seed
    try:
        return nkeys.from_seed(bytearray(raw.strip())).public_key.decode()
    except (nkeys.NkeysError, ValueError, TypeError) as err:
        raise KeyError_(f"not an nkey seed: {type(err).__name__}") from None


def sign(seed: bytes | str, data: bytes) -> str:
    """The signature of `data` under `seed`, URL-safe base64 without padding."""
    raw = seed.encode() if isinstance(seed, str) else seed
    try:
        sig = nkeys.from_seed(bytearray(raw.strip())).sign(data)
    except (nkeys.NkeysError, ValueError, TypeError) as err:
        raise KeyError_(f"not an nkey seed: {type(err).__name__}") from None
    return base64.urlsafe_b64encode(sig).rstrip(b"=").decode()


def _verify_key(public: str) -> VerifyKey:
    try:
        raw = base64.b32decode(public + "=" * (-len(public) % 8))
    except (ValueError, TypeError):
        raise KeyError_("not an nkey public key: bad encoding") from None
    if len(raw) != 35 or public[:1] not in _PUBLIC_PREFIXES or raw[0] != _PUBLIC_PREFIXES[public[0]]:
        raise KeyError_("not an nkey public key: wrong length or prefix")
    body, crc = raw[:-2], raw[-2:]
    if nkeys.crc16_checksum(body) != crc:
        raise KeyError_("not an nkey public key: bad checksum")
    return VerifyKey(body[1:])


def verify(public: str, data: bytes, signature: str) -> bool:
    """Whether `signature` (as `sign` makes it) is `public`'s over `data`. Never raises for a bad
    signature; raises KeyError_ for a public key that is not one."""
    key = _verify_key(public)
    try:
        sig = base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4))
        key.verify(data, sig)
    except (BadSignatureError, ValueError, TypeError):
        return False
    return True
