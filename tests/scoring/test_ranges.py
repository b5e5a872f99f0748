"""Where tables are cut: CSV ranges start at records (never inside quotes, whatever the read
chunks), count rows as pyarrow does, and read back to the whole file; Parquet ranges are
whole row groups read from their own bytes and the footer only."""

from __future__ import annotations

import io

import pyarrow as pa
import pyarrow.csv as pc
import pyarrow.parquet as pq
import pytest

from scoring.ranges import (
    FOOTER_READ,
    csv_cuts,
    footer_length,
    parquet_cuts,
    parquet_metadata,
    parquet_range,
)


def _csv(eol: str, trailing: bool) -> bytes:
    lines = ["id,text,n"]
    for i in range(600):
        if i % 7 == 0:
            lines.append(f'{i},"two{eol}lines, ""quoted""",{i}')
        elif i % 11 == 0:
            lines.append("")  # an empty line is not a row
        else:
            lines.append(f"{i},t{i},{i}")
    return (eol.join(lines) + (eol if trailing else "")).encode()


@pytest.mark.parametrize("eol", ["\n", "\r\n"])
@pytest.mark.parametrize("trailing", [True, False])
@pytest.mark.parametrize("chunk", [5, 4096])
@pytest.mark.parametrize(("max_bytes", "max_rows"), [(700, 2**62), (2**62, 53)])
def test_csv_ranges_hold_every_row_once_in_order(eol, trailing, chunk, max_bytes, max_rows):
    data = _csv(eol, trailing)
    header, cuts = csv_cuts((data[i:i + chunk] for i in range(0, len(data), chunk)),
                            max_bytes, max_rows)
    assert data[:header] == f"id,text,n{eol}".encode()
    assert len(cuts) > 5 and cuts[0].start == header and cuts[-1].stop == len(data)
    ids = []
    for cut, following in zip(cuts, [*cuts[1:], None], strict=True):
        assert following is None or following.start == cut.stop
        assert cut.first_row == len(ids) and cut.rows <= max_rows
        part = pc.read_csv(io.BytesIO(data[:header] + data[cut.start:cut.stop]))
        assert part.num_rows == cut.rows
        ids += part.column("id").to_pylist()
    assert ids == pc.read_csv(io.BytesIO(data)).column("id").to_pylist()


def test_a_csv_whose_quotes_do_not_balance_is_not_cut():
    data = b"a,b\n" + b"1,2\n" * 50 + b'3,"open\n' + b"4,5\n" * 50
    assert csv_cuts([data], 10, 2**62) is None


def test_parquet_ranges_are_whole_row_groups_read_from_their_bytes_and_the_footer():
    t = pa.table({"x": list(range(5_000)), "s": [f"v{i}" for i in range(5_000)]})
    buf = io.BytesIO()
    pq.write_table(t, buf, row_group_size=500)
    data = buf.getvalue()
    footer = footer_length(data[-8:])
    metadata = parquet_metadata(data[-footer:])
    cuts = parquet_cuts(metadata, 2**62, 1_200)  # two groups of 500 per range
    assert [(c.start, c.stop, c.first_row, c.rows) for c in cuts] == [
        (g, g + 2, g * 500, 1_000) for g in range(0, 10, 2)]
    rows = []
    for c in cuts:
        tail = min(len(data), max(footer, FOOTER_READ))
        pieces = {len(data) - tail: data[-tail:], c.byte_start: data[c.byte_start:c.byte_stop]}
        part = pq.read_table(io.BytesIO(parquet_range(len(data), pieces, c.start, c.stop)))
        rows += part.column("x").to_pylist()
    assert rows == list(range(5_000))
    by_bytes = parquet_cuts(metadata, cuts[0].byte_stop - cuts[0].byte_start, 2**62)
    assert by_bytes[0].stop == 2 and sum(c.rows for c in by_bytes) == 5_000
    with pytest.raises(OSError, match="outside the bytes read"):  # nothing else is read
        parquet_range(len(data), {0: data[:100], len(data) - footer: data[-footer:]}, 0, 1)
