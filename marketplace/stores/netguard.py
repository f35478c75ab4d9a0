"""Calls to brands' shops reach only public addresses: a shop address that resolves inside our network (private,
loopback, link-local, carrier-grade NAT, reserved) is refused, at connect time and again on every call.

Every call resolves the host itself, checks every address it got, and connects to the checked address (the Host
header and TLS name stay the shop's), so a name that resolves to a public address when checked and to a private one
when connecting (DNS rebinding) never reaches inside. ``STORES_ALLOW_PRIVATE_HOSTS`` lets local stand-ins through in
tests and development; production refuses to start with it.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable

import httpx

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
#: (host, port) -> the addresses the name resolves to.
Resolver = Callable[[str, int], Awaitable[list[str]]]


class BlockedAddress(Exception):
    """The shop's address is inside a private network: PostPact doesn't call it."""


async def resolve(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to (the system resolver, off the event loop's thread)."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


def is_public(address: str) -> bool:
    try:
        ip: Address = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


async def public_address(host: str, port: int, resolver: Resolver = resolve) -> str:
    """The address to connect to for ``host``: raises BlockedAddress when any address it resolves to is not
    public (one private answer is enough to refuse: a resolver may hand out either), httpx.ConnectError when the
    name doesn't resolve."""
    try:
        addresses = await resolver(host, port)
    except (OSError, UnicodeError) as exc:  # socket.gaierror is an OSError
        raise httpx.ConnectError(f"{host} doesn't resolve") from exc
    if not addresses:
        raise httpx.ConnectError(f"{host} doesn't resolve")
    blocked = [a for a in addresses if not is_public(a)]
    if blocked:
        raise BlockedAddress(f"{host} points inside a private network ({blocked[0]}); PostPact only calls public "
                             "addresses.")
    return addresses[0]


async def check_host(host: str, port: int, resolver: Resolver = resolve) -> str | None:
    """For forms: a message when ``host`` resolves to a private address, else None (a name that doesn't resolve
    now is left to the connection test, which says so)."""
    try:
        await public_address(host, port, resolver)
    except BlockedAddress:
        return "Enter the shop's public address: this one points inside a private network."
    except httpx.ConnectError:
        return None
    return None


class PublicOnlyTransport(httpx.AsyncBaseTransport):
    """httpx transport that resolves, checks and pins the address of every request (see the module docstring)."""

    def __init__(self, *, allow_private: bool = False, resolver: Resolver = resolve, **options: object) -> None:
        self._inner = httpx.AsyncHTTPTransport(**options)  # type: ignore[arg-type]
        self._allow_private = allow_private
        self._resolver = resolver

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if not self._allow_private:
            host = request.url.host
            port = request.url.port or (443 if request.url.scheme == "https" else 80)
            address = await public_address(host, port, self._resolver)
            request.url = request.url.copy_with(host=address)
            if request.url.scheme == "https":
                # TLS still names (and verifies the certificate of) the shop's host, not the address.
                request.extensions = {**request.extensions, "sni_hostname": host}
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self._inner.aclose()
