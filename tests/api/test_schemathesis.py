"""schemathesis against the real local host: generated requests for every operation of
/api/openapi.json (valid and invalid), bounded in examples and time. No answer may be a
5xx, and every answer must conform to the document (status, content type, schema)."""

from __future__ import annotations

import itertools

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from shared.resources import openapi

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance]


# The document the host serves at /api/openapi.json (test_contract.py checks it is served).
schema = schemathesis.openapi.from_dict(openapi.document())


EXISTING = {"endpoint": "contract-ep", "deployment": "blue", "name": "digits-e2e",
            "version": "1"}


@pytest.fixture(scope="module")
def existing(api, digits_endpoint):
    """Resources the generated requests also aim at, so they reach past the 404s."""
    from samples import models
    from tests.e2e.conftest import put_deployment, put_endpoint

    put_endpoint(api, EXISTING["endpoint"], {"description": "schemathesis"})
    put_deployment(api, EXISTING["endpoint"], EXISTING["deployment"], {
        "model": "azureml:digits-e2e:1", "scoring": models.DIGITS_SCORING})
    return itertools.count()


@schema.parametrize()
@settings(max_examples=10, deadline=None, phases=[Phase.generate],
          suppress_health_check=list(HealthCheck))
@pytest.mark.timeout(60)
def test_api_conforms_and_never_fails(case, service, existing):
    if next(existing) % 2 and case.path_parameters and case.method != "DELETE":
        for name in case.path_parameters.keys() & EXISTING.keys():
            case.path_parameters[name] = EXISTING[name]
    case.call_and_validate(base_url=service.api, checks=CHECKS, timeout=30,
                           headers={"x-functions-key": service.function_key})
