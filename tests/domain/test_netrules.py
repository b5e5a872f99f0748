"""shared/netrules.py: which URLs and hosts the service may connect to. Examples first, then
properties hypothesis checks over generated addresses (every IPv4/IPv6 form that can carry
an IPv4 address), DNS answers and malformed strings: the only failure is the field's
ValidationError, and nothing non-global is accepted."""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared import netrules
from shared.errors import ValidationError
from tests.domain import addresses

FIELD = "some.url"


@pytest.mark.parametrize("url, reason", [
    ("http://[::1", "not a valid URL"),
    ("http://100.64.0.1/x", "non-global"),
    ("http://[2002:7f00:1::]/x", "loopback (carried inside 2002:7f00:1::)"),
    ("http://[2002:a00:1::]/x", "private (carried inside"),
    ("http://[64:ff9b::7f00:1]/x", "loopback (carried inside"),
    ("http://[64:ff9b:1::808:808]/x", "local-use NAT64"),
    ("http://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/x", "private"),  # Teredo
    ("http://[::ffff:169.254.169.254]/x", "link-local"),
    ("http://168.63.129.16/x", "Azure platform"),
    ("http://0x7f.1/x", "resolves to 127.0.0.1, which is a loopback"),
    ("http://2130706433/x", "resolves to 127.0.0.1"),
    ("http://localhost:8080/x", "loopback"),
    ("http://[fe80::1%25eth0]/x", ""),
    ("http://a\tb.example/x", "control characters"),
    ("http://example.com:0/x", "port 0"),
    ("http://example.com:65536/x", "not a valid URL"),
    ("http://u:p@8.8.8.8/x", "user name"),
    ("//8.8.8.8/x", "http(s) URL"),
    (" http://8.8.8.8/x", "spaces"),
])
def test_refused_urls_name_the_field_and_the_reason(url, reason):
    with pytest.raises(ValidationError) as err:
        netrules.check_public_url(url, FIELD)
    assert err.value.field == FIELD and reason in err.value.rule, err.value.rule


def test_public_addresses_pass_and_are_returned_for_the_connection():
    parsed, addresses = netrules.check_public_url("https://[2606:4700::1111]:8443/a?b=1", FIELD)
    assert (parsed.host, parsed.port, parsed.target) == ("2606:4700::1111", 8443, "/a?b=1")
    assert addresses == [ipaddress.ip_address("2606:4700::1111")]
    assert netrules.check_public_url("http://[2002:808:808::1]/", FIELD)[1]  # 6to4 of 8.8.8.8


def test_the_loopback_switch_lets_loopback_through_and_nothing_else():
    for host in ("127.0.0.1", "::1", "127.8.9.10", "::ffff:127.0.0.1"):
        assert netrules.check_public_host(host, FIELD, allow_loopback=True)
        with pytest.raises(ValidationError):
            netrules.check_public_host(host, FIELD)
    for host in ("2002:7f00:1::", "64:ff9b::7f00:1", "10.0.0.1", "169.254.169.254", "::"):
        with pytest.raises(ValidationError):
            netrules.check_public_host(host, FIELD, allow_loopback=True)


def test_a_name_is_refused_if_any_of_its_addresses_is_not_public(monkeypatch):
    _fake_dns(monkeypatch, {"mixed.example": ["8.8.8.8", "10.0.0.1"],
                            "public.example": ["8.8.8.8", "2606:4700::1111"]})
    with pytest.raises(ValidationError, match="resolves to 10.0.0.1"):
        netrules.check_public_host("mixed.example", FIELD)
    assert len(netrules.check_public_host("public.example", FIELD)) == 2
    with pytest.raises(ValidationError, match="does not resolve"):
        netrules.check_public_host("nowhere.example", FIELD)


# -- properties --------------------------------------------------------------------------

