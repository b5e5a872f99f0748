"""Batch endpoints: a stable name and a default deployment (Azure ML's endpoint schema).

Rules users rely on: at most one default deployment; a default deployment cannot be
deleted; deleting an endpoint deletes its deployments but keeps its jobs and outputs.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from shared import config, names
from shared.errors import NotFoundError, ValidationError
from shared.resources import paging, webhooks
from shared.resources.schemas import Parsed, parse
from shared.resources.schemas.limits import check_stored_size
from shared.resources.schemas.resources import EndpointBody
from shared.storage.clients import Storage
from shared.storage.documents import DocumentTable, Precondition

_PARTITION = "endpoint"
AUTH_MODES = ("key", "aad_token")


def _table(storage: Storage) -> DocumentTable:
    return DocumentTable(storage.table(config.TABLE_ENDPOINTS), storage.rows)


def get(storage: Storage, name: str) -> dict[str, Any]:
    return get_versioned(storage, name)[0]


def get_versioned(storage: Storage, name: str) -> tuple[dict[str, Any], str]:
    """The endpoint and its ETag."""
    found = _table(storage).get_versioned(_PARTITION, name)
    if found is None:
        raise NotFoundError(f"batch endpoint {name} not found")
    return found


def list_page(storage: Storage, page: paging.PageRequest) -> paging.Page:
    return paging.documents(storage.table(config.TABLE_ENDPOINTS), page,
                            "PartitionKey eq @pk", {"pk": _PARTITION})


def create_or_update(storage: Storage, name: str, body: object,
                     condition: Precondition = Precondition()
                     ) -> tuple[Parsed[dict[str, Any]], str]:
    """Create the endpoint or update it (fields left out keep their values), under the
    request's If-None-Match / If-Match; `defaults.deployment_name` must name a deployment.
    Returns the document and its new ETag."""
    from shared.resources import deployments

    names.endpoint_or_deployment_name(name)
    parsed = parse(EndpointBody, body)
    spec = parsed.value
    if spec.name not in (None, name):
        raise ValidationError("name", f"does not match the endpoint in the URL ('{name}')")
    what = f"batch endpoint {name}"
    existing, etag = _table(storage).get_versioned(_PARTITION, name) or ({}, None)
    condition.check(etag, what)
    given = spec.model_dump(include=spec.model_fields_set)
    description = given.get("description", existing.get("description", "")) or ""
    tags = given.get("tags", existing.get("tags", {})) or {}
    auth_mode = given.get("auth_mode") or existing.get("auth_mode", "key")
    defaults = given.get("defaults", existing.get("defaults", {})) or {}
    default = defaults.get("deployment_name")
    if default:
        names.endpoint_or_deployment_name(default, "defaults.deployment_name")
        if deployments.find(storage, name, default) is None:
            raise ValidationError(
                "defaults.deployment_name",
                f"deployment '{default}' does not exist under endpoint '{name}'")
    notifications = existing.get("notifications") or {}
    if "notifications" in given:  # checked when set, so an update elsewhere needs no DNS
        url = (given["notifications"] or {}).get("webhook_url")
        notifications = {"webhook_url": webhooks.check_url(url)} if url else {}
    now = datetime.now(UTC).isoformat()
    doc = {
        "name": name,
        "type": "batch_endpoint",
        "description": description,
        "tags": tags,
        "auth_mode": auth_mode,
        "defaults": {"deployment_name": default or None},
        "notifications": notifications,
        "provisioning_state": "Succeeded",
        # Jobs belong to an incarnation: one re-created under a deleted one's name starts
        # with no jobs (endpoints from before incarnations keep "", as their jobs do).
        "incarnation": existing.get("incarnation", "") if existing else uuid.uuid4().hex,
        "created_at": existing.get("created_at", now),
        "updated_at": now,
    }
    check_stored_size(doc, "body")
    new_etag = _table(storage).put(_PARTITION, name, doc, condition, what)
    return Parsed(doc, parsed.warnings), new_etag


def set_default_if_none(storage: Storage, name: str, deployment: str) -> None:
    """Azure ML makes an endpoint's first deployment its default."""
    doc = get(storage, name)
    if not doc["defaults"].get("deployment_name"):
        doc["defaults"] = {"deployment_name": deployment}
        doc["updated_at"] = datetime.now(UTC).isoformat()
        _table(storage).put(_PARTITION, name, doc)


def delete(storage: Storage, name: str) -> list[str]:
    """Delete the endpoint and its deployments; jobs and their outputs stay. Refused (409)
    while a job of the endpoint has not ended: it reads its deployment until then."""
    from shared.resources import deployments

    get(storage, name)
    removed = deployments.delete_all(storage, name)
    _table(storage).delete(_PARTITION, name)
    return removed
