"""Route templates as the Functions host (ASP.NET routing) reads them.

`{id}`, `{id:int}`, `{id?}`, `{*rest}`, several constraints (`{n:int:min(1)}`), and segments
that mix text and parameters (`{name}.{ext}`). Literal text matches case-insensitively, as in
ASP.NET; values arrive as strings. A value that fails its constraint means "no match" (404).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

_PARAM = re.compile(r"\{(\*{1,2})?([A-Za-z_][A-Za-z0-9_]*)((?::[^:{}?=]+(?:\([^)]*\))?)*)"
                    r"(\?)?(?:=([^}]*))?\}")
_CONSTRAINT = re.compile(r":([a-z]+)(?:\(([^)]*)\))?")


def _number(kind: type) -> Callable[[str], bool]:
    def check(value: str) -> bool:
        try:
            kind(value)
        except ValueError:
            return False
        return True

    return check


def _guid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def _datetime(value: str) -> bool:
    try:
        datetime.fromisoformat(value)
    except ValueError:
        return False
    return True


_SIMPLE: dict[str, Callable[[str], bool]] = {
    "int": lambda v: bool(re.fullmatch(r"[+-]?\d+", v)) and -2**31 <= int(v) < 2**31,
    "long": lambda v: bool(re.fullmatch(r"[+-]?\d+", v)) and -2**63 <= int(v) < 2**63,
    "float": _number(float), "double": _number(float), "decimal": _number(float),
    "bool": lambda v: v.lower() in ("true", "false"),
    "alpha": lambda v: bool(re.fullmatch(r"[A-Za-z]+", v)),
    "guid": _guid, "datetime": _datetime,
}


def _constraint(name: str, arg: str | None) -> Callable[[str], bool]:
    if arg is None and name in _SIMPLE:
        return _SIMPLE[name]
    if arg is not None:
        args = [a.strip() for a in arg.split(",")]
        is_int = _SIMPLE["long"]
        if name == "min":
            return lambda v: is_int(v) and int(v) >= int(args[0])
        if name == "max":
            return lambda v: is_int(v) and int(v) <= int(args[0])
        if name == "range":
            return lambda v: is_int(v) and int(args[0]) <= int(v) <= int(args[1])
        if name == "minlength":
            return lambda v: len(v) >= int(args[0])
        if name == "maxlength":
            return lambda v: len(v) <= int(args[0])
        if name == "length":
            lo, hi = (int(args[0]), int(args[-1]))
            return lambda v: lo <= len(v) <= hi
        if name == "regex":
            pattern = re.compile(arg, re.IGNORECASE)
            return lambda v: bool(pattern.search(v))
    raise ValueError(f"unsupported route constraint '{name}'")


@dataclass(frozen=True)
class Route:
    template: str
    regex: re.Pattern
    literals: int
    params: int
    checks: dict[str, tuple[Callable[[str], bool], ...]] = field(default_factory=dict)
    defaults: dict[str, str] = field(default_factory=dict)

    def match(self, path: str) -> dict[str, str] | None:
        m = self.regex.fullmatch(path)
        if not m:
            return None
        values = {**self.defaults,
                  **{k: v for k, v in m.groupdict().items() if v not in (None, "")}}
        for name, checks in self.checks.items():
            if name in values and not all(check(values[name]) for check in checks):
                return None
        return values


def compile_route(prefix: str, template: str) -> Route:
    """`/{prefix}/{template}` → a Route; raises ValueError for templates it cannot read."""
    full = "/".join(p for p in (prefix.strip("/"), template.strip("/")) if p)
    pattern, literals, params = "", 0, 0
    checks: dict[str, tuple[Callable[[str], bool], ...]] = {}
    defaults: dict[str, str] = {}
    for segment in full.split("/") if full else []:
        whole = _PARAM.fullmatch(segment)
        if whole:  # a segment that is one parameter can be optional or catch-all
            catch_all, name, constraints, optional, default = whole.groups()
            params += 1
            checks[name] = tuple(_constraint(c, a or None)
                                 for c, a in _CONSTRAINT.findall(constraints or ""))
            if default is not None:
                defaults[name] = default
            if catch_all:
                pattern += f"(?:/(?P<{name}>.*))?"
            elif optional or default is not None:
                pattern += f"(?:/(?P<{name}>[^/]+))?"
            else:
                pattern += f"/(?P<{name}>[^/]+)"
            continue
        pattern += "/"
        pos = 0
        for m in _PARAM.finditer(segment):
            pattern += re.escape(segment[pos:m.start()])
            _, name, constraints, _, _ = m.groups()
            checks[name] = tuple(_constraint(c, a or None)
                                 for c, a in _CONSTRAINT.findall(constraints or ""))
            pattern += f"(?P<{name}>[^/]+)"  # greedy: ASP.NET matches from the right
            params += 1
            pos = m.end()
        if pos == 0:
            literals += 1
        pattern += re.escape(segment[pos:])
    regex = re.compile(f"{pattern}/?" if pattern else "/?", re.IGNORECASE)
    return Route(template, regex, literals, params, checks, defaults)


def precedence(route: Route) -> tuple[int, int]:
    """Literal segments win over parameters, as in ASP.NET routing."""
    return (-route.literals, route.params)
