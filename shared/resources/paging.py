"""Paged listing over Table storage, as Azure's list APIs page: `$top` (or `maxResults`) rows
per page and an opaque `$skiptoken` that continues where the last page stopped.

Filters run in the table query on the server; a page reads at most `$top` rows plus the
rows the server skips, never the whole table.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from azure.core.exceptions import HttpResponseError
from azure.data.tables import TableClient

from shared.errors import ValidationError

DEFAULT_TOP = 100
MAX_TOP = 1000
ALL = "PartitionKey ge ''"  # every row (a query needs a filter)
_PAGE_SECONDS = 5.0  # a sparse filter may need several server pages to fill one of ours
_TOKEN_PART = re.compile(r"[\x20-\x7e]{0,1024}")


@dataclass(frozen=True)
class PageRequest:
    top: int = DEFAULT_TOP
    token: dict[str, str] | None = None

    @classmethod
    def from_query(cls, params: Mapping[str, str]) -> PageRequest:
        raw_top = params.get("$top", params.get("maxResults"))
        top = DEFAULT_TOP
        if raw_top is not None:
            if not re.fullmatch(r"[0-9]{1,6}", raw_top) or not 1 <= int(raw_top) <= MAX_TOP:
                raise ValidationError("$top", f"must be an integer from 1 to {MAX_TOP}")
            top = int(raw_top)
        skip = params.get("$skiptoken")
        return cls(top=top, token=decode_token(skip) if skip else None)


@dataclass(frozen=True)
class Page:
    items: list[Any]
    next_token: str | None


def encode_token(token: dict[str, str] | None) -> str | None:
    if not token:
        return None
    return base64.urlsafe_b64encode(json.dumps(token).encode()).decode().rstrip("=")


def decode_token(text: str) -> dict[str, str]:
    try:
        token = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
    except (ValueError, binascii.Error, UnicodeDecodeError):
        token = None
    if (not isinstance(token, dict) or not token or len(token) > 2
            or not all(k in ("PartitionKey", "RowKey") and isinstance(v, str)
                       and _TOKEN_PART.fullmatch(v) for k, v in token.items())):
        raise ValidationError("$skiptoken", "is not a continuation token from this API")
    return token


def entities(table: TableClient, page: PageRequest, query: str,
             parameters: dict[str, Any] | None = None, select: list[str] | None = None) -> Page:
    """One page of the rows matching `query`, in key order."""
    rows: list[Any] = []
    token = page.token
    deadline = time.monotonic() + _PAGE_SECONDS
    while True:
        pages = table.query_entities(query, parameters=parameters or {}, select=select,
                                     results_per_page=page.top - len(rows)
                                     ).by_page(continuation_token=token)
        try:
            rows += list(next(pages))
        except StopIteration:
            pass
        except HttpResponseError as e:
            if e.status_code == 400 and token is not None:
                raise ValidationError("$skiptoken",
                                      "is not a continuation token from this API") from None
            raise
        token = pages.continuation_token
        if not token or len(rows) >= page.top or time.monotonic() > deadline:
            return Page(rows, encode_token(token))


def documents(table: TableClient, page: PageRequest, query: str,
              parameters: dict[str, Any] | None = None) -> Page:
    """A page of shared/storage/documents.py documents (their `doc` JSON)."""
    found = entities(table, page, query, parameters, select=["doc"])
    return Page([json.loads(row["doc"]) for row in found.items], found.next_token)
