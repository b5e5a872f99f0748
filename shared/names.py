"""Name rules users know from Azure ML, and the one text rule every path, prefix and name the
API takes obeys (`check_text`), checked before anything is stored or any storage call is made.

Every rule matches the whole value (`re.fullmatch`): `^...$` with `re.match` also accepts a
final newline before the `$`.
"""

from __future__ import annotations

import re
import unicodedata

from shared.errors import ValidationError

# batchEndpoint.schema.json / batchDeployment: 3-32 chars, letter first, no trailing hyphen.
_AML_NAME = re.compile(r"[a-zA-Z]([-a-zA-Z0-9]*[a-zA-Z0-9])?")
# Model names and versions: AML allows letters, digits, '-', '_', '.'; we keep them URL-safe.
_ASSET_NAME = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9\-_.]{0,254}")
_VERSION = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9\-_.]{0,63}")
# Job names end up in blob paths and table keys.
_JOB_NAME = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9\-_]{2,62}")
# Blob container names (datastores point at one).
_CONTAINER = re.compile(r"(?!.*--)[a-z0-9][a-z0-9-]{1,61}[a-z0-9]")
_FILE_NAME = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9\-_. ]{0,127}")
# Control characters (C0 with NUL, DEL, C1) and lone surrogates, which no storage name takes.
_REFUSED_CATEGORIES = ("Cc", "Cs")


def check_text(value: str, field: str) -> str:
    """`value` unless it holds a control character or a lone surrogate: such a path or name
    would otherwise reach storage (which refuses it only after its SDK's retries)."""
    for ch in value:
        if unicodedata.category(ch) in _REFUSED_CATEGORIES:
            raise ValidationError(field, f"must not contain control characters (found "
                                  f"U+{ord(ch):04X})")
    return value


def _matches(rule: re.Pattern[str], value: object, field: str) -> bool:
    return isinstance(value, str) and bool(rule.fullmatch(check_text(value, field)))


def endpoint_or_deployment_name(value: object, field: str = "name") -> str:
    if not _matches(_AML_NAME, value, field) or not 3 <= len(value) <= 32:
        raise ValidationError(
            field,
            "must be 3-32 characters, start with a letter, contain only letters, digits and "
            "'-', and not end with '-' (regex ^[a-zA-Z]([-a-zA-Z0-9]*[a-zA-Z0-9])?$)",
        )
    return value


def asset_name(value: object, field: str = "name") -> str:
    if not _matches(_ASSET_NAME, value, field):
        raise ValidationError(
            field, "must be 1-255 characters: letters, digits, '-', '_', '.', not starting "
            "with a symbol")
    return value


def version(value: object, field: str = "version") -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not _matches(_VERSION, value, field):
        raise ValidationError(field, "must be 1-64 characters: letters, digits, '-', '_', '.'")
    return value


def job_name(value: object, field: str = "job_name") -> str:
    if not _matches(_JOB_NAME, value, field):
        raise ValidationError(
            field, "must be 3-63 characters: letters, digits, '-', '_', starting with a letter "
            "or digit")
    return value


def container_name(value: object, field: str = "container_name") -> str:
    if not _matches(_CONTAINER, value, field):
        raise ValidationError(
            field, "must be a blob container name: 3-63 lowercase letters, digits and single "
            "hyphens, starting and ending with a letter or digit")
    return value


def output_file_name(value: object, field: str = "output_file_name") -> str:
    if not _matches(_FILE_NAME, value, field) or ".." in value:
        raise ValidationError(
            field, "must be a plain file name (no folders): up to 128 letters, digits, "
            "'-', '_', '.', ' '")
    return value
