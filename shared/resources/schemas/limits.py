"""Size and depth limits on request bodies and fields (documented in docs/api.md).

Checked before anything is parsed or stored: a body's bytes, its JSON nesting depth (before
`json.loads`, whose recursion a 100,000-deep document would exhaust), each field's length,
and a stored document's size against Table storage's 64 KiB property limit.
"""

from __future__ import annotations

import json
import re
from typing import Annotated, Any

from pydantic import BeforeValidator, Field, StringConstraints
from pydantic_core import PydanticCustomError

from shared.errors import ValidationError

MAX_BODY_BYTES = 256 * 1024
MAX_DEPTH = 32
MAX_DESCRIPTION = 4096
MAX_TAGS = 50
MAX_TAG_KEY = 256
MAX_TAG_VALUE = 256
MAX_NAME = 256
MAX_PATH = 2048
MAX_LIST = 10_000
# Table storage: a string property holds at most 64 KiB of UTF-16.
MAX_STORED_BYTES = 64 * 1024 - 1024

_STRINGS = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_OPEN = frozenset(b"[{")
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")


def check_depth(raw: bytes, limit: int = MAX_DEPTH) -> None:
    """Refuse JSON nested deeper than `limit`, counting brackets outside strings (plain
    Python over the brackets alone: no numpy at start-up, see bench.coldstart)."""
    depth = 0
    for b in _STRINGS.sub(b'""', raw).translate(None, _NOT_BRACKETS):
        depth += 1 if b in _OPEN else -1
        if depth > limit:
            raise ValidationError("body", f"is nested deeper than {limit} levels")


def load_json(raw: bytes, limit: int = MAX_BODY_BYTES) -> Any:
    """Bytes → JSON value, within the size and depth limits."""
    if len(raw) > limit:
        raise ValidationError("body", f"is larger than {limit} bytes")
    check_depth(raw)
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as e:
        raise ValidationError("body", f"is not valid JSON: {e}") from None


def check_stored_size(doc: dict[str, Any], what: str) -> None:
    """A document must fit one Table storage property (64 KiB of UTF-16)."""
    size = len(json.dumps(doc).encode("utf-16-le"))
    if size > MAX_STORED_BYTES:
        raise ValidationError(what, f"is too large to store ({size} bytes as stored; the limit "
                              f"is {MAX_STORED_BYTES}): shorten descriptions, tags or lists")


def _int_like(value: Any) -> Any:
    """Integers, or strings of ASCII digits (as `--set key=value` and the SDK send them);
    never booleans, floats or other Unicode digits ('²')."""
    if isinstance(value, bool | float):
        raise PydanticCustomError("int_type", "must be an integer")
    if isinstance(value, str):
        if not re.fullmatch(r"-?[0-9]{1,12}", value.strip()):
            raise PydanticCustomError("int_type", "must be an integer")
        return int(value)
    return value


def Int(low: int, high: int) -> Any:
    return Annotated[int, BeforeValidator(_int_like), Field(ge=low, le=high)]


Description = Annotated[str, StringConstraints(max_length=MAX_DESCRIPTION)]
Name = Annotated[str, StringConstraints(min_length=1, max_length=MAX_NAME)]
PathText = Annotated[str, StringConstraints(min_length=1, max_length=MAX_PATH)]
TagKey = Annotated[str, StringConstraints(min_length=1, max_length=MAX_TAG_KEY)]
TagValue = Annotated[str, StringConstraints(max_length=MAX_TAG_VALUE)]
Tags = Annotated[dict[TagKey, TagValue], Field(max_length=MAX_TAGS)]
