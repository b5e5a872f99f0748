"""The API tests run against their own real local host and Azurite (the e2e fixtures), so
what schemathesis creates and deletes cannot disturb the e2e tests' endpoints."""

from tests.e2e.conftest import api, digits_endpoint, e2e_azurite, service, store  # noqa: F401
