"""Output bindings (queue, blob), written after the function returned without raising, from
the typed data the worker encoded (devhost/typed_data.py says how the host reads it)."""

from __future__ import annotations

import contextlib
import re
import uuid
from collections.abc import Callable
from typing import Any

from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError
from azure.storage.blob import BlobServiceClient
from azure.storage.queue import QueueClient

from devhost import typed_data
from devhost.config import QueueSettings, resolve
from devhost.functions import FunctionSpec
from devhost.pyworker import Datum
from devhost.queues import encode


class OutputWriter:
    def __init__(self, connection_string: str, queues: QueueSettings,
                 on_queue_written: Callable[[str], None] = lambda queue: None):
        self.conn = connection_string
        self.encoding = queues.message_encoding
        self.on_queue_written = on_queue_written

    def __call__(self, spec: FunctionSpec, outs: dict[str, Datum],
                 binding_data: dict[str, Any]) -> None:
        for binding in spec.outputs:
            datum = outs.get(binding["name"])
            if datum is None:
                continue
            if binding["type"] == "queue":
                self._queue(resolve(binding["queueName"]), typed_data.queue_messages(datum))
            elif binding["type"] == "blob":
                self._blob(_expand(resolve(binding["path"]), binding_data),
                           typed_data.blob_content(datum))

    def _queue(self, name: str, messages: list[str | bytes]) -> None:
        client = QueueClient.from_connection_string(self.conn, name)
        for item in messages:
            text = encode(item.encode() if isinstance(item, str) else bytes(item),
                          self.encoding)
            try:
                client.send_message(text)
            except ResourceNotFoundError:  # output bindings create their queue
                with contextlib.suppress(ResourceExistsError):
                    client.create_queue()
                client.send_message(text)
        self.on_queue_written(name)

    def _blob(self, path: str, data: bytes) -> None:
        container, _, name = path.partition("/")
        service = BlobServiceClient.from_connection_string(self.conn)
        client = service.get_container_client(container)
        with contextlib.suppress(ResourceExistsError):
            client.create_container()
        client.upload_blob(name, data, overwrite=True)


def _expand(path: str, binding_data: dict[str, Any]) -> str:
    def value(m: re.Match) -> str:
        key = m.group(1)
        if key == "rand-guid":
            return str(uuid.uuid4())
        return str(binding_data.get(key, m.group(0)))

    return re.sub(r"\{([A-Za-z0-9_-]+)\}", value, path)
