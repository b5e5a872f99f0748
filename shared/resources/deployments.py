"""Deployments under an endpoint: a model version, a no-code scoring configuration, settings.

Field names follow Azure ML's batch deployment YAML, so a user's `deployment.yml` carries
over (shared/resources/schemas/resources.py); fields that mean nothing here, such as
`code_configuration` or `environment`, are accepted and named in the response's warnings.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from shared import config, names
from shared.errors import ConflictError, NotFoundError, ValidationError, scoring_rules
from shared.jobs.jobindex import running_jobs
from shared.resources import endpoints, models, paging
from shared.resources.schemas import Parsed, parse
from shared.resources.schemas.limits import check_stored_size
from shared.resources.schemas.resources import DeploymentBody
from shared.resources.settings import check_batching
from shared.storage.clients import Storage
from shared.storage.documents import DocumentTable, Precondition


def _table(storage: Storage) -> DocumentTable:
    return DocumentTable(storage.table(config.TABLE_DEPLOYMENTS), storage.rows)


def find(storage: Storage, endpoint: str, name: str) -> dict[str, Any] | None:
    return _table(storage).get(endpoint, name)


def get(storage: Storage, endpoint: str, name: str) -> dict[str, Any]:
    return get_versioned(storage, endpoint, name)[0]


def get_versioned(storage: Storage, endpoint: str, name: str) -> tuple[dict[str, Any], str]:
    """The deployment and its ETag."""
    endpoints.get(storage, endpoint)
    found = _table(storage).get_versioned(endpoint, name)
    if found is None:
        raise NotFoundError(f"deployment {name} not found under batch endpoint {endpoint}")
    return found


def list_page(storage: Storage, endpoint: str, page: paging.PageRequest) -> paging.Page:
    endpoints.get(storage, endpoint)
    return paging.documents(storage.table(config.TABLE_DEPLOYMENTS), page,
                            "PartitionKey eq @pk", {"pk": endpoint})


def create_or_update(
    storage: Storage, endpoint: str, name: str, body: object,
    condition: Precondition = Precondition()
) -> tuple[Parsed[dict[str, Any]], str]:
    """Create or replace the deployment under the request's If-None-Match / If-Match;
    returns the document and its new ETag."""
    from scoring.config import parse_scoring_config
    from scoring.signature import ModelSignature

    endpoints.get(storage, endpoint)
    names.endpoint_or_deployment_name(name)
    what = f"deployment {name} of batch endpoint {endpoint}"
    existing, etag = _table(storage).get_versioned(endpoint, name) or (None, None)
    condition.check(etag, what)
    parsed = parse(DeploymentBody, body)
    spec = parsed.value
    if spec.name not in (None, name):
        raise ValidationError("name", f"does not match the deployment in the URL ('{name}')")
    if spec.endpoint_name not in (None, endpoint):
        raise ValidationError("endpoint_name", f"does not match the URL ('{endpoint}')")
    reference = spec.model if isinstance(spec.model, str) else spec.model.model_dump(
        include={"name", "version"})
    model = models.resolve_reference(storage, reference)
    signature = ModelSignature.from_dict(model["signature"])
    with scoring_rules():
        scoring = parse_scoring_config(spec.scoring.to_config() if spec.scoring else None,
                                       signature)
    settings_doc = spec.resolved_settings().to_dict()
    check_batching(settings_doc["mini_batch_size"], scoring.input.type == "tabular",
                   "settings.mini_batch_size")
    _check_against_model(storage, model, signature, scoring,  # the costly check comes last
                         int(settings_doc["max_concurrency_per_instance"]))
    now = datetime.now(UTC).isoformat()
    instance_count = settings_doc.pop("instance_count")
    doc = {
        "name": name,
        "endpoint_name": endpoint,
        "type": "model",
        "description": spec.description or "",
        "tags": spec.tags or {},
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
    check_stored_size(doc, "body")
    new_etag = _table(storage).put(endpoint, name, doc, condition, what)
    endpoints.set_default_if_none(storage, endpoint, name)
    return Parsed(doc, parsed.warnings), new_etag


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
    """Delete every deployment of `endpoint`, refused (409) while any of them runs a job."""
    refuse_while_running(running_jobs(storage, endpoint=endpoint),
                         f"batch endpoint {endpoint} (its deployments)")
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


def _check_against_model(storage: Storage, model: dict[str, Any], signature: Any,
                         scoring: Any, concurrency: int) -> None:
    """A synthetic item through the model's session (scoring/check.py): a configuration
    that cannot score is a 400 now, not a job whose every item fails. The session is the
    one the deployment's jobs will use (sized for its max_concurrency_per_instance)."""
    from scoring.check import ModelMismatchError, check_config_against_model
    from scoring.sessions import get_session

    session = get_session(model["sha256"], lambda: models.read_bytes(storage, model),
                          concurrency)
    try:
        check_config_against_model(scoring, signature, session)
    except ModelMismatchError as e:
        raise ValidationError(e.field, e.rule) from None
