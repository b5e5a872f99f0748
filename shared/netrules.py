"""Where the service may connect on a user's behalf (webhooks, URLs users give): URLs parsed
strictly, and hosts only at globally routable addresses (no SSRF into the service's network).

An address is refused unless `ipaddress` calls it global, and so is every IPv4 address it
carries: IPv4-mapped (::ffff:0:0/96), 6to4 (2002::/16), Teredo (2001::/32, server and client)
and NAT64 (64:ff9b::/96, and the local-use 64:ff9b:1::/48) forms reach the IPv4 address inside
them, so `2002:7f00:1::` is 127.0.0.1 in disguise. Azure's platform address 168.63.129.16
(DNS, the wire server) is global on paper and refused too. A DNS name is resolved and every
address it resolves to must pass; callers that connect afterwards use the addresses returned
here, so the name cannot be re-resolved elsewhere in between (DNS rebinding).

`allow_loopback=True` (a local-development switch) lets loopback addresses through, and
nothing else: not a 6to4 or NAT64 wrapping of 127.0.0.1, which is not a loopback path.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import SplitResult, quote, urlsplit

from shared.errors import ValidationError
from shared.names import check_text

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
_AZURE_PLATFORM = ipaddress.ip_address("168.63.129.16")
_NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))
_MAX_URL = 2048
_URL_SAFE = "!#$%&'()*+,/:;=?@[]~"


@dataclass(frozen=True)
class HttpUrl:
    """An http(s) URL split into the parts a connection needs."""

    url: str
    scheme: str
    host: str  # without brackets; lower-case ASCII (IDNA for international names)
    port: int
    netloc: str  # the Host header: host (bracketed if IPv6) and the port if one was given
    target: str  # path and query: the request line


def http_url(url: object, field: str) -> HttpUrl:
    """`url` as an absolute http(s) URL with a host; ValidationError naming `field` for
    anything else (malformed brackets, bad ports, control characters, user:password@)."""
    if not isinstance(url, str) or not url:
        raise ValidationError(field, "must be an http(s) URL")
    if len(url) > _MAX_URL:
        raise ValidationError(field, f"must be at most {_MAX_URL} characters")
    check_text(url, field)  # urlsplit would silently drop tabs and newlines
    if url != url.strip():
        raise ValidationError(field, "must not start or end with spaces")
    try:
        parts: SplitResult = urlsplit(url)
        host, port = parts.hostname, parts.port
    except ValueError as e:
        raise ValidationError(field, f"is not a valid URL: {e}") from None
    if parts.scheme not in ("http", "https") or not host:
        raise ValidationError(field, "must be an http(s) URL with a host")
    if parts.username is not None or parts.password is not None:
        raise ValidationError(field, "must not carry a user name or password")
    if " " in parts.netloc:
        raise ValidationError(field, "must not contain spaces in its host")
    if port == 0:
        raise ValidationError(field, "must not use port 0")
    if not host.isascii():
        try:
            host = host.encode("idna").decode("ascii")
        except UnicodeError:
            raise ValidationError(field, f"host {host!r} is not a valid domain name") from None
    shown = f"[{host}]" if ":" in host else host
    target = quote((parts.path or "/") + (f"?{parts.query}" if parts.query else ""),
                   safe=_URL_SAFE)  # as a request line must carry it: ASCII
    return HttpUrl(url, parts.scheme, host, port or (443 if parts.scheme == "https" else 80),
                   shown if port is None else f"{shown}:{port}", target)


def embedded_ipv4(address: IPAddress) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses an IPv6 address carries (mapped, 6to4, Teredo, NAT64)."""
    if isinstance(address, ipaddress.IPv4Address):
        return []
    found = [a for a in (address.ipv4_mapped, address.sixtofour) if a is not None]
    if address.teredo:
        found.extend(address.teredo)
    if any(address in net for net in _NAT64):
        found.append(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
    return found


def refusal(address: IPAddress, *, allow_loopback: bool = False) -> str | None:
    """Why the service must not connect to `address` (None: it may)."""
    if allow_loopback and (address.is_loopback or (
            isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None
            and address.ipv4_mapped.is_loopback)):
        return None
    for inner in embedded_ipv4(address):
        reason = refusal(inner)
        if reason:
            return f"{reason} (carried inside {address})"
    if any(address in net for net in _NAT64[1:]):
        return "local-use NAT64"
    if address == _AZURE_PLATFORM:
        return "Azure platform (wire server)"
    if not address.is_global:
        return _kind(address)
    return None


def _kind(address: IPAddress) -> str:
    for name in ("loopback", "link_local", "private", "multicast", "unspecified", "reserved"):
        if getattr(address, f"is_{name}"):
            return name.replace("_", "-")
    return "non-global (special-purpose)"


def resolve(host: str, port: int) -> list[IPAddress]:
    """Every address `host` resolves to (an IP literal is itself), in resolver order."""
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError, ValueError):
        return []
    found: list[IPAddress] = []
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%")[0])
        if address not in found:
            found.append(address)
    return found


def check_public_host(host: str, field: str, port: int = 443, *,
                      allow_loopback: bool = False) -> list[IPAddress]:
    """The addresses `host` resolves to, all of them globally routable; ValidationError
    naming `field` if the name does not resolve or any address is not public (a name with one
    private address among public ones could be steered to it)."""
    addresses = resolve(host, port)
    if not addresses:
        raise ValidationError(field, f"host {host} does not resolve")
    for address in addresses:
        reason = refusal(address, allow_loopback=allow_loopback)
        if reason:
            shown = host if str(address) == host else f"{host} resolves to {address}, which"
            raise ValidationError(field, f"{shown} is a {reason} address; only publicly "
                                  "routable hosts are allowed")
    return addresses


def check_public_url(url: object, field: str, *, allow_loopback: bool = False
                     ) -> tuple[HttpUrl, list[IPAddress]]:
    """`http_url` and `check_public_host` together: the parsed URL and its checked
    addresses."""
    parsed = http_url(url, field)
    return parsed, check_public_host(parsed.host, field, parsed.port,
                                     allow_loopback=allow_loopback)
