"""What every ``/auth/v1`` handler shares: the key check, the caller's JWT, one transaction."""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import psycopg
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from runner.serve.auth import errors
from runner.serve.auth.sessions import Committed
from runner.serve.keys import InvalidToken
from runner.serve.rest.access import bearer_token, check_api_key
from runner.serve.rest.errors import ApiError
from runner.serve.rest.execute import Connector
from runner.serve.state import ServeState

log = logging.getLogger(__name__)
T = TypeVar("T")
ADMIN_ROLES = frozenset({"service_role", "supabase_admin"})

Handler = Callable[[Request], Awaitable[Response]]


def endpoint(state: ServeState, handler: Handler) -> Handler:
    """Check the API key, run ``handler``, turn its errors into GoTrue responses."""

    async def run(request: Request) -> Response:
        try:
            check_api_key(request, state.keys)
            response = await handler(request)
        except ApiError as exc:
            return exc.response()
        except errors.AuthError as exc:
            return exc.response(request)
        if errors.wants_dated_api(request):
            response.headers[errors.API_VERSION_HEADER] = errors.API_VERSION
        return response

    return run


def reply(body: Any, status: int = 200) -> Response:
    return JSONResponse(body, status_code=status)


async def json_body(request: Request) -> dict[str, Any]:
    """The request's JSON object (``{}`` when empty); 400 ``bad_json`` otherwise."""
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except ValueError:
        raise errors.bad_json() from None
    if not isinstance(body, dict):
        raise errors.bad_json()
    return body


def caller_claims(request: Request, state: ServeState) -> dict[str, Any]:
    """The verified claims of the bearer token (401/403 like GoTrue otherwise)."""
    token = bearer_token(request)
    if not token:
        raise errors.no_authorization()
    try:
        claims = state.keys.decode(token)
    except InvalidToken as exc:
        reason = "token has invalid claims: token is expired" if "expired" in str(exc) else str(exc)
        raise errors.bad_jwt(reason) from None
    return claims


def user_claims(request: Request, state: ServeState) -> dict[str, Any]:
    """Claims of a signed-in user's token (it must name the user in ``sub``)."""
    claims = caller_claims(request, state)
    if not isinstance(claims.get("sub"), str) or not claims["sub"]:
        raise errors.AuthError(403, "bad_jwt", "invalid claim: missing sub claim")
    return claims


def require_admin(request: Request, state: ServeState) -> None:
    """403 ``not_admin`` unless the bearer token is the service role's."""
    if caller_claims(request, state).get("role") not in ADMIN_ROLES:
        raise errors.not_admin()


async def transact(connector: Connector, work: Callable[[Any], Awaitable[T]]) -> T:
    """``work(conn)`` in one transaction as the database owner (GoTrue's own role)."""
    deferred: errors.AuthError | None = None
    try:
        async with connector.connection() as conn, conn.transaction():
            try:
                result = await work(conn)
            except Committed as exc:
                deferred = exc.error
    except ApiError:  # the connector's 503: the database is unreachable
        raise errors.unavailable() from None
    except psycopg.OperationalError as exc:
        log.warning("auth: database unavailable (%s)", type(exc).__name__)
        connector.down = True
        raise errors.unavailable() from None
    except psycopg.Error as exc:
        # never echo parameters (passwords are hashed, but emails and tokens are not)
        log.warning("auth: database error %s", getattr(exc, "sqlstate", None))
        raise errors.AuthError(500, "unexpected_failure", "Database error") from None
    if deferred is not None:
        raise deferred
    return result
