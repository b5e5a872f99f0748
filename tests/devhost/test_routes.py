"""Route templates, read as ASP.NET routing reads them (no host needed)."""

from __future__ import annotations

import pytest

from devhost.routes import compile_route, precedence


@pytest.mark.parametrize(("prefix", "template", "path", "expected"), [
    ("api", "hello/{name}", "/api/hello/world", {"name": "world"}),
    ("api", "hello/{name}", "/API/HELLO/World", {"name": "World"}),
    ("api", "hello/{name}", "/api/hello", None),
    ("api", "hello/{name}", "/hello/world", None),
    ("", "hello/{name}", "/hello/world", {"name": "world"}),
    ("api", "items/{id:int}", "/api/items/-7", {"id": "-7"}),
    ("api", "items/{id:int}", "/api/items/7x", None),
    ("api", "items/{id:int}", "/api/items/99999999999", None),  # beyond int32
    ("api", "items/{id:long}", "/api/items/99999999999", {"id": "99999999999"}),
    ("api", "items/{id:int:min(1)}", "/api/items/0", None),
    ("api", "items/{id:int:range(1,5)}", "/api/items/5", {"id": "5"}),
    ("api", "items/{id:guid}", "/api/items/0f8fad5b-d9cb-469f-a165-70867728950e",
     {"id": "0f8fad5b-d9cb-469f-a165-70867728950e"}),
    ("api", "items/{flag:bool}", "/api/items/True", {"flag": "True"}),
    ("api", "items/{code:alpha:length(2)}", "/api/items/ab", {"code": "ab"}),
    ("api", "items/{code:alpha:length(2)}", "/api/items/abc", None),
    ("api", "items/{code:regex(^x-)}", "/api/items/x-1", {"code": "x-1"}),
    ("api", "items/{id?}", "/api/items", {}),
    ("api", "items/{id?}", "/api/items/3", {"id": "3"}),
    ("api", "items/{page=1}", "/api/items", {"page": "1"}),
    ("api", "files/{*rest}", "/api/files/a/b/c", {"rest": "a/b/c"}),
    ("api", "files/{*rest}", "/api/files", {}),
    ("api", "files/{name}.{ext}", "/api/files/x.tar.gz", {"name": "x.tar", "ext": "gz"}),
    ("api", "", "/api", {}),
])
def test_templates(prefix, template, path, expected):
    assert compile_route(prefix, template).match(path) == expected


def test_unknown_constraint_is_refused():
    with pytest.raises(ValueError, match="unsupported route constraint"):
        compile_route("api", "items/{id:nonsense}")


def test_literal_segments_win_over_parameters():
    routes = [compile_route("api", t) for t in ("items/{id}", "items/latest", "{*all}")]
    ordered = sorted(routes, key=precedence)
    assert [r.template for r in ordered] == ["items/latest", "items/{id}", "{*all}"]
