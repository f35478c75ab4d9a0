"""Which addresses count as public, and the check that resolves a shop's name (with the system resolver: numeric
and /etc/hosts names resolve offline) before any call."""

from __future__ import annotations

import socket

import httpx
import pytest

from marketplace.stores.netguard import BlockedAddress, check_host, is_public, public_address


@pytest.mark.parametrize("address", ["10.0.0.1", "172.16.5.4", "192.168.1.1", "127.0.0.1", "169.254.169.254",
                                     "100.64.0.1", "0.0.0.0", "224.0.0.1",  # noqa: S104 (an address to refuse) "::1", "fe80::1", "fc00::1",
                                     "::ffff:127.0.0.1", "::ffff:10.0.0.1", "not-an-address"])
def test_private_loopback_link_local_and_reserved_are_not_public(address: str) -> None:
    assert not is_public(address)


@pytest.mark.parametrize("address", ["8.8.8.8", "93.184.216.34", "2606:4700:4700::1111"])
def test_public_addresses_are_public(address: str) -> None:
    assert is_public(address)


@pytest.mark.parametrize("host", ["localhost", "127.1", "2130706433", "0x7f.0.0.1", "017700000001", "[::1]"])
async def test_names_and_number_forms_that_resolve_to_loopback_are_refused(host: str) -> None:
    # The literal check at connect time missed these: resolving catches them.
    with pytest.raises(BlockedAddress, match="private network"):
        await public_address(host.strip("[]"), 443)


async def test_one_private_answer_among_public_ones_is_enough_to_refuse() -> None:
    async def resolver(host: str, port: int) -> list[str]:
        return ["93.184.216.34", "10.1.2.3"]

    with pytest.raises(BlockedAddress, match=r"10\.1\.2\.3"):
        await public_address("shop.example.com", 443, resolver)
    assert await check_host("shop.example.com", 443, resolver) == \
        "Enter the shop's public address: this one points inside a private network."


async def test_a_public_answer_is_the_address_connected_to() -> None:
    async def resolver(host: str, port: int) -> list[str]:
        return ["93.184.216.34"]

    assert await public_address("shop.example.com", 443, resolver) == "93.184.216.34"
    assert await check_host("shop.example.com", 443, resolver) is None


async def test_a_name_that_does_not_resolve_is_unreachable_not_refused() -> None:
    async def resolver(host: str, port: int) -> list[str]:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    with pytest.raises(httpx.ConnectError):
        await public_address("no-such-shop.example", 443, resolver)
    assert await check_host("no-such-shop.example", 443, resolver) is None
