"""What a mini-batch row lists: input files, each pinned to the version planning listed,
possibly only some of its rows (a retry), possibly one row range of a large table."""

from __future__ import annotations

from dataclasses import astuple, dataclass
from typing import Any


@dataclass(frozen=True)
class Part:
    """A row range of a table (shared/jobs/splitting.py): [start, stop) are bytes of a CSV
    (whole records; the `header` bytes at the file's start are read with every range) or row
    groups of a Parquet file spanning bytes [byte_start, byte_stop) (`header`: the footer's
    length); its rows are numbered from `first_row` in the whole file. `size`: the file's."""

    kind: str  # csv | parquet
    start: int
    stop: int
    first_row: int
    rows: int
    header: int
    byte_start: int
    byte_stop: int
    size: int


@dataclass(frozen=True)
class InputRef:
    """One input file of a job: its blob, the version listed, (tabular retries) the only
    rows to score (None: all), and (split tables) the range to read. `size` is known while
    planning only."""

    name: str
    etag: str = ""
    rows: tuple[int, ...] | None = None  # ascending
    part: Part | None = None
    size: int = 0

    @property
    def items(self) -> int:
        """Items this ref stands for if it fails whole: the rows of a range, else one."""
        if self.part is None:
            return 1
        return len(self.rows) if self.rows is not None else self.part.rows

    def failed_rows(self) -> list[str]:
        """The errors file's `row` values when this ref fails whole ("": the whole file)."""
        if self.part is None:
            return [""]
        if self.rows is not None:
            return [str(r) for r in self.rows]
        return [str(r) for r in range(self.part.first_row, self.part.first_row + self.part.rows)]

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"n": self.name, "e": self.etag}
        if self.rows is not None:
            out["r"] = list(self.rows)
        if self.part is not None:
            out["p"] = list(astuple(self.part))
        return out

    @classmethod
    def from_json(cls, value: dict[str, Any] | str) -> InputRef:
        if isinstance(value, str):
            return cls(value)
        rows = value.get("r", value.get("rows"))
        part = value.get("p")
        return cls(value.get("n") or value["name"], value.get("e", value.get("etag", "")),
                   None if rows is None else tuple(sorted(int(r) for r in rows)),
                   None if part is None else Part(*part))
