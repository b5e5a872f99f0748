"""Studio's HTTP side without a browser: the static assets (anonymous, typed, cached,
nothing outside studio/) and the read-only datastore browser."""

from __future__ import annotations

import httpx
import pytest

from blueprints import studio
from shared.errors import ValidationError
from shared.resources import datastores


@pytest.fixture(scope="module")
def http(service):
    with httpx.Client(base_url=service.api, timeout=30) as client:
        yield client


def test_page_and_assets_are_served_without_a_key_with_their_types(http):
    page = http.get("/studio/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert 'src="js/app.js"' in page.text
    for path, kind in (("app.css", "text/css"), ("js/app.js", "text/javascript"),
                       ("vendor/js-yaml.mjs", "text/javascript"),
                       ("favicon.svg", "image/svg+xml")):
        r = http.get(f"/studio/{path}")
        assert r.status_code == 200, path
        assert r.headers["content-type"].startswith(kind), path
        assert r.headers["x-content-type-options"] == "nosniff"
        assert "default-src 'self'" in r.headers["content-security-policy"]


def test_no_trailing_slash_redirects_so_relative_asset_urls_resolve(http):
    r = http.get("/studio")
    assert r.status_code == 301
    assert r.headers["location"] == "studio/"


def test_assets_revalidate_with_an_etag(http):
    first = http.get("/studio/app.css")
    assert first.headers["cache-control"] == "no-cache"
    again = http.get("/studio/app.css", headers={"If-None-Match": first.headers["etag"]})
    assert again.status_code == 304
    assert again.content == b""


@pytest.mark.parametrize("path", [
    "nope.js", "js", "js/", "../host.json", "..%2Fhost.json", "%2e%2e/%2e%2e/function_app.py",
    "js/..%2F..%2Fblueprints/studio.py", ".gitignore", "js/app.js.map", "index.html%00.js",
])
def test_unknown_assets_and_traversal_are_404(http, path):
    r = http.get(f"/studio/{path}")
    assert r.status_code == 404, path
    assert b"import" not in r.content and b"routePrefix" not in r.content


def test_no_key_appears_in_the_page_or_its_scripts(http, service):
    for path in ("", "js/app.js", "js/api.js"):
        assert service.function_key not in http.get(f"/studio/{path}").text


def test_browse_lists_one_level_of_a_datastore(http, service, store):
    container = store.container("workspaceblobstore")
    for name in ("browse-t/a/1.png", "browse-t/a/2.png", "browse-t/b/x.csv", "browse-t/top.txt"):
        container.upload_blob(name, b"x", overwrite=True)
    key = {"x-functions-key": service.function_key}
    root = http.get("/datastores/workspaceblobstore/paths", params={"prefix": "browse-t"},
                    headers=key).json()
    assert root["prefix"] == "browse-t/"
    assert root["folders"] == ["browse-t/a/", "browse-t/b/"]
    assert [f["name"] for f in root["files"]] == ["browse-t/top.txt"]
    assert root["files"][0]["size"] == 1 and root["truncated"] is False
    inner = http.get("/datastores/workspaceblobstore/paths", params={"prefix": "browse-t/a/"},
                     headers=key).json()
    assert [f["name"] for f in inner["files"]] == ["browse-t/a/1.png", "browse-t/a/2.png"]


def test_browse_refuses_dot_dot_unknown_datastores_and_missing_keys(http, service):
    key = {"x-functions-key": service.function_key}
    bad = http.get("/datastores/workspaceblobstore/paths", params={"prefix": "a/../b"},
                   headers=key)
    assert bad.status_code == 400
    assert bad.json()["error"]["target"] == "prefix"
    assert http.get("/datastores/nope/paths", headers=key).status_code == 404
    assert http.get("/datastores/workspaceblobstore/paths").status_code == 401


@pytest.mark.parametrize("path", ["../host.json", "js/../../function_app.py", "js/../app.css",
                                  "/etc/passwd", "js\\..\\..\\host.json", "js//app.js",
                                  ".gitignore", "vendor", "a\0.js"])
def test_asset_lookup_itself_refuses_what_a_proxy_might_not_normalise(path):
    assert studio.asset(path) is None


def test_asset_lookup_finds_shipped_files():
    assert studio.asset("js/app.js") == studio.ROOT / "js" / "app.js"


def test_upload_puts_a_file_in_a_datastore_once(http, service):
    key = {"x-functions-key": service.function_key}
    r = http.put("/datastores/workspaceblobstore/paths/uploads/t1/a b.png", content=b"png",
                 headers=key)
    assert r.status_code == 201, r.text
    assert r.json()["uri"] == "azureml://datastores/workspaceblobstore/paths/uploads/t1/a b.png"
    listing = http.get("/datastores/workspaceblobstore/paths", params={"prefix": "uploads/t1"},
                       headers=key).json()
    assert [(f["name"], f["size"]) for f in listing["files"]] == [("uploads/t1/a b.png", 3)]
    again = http.put("/datastores/workspaceblobstore/paths/uploads/t1/a b.png", content=b"x",
                     headers=key)
    assert again.status_code == 409
    assert "exists already" in again.json()["error"]["message"]


@pytest.mark.parametrize("path", ["uploads/t2/", "uploads//x.png", "uploads/%2E%2E/x.png"])
def test_upload_refuses_paths_that_name_no_file_inside_the_datastore(http, service, path):
    r = http.put(f"/datastores/workspaceblobstore/paths/{path}", content=b"x",
                 headers={"x-functions-key": service.function_key})
    assert r.status_code == 400, (path, r.text)
    assert r.json()["error"]["target"] == "path"


@pytest.mark.parametrize("path", ["../x", "a/./b", "a\\b"])
def test_datastore_paths_stay_inside(store, path):
    with pytest.raises(ValidationError) as e:
        datastores.upload(store, "workspaceblobstore", path, b"")
    assert e.value.field == "path"
    with pytest.raises(ValidationError):
        datastores.browse(store, "workspaceblobstore", path)
