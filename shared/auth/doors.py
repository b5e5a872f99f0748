"""Which door a request to an endpoint's routes may come through.

Every route that serves one batch endpoint (invoke, its job lists, a job and its outputs,
preview) is served twice: at its usual path behind the host's function keys (the key door),
and under `aad/` open at the host, where the code validates an Entra ID token (the token
door). The endpoint's `auth_mode` says which door is its own: `key` endpoints only the key
door; `aad_token` endpoints only the token door, and the key door too when
BATCH_AAD_ALLOW_KEYS is set. docs/security.md says why.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from shared.auth import tokens
from shared.errors import AuthError, NotFoundError
from shared.jobs import records
from shared.resources import endpoints
from shared.storage.clients import Storage

KEY = "key"
TOKEN = "aad_token"
TOKEN_PREFIX = "aad"  # the token door's routes: aad/<the key door's route>


def scoring_route(endpoint: dict[str, Any]) -> str:
    """The invoke route (after the route prefix) of an endpoint, through its own door."""
    route = f"endpoints/{endpoint['name']}/jobs"
    return f"{TOKEN_PREFIX}/{route}" if endpoint.get("auth_mode") == TOKEN else route


def authorize(storage: Storage, door: str, route_params: Mapping[str, str],
              authorization: str | None) -> None:
    """Raise AuthError unless the request may reach the endpoint its route names. The key
    door's key was checked by the host already; a token is checked before anything is read,
    so a caller without one learns nothing about endpoints or jobs."""
    if door == TOKEN:
        tokens.validate(authorization)
    elif tokens.keys_allowed():
        return
    endpoint = _endpoint(storage, route_params, door)
    if endpoint is None:
        return
    mode = endpoint.get("auth_mode", KEY)
    if door == KEY and mode == TOKEN:
        raise AuthError(f"batch endpoint {endpoint['name']} uses auth_mode aad_token: call "
                        f"/{scoring_route(endpoint)} with an Entra ID token (function keys are "
                        "refused unless BATCH_AAD_ALLOW_KEYS is set)", bearer=True)
    if door == TOKEN and mode != TOKEN:
        raise AuthError(f"batch endpoint {endpoint['name']} uses auth_mode key: call "
                        f"/{scoring_route(endpoint)} with a function key")


def _endpoint(storage: Storage, route_params: Mapping[str, str],
              door: str) -> dict[str, Any] | None:
    """The endpoint named by the route, or by the job it names. None through the key door
    when there is none (a job of a deleted endpoint stays readable with a key); the token
    door refuses what it cannot attribute to an aad_token endpoint."""
    name = route_params.get("endpoint")
    try:
        if name is None:
            name = records.load(storage, route_params["job"]).endpoint_name
        return endpoints.get(storage, name)
    except NotFoundError:
        if door == KEY:
            return None
        raise
