"""`python -m bench.writes`: what a mini-batch's two writes cost the client, through the
SDKs and through the lean requests, side by side against one Azurite: the entity-group
transaction of its completion (its row and its counter shard, both merged under their
ETags; shared/storage/tabletransactions.py) and the PUT of its result part (a 2 KB CSV;
shared/storage/blobputs.py). Client CPU ms and wall ms per request, the mean of `--count`
each, alternating so drift hits both alike."""

from __future__ import annotations

import argparse
import time
import uuid

from azure.core import MatchConditions
from azure.data.tables import UpdateMode

from devhost import azurite
from shared.storage.clients import Storage


def ops(table, pk: str, n: int) -> list[tuple]:
    rows = [table.get_entity(pk, rk) for rk in ("mb-00000001", "shard-0001")]
    return [("update", {"PartitionKey": pk, "RowKey": r["RowKey"], "state": "done",
                        "items_ok": n, "items_failed": 0, "part": uuid.uuid4().hex[:12]},
             {"mode": UpdateMode.MERGE, "etag": r.metadata["etag"],
              "match_condition": MatchConditions.IfNotModified}) for r in rows]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=300)
    args = parser.parse_args(argv)
    server = azurite.start(in_memory=True)
    try:
        storage = Storage.from_connection_string(server.connection_string)
        table = storage.table("benchtransactions")
        container = storage.container("benchwrites")
        part = b"file_name,row,prediction,probability\n" + b"photo-0000.png,0,281,0.5\n" * 80
        how = {"transaction: SDK submit_transaction": table.submit_transaction,
               "transaction: lean": lambda o: storage.transactions.submit("benchtransactions", o),
               "result part: SDK upload_blob":
                   lambda _: container.upload_blob("part.csv", part, overwrite=True),
               "result part: lean PUT": lambda _: storage.puts.put("benchwrites", "part.csv",
                                                                   part)}
        spent = {k: [0.0, 0.0] for k in how}
        for name in how:
            table.create_entity({"PartitionKey": name, "RowKey": "mb-00000001"})
            table.create_entity({"PartitionKey": name, "RowKey": "shard-0001"})
        for i in range(args.count + 10):
            for name, submit in how.items():
                o = ops(table, name, i) if name.startswith("transaction") else []
                cpu, wall = time.process_time(), time.perf_counter()
                submit(o)
                if i >= 10:  # the first ones warm connections and caches
                    spent[name][0] += time.process_time() - cpu
                    spent[name][1] += time.perf_counter() - wall
        print(f"a mini-batch's writes, mean of {args.count} each")
        print(f"{'what and how':<40} {'client CPU ms':>14} {'wall ms':>8}")
        for name, (cpu, wall) in spent.items():
            print(f"{name:<40} {1000 * cpu / args.count:>14.2f} {1000 * wall / args.count:>8.2f}")
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
