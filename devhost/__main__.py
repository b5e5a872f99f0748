"""`python -m devhost start`: run the function app locally like `func start`."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from devhost.supervisor import Supervisor
from shared import logredact


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devhost")
    sub = parser.add_subparsers(dest="command", required=True)
    start = sub.add_parser("start", help="serve the function app (Ctrl-C stops)")
    start.add_argument("--project-dir", type=Path, default=Path.cwd())
    start.add_argument("--app", default="function_app",
                       help="module name or .py file of the FunctionApp")
    start.add_argument("--port", type=int, default=None,
                       help="default: Host.LocalHttpPort or 7071; 0 picks a free port")
    start.add_argument("--workers", type=int, default=1,
                       help="worker processes polling the same queues (Azure's instances)")
    group = start.add_mutually_exclusive_group()
    group.add_argument("--azurite", dest="azurite", action="store_true", default=None,
                       help="start Azurite (default when AzureWebJobsStorage is "
                            "UseDevelopmentStorage=true)")
    group.add_argument("--no-azurite", dest="azurite", action="store_false")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s [host] %(levelname)s %(message)s")
    logredact.install()
    return Supervisor(args.project_dir, args.app, args.port, max(1, args.workers),
                      args.azurite).run()


if __name__ == "__main__":
    sys.exit(main())
