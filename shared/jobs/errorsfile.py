"""Lines of errors.csv (`file_name,row,reason,kind`), written with the csv module only.

`kind` says whose failure it was: the item's own (`item`: unreadable, a model error, changed
or deleted since planning), its mini-batch's attempts (`attempts`: every attempt raised or
ran past retry_settings.timeout), crashes (`crashes`: the host gave up on every copy, the
retries included), a result storage lost and re-scoring could not replace (`lost`), or not
scored at all (`canceled`, `skipped`).

Reasons may quote raw bytes of a broken file or an exception text: control characters are
replaced, runs of whitespace folded, and the text cut to REASON_LIMIT characters, so every
failed item is exactly one well-formed CSV record.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable
from enum import StrEnum

HEADER = b"file_name,row,reason,kind\n"
REASON_LIMIT = 500
CANCELED = "canceled"


class Kind(StrEnum):
    """Whose failure an errors.csv record is."""

    ITEM = "item"
    ATTEMPTS = "attempts"
    CRASHES = "crashes"
    LOST = "lost"
    CANCELED = "canceled"
    SKIPPED = "skipped"
_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f-\x9f\ufffd]+")


def clean_reason(reason: str) -> str:
    text = " ".join(_UNPRINTABLE.sub(" ", reason).split())
    return text if len(text) <= REASON_LIMIT else text[:REASON_LIMIT - 1] + "…"


def lines(failures: Iterable[tuple[str, str, str]], kind: Kind = Kind.ITEM) -> bytes:
    """CSV records for (file_name, row, reason) triples, all of one kind, no header."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    for file_name, row, reason in failures:
        writer.writerow((file_name, row, clean_reason(reason), kind.value))
    return buf.getvalue().encode()


def count(data: bytes) -> int:
    """Records in CSV bytes without a header (quoted newlines are part of their record)."""
    return sum(1 for _ in csv.reader(io.StringIO(data.decode())))


def records(data: bytes) -> list[list[str]]:
    """The records of errors.csv lines without a header."""
    return list(csv.reader(io.StringIO(data.decode())))