def _v4_inside(address: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """The test's own reading of RFC 4291 / 3056 / 4380 / 6052 (not netrules')."""
    value = int(address)
    inside = []
    if value >> 32 == 0xFFFF:
        inside.append(ipaddress.IPv4Address(value & 0xFFFFFFFF))
    if value >> 112 == 0x2002:
        inside.append(ipaddress.IPv4Address((value >> 80) & 0xFFFFFFFF))
    if value >> 96 == 0x20010000:
        inside += [ipaddress.IPv4Address((value >> 64) & 0xFFFFFFFF),
                   ipaddress.IPv4Address(~value & 0xFFFFFFFF)]
    if value >> 32 == 0x64FF9B << 64 or value >> 80 == 0x64FF9B0001:
        inside.append(ipaddress.IPv4Address(value & 0xFFFFFFFF))
    return inside


def _reachable_only_publicly(address) -> bool:
    if not address.is_global or address == ipaddress.ip_address("168.63.129.16"):
        return False
    if isinstance(address, ipaddress.IPv6Address):
        if int(address) >> 80 == 0x64FF9B0001:  # local-use NAT64 (RFC 8215)
            return False
        return all(_reachable_only_publicly(inner) for inner in _v4_inside(address))
    return True


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(url=addresses.URLS, allow_loopback=st.booleans())
def test_urls_are_either_refused_by_the_rule_or_reach_only_public_addresses(
        url, allow_loopback, monkeypatch_session):
    try:
        parsed, addresses = netrules.check_public_url(url, FIELD, allow_loopback=allow_loopback)
    except ValidationError as e:
        assert e.field == FIELD
        return
    assert parsed.scheme in ("http", "https") and addresses
    assert all(_allowed(a, allow_loopback) for a in addresses), (url, addresses)


def _allowed(address, allow_loopback: bool) -> bool:
    if allow_loopback and (address.is_loopback or _is_mapped_loopback(address)):
        return True
    return _reachable_only_publicly(address)


def accepted_address_is_allowed(url: str, allow_loopback: bool) -> bool:
    """For a URL some rule accepted: its literal host is one the test's own reading allows."""
    host = urlsplit(url).hostname or ""
    return _allowed(ipaddress.ip_address(host), allow_loopback)


def _is_mapped_loopback(address) -> bool:
    return address.version == 6 and int(address) >> 32 == 0xFFFF and \
        ipaddress.IPv4Address(int(address) & 0xFFFFFFFF).is_loopback


_names = st.from_regex(r"[a-z][a-z0-9-]{0,20}\.example", fullmatch=True)


@settings(max_examples=500, deadline=None)
@given(answers=st.dictionaries(_names, st.lists(addresses.ADDRESSES, min_size=0, max_size=4),
                               min_size=1, max_size=3), data=st.data())
def test_dns_names_pass_only_when_every_address_they_resolve_to_is_public(answers, data):
    name = data.draw(st.sampled_from(sorted(answers)))
    resolved = answers[name]
    with _dns({n: [str(a) for a in a_list] for n, a_list in answers.items()}):
        try:
            addresses = netrules.check_public_host(name, FIELD)
        except ValidationError as e:
            assert e.field == FIELD
            assert not resolved or not all(map(_reachable_only_publicly, resolved))
            return
    assert resolved and all(map(_reachable_only_publicly, resolved))
    assert addresses == list(dict.fromkeys(resolved))


# -- a resolver the tests control --------------------------------------------------------

class _dns:
    """Answer getaddrinfo for the given names; other names do not resolve (no network)."""

    def __init__(self, answers: dict[str, list[str]]):
        self.answers = answers

    def __enter__(self):
        self.real = socket.getaddrinfo
        socket.getaddrinfo = self.lookup
        return self

    def __exit__(self, *exc):
        socket.getaddrinfo = self.real

    def lookup(self, host, port, *args, **kwargs):
        if host not in self.answers:
            try:
                ipaddress.ip_address(host)
            except ValueError:
                raise socket.gaierror(socket.EAI_NONAME, "not known") from None
            return self.real(host, port, *args, **kwargs)
        return [(socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, 6, "",
                 (a, port)) for a in self.answers[host]]


def _fake_dns(monkeypatch, answers: dict[str, list[str]]) -> None:
    monkeypatch.setattr(socket, "getaddrinfo", _dns(answers).lookup)


@pytest.fixture(scope="module")
def monkeypatch_session():
    """No DNS in the URL property: generated names must not reach a real resolver."""
    with _dns({}) as fake:
        yield fake
