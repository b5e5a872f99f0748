"""One worker process: like one Azure Functions instance, it serves every trigger kind."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import socket
import sys
from pathlib import Path

from aiohttp import web

from devhost import config as host_config
from devhost import keys as host_keys
from devhost import typed_data
from devhost.blobs import BlobTriggers
from devhost.functions import load_app
from devhost.http_server import HttpHost
from devhost.invoker import Invoker
from devhost.outputs import OutputWriter
from devhost.pyworker import IndexingError
from devhost.queues import QueueListener, valid_queue_name
from shared import logredact

log = logging.getLogger("devhost")
EXIT_TIMEOUT = 3  # exit status after a functionTimeout; the supervisor starts a new worker
DRAIN_SECONDS = 8.0  # the supervisor allows 10 s for a clean stop


async def serve(project_dir: Path, app_name: str, port: int, worker_id: int) -> None:
    cfg = host_config.load(project_dir)
    for key, value in cfg.values.items():
        os.environ.setdefault(key, value)
    from shared.storage.connection import expand

    conn = expand(os.environ["AzureWebJobsStorage"])
    try:
        specs = load_app(project_dir, app_name)
        indexing_error = None
    except IndexingError as e:  # as in Azure: the host runs on, with no function at all
        log.error("%s", e)
        log.error("No job functions found.")
        specs, indexing_error = [], str(e)
    loop = asyncio.get_running_loop()
    listeners: list[QueueListener] = []
    stop = asyncio.Event()

    def queue_written(name: str) -> None:  # called from the invocation's thread
        for listener in listeners:
            if listener.name == name:
                loop.call_soon_threadsafe(listener.wake)

    def restart_after_timeout() -> None:
        """Take no new work, let the timed-out invocation settle as failed, then exit: the
        supervisor starts a fresh worker (the real host restarts its language worker)."""
        for listener in listeners:
            listener.stopping = True
        loop.call_later(1.0, _exit, EXIT_TIMEOUT)

    invoker = Invoker(worker_id, cfg.function_timeout, str(project_dir),
                      OutputWriter(conn, cfg.queues, queue_written), restart_after_timeout)
    keys = host_keys.load(project_dir)
    blobs = BlobTriggers(cfg, conn, specs, invoker, worker_id,
                         (f"http://127.0.0.1:{port}/runtime/webhooks/blobs",
                          keys["systemKeys"]["blobs_extension"]))
    http = HttpHost(cfg, specs, keys, invoker, blobs.from_event)
    runner = web.AppRunner(http.app(), access_log=None, handle_signals=False)
    await runner.setup()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)  # workers share the port
    sock.bind(("127.0.0.1", port))
    await web.SockSite(runner, sock).start()

    for spec in specs:
        if spec.trigger_type != "queueTrigger":
            continue

        async def handler(body, message, spec=spec):
            data, metadata = typed_data.queue_trigger(message, body)
            return (await invoker.invoke(spec, data, metadata, {
                "queueTrigger": body.decode(errors="replace")})).ok

        try:
            queue = host_config.resolve(spec.trigger["queueName"])
            if not valid_queue_name(queue):
                raise ValueError(f"'{queue}' is not a valid queue name")
        except (KeyError, ValueError) as e:  # the real host disables just this function
            log.error("function %s is not served: %s", spec.name, e.args[0])
            continue
        listeners.append(QueueListener(conn, queue, cfg.queues, handler))
    tasks = [asyncio.create_task(q.run()) for q in listeners]
    tasks += await blobs.start()
    if blobs.listener:
        listeners.append(blobs.listener)
    print(json.dumps({"ready": worker_id, "pid": os.getpid(), "indexingError": indexing_error,
                      "functions": [s.summary() for s in specs]}), flush=True)

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    # Like the host's graceful shutdown: stop fetching, give running invocations a moment.
    await asyncio.gather(*(q.drain(DRAIN_SECONDS) for q in listeners))
    await blobs.stop()
    for t in tasks:
        t.cancel()
    await runner.cleanup()


def _exit(code: int) -> None:
    logging.shutdown()
    os._exit(code)


def main() -> None:
    project_dir, app_name, port, worker_id = (Path(sys.argv[1]), sys.argv[2], int(sys.argv[3]),
                                              int(sys.argv[4]))
    logging.basicConfig(level=os.environ.get("DEVHOST_LOG_LEVEL", "INFO"), stream=sys.stderr,
                        format=f"%(asctime)s [w{worker_id}] %(levelname)s %(name)s: %(message)s")
    for noisy in ("azure", "aiohttp.access", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    logredact.install()  # before the app is imported: its import installs it too
    asyncio.run(serve(project_dir, app_name, port, worker_id))


if __name__ == "__main__":
    main()
