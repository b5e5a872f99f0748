"""One set of storage clients per process, with the tables/containers/queues the app needs,
and the lean requests of the hot path: reads of input files (blobreads.py) and of single
table rows (tablereads.py), transactions (tabletransactions.py), result parts (blobputs.py).

Clients are thread-safe and expensive to build (TLS, pipelines), so they are made once per
storage account setting (a connection string, or an identity-based connection with one
credential whose tokens the clients share). Tables, containers and queues are created on
first use: the Functions host does not create queues, and a fresh Azurite has nothing.
"""

from __future__ import annotations

import contextlib
import functools
import threading
from typing import Any
from urllib.parse import urlsplit

import requests
from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError
from azure.core.pipeline.transport import RequestsTransport
from azure.data.tables import TableClient, TableServiceClient
from azure.storage.blob import BlobServiceClient, ContainerClient
from azure.storage.queue import (
    QueueClient,
    QueueServiceClient,
    TextBase64DecodePolicy,
    TextBase64EncodePolicy,
)

from shared import outbox
from shared.messages import Message, encode
from shared.storage.blobputs import PUT_LIMIT, BlobPuts
from shared.storage.blobreads import BlobReads
from shared.storage.connection import StorageAccount, from_environment
from shared.storage.retries import BlobRetryPolicy, QueueRetryPolicy
from shared.storage.tablereads import TableReads
from shared.storage.tabletransactions import TableTransactions

POOL_CONNECTIONS = 64  # per host: above the download threads (shared/jobs/minibatch.py)


class _Session(requests.Session):
    """A requests session that reads its environment (proxy variables and NO_PROXY, the CA
    bundle variables) once per host and process rather than on every request: a tenth of
    the client's CPU per small-blob GET went there. The environment is the app settings,
    fixed for the process's life."""

    def __init__(self) -> None:
        super().__init__()
        self._environment: dict[tuple, dict[str, Any]] = {}  # two threads may both fill a key
        self.auth = _SignedBySdk()

    def merge_environment_settings(self, url: str, proxies: Any, stream: Any, verify: Any,
                                   cert: Any) -> dict[str, Any]:
        parsed = urlsplit(url)
        key = (parsed.scheme, parsed.netloc, stream, verify, cert,
               tuple(sorted((proxies or {}).items())))
        known = self._environment.get(key)
        if known is None:
            known = super().merge_environment_settings(url, proxies, stream, verify, cert)
            self._environment[key] = known
        return {**known, "proxies": dict(known["proxies"])}


class _SignedBySdk(requests.auth.AuthBase):
    """The SDK's pipeline signs every request (shared key, SAS or token). With no session
    auth, requests would look for `~/.netrc` credentials on each request (two stat calls,
    3% of a worker's CPU) and put a match over the SDK's Authorization header."""

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        return request


def _transport() -> RequestsTransport:
    """requests keeps 10 connections per host by default: with more threads than that, every
    extra request opens (and then drops) a new TCP connection, which costs the storage
    service more than the request itself for small files."""
    session = _Session()
    adapter = requests.adapters.HTTPAdapter(pool_connections=4, pool_maxsize=POOL_CONNECTIONS)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return RequestsTransport(session=session, session_owner=False)


class Storage:
    """Blob, queue and table access for one storage account."""

    def __init__(self, account: StorageAccount):
        self.account = account
        conn = account.connection_string
        transport = {"transport": _transport()}
        blob_options = {**transport, "retry_policy": BlobRetryPolicy()}
        queue_options = {**transport, "retry_policy": QueueRetryPolicy()}
        credential = None
        if conn is not None:
            self.blobs = BlobServiceClient.from_connection_string(conn, **blob_options)
            self.tables = TableServiceClient.from_connection_string(conn, **transport)
            self._queues = QueueServiceClient.from_connection_string(conn, **queue_options)
        else:
            credential = account.credential()
            self.blobs = BlobServiceClient(account.blob_endpoint, credential=credential,
                                           **blob_options)
            self.tables = TableServiceClient(account.table_endpoint, credential=credential,
                                             **transport)
            self._queues = QueueServiceClient(account.queue_endpoint, credential=credential,
                                              **queue_options)
        self.reads = BlobReads(account, credential, self.blobs.api_version, POOL_CONNECTIONS)
        self.rows = TableReads(self.tables.url, account, credential, self.tables.api_version,
                               POOL_CONNECTIONS)
        self.transactions = TableTransactions(self.tables.url, account, credential,
                                              self.tables.api_version, POOL_CONNECTIONS,
                                              self.rows.pool)
        self.puts = BlobPuts(account, credential, self.blobs.api_version, POOL_CONNECTIONS,
                             self.reads.pool)
        self._lock = threading.Lock()
        self._tables: dict[str, TableClient] = {}
        self._containers: dict[str, ContainerClient] = {}
        self._queue_clients: dict[str, QueueClient] = {}

    @classmethod
    def from_connection_string(cls, conn_str: str) -> Storage:
        return _cached(StorageAccount.from_connection_string(conn_str))

    def table(self, name: str) -> TableClient:
        client = self._tables.get(name)
        if client is None:
            client = self.tables.get_table_client(name)
            with contextlib.suppress(ResourceExistsError):
                client.create_table()
            with self._lock:
                self._tables[name] = client
        return client

    def container(self, name: str) -> ContainerClient:
        client = self._containers.get(name)
        if client is None:
            client = self.blobs.get_container_client(name)
            with contextlib.suppress(ResourceExistsError):
                client.create_container()
            with self._lock:
                self._containers[name] = client
        return client

    def put(self, container: str, name: str, data: bytes | str) -> None:
        """Write a whole blob, replacing it: one lean PUT (blobputs.py), or the SDK's
        upload in blocks for what is too big for one."""
        body = data.encode() if isinstance(data, str) else data
        client = self.container(container)  # made on first use
        if len(body) > PUT_LIMIT:
            client.upload_blob(name, body, overwrite=True)
        else:
            self.puts.put(container, name, body)

    def queue(self, name: str) -> QueueClient:
        """A queue client speaking base64, as the Functions host expects by default."""
        client = self._queue_clients.get(name)
        if client is None:
            client = self._queues.get_queue_client(
                name,
                message_encode_policy=TextBase64EncodePolicy(),
                message_decode_policy=TextBase64DecodePolicy(),
            )
            with self._lock:
                self._queue_clients[name] = client
        return client

    def send(self, queue: str, message: Message | str, *, delay: int | None = None) -> None:
        """Enqueue a message, creating the queue on first use."""
        body = message if isinstance(message, str) else encode(message)
        if delay is None and outbox.take(queue, body):
            return
        client = self.queue(queue)
        try:
            client.send_message(body, visibility_timeout=delay)
        except ResourceNotFoundError:
            with contextlib.suppress(ResourceExistsError):
                client.create_queue()
            client.send_message(body, visibility_timeout=delay)

    def ensure_queues(self, names: tuple[str, ...]) -> None:
        for name in names:
            with contextlib.suppress(ResourceExistsError):
                self.queue(name).create_queue()


@functools.lru_cache(maxsize=8)
def _cached(account: StorageAccount) -> Storage:
    return Storage(account)


def default_storage() -> Storage:
    """The app's storage: the account the `AzureWebJobsStorage` app setting(s) name."""
    return _cached(from_environment())
