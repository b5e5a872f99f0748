"""Create is not update: `If-None-Match: *` creates only, `If-Match: <etag>` updates only the
version read (GET answers with its ETag), through the real local host."""

from __future__ import annotations

import uuid

from samples import models
from tests.api.test_contract import call, error_of


def test_if_none_match_creates_once_and_never_overwrites(service):
    name = "pre-" + uuid.uuid4().hex[:8]
    create = {"headers": {"If-None-Match": "*"}}
    first = call(service, "PUT", f"/endpoints/{name}", json={"description": "mine"}, **create)
    assert first.status_code == 201 and first.headers["ETag"]
    second = call(service, "PUT", f"/endpoints/{name}", json={"description": "theirs"},
                  **create)
    error = error_of(second, 412)
    assert error["code"] == "PreconditionFailed" and "already exists" in error["message"]
    shown = call(service, "GET", f"/endpoints/{name}")
    assert shown.json()["description"] == "mine"
    assert shown.headers["ETag"] == first.headers["ETag"]
    bad = call(service, "PUT", f"/endpoints/{name}", json={},
               headers={"If-None-Match": shown.headers["ETag"]})
    assert error_of(bad)["target"] == "If-None-Match"


def test_if_match_updates_only_the_version_read(service):
    name = "pre-" + uuid.uuid4().hex[:8]
    etag = call(service, "PUT", f"/endpoints/{name}", json={}).headers["ETag"]
    ours = call(service, "PUT", f"/endpoints/{name}", json={"description": "a"},
                headers={"If-Match": etag})
    assert ours.status_code == 200 and ours.headers["ETag"] != etag
    stale = call(service, "PUT", f"/endpoints/{name}", json={"description": "b"},
                 headers={"If-Match": etag})
    assert "changed since it was read" in error_of(stale, 412)["message"]
    assert call(service, "GET", f"/endpoints/{name}").json()["description"] == "a"
    missing = call(service, "PUT", f"/endpoints/{name}x", json={}, headers={"If-Match": "*"})
    assert "does not exist" in error_of(missing, 412)["message"]
    assert call(service, "GET", f"/endpoints/{name}x").status_code == 404


def test_deployments_take_the_same_conditions(service, digits_endpoint):
    route = f"/endpoints/{digits_endpoint}/deployments/blue"
    shown = call(service, "GET", route)
    etag, doc = shown.headers["ETag"], shown.json()
    body = {"model": doc["model"], "scoring": models.DIGITS_SCORING,
            "settings": doc["settings"], "resources": doc["resources"],
            "description": "edited in place"}
    taken = call(service, "PUT", route, json=body, headers={"If-None-Match": "*"})
    assert "already exists" in error_of(taken, 412)["message"]
    edited = call(service, "PUT", route, json=body, headers={"If-Match": etag})
    assert edited.status_code == 200, edited.text
    again = call(service, "PUT", route, json=body, headers={"If-Match": etag})
    assert error_of(again, 412)["code"] == "PreconditionFailed"
    assert call(service, "GET", route).json()["description"] == "edited in place"
