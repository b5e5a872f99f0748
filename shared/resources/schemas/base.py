"""The strict base model, error translation and ignored-field warnings shared by every body.

Unknown fields are refused with their path and, where one is close, the field meant.
Fields that Azure ML documents carry but that mean nothing here are declared `ignored`:
accepted, and named in the response's `warnings`, never dropped silently.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import pydantic
from pydantic import BaseModel, ConfigDict, Field, RootModel
from pydantic.fields import FieldInfo

from shared.errors import ValidationError

M = TypeVar("M", bound=BaseModel)


class Strict(BaseModel):
    """Unknown keys are errors; NaN and infinities are not numbers."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, populate_by_name=True)


def ignored(reason: str, **kwargs: Any) -> Any:
    """A field accepted for compatibility whose value is not used; `reason` says why."""
    return Field(default=None, json_schema_extra={"x-ignored": reason},
                 description=f"Accepted and ignored: {reason}", **kwargs)


@dataclass(frozen=True)
class Parsed(Generic[M]):
    value: M
    warnings: list[str]


def parse(model: type[M], body: Any, where: str = "") -> Parsed[M]:
    """Validate `body` as `model`; the first problem becomes a ValidationError."""
    try:
        value = model.model_validate(body)
    except pydantic.ValidationError as e:
        raise _translate(model, e.errors(include_url=False), where) from None
    return Parsed(value, warnings_of(value, where))


def warnings_of(value: Any, where: str = "") -> list[str]:
    """`field: ignored: reason` for every ignored field the caller set, at any depth."""
    found: list[str] = []
    if isinstance(value, RootModel):
        return warnings_of(value.root, where)
    if isinstance(value, BaseModel):
        for name in sorted(value.model_fields_set):
            info = type(value).model_fields[name]
            path = _join(where, _wire_name(name, info))
            extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
            if "x-ignored" in extra:
                found.append(f"{path}: ignored: {extra['x-ignored']}")
            else:
                found += warnings_of(getattr(value, name), path)
    elif isinstance(value, dict):
        for key, item in value.items():
            found += warnings_of(item, _join(where, str(key)))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            found += warnings_of(item, f"{where}[{i}]")
    return found


def _wire_name(name: str, info: FieldInfo) -> str:
    """The name a caller sees: the alias, or the first of several accepted spellings."""
    choices = getattr(info.validation_alias, "choices", None)
    return str(choices[0]) if choices else info.alias or name


def _join(where: str, name: str) -> str:
    return f"{where}.{name}" if where else name


def _translate(model: type[BaseModel], errors: list[dict[str, Any]], where: str
               ) -> ValidationError:
    error = errors[0]
    loc = [p for p in error["loc"] if p not in _TAGS]
    key_error = bool(loc) and loc[-1] == "[key]"
    if key_error:
        loc = loc[:-1]
    field = where
    for part in loc:
        field = f"{field}[{part}]" if isinstance(part, int) else _join(field, str(part))
    field = field or "body"
    kind, ctx = error["type"], error.get("ctx") or {}
    if kind == "extra_forbidden":
        return ValidationError(field, "is not a known field" + _did_you_mean(model, loc))
    if kind == "union_tag_invalid":  # tags are "<type>-<union>"; "inferred" is no type
        tags = [t.strip(" '").split("-")[0] for t in str(ctx.get("expected_tags")).split(",")]
        return ValidationError(_join(field, "type"),
                               f"must be one of: {', '.join(t for t in tags if t != 'inferred')}")
    if kind in ("too_short", "too_long"):
        count = ctx.get("min_length", ctx.get("max_length"))
        text = (f"must have {'at least' if kind == 'too_short' else 'at most'} {count} "
                f"{'entry' if count == 1 else 'entries'}")
    else:
        rule = _RULES.get(kind)
        text = rule.format(**ctx) if rule else _lower_first(error["msg"])
    return ValidationError(field, f"key {text}" if key_error else text)


# Tags of callable-discriminated unions appear in error locations; they are not fields.
_TAGS = {"image-input", "tabular-input", "tensor-input", "inferred-input", "native-invoke",
         "rest-invoke"}

_RULES = {
    "missing": "is required",
    "string_type": "must be a string",
    "string_too_short": "must be at least {min_length} characters",
    "string_too_long": "must be at most {max_length} characters",
    "string_pattern_mismatch": "must match {pattern}",
    "int_type": "must be an integer",
    "int_parsing": "must be an integer",
    "int_from_float": "must be an integer",
    "float_type": "must be a number",
    "float_parsing": "must be a number",
    "finite_number": "must be a finite number",
    "bool_type": "must be true or false",
    "bool_parsing": "must be true or false",
    "dict_type": "must be an object",
    "model_type": "must be an object",
    "model_attributes_type": "must be an object",
    "list_type": "must be a list",
    "tuple_type": "must be a list",
    "greater_than_equal": "must be at least {ge}",
    "greater_than": "must be greater than {gt}",
    "less_than_equal": "must be at most {le}",
    "less_than": "must be less than {lt}",
    "literal_error": "must be one of: {expected}",
    "enum": "must be one of: {expected}",
    "url_parsing": "must be a URL",
    "url_scheme": "must be an {expected_schemes} URL",
    "none_required": "must be null",
}


def _lower_first(text: str) -> str:
    text = text.removeprefix("Value error, ")
    return text[:1].lower() + text[1:]


def _did_you_mean(model: type[BaseModel], loc: list[Any]) -> str:
    """Close field names at the unknown key's level, read off the model's JSON schema."""
    schema = model.model_json_schema(mode="validation")
    node: Any = schema
    for part in loc[:-1]:
        node = _child(schema, node, part)
        if node is None:
            return ""
    names = _names(schema, node)
    by_lower = {n.lower(): n for n in names}
    close = difflib.get_close_matches(str(loc[-1]).lower(), list(by_lower), n=1, cutoff=0.6)
    return f" (did you mean '{by_lower[close[0]]}'?)" if close else ""


def _resolve(schema: dict, node: Any) -> Any:
    while isinstance(node, dict) and "$ref" in node:
        node = schema["$defs"][node["$ref"].rsplit("/", 1)[-1]]
    return node


def _branches(schema: dict, node: Any) -> list[dict]:
    node = _resolve(schema, node)
    if not isinstance(node, dict):
        return []
    alternatives = node.get("anyOf") or node.get("oneOf") or node.get("allOf")
    if alternatives:
        return [b for alt in alternatives for b in _branches(schema, alt)]
    return [node]


def _child(schema: dict, node: Any, part: Any) -> Any:
    for branch in _branches(schema, node):
        if isinstance(part, int) and "items" in branch:
            return branch["items"]
        if part in branch.get("properties", {}):
            return branch["properties"][part]
        if isinstance(branch.get("additionalProperties"), dict):
            return branch["additionalProperties"]
    return None


def _names(schema: dict, node: Any) -> list[str]:
    return [n for b in _branches(schema, node) for n in b.get("properties", {})]
