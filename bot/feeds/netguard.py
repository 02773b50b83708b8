"""Which URLs a feed may be fetched from: http(s) only, and only hosts whose every address is public.

The resolver is a parameter so tests can hand in fake DNS answers instead of asking real DNS.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import httpx

from bot.kit.links import BadURL, parse_url

Resolver = Callable[[str, int], Awaitable[list[str]]]
Address = ipaddress.IPv4Address | ipaddress.IPv6Address

_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_NAT64_LOCAL = ipaddress.ip_network("64:ff9b:1::/48")
_CGNAT = ipaddress.ip_network("100.64.0.0/10")


class UnsafeURL(Exception):
    """The URL or one of its addresses must not be fetched; the message says why."""


async def system_resolver(host: str, port: int) -> list[str]:
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


def _embedded_v4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    # IPv4-compatible (::a.b.c.d, deprecated) is refused as reserved below; 6to4 and Teredo carry
    # an IPv4 address too.
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]
    return None


def address_problem(raw: str | Address, *, allow_loopback: bool = False) -> str | None:
    """Why this address must not be contacted, or None when it is a public unicast address."""
    try:
        ip = ipaddress.ip_address(raw.split("%", 1)[0] if isinstance(raw, str) else raw)
    except ValueError:
        return f"{raw!s} is not an IP address"
    label = str(ip)
    if isinstance(ip, ipaddress.IPv6Address):
        if ip in _NAT64_LOCAL:
            return f"{label} is a local-use NAT64 address"
        inner = _embedded_v4(ip)
        if inner is not None:
            problem = address_problem(inner, allow_loopback=False)
            if problem:
                return f"{label} embeds {problem}"
            if ip.ipv4_mapped is not None or ip in _NAT64:
                return None
    if ip.is_loopback:
        return None if allow_loopback else f"{label} is a loopback address"
    if ip.is_unspecified:
        return f"{label} is the unspecified address"
    if ip.is_link_local:
        return f"{label} is a link-local address"
    if ip.is_multicast:
        return f"{label} is a multicast address"
    if isinstance(ip, ipaddress.IPv4Address) and ip in _CGNAT:
        return f"{label} is a carrier-grade NAT (100.64/10) address"
    if ip.is_reserved:
        return f"{label} is a reserved address"
    if ip.is_private:
        return f"{label} is a private address"
    if not ip.is_global:
        return f"{label} is not a public address"
    return None


def check_url_shape(url: str, *, allow_spaces: bool = False) -> httpx.URL:
    """The URL parsed strictly (see bot.links.parse_url); markdown-active characters come back encoded."""
    try:
        return parse_url(url, allow_spaces=allow_spaces)
    except BadURL as error:
        raise UnsafeURL(str(error)) from None


@dataclass(frozen=True, slots=True)
class Vetted:
    """A URL and the addresses its host resolved to when it was checked: connect to these, never re-resolve."""

    url: httpx.URL
    addresses: tuple[str, ...]

    @property
    def host_header(self) -> str:
        return self.url.netloc.decode("ascii")  # host[:port], IDNA-encoded, as httpx would send it

    def dial(self, address: str) -> httpx.URL:
        """The same request aimed at one vetted address; Host and TLS name stay the original host."""
        return self.url.copy_with(host=address.split("%", 1)[0])

    @property
    def extensions(self) -> dict[str, str]:
        return {"sni_hostname": self.url.raw_host.decode("ascii")} if self.url.scheme == "https" else {}


async def vet_url(
    url: str, *, allow_loopback: bool = False, resolver: Resolver | None = None, allow_spaces: bool = False
) -> Vetted:
    """Refuse the URL unless it is http(s) and every address its host resolves to is public.

    The host is resolved once, here; the caller connects to the returned addresses, so a second DNS
    answer (rebinding) never decides where the request goes.
    """
    parsed = check_url_shape(url, allow_spaces=allow_spaces)
    host = parsed.host
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    try:
        addresses = [str(ipaddress.ip_address(host))]
    except ValueError:
        try:
            addresses = await (resolver or system_resolver)(host, port)
        except (OSError, UnicodeError) as error:
            raise UnsafeURL(f"The host name {host} does not resolve ({error}).") from None
    if not addresses:
        raise UnsafeURL(f"The host name {host} does not resolve.")
    for address in addresses:
        problem = address_problem(address, allow_loopback=allow_loopback)
        if problem:
            raise UnsafeURL(f"Refused {host}: {problem}.")
    return Vetted(parsed, tuple(dict.fromkeys(addresses)))


async def check_url(url: str, *, allow_loopback: bool = False, resolver: Resolver | None = None) -> httpx.URL:
    """Refuse the URL unless it is http(s) and every address its host resolves to is public."""
    return (await vet_url(url, allow_loopback=allow_loopback, resolver=resolver)).url
