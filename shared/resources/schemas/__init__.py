"""Typed request and response documents of the HTTP API (pydantic v2).

One model per resource body; `parse` turns a body into a model or a `ValidationError` in
the project's "field: rule" form, plus the warnings for fields that mean nothing here.
The OpenAPI document (shared/resources/openapi.py) is generated from these models.
"""

from shared.resources.schemas.base import Parsed, parse

__all__ = ["Parsed", "parse"]
