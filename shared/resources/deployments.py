"""Deployments under an endpoint: a model version, a no-code scoring configuration, settings.

Field names follow Azure ML's batch deployment YAML, so a user's `deployment.yml` carries
over; `code_configuration` is refused because no user code runs here.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from shared import config, names
from shared.errors import ConflictError, NotFoundError, ValidationError, scoring_rules
from shared.jobs.records import running_jobs
from shared.resources import endpoints, models
from shared.resources.settings import SETTING_KEYS, parse_deployment_settings
from shared.storage.clients import Storage
from shared.storage.documents import DocumentTable

_KNOWN = {"name", "endpoint_name", "description", "tags", "model", "scoring", "resources",
          "settings", "type", "$schema", "environment", "compute", "properties",
          "provisioning_state", "created_at", "updated_at", "id", *SETTING_KEYS}


def _table(storage: Storage) -> DocumentTable:
    return DocumentTable(storage.table(config.TABLE_DEPLOYMENTS))


def find(storage: Storage, endpoint: str, name: str) -> dict[str, Any] | None:
    return _table(storage).get(endpoint, name)


def get(storage: Storage, endpoint: str, name: str) -> dict[str, Any]:
    endpoints.get(storage, endpoint)
    doc = find(storage, endpoint, name)
    if doc is None:
        raise NotFoundError(f"deployment {name} not found under batch endpoint {endpoint}")
    return doc


def list_deployments(storage: Storage, endpoint: str) -> list[dict[str, Any]]:
    endpoints.get(storage, endpoint)
    return sorted(_table(storage).list(endpoint), key=lambda d: d["name"])


def create_or_update(
    storage: Storage, endpoint: str, name: str, body: dict[str, Any]
) -> dict[str, Any]:
    from scoring.config import parse_scoring_config
    from scoring.signature import ModelSignature

    endpoints.get(storage, endpoint)
    names.endpoint_or_deployment_name(name)
    if body.get("name", name) != name:
        raise ValidationError("name", f"does not match the deployment in the URL ('{name}')")
    if body.get("endpoint_name", endpoint) != endpoint:
        raise ValidationError("endpoint_name", f"does not match the URL ('{endpoint}')")
    if body.get("code_configuration") is not None:
        raise ValidationError(
            "code_configuration",
            "scoring scripts are not supported: no user code runs here; describe how files "
            "become tensors with a no-code `scoring` configuration (docs/scoring.md)")
    unknown = sorted(set(body) - _KNOWN - {"code_configuration"})
    if unknown:
        raise ValidationError(unknown[0], "is not a batch deployment field")
    if body.get("type", "model") != "model":
        raise ValidationError("type", "must be 'model' (pipeline deployments are not supported)")
    if "model" not in body:
        raise ValidationError("model", "is required")
    model = models.resolve_reference(storage, body["model"])
    signature = ModelSignature.from_dict(model["signature"])
    with scoring_rules():
        scoring = parse_scoring_config(body.get("scoring"), signature)
    settings = parse_deployment_settings(body)
    description = body.get("description") or ""
    tags = body.get("tags") or {}
    if not isinstance(description, str):
        raise ValidationError("description", "must be a string")
    if not isinstance(tags, dict):
        raise ValidationError("tags", "must be a map of strings to strings")
    existing = find(storage, endpoint, name)
    now = datetime.now(UTC).isoformat()
    settings_doc = settings.to_dict()
    instance_count = settings_doc.pop("instance_count")
    doc = {
        "name": name,
        "endpoint_name": endpoint,
        "type": "model",
        "description": description,
        "tags": tags,
        "model": model["id"],
        "model_name": model["name"],
        "model_version": model["version"],
        "scoring": scoring.to_dict(),
        "resources": {"instance_count": instance_count},
        "settings": settings_doc,
        "provisioning_state": "Succeeded",
        "created_at": existing["created_at"] if existing else now,
        "updated_at": now,
    }
    _table(storage).put(endpoint, name, doc)
    endpoints.set_default_if_none(storage, endpoint, name)
    return doc


def delete(storage: Storage, endpoint: str, name: str) -> None:
    ep = endpoints.get(storage, endpoint)
    get(storage, endpoint, name)
    if ep["defaults"].get("deployment_name") == name:
        raise ConflictError(
            f"deployment {name} is the default deployment of batch endpoint {endpoint}; "
            "set defaults.deployment_name to another deployment first, or delete the endpoint")
    refuse_while_running(running_jobs(storage, endpoint=endpoint, deployment=name),
                         f"deployment {endpoint}/{name}")
    _table(storage).delete(endpoint, name)


def refuse_while_running(jobs: list[str], what: str) -> None:
    """A running job reads its pinned deployment's model until it ends (docs/architecture.md)."""
    if jobs:
        raise ConflictError(f"{what} is used by running job(s) {', '.join(jobs)}; cancel them "
                            "or wait until they end")


def delete_all(storage: Storage, endpoint: str) -> list[str]:
    removed = []
    for doc in list(_table(storage).list(endpoint)):
        _table(storage).delete(endpoint, doc["name"])
        removed.append(doc["name"])
    return removed


def users_of_model(storage: Storage, name: str, version: str) -> list[str]:
    """`endpoint/deployment` names whose deployment uses this model version."""
    return [
        f"{d['endpoint_name']}/{d['name']}"
        for d in _table(storage).list()
        if d["model_name"] == name and d["model_version"] == version
    ]
