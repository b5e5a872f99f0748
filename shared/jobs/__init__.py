"""Batch jobs: invoke → plan → score mini-batches → fan in → aggregate outputs.

One table partition per job holds the job row (`job`), one row per mini-batch
(`mb-00000042`: its files and outcome) and the progress log (`log-...`). Counters on the job
row change only in entity-group transactions together with a mini-batch row, guarded by
ETags, so duplicate deliveries and concurrent workers count every mini-batch exactly once.
"""
