"""`-o json|yaml|table|tsv` and `--query` (JMESPath), as the az CLI prints results."""

from __future__ import annotations

import json
import sys
from typing import Any

import click
import jmespath
import yaml
from azure.core.paging import ItemPaged

from client._entities import (
    BatchDeployment,
    BatchEndpoint,
    BatchJob,
    Data,
    Datastore,
    Model,
    Resource,
)

FORMATS = ("json", "yaml", "table", "tsv")
# `-o table` shows a few columns per resource, as az ml's tables do (JMESPath into the JSON);
# -o json/yaml shows everything, --query picks any field.
COLUMNS: dict[type, tuple[tuple[str, str], ...]] = {
    BatchEndpoint: (("Name", "name"), ("Default deployment", "defaults.deployment_name"),
                    ("Auth mode", "auth_mode"), ("Provisioning state", "provisioning_state"),
                    ("Description", "description")),
    BatchDeployment: (("Name", "name"), ("Endpoint", "endpoint_name"), ("Model", "model"),
                      ("Instance count", "resources.instance_count"),
                      ("Mini batch size", "settings.mini_batch_size"),
                      ("Provisioning state", "provisioning_state")),
    BatchJob: (("Name", "name"), ("Status", "status"), ("Endpoint", "endpoint_name"),
               ("Deployment", "deployment_name"), ("Created", "creation_context.created_at"),
               ("Succeeded", "progress.items.succeeded"), ("Failed", "progress.items.failed"),
               ("Canceled", "progress.items.canceled")),
    Model: (("Name", "name"), ("Version", "version"), ("Type", "type"),
            ("Description", "description")),
    Datastore: (("Name", "name"), ("Type", "type"), ("Account", "account_name"),
                ("Container", "container_name || filesystem"), ("Default", "is_default")),
    Data: (("Name", "name"), ("Version", "version"), ("Type", "type"), ("Path", "path"),
           ("Created", "creation_context.created_at")),
}


def plain(value: Any) -> Any:
    """Entities, pagers and lists as plain JSON values."""
    if isinstance(value, Resource):
        return plain(value._to_dict())
    if isinstance(value, ItemPaged | list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    return value


def _scalar(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


def _rows(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _tsv(value: Any) -> str:
    lines = []
    for row in _rows(value):
        if isinstance(row, dict):
            cells = [v for v in row.values() if not isinstance(v, dict | list)]
            lines.append("\t".join(_scalar(v) for v in cells))
        elif isinstance(row, list):
            lines.append("\t".join(_scalar(v) for v in row))
        else:
            lines.append(_scalar(row))
    return "\n".join(lines)


def _table(value: Any) -> str:
    rows = _rows(value)
    if not rows:
        return ""
    if not all(isinstance(r, dict) for r in rows):
        return "\n".join(_scalar(r) for r in rows)
    columns: list[str] = []
    for row in rows:
        columns += [k for k, v in row.items()
                    if k not in columns and not isinstance(v, dict | list)]
    cells = [[_scalar(r.get(c)) for c in columns] for r in rows]
    heads = [c.replace("_", " ").title() for c in columns]
    widths = [max(len(h), *(len(r[i]) for r in cells)) for i, h in enumerate(heads)]

    def line(items: list[str]) -> str:
        return "  ".join(s.ljust(w) for s, w in zip(items, widths, strict=True)).rstrip()

    return "\n".join([line(heads), line(["-" * w for w in widths]), *map(line, cells)])


def _columns(result: Any) -> tuple[tuple[str, str], ...] | None:
    first = result[0] if isinstance(result, list) and result else result
    return COLUMNS.get(type(first))


def emit(result: Any, output: str, query: str | None) -> None:
    if isinstance(result, ItemPaged | tuple):
        result = list(result)
    columns = _columns(result) if output == "table" and not query else None
    value = plain(result)
    if columns:
        value = [{head: jmespath.search(path, row) for head, path in columns}
                 for row in _rows(value)]
    if query:
        try:
            value = jmespath.search(query, value)
        except jmespath.exceptions.JMESPathError as e:
            raise click.UsageError(f"--query: {e}") from None
    if output == "json":
        text = json.dumps(value, indent=2)
    elif output == "yaml":
        text = yaml.safe_dump(value, sort_keys=False).rstrip()
    elif output == "tsv":
        text = _tsv(value)
    else:
        text = _table(value)
    if text:
        click.echo(text, file=sys.stdout)
