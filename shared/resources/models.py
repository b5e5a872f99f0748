"""Registered models: name + version, immutable bytes in blob storage, sha256, signature.

A model is one ONNX file, or a folder (a zip): a `custom_model` folder (its one `.onnx`
file, if it has exactly one, is what no-code deployments score; scoring scripts get the
whole folder as AZUREML_MODEL_DIR) or an `mlflow_model` folder whose MLmodel has an `onnx`
flavor (scoring/mlmodel.py). Registration loads the ONNX file with ONNX Runtime once, so a
deployment can never point at something that is not a model; nothing is unpickled. Blobs
are stored under their sha256 (a folder's content hash), so two racing registrations of the
same name+version can never overwrite each other's bytes.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

from shared import config, names
from shared.errors import ConflictError, NotFoundError, ValidationError, scoring_rules
from shared.jobs.jobindex import running_jobs
from shared.resources import paging
from shared.resources.schemas.limits import check_stored_size
from shared.storage.clients import Storage
from shared.storage.documents import DocumentTable


def _table(storage: Storage) -> DocumentTable:
    return DocumentTable(storage.table(config.TABLE_MODELS), storage.rows)


def register(
    storage: Storage,
    name: str,
    version: str,
    data: bytes,
    *,
    description: str = "",
    tags: dict[str, str] | None = None,
    file_name: str | None = None,
    model_type: str = "custom_model",
    folder: bool = False,
) -> dict[str, Any]:
    """Validate and store a model version (ONNX bytes, or a folder's zip when `folder`);
    nothing is stored if any check fails."""
    from scoring.signature import read_signature  # onnxruntime: only where models are read

    names.asset_name(name)
    names.version(version)
    if not data:
        raise ValidationError("model", "is empty: send the ONNX file's bytes")
    if len(data) > config.MAX_MODEL_BLOB_BYTES:
        raise ValidationError("model", "is larger than 2 GB, the ONNX protobuf limit")
    table = _table(storage)
    if table.get(name, version) is not None:
        raise ConflictError(f"model {name}:{version} already exists; register a new version")
    layout: dict[str, Any] = {"file_name": file_name or "model.onnx"}
    with scoring_rules():
        if folder:
            sha256, layout, onnx = _folder(data, model_type)
            signature = read_signature(onnx) if onnx is not None else None
        elif model_type == "mlflow_model":
            raise ValidationError("type", "an mlflow_model is a folder: send it as a zip "
                                  "(the CLI and client: --path <the MLflow folder>)")
        else:
            signature = read_signature(data)
            sha256 = hashlib.sha256(data).hexdigest()
    blob_path = f"{name}/{version}/{sha256}.{'zip' if folder else 'onnx'}"
    storage.container(config.MODELS_CONTAINER).upload_blob(blob_path, data, overwrite=True)
    doc = {
        "name": name,
        "version": version,
        "id": f"azureml:{name}:{version}",
        "description": description or "",
        "tags": tags or {},
        "type": model_type,
        "format": "onnx" if signature is not None else "folder",
        "size_bytes": len(data),
        "sha256": sha256,
        "path": f"{config.MODELS_CONTAINER}/{blob_path}",
        **layout,
        "signature": signature.to_dict() if signature is not None else None,
        "created_at": datetime.now(UTC).isoformat(),
    }
    check_stored_size(doc, "model")
    table.create(name, version, doc, f"model {name}:{version}")
    return doc


def get(storage: Storage, name: str, version: str) -> dict[str, Any]:
    doc = _table(storage).get(name, version)
    if doc is None:
        raise NotFoundError(f"model {name}:{version} not found")
    return doc


def list_page(storage: Storage, page: paging.PageRequest, name: str | None = None
              ) -> paging.Page:
    """Models in (name, version) key order; with `name`, that model's versions."""
    table = storage.table(config.TABLE_MODELS)
    if name is None:
        return paging.documents(table, page, paging.ALL)
    return paging.documents(table, page, "PartitionKey eq @pk", {"pk": name})


def latest(storage: Storage, name: str) -> dict[str, Any]:
    docs = sorted(_table(storage).list(name), key=lambda d: _version_key(d["version"]))
    if not docs:
        raise NotFoundError(f"model {name} not found")
    return docs[-1]


def resolve_reference(storage: Storage, ref: object, field: str = "model") -> dict[str, Any]:
    """Resolve `azureml:name:version`, `name:version`, `name@latest` or {name, version}."""
    if isinstance(ref, dict):
        name = names.asset_name(ref.get("name"), f"{field}.name")
        version = ref.get("version")
        if version in (None, "latest"):
            return latest(storage, name)
        return get(storage, name, names.version(version, f"{field}.version"))
    if not isinstance(ref, str) or not ref:
        raise ValidationError(
            field, "must be 'azureml:<name>:<version>', '<name>:<version>', '<name>@latest' or "
            "{name, version}")
    text = ref.removeprefix("azureml:")
    if text.endswith("@latest"):
        return latest(storage, names.asset_name(text[: -len("@latest")], field))
    name, sep, version = text.rpartition(":")
    if not sep:
        raise ValidationError(field, f"'{ref}' names no version: use '{ref}:<version>' or "
                              f"'{ref}@latest'")
    return get(storage, names.asset_name(name, field), names.version(version, field))


def delete(storage: Storage, name: str, version: str, users: list[str]) -> None:
    """Delete a model version unless a deployment (listed in `users`) or a running job
    still uses it."""
    doc = get(storage, name, version)
    if users:
        raise ConflictError(
            f"model {name}:{version} is used by deployment(s) {', '.join(users)}; "
            "delete or update them first")
    jobs = running_jobs(storage, model_id=doc["id"])
    if jobs:
        raise ConflictError(f"model {name}:{version} is used by running job(s) "
                            f"{', '.join(jobs)}; cancel them or wait until they end")
    _table(storage).delete(name, version)
    container = storage.container(config.MODELS_CONTAINER)
    container.delete_blob(doc["path"].split("/", 1)[1], delete_snapshots="include")


def read_bytes(storage: Storage, model: dict[str, Any]) -> bytes:
    """The stored blob: the ONNX file, or a folder model's zip."""
    container, _, blob = model["path"].partition("/")
    return storage.container(container).download_blob(blob).readall()


def read_onnx(storage: Storage, model: dict[str, Any]) -> bytes:
    """The ONNX file no-code scoring loads (a folder model's `onnx_file`)."""
    from scoring.scorer import onnx_of

    return onnx_of(model, read_bytes(storage, model))


def _folder(data: bytes, model_type: str) -> tuple[str, dict[str, Any], bytes | None]:
    """(content hash, what the document records about the folder, its ONNX file's bytes)."""
    from scoring import mlmodel
    from scoring.folders import check_zip

    checked = check_zip(data, "model")
    layout: dict[str, Any] = {"layout": "folder", "files": list(checked.files[:200])}
    if model_type == "mlflow_model":
        flavor = mlmodel.read(data)
        onnx_file: str | None = flavor.onnx_file
        layout["mlflow"] = {**flavor.to_dict(), "scoring": flavor.default_scoring()}
    else:
        found = [f for f in checked.files if f.lower().endswith(".onnx")]
        onnx_file = found[0] if len(found) == 1 else None
    layout["onnx_file"] = onnx_file
    return checked.sha256, layout, mlmodel.member(data, onnx_file) if onnx_file else None


def _version_key(version: str) -> tuple:
    return tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in version.split("."))
