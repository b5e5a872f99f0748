"""No secret in any log: SAS query parameters, function keys and credential headers are
replaced by `REDACTED` in every log record the process makes.

Many loggers can print a URL: urllib3's retry warnings print the signed URL of the request
they retry (with its `sig=`), azure-core's and the storage SDKs' loggers, the app's own and
the local host's. A filter on a logger sees only the records made on that very logger (not
its children's), and handlers come and go (the Functions worker's, OpenTelemetry's), so
`install()` wraps the log record factory instead: every record of every logger is scrubbed
once, when it is made, before any handler or exporter sees it. `RedactingFilter` does the
same to the records of one handler, for code that logs into a handler it owns.

What goes: the values of SAS parameters (`sig`, `se`, `sp`, `sv`, ... the parameter names
stay, so a log still says a URL was signed), `code=` (function keys in a query), the values
of `Authorization` and `x-functions-key` headers, and `AccountKey=` /
`SharedAccessSignature=` in connection strings.
"""

from __future__ import annotations

import logging
import re
import threading
from typing import Any

MASK = "REDACTED"
# Azure Storage's SAS parameters (service, account and user delegation SAS) and `code`,
# the function key in a query string. Response-header overrides (rscc, rsct...) are no secret.
SAS_PARAMETERS = ("sig", "se", "sp", "sv", "st", "spr", "srt", "ss", "sr", "sip", "si",
                  "sdd", "ses", "skoid", "sktid", "skt", "ske", "sks", "skv", "saoid",
                  "suoid", "scid", "code")
_QUERY = re.compile(
    r"((?:[?&]|%3F|%26|&amp;)(?:" + "|".join(SAS_PARAMETERS) + r")(?:=|%3D))"
    r"(?:(?!%26)[^&\s'\"<>#;,)\]])+", re.IGNORECASE)
_HEADER = re.compile(r"((?:authorization|x-functions-key)['\"]?\s*[:=]\s*['\"]?)"
                     r"[^'\",\r\n}]+", re.IGNORECASE)
_CONNECTION = re.compile(r"((?:AccountKey|SharedAccessSignature)=)[^;\s'\"]+",
                         re.IGNORECASE)
_lock = threading.Lock()
_installed = False


def redact(text: str) -> str:
    """`text` with every secret value replaced by REDACTED (names and the rest kept)."""
    text = _QUERY.sub(rf"\1{MASK}", text)
    text = _CONNECTION.sub(rf"\1{MASK}", text)
    return _HEADER.sub(rf"\1{MASK}", text)


def scrub(record: logging.LogRecord) -> logging.LogRecord:
    """Redact a record in place: its message (formatted with its arguments) and the text of
    its exception and stack, which handlers print as they are once set."""
    try:
        message = record.getMessage()
    except Exception:  # bad arguments: the handler reports them, as it would
        return record
    clean = redact(message)
    if clean != message:
        record.msg, record.args = clean, None
    if record.exc_info and not record.exc_text:
        record.exc_text = logging.Formatter().formatException(record.exc_info)
    if record.exc_text:
        record.exc_text = redact(record.exc_text)
    if record.stack_info:
        record.stack_info = redact(record.stack_info)
    return record


class RedactingFilter(logging.Filter):
    """A filter that scrubs the records passing through a handler (and keeps them all)."""

    def filter(self, record: logging.LogRecord) -> bool:
        scrub(record)
        return True


def install() -> None:
    """Scrub every log record of this process from now on (idempotent): called where the
    function app is imported (blueprints/__init__.py) and where the local host starts."""
    global _installed
    with _lock:
        if _installed:
            return
        previous = logging.getLogRecordFactory()

        def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
            return scrub(previous(*args, **kwargs))

        logging.setLogRecordFactory(factory)
        _installed = True
