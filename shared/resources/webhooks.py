"""Webhook URLs users register must not reach inside the service's network (SSRF).

A URL is refused when any address its host resolves to is loopback, link-local (the
169.254.169.254 metadata service among them), private, reserved, multicast or unspecified,
or Azure's platform address 168.63.129.16. `BATCH_ALLOW_LOOPBACK_WEBHOOKS=true` lets
loopback through, for local development and tests.
"""

from __future__ import annotations

import ipaddress
import os
import socket
from urllib.parse import urlsplit

from shared.errors import ValidationError

FIELD = "notifications.webhook_url"
_AZURE_PLATFORM = ipaddress.ip_address("168.63.129.16")


def allow_loopback() -> bool:
    return os.environ.get("BATCH_ALLOW_LOOPBACK_WEBHOOKS", "").lower() in ("1", "true", "yes")


def check_url(url: str) -> str:
    parts = urlsplit(url)
    try:
        host, port = parts.hostname, parts.port
    except ValueError:
        host = port = None
    if parts.scheme not in ("http", "https") or not host:
        raise ValidationError(FIELD, "must be an http(s) URL")
    for address in _addresses(host, port or (443 if parts.scheme == "https" else 80)):
        reason = _forbidden(address)
        if reason:
            raise ValidationError(FIELD, f"{host} resolves to {address}, a {reason} address; "
                                  "webhooks must reach a public address")
    return url


def _addresses(host: str, port: int) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    try:
        return [ipaddress.ip_address(host.strip("[]"))]
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        raise ValidationError(FIELD, f"host {host} does not resolve") from None
    return [ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos]


def _forbidden(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    if address.is_loopback:
        return None if allow_loopback() else "loopback"
    if address == _AZURE_PLATFORM:
        return "platform (metadata)"
    for reason, flag in (("link-local (metadata)", address.is_link_local),
                         ("private", address.is_private), ("reserved", address.is_reserved),
                         ("multicast", address.is_multicast),
                         ("unspecified", address.is_unspecified)):
        if flag:
            return reason
    return None
