"""Deployments under an endpoint: a model version, and either a no-code scoring
configuration or a scoring script (`code_configuration`, an uploaded code version, with its
`environment` checked against the app's own packages), and settings.

Field names follow Azure ML's batch deployment YAML, so a user's `deployment.yml` carries
over (shared/resources/schemas/resources.py); fields that mean nothing here, such as
`compute` or `environment.image`, are accepted and named in the response's warnings.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from shared import config, names
from shared.errors import ConflictError, NotFoundError, ValidationError, scoring_rules
from shared.jobs.jobindex import running_jobs
from shared.resources import codes, endpoints, environments, models, paging
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
    settings_doc = spec.resolved_settings().to_dict()
    warnings = list(parsed.warnings)
    code = None
    if spec.code_configuration is not None:
        code = _code(storage, spec)
        warnings += environments.check(spec.environment)
        check_batching(settings_doc["mini_batch_size"], False, "settings.mini_batch_size")
        _check_init(storage, model, code, settings_doc)  # the costly check comes last
        scoring_doc = None
    else:
        if spec.environment is not None:
            warnings.append("environment: ignored: no-code deployments run on the service's "
                            "ONNX Runtime; an environment is for scoring scripts")
        if model["signature"] is None:
            raise ValidationError("model", f"{model['id']} is a folder without exactly one ONNX "
                                  "file: deploy it with a scoring script (code_configuration)")
        signature = ModelSignature.from_dict(model["signature"])
        given = spec.scoring.to_config() if spec.scoring else (  # an MLflow signature's
            model.get("mlflow") or {}).get("scoring")              # columns, if it has some
        with scoring_rules():
            scoring = parse_scoring_config(given, signature)
        check_batching(settings_doc["mini_batch_size"], scoring.input.type == "tabular",
                       "settings.mini_batch_size")
        _check_against_model(storage, model, signature, scoring,  # the costly check last
                             int(settings_doc["max_concurrency_per_instance"]))
        scoring_doc = scoring.to_dict()
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
        "scoring": scoring_doc,
        **({"code_configuration": code,
            "environment": spec.model_dump(include={"environment"}, exclude_none=True,
                                           mode="json").get("environment")} if code else {}),
        "resources": {"instance_count": instance_count},
        "settings": settings_doc,
        "provisioning_state": "Succeeded",
        "created_at": existing["created_at"] if existing else now,
        "updated_at": now,
    }
    check_stored_size(doc, "body")
    new_etag = _table(storage).put(endpoint, name, doc, condition, what)
    endpoints.set_default_if_none(storage, endpoint, name)
    return Parsed(doc, sorted(warnings)), new_etag


def runs_code(body: object, existing: dict[str, Any] | None) -> bool:
    """Whether a create or update touches a scoring-script deployment (deployers only)."""
    sends = isinstance(body, dict) and body.get("code_configuration") is not None
    return sends or bool(existing and existing.get("code_configuration"))


def _code(storage: Storage, spec: DeploymentBody) -> dict[str, Any]:
    """The code version and script a deployment runs, checked to exist."""
    given = spec.code_configuration
    if spec.scoring is not None:
        raise ValidationError("scoring", "a deployment runs a scoring script "
                              "(code_configuration) or a no-code scoring section, not both")
    code = codes.resolve(storage, given.code, "code_configuration.code")
    if given.scoring_script not in code["files"]:
        raise ValidationError("code_configuration.scoring_script",
                              f"'{given.scoring_script}' is not in code {code['id']} "
                              f"(it holds {', '.join(code['files'][:10])})")
    return {"code": code["id"], "scoring_script": given.scoring_script,
            "sha256": code["sha256"]}


def _check_init(storage: Storage, model: dict[str, Any], code: dict[str, Any],
                settings_doc: dict[str, Any]) -> None:
    """The script imported and its init() run once, in a process of its own that is then
    stopped: a script that cannot start is a 400 now, not a job whose every mini-batch
    fails. Bounded by retry_settings.timeout, as a mini-batch's init() is."""
    from scoring.errors import MiniBatchTimeoutError, ScriptError
    from scoring.scorer import for_snapshot

    timeout = settings_doc["retry_settings"]["timeout"]
    scorer = for_snapshot({"model": model, "code": code},
                          lambda: models.read_bytes(storage, model),
                          lambda: codes.read_bytes(storage, code["sha256"]), 1,
                          settings_doc["environment_variables"], settings_doc["logging_level"])
    try:
        with scoring_rules():
            scorer.check_init(time.monotonic() + timeout)
    except ScriptError as e:
        where = [line.strip() for line in e.traceback.splitlines() if line.strip()][-3:]
        raise ValidationError("code_configuration.scoring_script",
                              f"{code['scoring_script']}: {e}"
                              + (f" ({' / '.join(where[:-1])})" if len(where) > 1 else "")
                              ) from None
    except MiniBatchTimeoutError:
        raise ValidationError("code_configuration.scoring_script",
                              f"{code['scoring_script']}: init() ran past "
                              f"retry_settings.timeout ({timeout} s)") from None


def users_of_code(storage: Storage, code_id: str) -> list[str]:
    """`endpoint/deployment` names whose deployment runs this code version."""
    return [f"{d['endpoint_name']}/{d['name']}" for d in _table(storage).list()
            if (d.get("code_configuration") or {}).get("code") == code_id]


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

    session = get_session(model["sha256"], lambda: models.read_onnx(storage, model),
                          concurrency)
    try:
        check_config_against_model(scoring, signature, session)
    except ModelMismatchError as e:
        raise ValidationError(e.field, e.rule) from None
