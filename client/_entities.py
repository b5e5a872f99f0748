"""Typed resources, shaped like azure-ai-ml's entities, that also load from Azure ML YAML.

Each entity keeps the fields it names plus `extra`: any other key of the document (a field
the service may answer with, or one of Azure ML's that means nothing here) is carried to the
service as it was written, so the service, not the client, decides what it accepts.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import yaml

E = TypeVar("E", bound="Resource")


class DocumentError(ValueError):
    """A YAML document that cannot be read: the message names the file, line and rule."""


@dataclass
class Resource:
    """Base of the entities: conversion to and from the service's JSON."""

    _READ_ONLY: ClassVar[frozenset[str]] = frozenset(
        {"id", "provisioning_state", "created_at", "updated_at", "warnings"})
    extra: dict[str, Any] = field(default_factory=dict, repr=False, kw_only=True)
    warnings: list[Any] = field(default_factory=list, repr=False, kw_only=True)

    @classmethod
    def _from_rest(cls: type[E], doc: dict[str, Any]) -> E:
        names = {f.name for f in dataclasses.fields(cls)} - {"extra"}
        known = {k: v for k, v in doc.items() if k in names}
        return cls(**known, extra={k: v for k, v in doc.items() if k not in names})

    def _to_dict(self) -> dict[str, Any]:
        """Everything known about the resource, as the service words it."""
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)
               if f.name not in ("extra", "warnings")}
        out = {k: v for k, v in out.items() if v is not None}
        return {**out, **self.extra}

    def _to_rest(self) -> dict[str, Any]:
        """What a create-or-update sends: the document minus what only the service sets."""
        return {k: v for k, v in self._to_dict().items() if k not in self._READ_ONLY}


class Defaults(dict):
    """An endpoint's `defaults`, a dict that also reads and sets its keys as attributes
    (`endpoint.defaults.deployment_name = "blue"`, as azure-ai-ml's BatchEndpointDefaults)."""

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return self.get(name)

    def __setattr__(self, name: str, value: Any) -> None:
        self[name] = value


@dataclass
class BatchEndpoint(Resource):
    name: str | None = None
    description: str | None = None
    tags: dict[str, str] | None = None
    auth_mode: str | None = None
    defaults: Defaults | None = None
    scoring_uri: str | None = None
    provisioning_state: str | None = None
    _READ_ONLY = Resource._READ_ONLY | {"scoring_uri", "incarnation"}

    def __post_init__(self) -> None:
        if isinstance(self.defaults, dict) and not isinstance(self.defaults, Defaults):
            self.defaults = Defaults(self.defaults)


@dataclass
class Input:
    """A job input, as azure-ai-ml's `Input`: a file input (`type` uri_folder or uri_file,
    `path`) or a literal (`type` number, integer, string or boolean, `default`: its value)."""

    type: str = "uri_folder"
    path: str | None = None
    default: Any = None
    mode: str | None = None
    description: str | None = None


@dataclass
class BatchDeployment(Resource):
    name: str | None = None
    endpoint_name: str | None = None
    description: str | None = None
    tags: dict[str, str] | None = None
    model: str | dict[str, Any] | None = None
    scoring: dict[str, Any] | None = None
    resources: dict[str, Any] | None = None
    settings: dict[str, Any] | None = None
    provisioning_state: str | None = None
    _READ_ONLY = Resource._READ_ONLY | {"model_name", "model_version"}


@dataclass
class Model(Resource):
    name: str | None = None
    version: str | None = None
    path: str | None = None
    description: str | None = None
    tags: dict[str, str] | None = None
    type: str | None = None
    sha256: str | None = None

    @property
    def id(self) -> str:
        return f"azureml:{self.name}:{self.version}"


@dataclass
class Data(Resource):
    """Azure ML's data asset (`azure.ai.ml.entities.Data`): a version naming where data is;
    a local `path` is uploaded on create, as `az ml data create` does."""

    name: str | None = None
    version: str | None = None
    type: str | None = None
    path: str | None = None
    description: str | None = None
    tags: dict[str, str] | None = None
    creation_context: dict[str, Any] | None = None
    _READ_ONLY = Resource._READ_ONLY | {"creation_context"}

    @property
    def id(self) -> str:
        return f"azureml:{self.name}:{self.version}"


@dataclass
class Datastore(Resource):
    """Azure ML's datastore YAML: `azure_blob` (container_name) or `azure_data_lake_gen2`
    (filesystem), on another account with `credentials` ({account_key} or {sas_token}:
    sent once, never answered) or none (the app's identity, or a public container)."""

    name: str | None = None
    type: str | None = None
    account_name: str | None = None
    container_name: str | None = None
    filesystem: str | None = None
    endpoint: str | None = None
    protocol: str | None = None
    credentials: dict[str, Any] | None = field(default=None, repr=False)
    description: str | None = None
    tags: dict[str, str] | None = None
    is_default: bool | None = None


