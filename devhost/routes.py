"""Route templates as the Functions host reads them: `{id}`, `{id:int}`, `{id?}`, `{*rest}`."""

from __future__ import annotations

import re
from dataclasses import dataclass

_CONSTRAINTS = {"int": r"-?\d+", "long": r"-?\d+", "alpha": r"[A-Za-z]+",
                "bool": r"(?i:true|false)", "guid": r"[0-9a-fA-F-]{36}",
                "float": r"-?\d+(?:\.\d+)?", "double": r"-?\d+(?:\.\d+)?"}
_PARAM = re.compile(r"\{(\*?)([A-Za-z_][A-Za-z0-9_]*)(?::([a-z]+))?(\?)?\}")


@dataclass(frozen=True)
class Route:
    template: str
    regex: re.Pattern
    literals: int
    params: int

    def match(self, path: str) -> dict[str, str] | None:
        m = self.regex.match(path)
        if not m:
            return None
        return {k: v for k, v in m.groupdict().items() if v is not None}


def compile_route(prefix: str, template: str) -> Route:
    full = "/".join(p for p in (prefix.strip("/"), template.strip("/")) if p)
    pattern, literals, params = "", 0, 0
    for segment in full.split("/") if full else []:
        m = _PARAM.fullmatch(segment)
        if not m:
            pattern += "/" + re.escape(segment)
            literals += 1
            continue
        catch_all, name, constraint, optional = m.groups()
        params += 1
        if catch_all:
            pattern += f"(?:/(?P<{name}>.*))?"
            continue
        body = _CONSTRAINTS.get(constraint or "", r"[^/]+")
        part = f"/(?P<{name}>{body})"
        pattern += f"(?:{part})?" if optional else part
    return Route(template, re.compile(f"^{pattern}/?$" if pattern else "^/?$"), literals,
                 params)


def precedence(route: Route) -> tuple[int, int]:
    """Literal segments win over parameters, as in ASP.NET routing."""
    return (-route.literals, route.params)
