"""Lines of errors.csv (`file_name,row,reason`), written with the csv module only.

Reasons may quote raw bytes of a broken file or an exception text: control characters are
replaced, runs of whitespace folded, and the text cut to REASON_LIMIT characters, so every
failed item is exactly one well-formed CSV record.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable

HEADER = b"file_name,row,reason\n"
REASON_LIMIT = 500
CANCELED = "canceled"
_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f-\x9f\ufffd]+")


def clean_reason(reason: str) -> str:
    text = " ".join(_UNPRINTABLE.sub(" ", reason).split())
    return text if len(text) <= REASON_LIMIT else text[:REASON_LIMIT - 1] + "…"


def lines(failures: Iterable[tuple[str, str, str]]) -> bytes:
    """CSV records for (file_name, row, reason) triples, no header."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    for file_name, row, reason in failures:
        writer.writerow((file_name, row, clean_reason(reason)))
    return buf.getvalue().encode()


def count(data: bytes) -> int:
    """Records in CSV bytes without a header (quoted newlines are part of their record)."""
    return sum(1 for _ in csv.reader(io.StringIO(data.decode())))


def records(data: bytes) -> list[list[str]]:
    """The records of errors.csv lines without a header."""
    return list(csv.reader(io.StringIO(data.decode())))