@dataclass
class BatchJob(Resource):
    name: str | None = None
    status: str | None = None
    endpoint_name: str | None = None
    deployment_name: str | None = None
    model: str | None = None
    started_by: str | None = None
    inputs: dict[str, Any] | None = None
    outputs: dict[str, Any] | None = None
    progress: dict[str, Any] | None = None
    throughput: Any = None
    eta: Any = None
    error: dict[str, Any] | None = None
    started_at: str | None = None
    ended_at: str | None = None


def apply_overrides(doc: dict[str, Any], overrides: list[dict[str, Any]] | None
                    ) -> dict[str, Any]:
    """`params_override=[{"a.b": value}]`, what `--set a.b=value` becomes in `az ml`."""
    for override in overrides or []:
        for dotted, value in override.items():
            target = doc
            *parents, leaf = dotted.split(".")
            for part in parents:
                child = target.get(part)
                if not isinstance(child, dict):
                    child = target[part] = {}
                target = child
            target[leaf] = value
    return doc


def read_yaml(source: str | Path) -> dict[str, Any]:
    """A YAML mapping from a file; every way it can be wrong is a `DocumentError`."""
    path = Path(source)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DocumentError(f"{path}: no such file") from None
    except (IsADirectoryError, PermissionError, UnicodeDecodeError) as e:
        raise DocumentError(f"{path}: cannot be read ({e.__class__.__name__})") from None
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f":{mark.line + 1}:{mark.column + 1}" if mark else ""
        problem = getattr(e, "problem", None) or str(e)
        raise DocumentError(f"{path}{where}: invalid YAML: {problem}") from None
    if doc is None:
        return {}
    if not isinstance(doc, dict):
        raise DocumentError(f"{path}: expected a YAML mapping of fields, got a "
                            f"{type(doc).__name__}")
    return doc


def _load(cls: type[E], source: str | Path | None, relative_origin: str | Path | None,
          params_override: list[dict[str, Any]] | None) -> E:
    doc = read_yaml(source) if source is not None else {}
    entity = cls._from_rest(apply_overrides(doc, params_override))
    origin = Path(relative_origin) if relative_origin else (
        Path(source).parent if source is not None else Path.cwd())
    _resolve_local_paths(entity, origin)
    return entity


def _resolve_local_paths(entity: Resource, origin: Path) -> None:
    """A model's or data asset's local `path:`, a `code_configuration.code` folder and an
    `environment.conda_file` in a document are relative to the document's folder, as in Azure
    ML; the conda file is read here and sent as its content."""
    if isinstance(entity, BatchDeployment):
        code = entity.extra.get("code_configuration")
        if isinstance(code, dict) and _local(code.get("code")):
            code["code"] = str((origin / code["code"]).resolve())
        environment = entity.extra.get("environment")
        if isinstance(environment, dict) and _local(environment.get("conda_file")):
            environment["conda_file"] = read_yaml(origin / environment["conda_file"])
    holder = entity.model if isinstance(entity, BatchDeployment) else entity
    if isinstance(holder, dict):
        path = holder.get("path")
        if isinstance(path, str) and "://" not in path:
            holder["path"] = str((origin / path).resolve())
    elif isinstance(holder, Model | Data) and holder.path and "://" not in holder.path \
            and (origin / holder.path).exists():
        holder.path = str((origin / holder.path).resolve())


def _local(path: object) -> bool:
    return isinstance(path, str) and "://" not in path and not path.startswith("azureml:")


def load_batch_endpoint(source: str | Path | None = None, *, relative_origin: str | None = None,
                        params_override: list[dict[str, Any]] | None = None) -> BatchEndpoint:
    """An endpoint from an Azure ML `endpoint.yml` (like `azure.ai.ml.load_batch_endpoint`)."""
    return _load(BatchEndpoint, source, relative_origin, params_override)


def load_batch_deployment(source: str | Path | None = None, *,
                          relative_origin: str | None = None,
                          params_override: list[dict[str, Any]] | None = None
                          ) -> BatchDeployment:
    """A deployment from an Azure ML `deployment.yml`: a no-code `scoring` block, or a
    `code_configuration` (its local `code` folder is uploaded by `begin_create_or_update`)
    with an `environment` (a local `conda_file` is read here)."""
    return _load(BatchDeployment, source, relative_origin, params_override)


def load_data(source: str | Path | None = None, *, relative_origin: str | None = None,
              params_override: list[dict[str, Any]] | None = None) -> Data:
    """A data asset from an Azure ML `data.yml` (like `azure.ai.ml.load_data`); a local
    `path:` is relative to the document's folder."""
    return _load(Data, source, relative_origin, params_override)


def load_datastore(source: str | Path | None = None, *, relative_origin: str | None = None,
                   params_override: list[dict[str, Any]] | None = None) -> Datastore:
    """A datastore from an Azure ML `datastore.yml` (like `azure.ai.ml.load_datastore`)."""
    return _load(Datastore, source, relative_origin, params_override)


def load_model(source: str | Path | None = None, *, relative_origin: str | None = None,
               params_override: list[dict[str, Any]] | None = None) -> Model:
    """A model from an Azure ML `model.yml` (`name`, `version`, `path`, ...)."""
    return _load(Model, source, relative_origin, params_override)
