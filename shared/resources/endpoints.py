"""Batch endpoints: a stable name and a default deployment (Azure ML's endpoint schema).

Rules users rely on: at most one default deployment; a default deployment cannot be
deleted; deleting an endpoint deletes its deployments but keeps its jobs and outputs.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from shared import config, names
from shared.errors import NotFoundError, ValidationError
from shared.storage.clients import Storage
from shared.storage.documents import DocumentTable

_PARTITION = "endpoint"
AUTH_MODES = ("key", "aad_token")
_KNOWN = {"name", "description", "tags", "auth_mode", "defaults", "notifications", "$schema",
          "properties",
          "type", "scoring_uri", "provisioning_state", "created_at", "updated_at", "id"}


def _table(storage: Storage) -> DocumentTable:
    return DocumentTable(storage.table(config.TABLE_ENDPOINTS))


def get(storage: Storage, name: str) -> dict[str, Any]:
    doc = _table(storage).get(_PARTITION, name)
    if doc is None:
        raise NotFoundError(f"batch endpoint {name} not found")
    return doc


def list_endpoints(storage: Storage) -> list[dict[str, Any]]:
    return sorted(_table(storage).list(_PARTITION), key=lambda d: d["name"])


def create_or_update(storage: Storage, name: str, body: dict[str, Any]) -> dict[str, Any]:
    """Create the endpoint or update it; `defaults.deployment_name` must name a deployment."""
    from shared.resources import deployments

    names.endpoint_or_deployment_name(name)
    if body.get("name", name) != name:
        raise ValidationError("name", f"does not match the endpoint in the URL ('{name}')")
    unknown = sorted(set(body) - _KNOWN)
    if unknown:
        raise ValidationError(unknown[0], "is not a batch endpoint field")
    existing = _table(storage).get(_PARTITION, name)
    description = body.get("description", existing["description"] if existing else "")
    if not isinstance(description, str):
        raise ValidationError("description", "must be a string")
    tags = body.get("tags", existing["tags"] if existing else {})
    if not isinstance(tags, dict) or not all(isinstance(v, str) for v in tags.values()):
        raise ValidationError("tags", "must be a map of strings to strings")
    auth_mode = body.get("auth_mode", existing["auth_mode"] if existing else "key")
    if auth_mode not in AUTH_MODES:
        raise ValidationError("auth_mode", f"must be one of: {', '.join(AUTH_MODES)}")
    defaults = body.get("defaults", existing["defaults"] if existing else {}) or {}
    if not isinstance(defaults, dict) or set(defaults) - {"deployment_name"}:
        raise ValidationError("defaults", "must be an object with only deployment_name")
    default = defaults.get("deployment_name")
    if default:
        names.endpoint_or_deployment_name(default, "defaults.deployment_name")
        if deployments.find(storage, name, default) is None:
            raise ValidationError(
                "defaults.deployment_name",
                f"deployment '{default}' does not exist under endpoint '{name}'")
    notifications = _notifications(
        body.get("notifications", existing.get("notifications") if existing else None))
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
        "created_at": existing["created_at"] if existing else now,
        "updated_at": now,
    }
    _table(storage).put(_PARTITION, name, doc)
    return doc


def _notifications(value: object) -> dict[str, Any]:
    """`notifications.webhook_url`: where job-ended CloudEvents are POSTed (optional)."""
    if value in (None, {}):
        return {}
    if not isinstance(value, dict) or set(value) - {"webhook_url"}:
        raise ValidationError("notifications", "must be an object with only webhook_url")
    url = value.get("webhook_url")
    if url in (None, ""):
        return {}
    parsed = urlsplit(url) if isinstance(url, str) else None
    if parsed is None or parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise ValidationError("notifications.webhook_url", "must be an http(s) URL")
    return {"webhook_url": url}


def set_default_if_none(storage: Storage, name: str, deployment: str) -> None:
    """Azure ML makes an endpoint's first deployment its default."""
    doc = get(storage, name)
    if not doc["defaults"].get("deployment_name"):
        doc["defaults"] = {"deployment_name": deployment}
        doc["updated_at"] = datetime.now(UTC).isoformat()
        _table(storage).put(_PARTITION, name, doc)


def delete(storage: Storage, name: str) -> list[str]:
    """Delete the endpoint and its deployments; jobs and their outputs stay."""
    from shared.resources import deployments

    get(storage, name)
    removed = deployments.delete_all(storage, name)
    _table(storage).delete(_PARTITION, name)
    return removed
