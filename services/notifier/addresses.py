"""Where a webhook may point: the public internet only, checked when the URL is set and again at
every send, so the notifier cannot be turned into a scanner of its own network.

A URL is refused unless it is http or https and every address its host resolves to is a public
one: not loopback, private (RFC 1918, the IPv6 ULAs), link-local (169.254.0.0/16, where cloud
metadata lives, and fe80::/10), unspecified, multicast, reserved, shared (100.64.0.0/10) or
documentation space, IPv4-mapped IPv6 forms included. At send time the host is resolved once, every
address checked, and the connection made to the checked address itself (the Host header and TLS
name stay the URL's): a DNS answer that changes between the check and the connection (rebinding)
never reaches a private address. Redirects are not followed.

`NOTIFIER_WEBHOOK_ALLOW_PRIVATE=1` lifts the address rule (tests, or a deployment whose gateways
are on its own private network); the scheme rule stays.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from typing import Any
from urllib.parse import urlsplit

IP = ipaddress.IPv4Address | ipaddress.IPv6Address
SCHEMES = ("http", "https")


class Refused(ValueError):
    """A webhook URL the notifier will not call; the message says why (never the response)."""


def kind_of(ip: IP) -> str | None:
    """Why `ip` is not a public address, or None when it is."""
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    for what, test in (
        ("loopback", ip.is_loopback),
        ("unspecified", ip.is_unspecified),
        ("link-local", ip.is_link_local),
        ("multicast", ip.is_multicast),
        ("reserved", ip.is_reserved),
        ("private", ip.is_private),
    ):
        if test:
            return what
    return None if ip.is_global else "not public"


def target(url: str) -> tuple[str, str, int]:
    """The scheme, host and port of `url`, or `Refused`."""
    parts = urlsplit(url)
    if parts.scheme not in SCHEMES:
        raise Refused(f"only http and https webhooks, not {parts.scheme[:10]!r}")
    if not parts.hostname:
        raise Refused("the webhook url has no host")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise Refused("the webhook url has an invalid port") from None
    return parts.scheme, parts.hostname, port


def check(host: str, addresses: list[IP], *, allow_private: bool) -> None:
    if not addresses:
        raise Refused(f"host {host} has no address")
    if allow_private:
        return
    for ip in addresses:
        if (what := kind_of(ip)) is not None:
            raise Refused(f"host {host} resolves to a {what} address ({ip}): only public addresses")


def _literal(host: str) -> IP | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def _addresses(infos: list[tuple[Any, ...]]) -> list[IP]:
    return list(dict.fromkeys(ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos))


def check_url(url: str, *, allow_private: bool) -> None:
    """When a URL is set (in a worker thread): its scheme, and every address its host has now. A
    host that does not resolve is refused too: it could resolve anywhere later."""
    _, host, port = target(url)
    ip = _literal(host)
    if ip is not None:
        check(host, [ip], allow_private=allow_private)
        return
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        raise Refused(f"host {host} does not resolve") from None
    check(host, _addresses(infos), allow_private=allow_private)


async def resolve(url: str, *, allow_private: bool) -> tuple[str, IP]:
    """At send time: the host and the one checked address to connect to."""
    _, host, port = target(url)
    ip = _literal(host)
    if ip is None:
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError):
            raise Refused(f"host {host} does not resolve") from None
        addresses = _addresses(infos)
    else:
        addresses = [ip]
    check(host, addresses, allow_private=allow_private)
    return host, addresses[0]
