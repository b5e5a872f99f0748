"""Secrets the service must keep for a while: the SAS of a job's input URL (until the job
ends), a datastore's account key or SAS (until the datastore is deleted).

They are kept encrypted (Fernet: AES-128-CBC with an HMAC) in their own table, under the
keys of the `BATCH_SECRETS_KEY` app setting (comma-separated; the first encrypts, all
decrypt, so a key can be rotated); in Azure that setting is a Key Vault reference. No route
reads this table and nothing logs what it holds: a secret only ever goes into the signature
of a storage request.
"""

from __future__ import annotations

import os

from azure.core.exceptions import ResourceNotFoundError
from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from shared import config
from shared.errors import ConfigError
from shared.storage.clients import Storage

SETTING = "BATCH_SECRETS_KEY"
JOB = "job"  # partition of a job's input secret (row: the job's name)
DATASTORE = "datastore"  # partition of a datastore's credential (row: its name)


def _cipher() -> MultiFernet:
    keys = [k.strip() for k in os.environ.get(SETTING, "").split(",") if k.strip()]
    if not keys:
        raise ConfigError(f"app setting {SETTING} is missing: the service keeps SAS tokens "
                          "and account keys encrypted with it (a Fernet key: python -c "
                          "\"from cryptography.fernet import Fernet; "
                          "print(Fernet.generate_key().decode())\")")
    try:
        return MultiFernet([Fernet(k) for k in keys])
    except ValueError:
        raise ConfigError(f"app setting {SETTING} must hold Fernet keys (32 url-safe "
                          "base64-encoded bytes each), comma-separated") from None


def check_configured() -> None:
    """Raise before anything is stored if secrets could not be kept."""
    _cipher()


def put(storage: Storage, kind: str, name: str, value: str) -> None:
    token = _cipher().encrypt(value.encode()).decode()
    storage.table(config.TABLE_SECRETS).upsert_entity(
        {"PartitionKey": kind, "RowKey": name, "value": token})


def get(storage: Storage, kind: str, name: str) -> str | None:
    """The secret, or None when there is none (never kept, or forgotten)."""
    try:
        row = storage.rows.get_entity(config.TABLE_SECRETS, kind, name)
    except ResourceNotFoundError:
        return None
    try:
        return _cipher().decrypt(row["value"].encode()).decode()
    except InvalidToken:
        raise ConfigError(f"a stored secret cannot be decrypted with the keys in {SETTING} "
                          "(was the key replaced instead of rotated?)") from None


def forget(storage: Storage, kind: str, name: str) -> None:
    try:
        storage.table(config.TABLE_SECRETS).delete_entity(kind, name)
    except ResourceNotFoundError:
        pass
