"""Which address a request comes from, behind reverse proxies that may or may not be trusted.

``X-Forwarded-For`` is believed only from a connecting peer listed in ``VECHE_TRUSTED_PROXIES``
(``Settings.trusted_proxies``, IP addresses or networks; empty by default: the peer is the
client). Each proxy appends the address it was connected from, so the list is read from the
right: the client is the right-most address that is not itself a trusted proxy. Whatever is to
its left was written by the client and is ignored (a client can put anything there).

``veche serve`` gives uvicorn the same list (``forwarded_allow_ips``), so the scheme a trusted
proxy passes (``X-Forwarded-Proto``) is believed from the same peers and uvicorn's own choice of
the client address agrees with ``client_address`` (applied twice it gives the same answer).
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Iterable

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
HOP_MAX = 64  # characters of one X-Forwarded-For entry looked at
HOPS_MAX = 32  # entries looked at, from the right


def parse_address(value: str) -> Address | None:
    """An IP address from ``1.2.3.4``, ``1.2.3.4:80``, ``::1`` or ``[::1]:80``, else None."""
    value = value.strip()[:HOP_MAX]
    if value.startswith("["):
        value = value[1:].split("]", 1)[0]
    elif value.count(":") == 1:  # IPv4 with a port
        value = value.split(":", 1)[0]
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


@functools.lru_cache(maxsize=64)
def networks(trusted: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(item, strict=False) for item in trusted)


def is_trusted(address: Address, trusted: tuple[str, ...]) -> bool:
    return any(address in net for net in networks(trusted))


def client_address(peer: str | None, forwarded: Iterable[str], trusted: tuple[str, ...]) -> str:
    """The client of a request from ``peer`` carrying these ``X-Forwarded-For`` header values."""
    if not peer:
        return "unknown"
    address = parse_address(peer)
    if address is None:  # a Unix socket, a test client: as it is (bounded)
        return peer[:HOP_MAX]
    if not trusted or not is_trusted(address, trusted):
        return str(address)
    hops = [hop for value in forwarded for hop in value.split(",") if hop.strip()][-HOPS_MAX:]
    for hop in reversed(hops):
        found = parse_address(hop)
        if found is None:  # not an address: stop at the last proxy that was trusted
            break
        address = found
        if not is_trusted(found, trusted):
            break
    return str(address)
