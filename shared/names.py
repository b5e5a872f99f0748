"""Name rules users know from Azure ML, checked before anything is stored."""

from __future__ import annotations

import re

from shared.errors import ValidationError

# batchEndpoint.schema.json / batchDeployment: 3-32 chars, letter first, no trailing hyphen.
_AML_NAME = re.compile(r"^[a-zA-Z]([-a-zA-Z0-9]*[a-zA-Z0-9])?$")
# Model names and versions: AML allows letters, digits, '-', '_', '.'; we keep them URL-safe.
_ASSET_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9\-_.]{0,254}$")
_VERSION = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9\-_.]{0,63}$")
# Job names end up in blob paths and table keys.
_JOB_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9\-_]{2,62}$")
# Blob container names (datastores point at one).
_CONTAINER = re.compile(r"^(?!.*--)[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$")
_FILE_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9\-_. ]{0,127}$")


def endpoint_or_deployment_name(value: object, field: str = "name") -> str:
    if not isinstance(value, str) or not (3 <= len(value) <= 32) or not _AML_NAME.match(value):
        raise ValidationError(
            field,
            "must be 3-32 characters, start with a letter, contain only letters, digits and "
            "'-', and not end with '-' (regex ^[a-zA-Z]([-a-zA-Z0-9]*[a-zA-Z0-9])?$)",
        )
    return value


def asset_name(value: object, field: str = "name") -> str:
    if not isinstance(value, str) or not _ASSET_NAME.match(value):
        raise ValidationError(
            field, "must be 1-255 characters: letters, digits, '-', '_', '.', not starting "
            "with a symbol")
    return value


def version(value: object, field: str = "version") -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not _VERSION.match(value):
        raise ValidationError(field, "must be 1-64 characters: letters, digits, '-', '_', '.'")
    return value


def job_name(value: object, field: str = "job_name") -> str:
    if not isinstance(value, str) or not _JOB_NAME.match(value):
        raise ValidationError(
            field, "must be 3-63 characters: letters, digits, '-', '_', starting with a letter "
            "or digit")
    return value


def container_name(value: object, field: str = "container_name") -> str:
    if not isinstance(value, str) or not _CONTAINER.match(value):
        raise ValidationError(
            field, "must be a blob container name: 3-63 lowercase letters, digits and single "
            "hyphens, starting and ending with a letter or digit")
    return value


def output_file_name(value: object, field: str = "output_file_name") -> str:
    if not isinstance(value, str) or not _FILE_NAME.match(value) or ".." in value:
        raise ValidationError(
            field, "must be a plain file name (no folders): up to 128 letters, digits, "
            "'-', '_', '.', ' '")
    return value
