"""Hypothesis strategies for the URL and address rules (shared/netrules.py): IPv4 and IPv6
addresses, the IPv6 forms that carry an IPv4 address (mapped, 6to4, Teredo, NAT64), and URLs
built from them with any scheme, port and path, or malformed."""

from __future__ import annotations

import ipaddress

from hypothesis import strategies as st

V4 = st.ip_addresses(v=4)
SPECIAL_V4 = st.sampled_from([
    "127.0.0.1", "10.1.2.3", "172.16.0.1", "192.168.0.1", "169.254.169.254", "100.64.0.1",
    "0.0.0.0", "255.255.255.255", "224.0.0.1", "192.0.0.8", "198.18.0.1", "240.0.0.1",
    "168.63.129.16", "8.8.8.8", "1.1.1.1", "20.42.0.1"]).map(ipaddress.IPv4Address)
ANY_V4 = st.one_of(V4, SPECIAL_V4)


def wrapped(v4: ipaddress.IPv4Address, form: str, noise: int) -> ipaddress.IPv6Address:
    n = int(v4)
    return ipaddress.IPv6Address({
        "mapped": 0xFFFF << 32 | n,
        "6to4": 0x2002 << 112 | n << 80 | noise & (2**80 - 1),
        "teredo": 0x20010000 << 96 | n << 64 | (noise & 0xFFFFFFFF) << 32 | (~n & 0xFFFFFFFF),
        "nat64": 0x64FF9B << 96 | n,
        "nat64-local": 0x64FF9B0001 << 80 | (noise & 0xFFFF) << 32 | n,
    }[form])


ADDRESSES = st.one_of(
    ANY_V4, st.ip_addresses(v=6),
    st.builds(wrapped, ANY_V4,
              st.sampled_from(["mapped", "6to4", "teredo", "nat64", "nat64-local"]),
              st.integers(0, 2**80 - 1)),
    st.sampled_from(["::1", "::", "fe80::1", "fc00::1", "ff02::1", "2001:db8::1",
                     "2606:4700::1111"]).map(ipaddress.IPv6Address))


def url_host(address) -> str:
    return f"[{address}]" if address.version == 6 else str(address)


JUNK = st.text(st.characters(codec="utf-8"), max_size=30)
# URLs whose host is an address literal (or no valid host at all): nothing to resolve
LITERAL_URLS = st.one_of(
    st.builds(lambda scheme, a, port, path: f"{scheme}://{url_host(a)}{port}{path}",
              st.sampled_from(["http", "https", "HTTP", "ftp", "file", "javascript", ""]),
              ADDRESSES,
              st.one_of(st.just(""), st.integers(-5, 70000).map(lambda p: f":{p}"),
                        JUNK.map(lambda j: ":" + j)),
              st.one_of(st.just("/"), JUNK.map(lambda j: "/" + j))),
    st.builds(lambda a, junk: f"http://[{a}{junk}", ADDRESSES, JUNK))  # unclosed brackets
# ...and anything at all: names (for a resolver the test controls), junk, non-strings
URLS = st.one_of(
    LITERAL_URLS,
    st.builds(lambda junk, scheme: f"{scheme}://{junk}", JUNK,
              st.sampled_from(["http", "https"])),
    JUNK, st.none(), st.integers(), st.binary(max_size=10))
