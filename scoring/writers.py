"""CSV for predictions (RFC 4180 quoting, '\n' line ends) and JSON Lines for errors."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Sequence


def csv_header(columns: Sequence[str]) -> bytes:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerow(columns)
    return buf.getvalue().encode()


def rows_to_csv(rows: Iterable) -> bytes:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    for row in rows:
        writer.writerow((row.file_name, row.row, *row.values))
    return buf.getvalue().encode()


def errors_to_jsonl(errors: Iterable) -> bytes:
    return "".join(json.dumps({"file_name": e.file_name, "row": e.row, "reason": e.reason})
                   + "\n" for e in errors).encode()
