"""Webhook URLs users register must not reach inside the service's network (SSRF).

The rule is shared/netrules.py's: an http(s) URL whose host resolves only to globally
routable addresses, checked when the URL is set and again before each delivery
(shared/events/outbound.py), which then connects to the address it checked.
`BATCH_ALLOW_LOOPBACK_WEBHOOKS=true` lets loopback through, for local development and tests.
"""

from __future__ import annotations

import os

from shared import netrules

FIELD = "notifications.webhook_url"


def allow_loopback() -> bool:
    return os.environ.get("BATCH_ALLOW_LOOPBACK_WEBHOOKS", "").lower() in ("1", "true", "yes")


def check_url(url: object) -> str:
    """`url` if it may be a webhook; ValidationError naming the field otherwise."""
    parsed, _ = target(url)
    return parsed.url


def target(url: object) -> tuple[netrules.HttpUrl, list[netrules.IPAddress]]:
    """The webhook URL parsed, and the public addresses its host resolves to now."""
    return netrules.check_public_url(url, FIELD, allow_loopback=allow_loopback())
