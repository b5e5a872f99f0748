"""The queue trigger loop, as the WebJobs storage extension runs it.

Receive up to `batchSize` with a long lease (renewed while the function runs); fetch again
when in-flight work falls to `newBatchThreshold`; back off from 100 ms to
`maxPollingInterval` when empty; move a message to `<queue>-poison` once
`maxDequeueCount` is reached; after a failure make it visible again in `visibilityTimeout`.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import logging
import os
import random
import re
from collections.abc import Awaitable, Callable
from typing import Any

from azure.core.exceptions import HttpResponseError, ResourceExistsError, ResourceNotFoundError
from azure.storage.queue.aio import QueueClient

from devhost.config import QueueSettings
from devhost.queue_reads import QueueReads

log = logging.getLogger("devhost")
MIN_POLL = 0.1

Handler = Callable[[bytes, Any], Awaitable[bool]]  # (decoded body, the SDK's message)


def valid_queue_name(name: str) -> bool:
    """Storage's rule, which the real host checks when it indexes a queue trigger."""
    return bool(re.fullmatch(r"[a-z0-9](?:[a-z0-9]|-(?!-)){1,61}[a-z0-9]", name))


def lease_seconds() -> int:
    """How long a received message stays invisible (real host: 10 min); a dev-host knob so
    tests of crashed workers need not wait 10 minutes."""
    return int(os.environ.get("DEVHOST_QUEUE_LEASE_SECONDS", "600"))


def decode(content: str, encoding: str) -> bytes:
    """A message's text → the body the function gets (`messageEncoding`)."""
    if encoding == "base64":
        return base64.b64decode(content, validate=True)
    return content.encode()


def encode(body: bytes, encoding: str) -> str:
    """A body → the message text the host writes (`messageEncoding`)."""
    return base64.b64encode(body).decode() if encoding == "base64" else body.decode()


class QueueListener:
    def __init__(self, connection_string: str, queue_name: str, settings: QueueSettings,
                 handler: Handler, *, poison_queue: str | None = None,
                 max_dequeue_count: int | None = None):
        self.client = QueueClient.from_connection_string(connection_string, queue_name)
        self.poison = QueueClient.from_connection_string(
            connection_string, poison_queue or f"{queue_name}-poison")
        self.name = queue_name
        self.reads = QueueReads.lean(connection_string, self.client.url.split("?", 1)[0])
        self.settings = settings
        self.handler = handler
        self.max_dequeue = max_dequeue_count or settings.max_dequeue_count
        self.in_flight = 0
        self.slot = asyncio.Event()
        self.stopping = False
        self.woken = asyncio.Event()
        self.tasks: set[asyncio.Task] = set()

    def wake(self) -> None:
        """Poll now: a function in this host just wrote to this queue (the real host's
        SharedQueueWatcher does the same for queue output bindings)."""
        self.woken.set()

    async def run(self) -> None:
        delay, warned = MIN_POLL, ""
        lease = lease_seconds()
        while not self.stopping:
            if self.in_flight > self.settings.new_batch_threshold:
                self.slot.clear()
                await self.slot.wait()
                continue
            try:
                messages = await self._receive(lease)
                warned = ""
            except Exception as e:  # keep polling; say so once per kind of trouble
                problem = ("does not exist yet; polling until it does"
                           if isinstance(e, ResourceNotFoundError)
                           else f"receive failed: {str(e).splitlines()[0]}")
                if problem != warned:
                    log.warning("queue '%s' %s", self.name, problem)
                    warned = problem
                messages = []
            if not messages:
                try:
                    await asyncio.wait_for(self.woken.wait(), delay)
                    delay = MIN_POLL
                except TimeoutError:
                    delay = min(self.settings.max_polling_interval,
                                delay * 2 * random.uniform(0.8, 1.2))
                self.woken.clear()
                continue
            delay = MIN_POLL
            for message in messages:
                self.in_flight += 1
                task = asyncio.create_task(self._process(message, lease))
                self.tasks.add(task)
                task.add_done_callback(self._done)

    async def _receive(self, lease: int) -> list[Any]:
        if self.reads is not None:
            return await self.reads.receive(self.settings.batch_size, lease)
        return [m async for m in self.client.receive_messages(
            messages_per_page=self.settings.batch_size,
            max_messages=self.settings.batch_size, visibility_timeout=lease)]

    async def _delete(self, message: Any) -> None:
        if self.reads is not None:
            await self.reads.delete(message.id, message.pop_receipt)
        else:
            await self.client.delete_message(message.id, message.pop_receipt)

    def _done(self, task: asyncio.Task) -> None:
        self.tasks.discard(task)
        self.in_flight -= 1
        self.slot.set()

    async def _process(self, message: Any, lease: int) -> None:
        if message.dequeue_count > self.max_dequeue:
            await self._to_poison(message)
            return
        try:
            body = decode(message.content, self.settings.message_encoding)
        except (binascii.Error, ValueError) as e:
            # Storage extension v5: a message the decoder cannot read goes to poison at once,
            # without an invocation (retrying cannot help).
            log.error("queue '%s' message %s is not valid %s (%s); moving it to '%s'",
                      self.name, message.id, self.settings.message_encoding, e,
                      self.poison.queue_name)
            await self._to_poison(message)
            return
        finished = asyncio.Event()
        renewer = asyncio.create_task(self._renew(message, lease, finished))
        try:
            ok = await self.handler(body, message)
        finally:
            # Let a renewal in flight finish rather than cancel it mid-request: Storage may
            # have issued a new pop receipt that settling the message needs.
            finished.set()
            await renewer
        try:
            if ok:
                await self._delete(message)
            elif message.dequeue_count >= self.max_dequeue:
                await self._to_poison(message)
            else:
                await self.client.update_message(
                    message.id, message.pop_receipt,
                    visibility_timeout=int(self.settings.visibility_timeout))
        except (ResourceNotFoundError, HttpResponseError) as e:  # it reappears: at least once
            log.warning("queue '%s' message %s: lease lost before it could be settled (%s)",
                        self.name, message.id, getattr(e, "error_code", None) or type(e).__name__)

    async def _renew(self, message: Any, lease: int, finished: asyncio.Event) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(finished.wait(), max(1.0, lease / 2))
            if finished.is_set():
                return
            try:
                updated = await self.client.update_message(
                    message.id, message.pop_receipt, visibility_timeout=lease)
                message.pop_receipt = updated.pop_receipt
            except Exception as e:
                log.warning("queue '%s': renewing message %s failed: %s", self.name,
                            message.id, e)
                return

    async def _to_poison(self, message: Any) -> None:
        with contextlib.suppress(ResourceExistsError):
            await self.poison.create_queue()
        await self.poison.send_message(message.content)  # same encoding as it came
        await self._delete(message)
        log.warning("queue '%s': message %s moved to '%s' after %d dequeues", self.name,
                    message.id, self.poison.queue_name, message.dequeue_count)

    async def drain(self, timeout: float) -> None:
        """Stop fetching, wait up to `timeout` for running messages to settle, close."""
        self.stopping = True
        self.slot.set()
        self.woken.set()
        if self.tasks:
            await asyncio.wait(set(self.tasks), timeout=timeout)
        await self.client.close()
        await self.poison.close()
        if self.reads is not None:
            await self.reads.close()

    async def stop(self) -> None:
        await self.drain(0)
