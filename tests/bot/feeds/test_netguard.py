"""The feed address guard: every private form is refused, hostnames through fake DNS, and redirects too."""

from __future__ import annotations

import pytest

from bot.feeds.netguard import UnsafeURL, address_problem, check_url

REFUSED = {
    "127.0.0.1": "loopback",
    "::1": "loopback",
    "10.1.2.3": "private",
    "172.16.0.1": "private",
    "192.168.1.1": "private",
    "fd00::1": "private",
    "169.254.169.254": "link-local",
    "fe80::1": "link-local",
    "100.64.0.1": "carrier-grade NAT",
    "100.127.255.254": "carrier-grade NAT",
    "224.0.0.1": "multicast",
    "ff02::1": "multicast",
    "240.0.0.1": "reserved",
    "0.0.0.0": "unspecified",
    "::": "unspecified",
    "::ffff:127.0.0.1": "loopback",
    "::ffff:10.0.0.1": "private",
    "::ffff:169.254.169.254": "link-local",
    "64:ff9b::10.0.0.1": "private",
    "64:ff9b::127.0.0.1": "loopback",
    "64:ff9b::a9fe:a9fe": "link-local",
    "64:ff9b:1::1": "NAT64",
    "2002:0a00:0001::1": "private",  # 6to4 wrapping 10.0.0.1
}


@pytest.mark.parametrize(("address", "why"), sorted(REFUSED.items()))
def test_private_forms_are_refused(address, why):
    problem = address_problem(address)
    assert problem is not None and why in problem


@pytest.mark.parametrize(
    "address",
    ["93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c", "::ffff:93.184.215.14", "64:ff9b::5db8:d70e"],
)
def test_public_addresses_pass(address):
    assert address_problem(address) is None


def test_loopback_setting_allows_loopback_only():
    assert address_problem("127.0.0.1", allow_loopback=True) is None
    assert address_problem("::1", allow_loopback=True) is None
    assert address_problem("10.0.0.1", allow_loopback=True) is not None
    assert address_problem("169.254.169.254", allow_loopback=True) is not None
    assert address_problem("::ffff:127.0.0.1", allow_loopback=True) is not None


def fake_dns(answers: dict[str, list[str]]):
    async def resolve(host: str, port: int) -> list[str]:
        if host not in answers:
            raise OSError("Name or service not known")
        return answers[host]

    return resolve


async def test_hostnames_are_checked_on_every_address():
    dns = fake_dns(
        {
            "news.example": ["93.184.215.14"],
            "mixed.example": ["93.184.215.14", "10.0.0.7"],
            "meta.example": ["169.254.169.254"],
            "cgnat.example": ["100.64.1.1"],
            "mapped.example": ["::ffff:192.168.0.1"],
        }
    )
    await check_url("https://news.example/feed.xml", resolver=dns)
    for host, why in (
        ("mixed.example", "private"),
        ("meta.example", "link-local"),
        ("cgnat.example", "carrier-grade"),
        ("mapped.example", "private"),
    ):
        with pytest.raises(UnsafeURL, match=why):
            await check_url(f"http://{host}/rss", resolver=dns)
    with pytest.raises(UnsafeURL, match="does not resolve"):
        await check_url("http://nowhere.example/rss", resolver=dns)


@pytest.mark.parametrize(
    "url", ["ftp://example.com/feed", "file:///etc/passwd", "gopher://x/", "javascript:alert(1)"]
)
async def test_only_http_and_https(url):
    with pytest.raises(UnsafeURL):
        await check_url(url, resolver=fake_dns({}))


async def test_loopback_refused_when_setting_off():
    with pytest.raises(UnsafeURL, match="loopback"):
        await check_url("http://127.0.0.1:8080/feed")
    with pytest.raises(UnsafeURL, match="loopback"):
        await check_url("http://localhost.test/feed", resolver=fake_dns({"localhost.test": ["127.0.0.1"]}))
    await check_url("http://127.0.0.1:8080/feed", allow_loopback=True)
